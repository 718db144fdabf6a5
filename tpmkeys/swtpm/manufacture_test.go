package swtpm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
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
	plain := t.TempDir()
	p, err := Start(ctx, Options{StateDir: plain})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if _, err := Manufacture(ctx, ManufactureOptions{StateDir: plain, CADir: t.TempDir()}); !errors.Is(err, ErrStateExists) {
		t.Errorf("Manufacture(existing plain state) = %v; want ErrStateExists", err)
	}
	if _, err := Manufacture(ctx, ManufactureOptions{StateDir: state}); err == nil {
		t.Error("Manufacture without CADir = nil error")
	}
}
