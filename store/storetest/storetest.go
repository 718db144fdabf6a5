// Package storetest holds acceptance checks that any store.KeyProvider must
// pass, so the TPM-backed provider (tpmkeys) runs the same crypto-erase
// acceptance as the in-memory one without store importing tpmkeys. Start
// with ProviderContract and CryptoErase; both are destructive (they advance
// the provider's ratchet), so give them a throwaway provider, e.g. one on
// a TPM simulator.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kiosk/store"
)

// ProviderContract checks the behaviour store relies on: 32-byte keys,
// deterministic forward derivation, and that AdvancePast(e) makes every
// epoch <= e fail while later epochs keep their keys.
// clk is the provider's clock (nil if it has none); it is advanced so that
// the erased epochs have ended.
func ProviderContract(t testing.TB, p store.KeyProvider, clk *Clock) {
	t.Helper()
	v := p.CurrentKEKVersion()
	kek, err := p.KEK(v)
	if err != nil || len(kek) != 32 {
		t.Fatalf("KEK(%d) = %d bytes, %v; want 32 bytes", v, len(kek), err)
	}
	if _, err := p.KEK(v + 1000); err == nil {
		t.Errorf("KEK(%d) of a version that does not exist = nil error; want an error", v+1000)
	}
	o, err := p.OldestEpoch()
	if err != nil {
		t.Fatalf("OldestEpoch = %v", err)
	}
	keys := map[uint64][]byte{}
	for _, e := range []uint64{o, o + 1, o + 2, o + 5} {
		k, err := p.EpochKey(e)
		if err != nil || len(k) != 32 {
			t.Fatalf("EpochKey(%d) = %d bytes, %v; want 32 bytes", e, len(k), err)
		}
		again, err := p.EpochKey(e)
		if err != nil || !bytes.Equal(k, again) {
			t.Errorf("EpochKey(%d) is not deterministic", e)
		}
		for oe, ok := range keys {
			if bytes.Equal(ok, k) {
				t.Errorf("EpochKey(%d) == EpochKey(%d)", e, oe)
			}
		}
		keys[e] = bytes.Clone(k)
	}
	if o > 0 {
		if _, err := p.EpochKey(o - 1); err == nil {
			t.Errorf("EpochKey(%d) below the oldest epoch %d = nil error; want an error", o-1, o)
		}
	}
	clk = clockFor(clk, o)
	moveInto(clk, o+2, store.DefaultEpochLength)
	if err := p.AdvancePast(o + 1); err != nil {
		t.Fatalf("AdvancePast(%d) = %v", o+1, err)
	}
	if got, err := p.OldestEpoch(); err != nil || got != o+2 {
		t.Errorf("OldestEpoch after AdvancePast(%d) = %d, %v; want %d", o+1, got, err, o+2)
	}
	for _, e := range []uint64{o, o + 1} {
		if k, err := p.EpochKey(e); err == nil {
			t.Errorf("EpochKey(%d) after AdvancePast(%d) returned %d bytes; want an error (erased)", e, o+1, len(k))
		}
	}
	for _, e := range []uint64{o + 2, o + 5} {
		if k, err := p.EpochKey(e); err != nil || !bytes.Equal(k, keys[e]) {
			t.Errorf("EpochKey(%d) changed or failed after erasing older epochs: %v", e, err)
		}
	}
	_ = p.AdvancePast(o) // already erased: must not move the ratchet back or forward
	if got, _ := p.OldestEpoch(); got != o+2 {
		t.Errorf("OldestEpoch after AdvancePast of an erased epoch = %d; want %d", got, o+2)
	}
}

// Clock is a stepped wall and monotonic clock. A provider that checks
// which epochs have ended (tpmkeys refuses to erase the current epoch) must
// read the same clock as the store under test: build the provider with
// Now: clk.Now and pass clk to the checks.
type Clock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{wall: t} }

// Now is the wall clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.wall }

// Elapsed is the monotonic clock.
func (c *Clock) Elapsed() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.mono }

// Advance moves both clocks forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.mono += d
}

// moveInto advances clk to one minute into epoch e of length l if it is
// earlier than that.
func moveInto(clk *Clock, e uint64, l time.Duration) {
	at := time.Unix(int64(e)*int64(l/time.Second), 0).Add(time.Minute)
	if now := clk.Now(); now.Before(at) {
		clk.Advance(at.Sub(now))
	}
}

func clockFor(clk *Clock, oldest uint64) *Clock {
	if clk == nil {
		clk = NewClock(time.Unix(int64(oldest)*int64(store.DefaultEpochLength/time.Second), 0).UTC())
	}
	return clk
}

// CryptoErase is the crypto-erase acceptance on provider p (hour epochs):
// it writes records in the provider's oldest epoch and the next, copies the
// data directory, lets the first group expire and purges, then opens the
// copy with the same provider: the purged epoch must be unreadable and the
// live one must open. clk is the provider's clock (nil if it has none); it
// must not be past the provider's oldest epoch.
func CryptoErase(t testing.TB, p store.KeyProvider, clk *Clock) {
	t.Helper()
	oldest, err := p.OldestEpoch()
	if err != nil {
		t.Fatal(err)
	}
	epochLen := store.DefaultEpochLength
	clk = clockFor(clk, oldest)
	if e := store.EpochOf(clk.Now(), epochLen); e > oldest {
		t.Fatalf("clock is in epoch %d, past the provider's oldest epoch %d; start it earlier", e, oldest)
	}
	moveInto(clk, oldest, epochLen)
	dir := filepath.Join(t.TempDir(), "data")
	opts := store.Options{Keys: p, Retention: 90 * time.Minute, Now: clk.Now, Elapsed: clk.Elapsed, Tick: make(chan time.Time)}
	ctx := context.Background()
	s, err := store.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	put := func(i int) store.Meta {
		m, err := s.Put(ctx, store.CheckIn{Photo: bytes.Repeat([]byte{byte(i)}, 1000), Name: "erase-me"})
		if err != nil {
			t.Fatalf("Put = %v", err)
		}
		return m
	}
	var early, late []store.Meta
	for i := range 3 {
		early = append(early, put(i))
	}
	clk.Advance(epochLen)
	for i := range 3 {
		late = append(late, put(i))
	}
	if early[0].Epoch != oldest || late[0].Epoch != oldest+1 {
		t.Fatalf("records in epochs %d and %d; want %d and %d", early[0].Epoch, late[0].Epoch, oldest, oldest+1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)

	s, err = store.Open(dir, opts)
	if err != nil {
		t.Fatalf("reopen = %v", err)
	}
	defer s.Close()
	clk.Advance(31 * time.Minute)
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 3 || run.RatchetOldest != oldest+1 {
		t.Fatalf("Purge = deleted %d ratchet %d, %v; want 3, %d", run.Deleted, run.RatchetOldest, err, oldest+1)
	}
	bclk := NewClock(late[0].CreatedAt)
	bopts := opts
	bopts.Now, bopts.Elapsed, bopts.DisablePurge = bclk.Now, bclk.Elapsed, true
	b, err := store.Open(backup, bopts)
	if err != nil {
		t.Fatalf("Open(backup) = %v", err)
	}
	defer b.Close()
	for _, m := range early {
		if c, err := b.Get(ctx, m.ID); !errors.Is(err, store.ErrUnreadable) {
			t.Errorf("backup Get(record of purged epoch %d) = %v, %v; want ErrUnreadable", m.Epoch, c, err)
		}
	}
	for _, m := range late {
		if c, err := b.Get(ctx, m.ID); err != nil || c.Name != "erase-me" {
			t.Errorf("backup Get(record of live epoch %d) = %v; want it to open", m.Epoch, err)
		}
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
