package tpmkeys

import (
	"context"
	"io"
	"io/fs"
	"kiosk/internal/testclock"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"

	"kiosk/internal/safelog"
	"kiosk/tpmkeys/swtpm"
)

// keyProvider is a copy of store.KeyProvider (tpmkeys must not import
// store); the assertion keeps Custody in step with the contract.
type keyProvider interface {
	CurrentKEKVersion() uint32
	KEK(v uint32) ([]byte, error)
	EpochKey(e uint64) ([]byte, error)
	AdvancePast(e uint64) error
	OldestEpoch() (uint64, error)
}

var _ keyProvider = (*Custody)(nil)

// t0 is the start of an epoch for one-hour epochs.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type fakeClock = testclock.Clock

func newClock() *fakeClock { return testclock.New(t0) }

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return safelog.New(tbWriter{tb}, safelog.Options{Level: slog.LevelDebug})
}

func testOpts(tb testing.TB, clk *fakeClock) Options {
	return Options{Kind: KindSimulator, Logger: testLogger(tb), Now: clk.Now,
		DA: DAParams{MaxTries: 3, RecoveryTime: time.Hour, LockoutRecovery: time.Hour}}
}

// newSim opens the in-process simulator with a fixed seed. Only one
// simulator exists per process: a second newSim blocks until the first is
// closed, so simulator tests do not run in parallel.
func newSim(tb testing.TB, seed int64) transport.TPMCloser {
	tb.Helper()
	s, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		tb.Fatalf("simulator: %v", err)
	}
	t := transport.FromReadWriteCloser(s)
	var once sync.Once
	tb.Cleanup(func() { once.Do(func() { t.Close() }) })
	return &onceCloser{TPMCloser: t, once: &once}
}

type onceCloser struct {
	transport.TPMCloser
	once *sync.Once
}

func (o *onceCloser) Close() error {
	var err error
	o.once.Do(func() { err = o.TPMCloser.Close() })
	return err
}

func needSWTPM(tb testing.TB) {
	tb.Helper()
	if !swtpm.Available("") {
		tb.Skip("swtpm not installed")
	}
}

// startSWTPM starts swtpm on a state directory and stops it (waiting for
// the exit) in Cleanup.
func startSWTPM(tb testing.TB, state string) *swtpm.Process {
	tb.Helper()
	needSWTPM(tb)
	p, err := swtpm.Start(context.Background(), swtpm.Options{StateDir: state, Logger: testLogger(tb)})
	if err != nil {
		tb.Fatalf("swtpm.Start: %v", err)
	}
	tb.Cleanup(func() { p.Stop() })
	return p
}

func dialSWTPM(tb testing.TB, p *swtpm.Process) transport.TPMCloser {
	tb.Helper()
	t, err := DialSWTPM(context.Background(), p.Addr())
	if err != nil {
		tb.Fatalf("DialSWTPM: %v", err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// checkNoHandles fails the test if the TPM holds any transient object or
// session.
func checkNoHandles(tb testing.TB, t transport.TPM) {
	tb.Helper()
	hs, err := LoadedHandles(t)
	if err != nil {
		tb.Errorf("LoadedHandles: %v", err)
		return
	}
	if len(hs) != 0 {
		tb.Errorf("TPM holds %d leaked handles: %v; want none", len(hs), hs)
	}
}

// mustOpen opens custody and, in Cleanup, closes it and then checks that
// nothing is left loaded in the TPM.
func mustOpen(tb testing.TB, t transport.TPM, dir string, o Options) *Custody {
	tb.Helper()
	c, err := Open(t, dir, o)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", dir, err)
	}
	tb.Cleanup(func() {
		c.mu.Lock()
		done := c.closed
		c.mu.Unlock()
		if done { // closeAndCheck already closed and checked it
			return
		}
		if err := c.Close(); err != nil {
			tb.Errorf("Close = %v", err)
		}
		checkNoHandles(tb, t)
	})
	return c
}

// closeAndCheck closes c now and checks for leaks (Cleanup's Close is then
// a no-op).
func closeAndCheck(tb testing.TB, c *Custody, t transport.TPM) {
	tb.Helper()
	if err := c.Close(); err != nil {
		tb.Fatalf("Close = %v", err)
	}
	checkNoHandles(tb, t)
}

// copyDir copies a directory tree of regular files.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		tb.Fatalf("copying %s to %s: %v", src, dst, err)
	}
}

// countingTPM counts commands sent.
type countingTPM struct {
	t transport.TPM
	n atomic.Int64
}

func (c *countingTPM) Send(b []byte) ([]byte, error) {
	c.n.Add(1)
	return c.t.Send(b)
}
