package tpmkeys

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

func TestProvisionAndReopen(t *testing.T) {
	tpm := newSim(t, 1)
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "keys")
	c := mustOpen(t, tpm, dir, testOpts(t, clk))

	kek, err := c.KEK(1)
	if err != nil {
		t.Fatalf("KEK(1) = %v", err)
	}
	kek = bytes.Clone(kek)
	if len(kek) != KEKSize || bytes.Equal(kek, make([]byte, KEKSize)) {
		t.Fatalf("KEK(1) = %d bytes, all zero %v; want 32 random bytes", len(kek), bytes.Equal(kek, make([]byte, KEKSize)))
	}
	if v := c.CurrentKEKVersion(); v != 1 {
		t.Errorf("CurrentKEKVersion = %d; want 1", v)
	}
	e0 := c.CurrentEpoch()
	if got, err := c.OldestEpoch(); err != nil || got != e0 {
		t.Errorf("OldestEpoch = %d, %v; want %d (the provisioning epoch)", got, err, e0)
	}
	ek, err := c.EpochKey(e0 + 2)
	if err != nil {
		t.Fatalf("EpochKey(%d) = %v", e0+2, err)
	}
	kid := c.KeyID()

	for _, name := range []string{"kek-v1.blob", "signer.blob"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v; want 0600", name, st.Mode().Perm())
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(data, kek) {
			t.Errorf("%s contains the KEK in clear", name)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode = %v; want 0700", st.Mode().Perm())
	}
	closeAndCheck(t, c, tpm)

	// Same TPM, same directory: everything reloads to the same values.
	c2 := mustOpen(t, tpm, dir, testOpts(t, clk))
	kek2, err := c2.KEK(1)
	if err != nil || !bytes.Equal(kek2, kek) {
		t.Errorf("reopened KEK(1) equal = %v, err %v; want the same key", bytes.Equal(kek2, kek), err)
	}
	if ek2, err := c2.EpochKey(e0 + 2); err != nil || !bytes.Equal(ek2, ek) {
		t.Errorf("reopened EpochKey(%d) equal = %v, err %v; want the same key", e0+2, bytes.Equal(ek2, ek), err)
	}
	if c2.KeyID() != kid {
		t.Errorf("reopened KeyID = %s; want %s", c2.KeyID(), kid)
	}
}

func TestKEKRotation(t *testing.T) {
	tpm := newSim(t, 2)
	clk := newClock()
	dir := t.TempDir()
	c := mustOpen(t, tpm, dir, testOpts(t, clk))
	k1 := bytes.Clone(must(c.KEK(1)))
	v, err := c.RotateKEK()
	if err != nil || v != 2 {
		t.Fatalf("RotateKEK = %d, %v; want 2, nil", v, err)
	}
	if got := c.CurrentKEKVersion(); got != 2 {
		t.Errorf("CurrentKEKVersion after rotate = %d; want 2", got)
	}
	k2 := bytes.Clone(must(c.KEK(2)))
	if bytes.Equal(k1, k2) {
		t.Errorf("KEK(2) equals KEK(1); want a fresh key")
	}
	if got := must(c.KEK(1)); !bytes.Equal(got, k1) {
		t.Errorf("KEK(1) changed after rotation")
	}
	if err := c.RemoveKEK(2); err == nil {
		t.Errorf("RemoveKEK(current) = nil; want a refusal")
	}
	closeAndCheck(t, c, tpm)

	c = mustOpen(t, tpm, dir, testOpts(t, clk))
	if got := c.KEKVersions(); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("KEKVersions after reopen = %v; want [1 2]", got)
	}
	if got := c.CurrentKEKVersion(); got != 2 {
		t.Errorf("CurrentKEKVersion after reopen = %d; want 2", got)
	}
	if !bytes.Equal(must(c.KEK(1)), k1) || !bytes.Equal(must(c.KEK(2)), k2) {
		t.Errorf("reopened KEKs differ from the sealed ones")
	}
	if err := c.RemoveKEK(1); err != nil {
		t.Fatalf("RemoveKEK(1) = %v", err)
	}
	if _, err := c.KEK(1); !errors.Is(err, ErrNoKEK) {
		t.Errorf("KEK(1) after RemoveKEK = %v; want ErrNoKEK", err)
	}
	closeAndCheck(t, c, tpm)
	c = mustOpen(t, tpm, dir, testOpts(t, clk))
	if got := c.KEKVersions(); fmt.Sprint(got) != "[2]" {
		t.Errorf("KEKVersions after remove and reopen = %v; want [2]", got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCloseZeroesKeys(t *testing.T) {
	tpm := newSim(t, 3)
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	k := must(c.KEK(1))
	if bytes.Equal(k, make([]byte, KEKSize)) {
		t.Fatalf("KEK(1) is all zero before Close")
	}
	closeAndCheck(t, c, tpm)
	if !bytes.Equal(k, make([]byte, KEKSize)) {
		t.Errorf("KEK memory after Close = not zeroed; want zeros")
	}
	if _, err := c.KEK(1); !errors.Is(err, ErrClosed) {
		t.Errorf("KEK after Close = %v; want ErrClosed", err)
	}
	if _, err := c.EpochKey(c.CurrentEpoch()); !errors.Is(err, ErrClosed) {
		t.Errorf("EpochKey after Close = %v; want ErrClosed", err)
	}
	if err := c.VerifyPIN("1234"); !errors.Is(err, ErrClosed) {
		t.Errorf("VerifyPIN after Close = %v; want ErrClosed", err)
	}
}

func TestPCRPolicy(t *testing.T) {
	tpm := newSim(t, 4)
	clk := newClock()
	dir := t.TempDir()
	opts := testOpts(t, clk)
	opts.PCRs = []int{16}
	c := mustOpen(t, tpm, dir, opts)
	kek := bytes.Clone(must(c.KEK(1)))
	if st := must(c.Status()); fmt.Sprint(st.PCRs) != "[16]" {
		t.Errorf("Status.PCRs = %v; want [16]", st.PCRs)
	}
	closeAndCheck(t, c, tpm)

	// Unchanged PCR: unseals.
	c = mustOpen(t, tpm, dir, opts)
	if !bytes.Equal(must(c.KEK(1)), kek) {
		t.Fatalf("KEK after reopen with unchanged PCR differs")
	}
	closeAndCheck(t, c, tpm)

	// Extend PCR 16: unseal must fail, naming the PCR policy.
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(16), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: bytes.Repeat([]byte{0xAB}, 32)}}},
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("PCRExtend = %v", err)
	}
	_, err = Open(tpm, dir, opts)
	if !errors.Is(err, ErrPCRPolicy) {
		t.Fatalf("Open after PCR extend = %v; want ErrPCRPolicy", err)
	}
	var pe *PCRPolicyError
	if !errors.As(err, &pe) || fmt.Sprint(pe.PCRs) != "[16]" || pe.KEKVersion != 1 {
		t.Errorf("Open after PCR extend = %#v; want a PCRPolicyError naming PCR 16 and KEK v1", err)
	}
	if !strings.Contains(err.Error(), "PCR policy") || !strings.Contains(err.Error(), "16") {
		t.Errorf("error text %q does not name the PCR policy and PCR 16", err)
	}
	checkNoHandles(t, tpm)

	// The binding is to the value: resetting the debug PCR brings it back.
	if _, err := (tpm2.PCRReset{PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(16), Auth: tpm2.PasswordAuth(nil)}}).Execute(tpm); err != nil {
		t.Fatalf("PCRReset(16) = %v", err)
	}
	c = mustOpen(t, tpm, dir, opts)
	if !bytes.Equal(must(c.KEK(1)), kek) {
		t.Errorf("KEK after PCR reset differs")
	}
}

func TestEpochKeyMakesNoTPMCalls(t *testing.T) {
	sim := newSim(t, 5)
	ct := &countingTPM{t: sim}
	clk := newClock()
	c := mustOpen(t, ct, t.TempDir(), testOpts(t, clk))
	before := ct.n.Load()
	e0 := must(c.OldestEpoch())
	for i := 0; i < 2000; i++ {
		if _, err := c.EpochKey(e0 + uint64(i%200)); err != nil {
			t.Fatalf("EpochKey = %v", err)
		}
		if _, err := c.KEK(1); err != nil {
			t.Fatalf("KEK = %v", err)
		}
	}
	if got := ct.n.Load() - before; got != 0 {
		t.Errorf("2000 EpochKey+KEK calls sent %d TPM commands; want 0", got)
	}
}

func TestFlushesLeftovers(t *testing.T) {
	tpm := newSim(t, 6)
	// A crashed client's leftover: a transient primary never flushed.
	if _, err := (tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}).Execute(tpm); err != nil {
		t.Fatalf("CreatePrimary = %v", err)
	}
	if hs := must(LoadedHandles(tpm)); len(hs) != 1 {
		t.Fatalf("LoadedHandles before Open = %v; want 1 leftover", hs)
	}
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	if hs := must(LoadedHandles(tpm)); len(hs) != 1 || hs[0] != c.signer.Handle {
		t.Errorf("LoadedHandles after Open = %v; want only the signing key %v", hs, c.signer.Handle)
	}
}

func TestSRKHandleInUse(t *testing.T) {
	tpm := newSim(t, 7)
	// Another tool persisted a non-SRK key at our SRK handle.
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(signerTemplate),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("CreatePrimary = %v", err)
	}
	if _, err := (tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
		PersistentHandle: DefaultSRKHandle,
	}).Execute(tpm); err != nil {
		t.Fatalf("EvictControl = %v", err)
	}
	flush(tpm, cp.ObjectHandle)
	_, err = Open(tpm, t.TempDir(), testOpts(t, newClock()))
	if !errors.Is(err, ErrHandleInUse) {
		t.Errorf("Open with a foreign key at the SRK handle = %v; want ErrHandleInUse", err)
	}
	checkNoHandles(t, tpm)
}

func TestVolatileTPM(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	opts := testOpts(t, clk)
	opts.VolatileTPM = true
	var kek, ek []byte
	{
		tpm := newSim(t, 8)
		c := mustOpen(t, tpm, dir, opts)
		kek = bytes.Clone(must(c.KEK(1)))
		ek = must(c.EpochKey(c.CurrentEpoch()))
		closeAndCheck(t, c, tpm)
		tpm.Close()
	}
	// A new process: same seed file, but the simulator's NV is gone.
	tpm := newSim(t, 8)
	strict := opts
	strict.VolatileTPM = false
	if _, err := Open(tpm, dir, strict); !errors.Is(err, ErrRatchetMissing) {
		t.Errorf("Open on a fresh simulator without VolatileTPM = %v; want ErrRatchetMissing", err)
	}
	checkNoHandles(t, tpm)
	c := mustOpen(t, tpm, dir, opts)
	if !bytes.Equal(must(c.KEK(1)), kek) {
		t.Errorf("KEK after simulator restart with the same seed differs; want the same (blob reloads)")
	}
	if got := must(c.EpochKey(c.CurrentEpoch())); bytes.Equal(got, ek) {
		t.Errorf("epoch key after a volatile restart equals the old one; want a new ratchet")
	}
}

func TestStatusAndRedaction(t *testing.T) {
	tpm := newSim(t, 9)
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	st, err := c.Status()
	if err != nil {
		t.Fatalf("Status = %v", err)
	}
	if st.Secure || !strings.HasPrefix(st.Label, "software TPM: not secure") {
		t.Errorf("Status.Secure, Label = %v, %q; want false, software TPM: not secure...", st.Secure, st.Label)
	}
	if st.KEKVersion != 1 || st.KeyID != c.KeyID() || st.PINSet {
		t.Errorf("Status = %+v; want KEK v1, key id %s, no PIN", st, c.KeyID())
	}
	if st.MaxNVWritesPerYear != 8766 || st.EpochLength != time.Hour {
		t.Errorf("Status NV wear = %d writes/yr at %v; want 8766 at 1h", st.MaxNVWritesPerYear, st.EpochLength)
	}
	if st.DA.MaxTries != 3 || st.DAConfiguredBy != "kiosk" {
		t.Errorf("Status.DA = %+v by %q; want MaxTries 3 set by kiosk", st.DA, st.DAConfiguredBy)
	}
	if st.Handles != 1 {
		t.Errorf("Status.Handles = %d; want 1 (the signing key)", st.Handles)
	}
	if st.Manufacturer == "" {
		t.Errorf("Status.Manufacturer empty")
	}
	if sum := st.Summary(); !strings.HasPrefix(sum, "software TPM: not secure") || !strings.Contains(sum, c.KeyID()) || !strings.Contains(sum, "no PIN set") {
		t.Errorf("Summary = %q; want the label, the key id and the PIN state", sum)
	}
	if j := string(must(json.Marshal(st))); !strings.Contains(j, `"Kind":"software TPM: not secure (in-process simulator)"`) {
		t.Errorf("JSON status = %s; want Kind as its label", j)
	}
	kek := must(c.KEK(1))
	for _, f := range []string{"%v", "%+v", "%#v", "%x", "%s", "%q"} {
		out := fmt.Sprintf(f, c)
		if strings.Contains(out, fmt.Sprintf("%x", kek)) || !strings.Contains(out, "redacted") {
			t.Errorf("Sprintf(%q, custody) = %q; want a redacted form", f, out)
		}
	}
}

func TestKindLabels(t *testing.T) {
	for _, tc := range []struct {
		k      Kind
		secure bool
	}{{KindHardware, true}, {KindSWTPM, false}, {KindSimulator, false}, {0, false}} {
		if tc.k.Secure() != tc.secure {
			t.Errorf("%v.Secure() = %v; want %v", tc.k, tc.k.Secure(), tc.secure)
		}
		if sw := strings.HasPrefix(tc.k.String(), "software TPM: not secure"); sw == tc.secure {
			t.Errorf("Kind(%d).String() = %q; software label = %v, want %v", tc.k, tc.k.String(), sw, !tc.secure)
		}
	}
}

func TestMaxNVWritesPerYear(t *testing.T) {
	for _, tc := range []struct {
		l    time.Duration
		want int
	}{{time.Hour, 8766}, {MinEpochLength, 35064}, {time.Minute, 35064}, {24 * time.Hour, 366}} {
		if got := MaxNVWritesPerYear(tc.l); got != tc.want {
			t.Errorf("MaxNVWritesPerYear(%v) = %d; want %d", tc.l, got, tc.want)
		}
	}
}

// TestConcurrentUse: the store, the evidence signer and the PIN screen use
// one Custody from several goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	tpm := newSim(t, 10)
	clk := newClock()
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, clk))
	if err := c.SetPIN("4321"); err != nil {
		t.Fatal(err)
	}
	e := c.CurrentEpoch()
	want := must(c.EpochKey(e + 3))
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				switch g {
				case 0:
					if k := must(c.EpochKey(e + 3)); !bytes.Equal(k, want) {
						errs <- fmt.Errorf("EpochKey changed under concurrency")
					}
				case 1:
					d := sha256.Sum256([]byte{byte(i)})
					if _, err := c.Signer().Sign(nil, d[:], crypto.SHA256); err != nil {
						errs <- err
					}
				case 2:
					if err := c.VerifyPIN("4321"); err != nil {
						errs <- err
					}
				case 3:
					if _, err := c.KEK(c.CurrentKEKVersion()); err != nil {
						errs <- err
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPCRChangeAfterRotation: a planned boot-chain change. The KEK bound
// to PCR 16 is rotated to one without the binding; after PCR 16 changes,
// the custody still opens on the new KEK, sets the old one aside (its
// records stay sealed), and RemoveKEK retires it for good.
func TestPCRChangeAfterRotation(t *testing.T) {
	tpm := newSim(t, 4)
	clk := newClock()
	dir := t.TempDir()
	bound := testOpts(t, clk)
	bound.PCRs = []int{16}
	c := mustOpen(t, tpm, dir, bound)
	closeAndCheck(t, c, tpm)

	unbound := testOpts(t, clk)
	c = mustOpen(t, tpm, dir, unbound)
	if v, err := c.RotateKEK(); err != nil || v != 2 {
		t.Fatalf("RotateKEK() = %d, %v; want 2", v, err)
	}
	kek2 := bytes.Clone(must(c.KEK(2)))
	closeAndCheck(t, c, tpm)

	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(16), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: bytes.Repeat([]byte{0xCD}, 32)}}},
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("PCRExtend = %v", err)
	}
	c = mustOpen(t, tpm, dir, unbound)
	if got := c.CurrentKEKVersion(); got != 2 {
		t.Errorf("CurrentKEKVersion() = %d; want 2", got)
	}
	if !bytes.Equal(must(c.KEK(2)), kek2) {
		t.Error("KEK v2 differs after the PCR change")
	}
	if _, err := c.KEK(1); !errors.Is(err, ErrNoKEK) {
		t.Errorf("KEK(1) after the PCR change = %v; want ErrNoKEK (sealed away)", err)
	}
	if st := must(c.Status()); fmt.Sprint(st.SealedAway) != "[1]" || fmt.Sprint(st.KEKs) != "[2]" {
		t.Errorf("Status: live %v, sealed away %v; want [2] and [1]", st.KEKs, st.SealedAway)
	}
	if err := c.RemoveKEK(1); err != nil {
		t.Fatalf("RemoveKEK(1) = %v", err)
	}
	closeAndCheck(t, c, tpm)
	c = mustOpen(t, tpm, dir, unbound)
	if st := must(c.Status()); len(st.SealedAway) != 0 || fmt.Sprint(st.KEKs) != "[2]" {
		t.Errorf("after RemoveKEK: live %v, sealed away %v; want [2] and none", st.KEKs, st.SealedAway)
	}
	closeAndCheck(t, c, tpm)

	// The newest KEK must unseal: bound to a changed PCR, Open fails.
	c = mustOpen(t, tpm, dir, bound)
	if _, err := c.RotateKEK(); err != nil {
		t.Fatal(err)
	}
	closeAndCheck(t, c, tpm)
	extend := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(16), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: bytes.Repeat([]byte{0xEF}, 32)}}},
	}
	if _, err := extend.Execute(tpm); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(tpm, dir, unbound); !errors.Is(err, ErrPCRPolicy) {
		t.Errorf("Open with the current KEK's PCR changed = %v; want ErrPCRPolicy", err)
	}
	checkNoHandles(t, tpm)
}
