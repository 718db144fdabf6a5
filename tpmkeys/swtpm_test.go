package tpmkeys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kiosk/tpmkeys/swtpm"
)

func swOpts(tb testing.TB, clk *fakeClock) Options {
	o := testOpts(tb, clk)
	o.Kind = KindSWTPM
	return o
}

// TestSWTPMRestart: seal, persist the blobs, restart swtpm on the same
// state (graceful stop, and a kill), then load and unseal: every key is the
// same, the signing key signs for the same public key, the PIN holds.
func TestSWTPMRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill bool
	}{{"SIGTERM", false}, {"SIGKILL", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state, dir := t.TempDir(), t.TempDir()
			clk := newClock()
			p := startSWTPM(t, state)
			tpm := dialSWTPM(t, p)
			c := mustOpen(t, tpm, dir, swOpts(t, clk))
			if err := c.SetPIN("5555"); err != nil {
				t.Fatalf("SetPIN = %v", err)
			}
			kek := bytes.Clone(must(c.KEK(1)))
			e := c.CurrentEpoch()
			ek := must(c.EpochKey(e + 1))
			pub := c.PublicKey()
			if err := c.VerifyPIN("5555"); err != nil { // a DA-protected use before the stop
				t.Fatalf("VerifyPIN = %v", err)
			}
			closeAndCheck(t, c, tpm)
			if !tc.kill {
				if err := Shutdown(tpm); err != nil {
					t.Fatalf("Shutdown = %v", err)
				}
			}
			tpm.Close()

			if tc.kill {
				p.Kill()
				p = startSWTPM(t, state)
			} else if err := p.Restart(context.Background()); err != nil {
				t.Fatalf("Restart = %v", err)
			}
			tpm2 := dialSWTPM(t, p)
			c2 := mustOpen(t, tpm2, dir, swOpts(t, clk))
			if got := must(c2.KEK(1)); !bytes.Equal(got, kek) {
				t.Errorf("KEK(1) after restart differs from the sealed one")
			}
			if got := must(c2.EpochKey(e + 1)); !bytes.Equal(got, ek) {
				t.Errorf("EpochKey after restart differs")
			}
			d := sha256.Sum256([]byte("after restart"))
			sig, err := c2.Signer().Sign(nil, d[:], crypto.SHA256)
			if err != nil || !ecdsa.VerifyASN1(pub, d[:], sig) {
				t.Errorf("signature after restart verifies with the old public key = false (err %v); want true", err)
			}
			// An orderly shutdown costs nothing; a crash after a DA-protected
			// use counts as one dictionary-attack failure in the TPM.
			wantDA := uint32(0)
			if tc.kill {
				wantDA = 1
			}
			if st := must(c2.Status()); st.DA.Counter != wantDA {
				t.Errorf("DA counter after %s restart = %d; want %d", tc.name, st.DA.Counter, wantDA)
			}
			if err := c2.VerifyPIN("5555"); err != nil {
				t.Errorf("VerifyPIN after restart = %v; want nil", err)
			}
		})
	}
}

// TestCopiedDataDirFailsClosed: the data directory copied next to a second
// TPM (a second swtpm state) opens nothing, and writes nothing.
func TestCopiedDataDirFailsClosed(t *testing.T) {
	t.Parallel()
	clk := newClock()
	pa, pb := startSWTPM(t, t.TempDir()), startSWTPM(t, t.TempDir())
	ta, tb := dialSWTPM(t, pa), dialSWTPM(t, pb)
	dirA := t.TempDir()
	c := mustOpen(t, ta, dirA, swOpts(t, clk))
	if err := c.SetPIN("5555"); err != nil {
		t.Fatalf("SetPIN = %v", err)
	}
	closeAndCheck(t, c, ta)

	dirB := filepath.Join(t.TempDir(), "copy")
	copyDir(t, dirA, dirB)
	before := snapshotFiles(t, dirB)
	_, err := Open(tb, dirB, swOpts(t, clk))
	if !errors.Is(err, ErrWrongTPM) {
		t.Fatalf("Open(copied dir) on a second TPM = %v; want ErrWrongTPM", err)
	}
	t.Logf("second TPM says: %v", err)
	if after := snapshotFiles(t, dirB); !equalFiles(before, after) {
		t.Errorf("Open on the wrong TPM changed the copied directory")
	}
	checkNoHandles(t, tb)
}

func snapshotFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		out[e.Name()] = must(os.ReadFile(filepath.Join(dir, e.Name())))
	}
	return out
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSWTPMRatchetSnapshots: restoring a snapshot of the data directory
// after an erase brings nothing back (the NV index lives in the TPM). But a
// snapshot of swtpm's own state directory does: a software TPM keeps its
// NV in files, which is exactly why it is labelled not secure. With a
// hardware TPM there is no such file to copy.
func TestSWTPMRatchetSnapshots(t *testing.T) {
	t.Parallel()
	state, dir := t.TempDir(), t.TempDir()
	clk := newClock()
	p := startSWTPM(t, state)
	tpm := dialSWTPM(t, p)
	c := mustOpen(t, tpm, dir, swOpts(t, clk))
	e := must(c.OldestEpoch())
	ke := must(c.EpochKey(e))
	closeAndCheck(t, c, tpm)
	tpm.Close()
	p.Stop()
	snapData, snapState := t.TempDir(), t.TempDir()
	copyDir(t, dir, snapData)
	copyDir(t, state, snapState)

	erase := func() {
		p := startSWTPM(t, state)
		tpm := dialSWTPM(t, p)
		c := mustOpen(t, tpm, dir, swOpts(t, clk))
		clk.Advance(2 * time.Hour)
		if err := c.AdvancePast(e); err != nil {
			t.Fatalf("AdvancePast = %v", err)
		}
		closeAndCheck(t, c, tpm)
		tpm.Close()
		p.Stop()
	}
	reopen := func() ([]byte, error) {
		p := startSWTPM(t, state)
		tpm := dialSWTPM(t, p)
		c := mustOpen(t, tpm, dir, swOpts(t, clk))
		defer func() { closeAndCheck(t, c, tpm); tpm.Close(); p.Stop() }()
		return c.EpochKey(e)
	}
	erase()
	restore(t, snapData, dir)
	if k, err := reopen(); !errors.Is(err, ErrEpochErased) {
		t.Errorf("EpochKey(erased) after restoring the data dir = %x, %v; want ErrEpochErased", k, err)
	}
	restore(t, snapState, state)
	k, err := reopen()
	if err != nil || !bytes.Equal(k, ke) {
		t.Errorf("EpochKey(erased) after restoring swtpm's state = %v; want the old key back (software TPM: not secure)", err)
	}
}

func restore(tb testing.TB, snap, dst string) {
	tb.Helper()
	if err := os.RemoveAll(dst); err != nil {
		tb.Fatal(err)
	}
	copyDir(tb, snap, dst)
}

func TestSWTPMStartErrors(t *testing.T) {
	needSWTPM(t)
	if _, err := swtpm.Start(context.Background(), swtpm.Options{}); err == nil {
		t.Errorf("Start without StateDir = nil error; want an error")
	}
	if _, err := swtpm.Start(context.Background(), swtpm.Options{StateDir: t.TempDir(), Binary: "no-such-swtpm"}); !errors.Is(err, swtpm.ErrNotFound) {
		t.Errorf("Start with a missing binary = %v; want ErrNotFound", err)
	}
}
