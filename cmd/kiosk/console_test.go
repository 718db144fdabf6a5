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
