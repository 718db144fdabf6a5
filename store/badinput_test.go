package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// expectDegraded checks that Open returned a degraded store with cause.
func expectDegraded(t *testing.T, s *Store, err error, cause error) {
	t.Helper()
	if s == nil {
		t.Fatalf("Open returned a nil store with %v; want a degraded store", err)
	}
	t.Cleanup(func() { s.Close() })
	var de *DegradedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDegraded) || !errors.Is(err, cause) {
		t.Fatalf("Open error = %v; want a DegradedError wrapping %v", err, cause)
	}
	h := s.Health()
	if h.OK || h.Reason == "" || !errors.Is(h.Err, cause) {
		t.Errorf("Health = %+v; want degraded with a reason and cause %v", h, cause)
	}
	if _, err := s.Put(context.Background(), sampleCheckIn(1)); !errors.Is(err, ErrDegraded) {
		t.Errorf("Put on a degraded store = %v; want ErrDegraded", err)
	}
	st, _ := s.Stats(context.Background())
	if st.Healthy || st.HealthReason == "" || st.Policy.Retention != 24*time.Hour {
		t.Errorf("Stats on a degraded store = %+v; want the policy and the health reason", st)
	}
}

func TestCorruptDatabase(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage file", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600)
		}},
		{"damaged header", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			copy(b[:16], "SQLite format 2\x00")
			os.WriteFile(path, b, 0o600)
		}},
		{"damaged pages", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			if len(b) < 4*4096 {
				t.Fatalf("database only %d bytes", len(b))
			}
			for i := 2 * 4096; i < len(b); i += 4096 {
				copy(b[i:i+64], bytes.Repeat([]byte{0xa5}, 64))
			}
			os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			dir := t.TempDir()
			opts := defaultOpts(t, clk, newTestKeys(t))
			s, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				mustPut(t, s, sampleCheckIn(i))
			}
			s.Close()
			tc.corrupt(t, filepath.Join(dir, DBFileName))
			s, err = Open(dir, opts)
			expectDegraded(t, s, err, ErrCorrupt)
			if _, err := s.List(ctx, ListOptions{}); !errors.Is(err, ErrDegraded) {
				t.Errorf("List on a corrupt store = %v; want ErrDegraded", err)
			}
		})
	}
}

func TestWrongKEK(t *testing.T) {
	clk := newFakeClock()
	dir := t.TempDir()
	opts := defaultOpts(t, clk, newTestKeys(t))
	s := openTest(t, dir, opts)
	m := mustPut(t, s, sampleCheckIn(1))
	s.Close()

	other, err := NewMemoryKeys(MemoryKeysOptions{KEK: bytes.Repeat([]byte{1}, 32), FirstKey: testFirstKey, FirstEpoch: EpochOf(t0, time.Hour) - 24})
	if err != nil {
		t.Fatal(err)
	}
	opts.Keys = other
	s, err = Open(dir, opts)
	expectDegraded(t, s, err, ErrWrongKey)
	if _, err := s.Get(context.Background(), m.ID); !errors.Is(err, ErrDegraded) || !errors.Is(err, ErrWrongKey) {
		t.Errorf("Get with the wrong KEK = %v; want ErrDegraded wrapping ErrWrongKey", err)
	}
	// Metadata and purge keep working: the kiosk can still prove retention.
	if l, err := s.List(context.Background(), ListOptions{}); err != nil || len(l) != 1 {
		t.Errorf("List with the wrong KEK = %d, %v; want 1, nil", len(l), err)
	}
	clk.Advance(25 * time.Hour)
	if run, err := s.Purge(context.Background()); err != nil || run.Deleted != 1 {
		t.Errorf("Purge with the wrong KEK = deleted %d, %v; want 1, nil", run.Deleted, err)
	}
	if o, _ := other.OldestEpoch(); o != EpochOf(t0, time.Hour)-24 {
		t.Errorf("purge advanced a foreign provider's ratchet to %d", o)
	}
	// Even bypassing the check, the foreign KEK opens nothing.
	var r *rawCheckIn
	r, err = scanCheckIn(s.db.QueryRow("SELECT " + checkinColumns + " FROM checkins LIMIT 1"))
	if err == nil {
		if _, err := decodeCheckIn(other, r); !errors.Is(err, ErrUnreadable) {
			t.Errorf("decodeCheckIn under a foreign KEK = %v; want ErrUnreadable", err)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	dir := t.TempDir()
	opts := defaultOpts(t, newFakeClock(), newTestKeys(t))
	s := openTest(t, dir, opts)
	s.db.Exec("PRAGMA user_version=99")
	s.Close()
	s, err := Open(dir, opts)
	expectDegraded(t, s, err, ErrSchemaTooNew)
}

// TestDiskFull fills a 2 MiB tmpfs: Put fails with ErrDiskFull, Health
// reports it, stored records stay readable, and once space is freed
// (the tmpfs grown) the purge completes and the store recovers.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	clk := newFakeClock()
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = time.Hour
	s := openTest(t, filepath.Join(mnt, "data"), opts)
	ctx := context.Background()
	var stored []Meta
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		c := sampleCheckIn(i)
		c.Photo = bytes.Repeat([]byte{byte(i)}, 64<<10)
		m, err := s.Put(ctx, c)
		if err != nil {
			full = err
			break
		}
		stored = append(stored, m)
	}
	if !errors.Is(full, ErrDiskFull) {
		t.Fatalf("Put on a full disk = %v; want ErrDiskFull", full)
	}
	if h := s.Health(); h.OK || !errors.Is(h.Err, ErrDiskFull) {
		t.Errorf("Health on a full disk = %+v; want degraded, disk full", h)
	}
	if len(stored) == 0 {
		t.Fatal("nothing stored before the disk filled")
	}
	for _, m := range stored {
		if _, err := s.Get(ctx, m.ID); err != nil {
			t.Fatalf("Get(%d) on a full disk = %v; want the stored record", m.ID, err)
		}
	}
	if st, err := s.Stats(ctx); err != nil || st.Healthy || st.RecordsHeld != int64(len(stored)) {
		t.Errorf("Stats on a full disk = %+v, %v; want degraded with %d records", st, err, len(stored))
	}
	// A purge on a completely full disk may itself fail (deleting needs WAL
	// space); it must not corrupt anything or panic.
	clk.Advance(time.Hour)
	if run, err := s.Purge(ctx); err != nil || run.Errors > 0 {
		t.Logf("purge on a full disk: %d failed steps, %v", run.Errors, err)
	}
	// The operator frees space; the store recovers on its next successful write.
	if out, err := exec.Command("mount", "-o", "remount,size=16m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v: %s", err, out)
	}
	if run, err := s.Purge(ctx); err != nil || run.Errors != 0 || run.RecordsHeld != 0 {
		t.Errorf("Purge after freeing space = %+v, %v; want every expired record deleted, no errors", run, err)
	}
	if _, err := s.Put(ctx, sampleCheckIn(1)); err != nil {
		t.Fatalf("Put after the purge freed space = %v", err)
	}
	if h := s.Health(); !h.OK {
		t.Errorf("Health after recovery = %+v; want OK", h)
	}
	var ic string
	if err := s.db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("integrity_check after disk full = %q, %v", ic, err)
	}
}
