package swtpm

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestManufacture: a new state gets EK certificates under the local CA and
// the roots directory holds exactly the CA's two certificates; running it
// again is a no-op; a state made without it is refused with
// ErrStateExists, since EK certificates are written only at manufacture.
func TestManufacture(t *testing.T) {
	if !SetupAvailable() {
		t.Skip("swtpm_setup, swtpm_localca or certtool missing (apt-get install swtpm-tools)")
	}
	ctx := context.Background()
	ca, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	m, err := Manufacture(ctx, ManufactureOptions{StateDir: state, CADir: ca})
	if err != nil {
		t.Fatalf("Manufacture = %v", err)
	}
	ents, err := os.ReadDir(m.RootsDir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("roots dir holds %v (%v); want root.pem and issuer.pem", ents, err)
	}
	if _, err := os.Stat(filepath.Join(state, "tpm2-00.permall")); err != nil {
		t.Errorf("no TPM state after Manufacture: %v", err)
	}
	if m2, err := Manufacture(ctx, ManufactureOptions{StateDir: state, CADir: ca}); err != nil || m2.RootsDir != m.RootsDir {
		t.Errorf("second Manufacture = %v, %v; want the same roots", m2, err)
	}
	// A TPM made without Manufacture: start swtpm, send TPM2_Shutdown so
	// it saves its state, stop it.
	plain := t.TempDir()
	p, err := Start(ctx, Options{StateDir: plain})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rsp := make([]byte, 10)
	if _, err := c.Write([]byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, rsp); err != nil {
		t.Fatal(err)
	}
	c.Close()
	p.Stop()
	if _, err := os.Stat(filepath.Join(plain, "tpm2-00.permall")); err != nil {
		t.Fatalf("swtpm left no state after TPM2_Shutdown: %v", err)
	}
	if _, err := Manufacture(ctx, ManufactureOptions{StateDir: plain, CADir: t.TempDir()}); !errors.Is(err, ErrStateExists) {
		t.Errorf("Manufacture(existing plain state) = %v; want ErrStateExists", err)
	}
	if _, err := Manufacture(ctx, ManufactureOptions{StateDir: state}); err == nil {
		t.Error("Manufacture without CADir = nil error")
	}
}
