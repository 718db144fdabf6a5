package tpmkeys

import (
	"bytes"
	"errors"
	"testing"
	"time"

	legacy "github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2"
)

func TestPIN(t *testing.T) {
	tpm := newSim(t, 20)
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	if err := c.VerifyPIN("1234"); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("VerifyPIN before SetPIN = %v; want ErrNoPIN", err)
	}
	if err := c.SetPIN("12"); !errors.Is(err, ErrWeakPIN) {
		t.Errorf("SetPIN(%q) = %v; want ErrWeakPIN", "12", err)
	}
	if err := c.SetPIN("2468"); err != nil {
		t.Fatalf("SetPIN = %v", err)
	}
	if err := c.SetPIN("1357"); !errors.Is(err, ErrPINSet) {
		t.Errorf("second SetPIN = %v; want ErrPINSet", err)
	}
	for _, tc := range []struct {
		pin  string
		want error
	}{
		{"2468", nil},
		{"2469", ErrWrongPIN},
		{"", ErrWrongPIN},
		{"2468", nil},
	} {
		if err := c.VerifyPIN(tc.pin); !errors.Is(err, tc.want) {
			t.Errorf("VerifyPIN(%q) = %v; want %v", tc.pin, err, tc.want)
		}
	}
	// Two failures so far with MaxTries 3: reset before the next cases.
	if err := c.ResetLockout(nil); err != nil {
		t.Fatalf("ResetLockout = %v", err)
	}
	if err := c.ChangePIN("0000", "97531"); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("ChangePIN(wrong old) = %v; want ErrWrongPIN", err)
	}
	if err := c.VerifyPIN("2468"); err != nil {
		t.Errorf("VerifyPIN(old) after a refused change = %v; want nil", err)
	}
	if err := c.ChangePIN("2468", "97531"); err != nil {
		t.Fatalf("ChangePIN = %v", err)
	}
	if err := c.VerifyPIN("2468"); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("VerifyPIN(old) after change = %v; want ErrWrongPIN", err)
	}
	if err := c.VerifyPIN("97531"); err != nil {
		t.Errorf("VerifyPIN(new) = %v; want nil", err)
	}
	if st := must(c.Status()); !st.PINSet || st.DA.Counter != 2 {
		t.Errorf("Status PINSet=%v DA.Counter=%d; want true, 2 (the two failures since the reset)", st.PINSet, st.DA.Counter)
	}
}

// TestPINLockout drives the TPM's dictionary-attack logic: MaxTries wrong
// PINs, then the TPM refuses every PIN, the right one included, until the
// lockout is reset (recovery without waiting an hour).
func TestPINLockout(t *testing.T) {
	tpm := newSim(t, 21)
	opts := testOpts(t, newClock())
	opts.DA.MaxTries = 4
	c := mustOpen(t, tpm, t.TempDir(), opts)
	if err := c.SetPIN("8642"); err != nil {
		t.Fatalf("SetPIN = %v", err)
	}
	var wrong int
	for wrong = 0; wrong < 10; wrong++ {
		err := c.VerifyPIN("0000")
		if errors.Is(err, ErrLockedOut) {
			break
		}
		if !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("VerifyPIN(wrong) #%d = %v; want ErrWrongPIN or ErrLockedOut", wrong+1, err)
		}
	}
	if wrong != 4 {
		t.Errorf("wrong PINs rejected before lockout = %d; want MaxTries = 4", wrong)
	}
	if err := c.VerifyPIN("8642"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("VerifyPIN(correct) in lockout = %v; want ErrLockedOut", err)
	}
	if err := c.ChangePIN("8642", "1111"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("ChangePIN in lockout = %v; want ErrLockedOut", err)
	}
	st := must(c.Status())
	if !st.DA.InLockout || st.DA.TriesLeft() != 0 {
		t.Errorf("Status.DA = %+v; want InLockout, 0 tries left", st.DA)
	}
	if err := c.ResetLockout(nil); err != nil {
		t.Fatalf("ResetLockout = %v", err)
	}
	if err := c.VerifyPIN("8642"); err != nil {
		t.Errorf("VerifyPIN(correct) after recovery = %v; want nil", err)
	}
	if st := must(c.Status()); st.DA.InLockout || st.DA.TriesLeft() != 4 {
		t.Errorf("Status.DA after recovery = %+v; want 4 tries left", st.DA)
	}
}

// TestPINLockoutRecoversWithTime uses a 1-second recovery interval: the
// TPM's own clock, not ours, lifts the lockout. The simulator's clock runs
// in real time, so this test polls for about a second.
func TestPINLockoutRecoversWithTime(t *testing.T) {
	tpm := newSim(t, 22)
	opts := testOpts(t, newClock())
	opts.DA = DAParams{MaxTries: 2, RecoveryTime: time.Second, LockoutRecovery: time.Hour}
	c := mustOpen(t, tpm, t.TempDir(), opts)
	if err := c.SetPIN("8642"); err != nil {
		t.Fatalf("SetPIN = %v", err)
	}
	for i := 0; i < 3; i++ {
		c.VerifyPIN("0000")
	}
	if err := c.VerifyPIN("8642"); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("VerifyPIN(correct) right after lockout = %v; want ErrLockedOut", err)
	}
	start := time.Now()
	var err error
	for time.Since(start) < 2*time.Minute { // the TPM's own recovery clock; a deadline, not a pace
		if err = c.VerifyPIN("8642"); !errors.Is(err, ErrLockedOut) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("VerifyPIN(correct) after %v = %v; want nil once a recovery interval passed", time.Since(start), err)
	}
	t.Logf("lockout lifted after %v", time.Since(start))
}

// TestPINAuthHasNoZeroBytes guards the go-tpm v0.9.8 workaround: an HMAC
// session cuts its authValue at the first zero byte, so a PIN authValue
// must never contain one.
func TestPINAuthHasNoZeroBytes(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		salt := []byte{byte(i), byte(i >> 8), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
		a := pinAuth(salt, "1234")
		if len(a) != 32 || bytes.IndexByte(a, 0) >= 0 {
			t.Fatalf("pinAuth(salt %d) = %q (%d bytes); want 32 bytes without 0x00", i, a, len(a))
		}
		seen[string(a)] = true
	}
	if len(seen) != 2000 {
		t.Errorf("pinAuth gave %d distinct values for 2000 salts; want 2000", len(seen))
	}
	if bytes.Equal(pinAuth([]byte("s"), "1234"), pinAuth([]byte("s"), "1235")) {
		t.Errorf("pinAuth ignores the PIN")
	}
}

// TestOwnerSetDAParams: on a chip whose owner set a lockout authorisation
// (and its own DA parameters), Open leaves them alone, without spending a
// lockout-auth try, and the PIN lives under the owner's limit.
func TestOwnerSetDAParams(t *testing.T) {
	tpm := newSim(t, 23)
	owner := []byte("owner-lockout-secret")
	// The owner's parameters: 2 tries. Then the owner sets a lockout auth.
	if err := legacy.DictionaryAttackParameters(&legacyRW{t: tpm}, lockoutAuth(nil), 2, 3600, 3600); err != nil {
		t.Fatalf("DictionaryAttackParameters = %v", err)
	}
	if _, err := (tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)},
		NewAuth:    tpm2.TPM2BAuth{Buffer: owner},
	}).Execute(tpm); err != nil {
		t.Fatalf("HierarchyChangeAuth(lockout) = %v", err)
	}
	opts := testOpts(t, newClock())
	opts.DA.MaxTries = 7 // what we would like; the owner's 2 must stay
	c := mustOpen(t, tpm, t.TempDir(), opts)
	st := must(c.Status())
	if st.DA.MaxTries != 2 || !st.DA.LockoutAuthSet || st.DAConfiguredBy != "TPM owner (lockout auth set)" {
		t.Errorf("Status.DA = %+v by %q; want the owner's MaxTries 2, lockout auth set, configured by the owner", st.DA, st.DAConfiguredBy)
	}
	if st.DA.Counter != 0 {
		t.Errorf("DA counter after Open = %d; want 0 (no lockout-auth try spent)", st.DA.Counter)
	}
	if err := c.SetPIN("8642"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.VerifyPIN("0000"); !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("VerifyPIN(wrong) #%d = %v; want ErrWrongPIN", i+1, err)
		}
	}
	if err := c.VerifyPIN("8642"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("VerifyPIN(correct) after the owner's 2 tries = %v; want ErrLockedOut", err)
	}
	// Only the owner's lockout auth lifts it early.
	if err := c.ResetLockout(owner); err != nil {
		t.Fatalf("ResetLockout(owner auth) = %v", err)
	}
	if err := c.VerifyPIN("8642"); err != nil {
		t.Errorf("VerifyPIN(correct) after the owner's reset = %v; want nil", err)
	}
}
