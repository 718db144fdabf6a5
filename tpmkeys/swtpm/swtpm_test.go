package swtpm

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	if !Available("") {
		t.Skip("swtpm not installed")
	}
	state := filepath.Join(t.TempDir(), "state")
	p, err := Start(context.Background(), Options{StateDir: state})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() { p.Stop() })
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial %s = %v", p.Addr(), err)
	}
	c.Close()
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir = %v, %v; want a 0700 directory", st, err)
	}
	first := p.Addr()
	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart = %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err != nil {
		t.Errorf("dial after Restart = %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	for _, a := range []string{first, p.Addr()} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("dial %s after Stop succeeded; want refused (process gone)", a)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop = %v; want nil", err)
	}
}
