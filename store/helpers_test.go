package store

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"kiosk/internal/safelog"
	"kiosk/internal/testclock"
)

// fakeClock is a wall clock and a monotonic clock that tests step.
type fakeClock = testclock.Clock

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return testclock.New(t0) }

var (
	testKEK      = bytes.Repeat([]byte{0x4b}, 32)
	testFirstKey = bytes.Repeat([]byte{0x45}, 32)
)

// newTestKeys returns a deterministic provider whose first epoch is a day
// before t0 (hour epochs); two calls give providers holding the same keys.
func newTestKeys(tb testing.TB) *MemoryKeys {
	tb.Helper()
	k, err := NewMemoryKeys(MemoryKeysOptions{KEK: testKEK, FirstKey: testFirstKey, FirstEpoch: EpochOf(t0, time.Hour) - 24})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return safelog.New(tbWriter{tb}, safelog.Options{Level: slog.LevelDebug})
}

// openTest opens a store in dir with a fake clock and no timer unless
// opts.Tick is set. It fails the test on any error.
func openTest(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func defaultOpts(tb testing.TB, clk *fakeClock, keys KeyProvider) Options {
	return Options{
		Keys: keys, Retention: 24 * time.Hour, Now: clk.Now, Elapsed: clk.Elapsed,
		Tick: make(chan time.Time), Logger: testLogger(tb),
	}
}

func sampleCheckIn(i int) CheckIn {
	return CheckIn{
		Passed:         i%2 == 0,
		Photo:          bytes.Repeat([]byte{byte(i), 0xd8, 0xff}, 300+i),
		Embedding:      bytes.Repeat([]byte{0x3f, byte(i)}, 1024),
		Liveness:       []byte(`{"bpm":72,"snr":6.1}`),
		Match:          []byte(`{"cosine":0.71}`),
		Name:           "Ada Lovelace",
		DocumentNumber: "X1234567",
	}
}

func mustPut(tb testing.TB, s *Store, c CheckIn) Meta {
	tb.Helper()
	m, err := s.Put(context.Background(), c)
	if err != nil {
		tb.Fatalf("Put = %v", err)
	}
	return m
}
