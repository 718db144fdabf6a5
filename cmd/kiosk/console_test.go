package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"kiosk/checkin"
	"kiosk/internal/safelog"
	"kiosk/store"
	"kiosk/tpmkeys"
)

// TestOperatorLockoutOnTPM: operator mode's PIN is checked by the TPM (the
// in-process simulator here). Wrong PINs say how many tries are left; once
// the TPM's dictionary-attack limit is reached even the right PIN is refused,
// with a message saying when to try again; and the console stays locked.
func TestOperatorLockoutOnTPM(t *testing.T) {
	dir := t.TempDir()
	log := safelog.Discard()
	custody, closeCustody, err := openCustodyWith(context.Background(), "sim", dir, log,
		tpmkeys.Options{DA: tpmkeys.DAParams{MaxTries: 3, RecoveryTime: 90 * time.Second, LockoutRecovery: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeCustody()
	if err := custody.SetPIN("482916"); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{Keys: custody, Retention: time.Hour, EpochLength: custody.EpochLength(), DisablePurge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := checkin.NewConsole(checkin.ConsoleOptions{PIN: tpmPIN{custody}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Unlock(ctx, "482916"); err != nil {
		t.Fatalf("Unlock(right PIN) = %v", err)
	}
	c.Lock()
	for i, wantLeft := range []string{"2 tries left", "1 try left"} {
		err := c.Unlock(ctx, "000000")
		if !errors.Is(err, checkin.ErrWrongPIN) || !strings.Contains(err.Error(), wantLeft) {
			t.Fatalf("wrong PIN %d: %v; want ErrWrongPIN saying %q", i+1, err, wantLeft)
		}
	}
	var le *checkin.PINLockoutError
	if err := c.Unlock(ctx, "000000"); !errors.As(err, &le) && !errors.Is(err, checkin.ErrWrongPIN) {
		t.Fatalf("third wrong PIN: %v", err)
	}
	err = c.Unlock(ctx, "482916")
	if !errors.As(err, &le) {
		t.Fatalf("right PIN during the TPM lockout: %v; want *PINLockoutError", err)
	}
	if le.RetryAfter < 90*time.Second || !strings.Contains(err.Error(), "try again in") {
		t.Errorf("lockout says %q (retry after %s); want when to retry, at least one recovery interval", err, le.RetryAfter)
	}
	if c.Unlocked() {
		t.Error("console unlocked during the TPM lockout")
	}
	if _, err := c.Records(ctx, 10); !errors.Is(err, checkin.ErrConsoleLocked) {
		t.Errorf("Records() during lockout = %v; want ErrConsoleLocked", err)
	}
}

// TestKeysRetire: an old KEK version can be retired once rotated past;
// the current one and nonsense are refused with clear errors.
func TestKeysRetire(t *testing.T) {
	vars := baseVars(t)
	vars["KIOSK_TPM"] = "sim"
	if out, errs, code := kiosk(t, vars, "keys", "rotate"); code != exitOK || !strings.Contains(out, "KEK version 2") {
		t.Fatalf("keys rotate: exit %d: %s%s", code, out, errs)
	}
	for _, tc := range []struct {
		arg      string
		code     int
		contains string
	}{
		{"two", exitBadInput, "not a KEK version"},
		{"2", exitFailure, "refusing to remove the current KEK"},
		{"1", exitOK, "KEK version 1 retired; live versions [2]"},
		{"1", exitFailure, "no KEK of that version"},
	} {
		out, errs, code := kiosk(t, vars, "keys", "retire", tc.arg)
		if code != tc.code || !strings.Contains(out+errs, tc.contains) {
			t.Errorf("keys retire %s = exit %d %q; want exit %d saying %q", tc.arg, code, out+errs, tc.code, tc.contains)
		}
	}
	if out, _, code := kiosk(t, vars, "keys", "status"); code != exitOK || !strings.Contains(out, "version 2 current, live [2]") {
		t.Errorf("keys status after retiring v1:\n%s", out)
	}
}

// TestDataDirLock: a second kiosk process on the same data directory is
// refused with a clear error while the first holds it, and admitted after.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, closeFirst, err := openCustodyWith(ctx, "sim", dir, safelog.Discard(), tpmkeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = openCustodyWith(ctx, "sim", dir, safelog.Discard(), tpmkeys.Options{})
	if !errors.Is(err, errDataDirBusy) || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("second open of a data directory in use = %v; want errDataDirBusy saying what to do", err)
	}
	if err := closeFirst(); err != nil {
		t.Fatal(err)
	}
	_, closeSecond, err := openCustodyWith(ctx, "sim", dir, safelog.Discard(), tpmkeys.Options{})
	if err != nil {
		t.Fatalf("open after the first closed = %v", err)
	}
	closeSecond()
}
