package store

import (
	"context"
	"errors"
	"kiosk/internal/testclock"
	"testing"
	"time"
)

func TestPurgeDeletesExpiredAndChains(t *testing.T) {
	clk := newFakeClock()
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = 2 * time.Hour
	opts.PurgeBatch = 7 // several batches
	s := openTest(t, t.TempDir(), opts)
	ctx := context.Background()
	var old, young []Meta
	for i := range 50 {
		old = append(old, mustPut(t, s, sampleCheckIn(i)))
	}
	clk.Advance(time.Hour)
	for i := range 3 {
		young = append(young, mustPut(t, s, sampleCheckIn(i)))
	}
	clk.Advance(time.Hour - time.Second)
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 0 {
		t.Fatalf("Purge one second before expiry = %+v, %v; want nothing deleted", run, err)
	}
	clk.Advance(time.Second)
	run, err = s.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run.Deleted != 50 || run.Scanned != 53 || run.RecordsHeld != 3 || run.Errors != 0 {
		t.Errorf("Purge = deleted %d scanned %d held %d errors %d; want 50 53 3 0", run.Deleted, run.Scanned, run.RecordsHeld, run.Errors)
	}
	if run.OldestAge != time.Hour {
		t.Errorf("OldestAge = %v; want 1h", run.OldestAge)
	}
	for _, m := range old {
		if _, err := s.Get(ctx, m.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(purged %d) = %v; want ErrNotFound", m.ID, err)
		}
	}
	for _, m := range young {
		if _, err := s.Get(ctx, m.ID); err != nil {
			t.Errorf("Get(live %d) = %v; want nil", m.ID, err)
		}
	}
	head, n, err := s.VerifyChain(ctx)
	if err != nil || n != 3 { // start-up run + 2
		t.Fatalf("VerifyChain = %d runs, %v; want 3, nil", n, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ChainHead != head || st.Runs != 3 || st.LatestRun == nil || st.LatestRun.Hash != run.Hash || st.RecordsHeld != 3 || st.OldestRecordAge != time.Hour {
		t.Errorf("Stats = %+v; want head %v, 3 runs, 3 records, oldest 1h", st, head)
	}
	if st.LatestRun.PrevHash == (Digest{}) {
		t.Errorf("latest run has a zero PrevHash; want the previous run's hash")
	}
}

func TestChainTamperDetected(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	for range 4 {
		clk.Advance(time.Minute)
		if _, err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, sql string }{
		{"edit a count", "UPDATE purge_runs SET deleted=deleted+1 WHERE seq=3"},
		{"edit a time", "UPDATE purge_runs SET finished=finished-1 WHERE seq=2"},
		{"drop a run", "DELETE FROM purge_runs WHERE seq=2"},
		{"rehash a run", "UPDATE purge_runs SET hash=zeroblob(32) WHERE seq=4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, _ := s.db.Begin()
			defer tx.Rollback()
			if _, err := tx.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			// VerifyChain uses the store's one connection, which is held
			// by tx; verify through the tx instead.
			rows, err := tx.Query("SELECT " + runColumns + " FROM purge_runs ORDER BY seq")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var head Digest
			var n int64
			broken := false
			for rows.Next() {
				r, err := decodeRun(rows)
				if err != nil || r.Seq != n+1 || r.PrevHash != head || r.ComputeHash() != r.Hash {
					broken = true
					break
				}
				head, n = r.Hash, n+1
			}
			if !broken {
				t.Errorf("chain after %q verified; want a break", tc.name)
			}
		})
	}
	if _, n, err := s.VerifyChain(ctx); err != nil || n != 5 {
		t.Errorf("VerifyChain after rollbacks = %d, %v; want 5, nil", n, err)
	}
	if _, err := s.db.Exec("UPDATE purge_runs SET errors=7 WHERE seq=2"); err != nil {
		t.Fatal(err)
	}
	var ce *ChainError
	if _, _, err := s.VerifyChain(ctx); !errors.As(err, &ce) || ce.Seq != 2 {
		t.Errorf("VerifyChain after edit = %v; want ChainError at run 2", err)
	}
}

// TestVerifyChainFrom: continuing a verification checks only the runs
// appended since, yet still catches a broken link or an edited new run.
func TestVerifyChainFrom(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	head, n, err := s.VerifyChain(ctx)
	if err != nil || n != 1 {
		t.Fatalf("VerifyChain = %d, %v; want the start-up run", n, err)
	}
	for range 3 {
		clk.Advance(time.Minute)
		if _, err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fullHead, fullN, err := s.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h, m, err := s.VerifyChainFrom(ctx, head, n); err != nil || h != fullHead || m != fullN {
		t.Errorf("VerifyChainFrom(run %d) = %d, %v; want %d like a full walk", n, m, err, fullN)
	}
	if h, m, err := s.VerifyChainFrom(ctx, fullHead, fullN); err != nil || h != fullHead || m != fullN {
		t.Errorf("VerifyChainFrom(head) = %d, %v; want nothing new", m, err)
	}
	var ce *ChainError
	if _, _, err := s.VerifyChainFrom(ctx, Digest{1}, n); !errors.As(err, &ce) || ce.Seq != n+1 {
		t.Errorf("VerifyChainFrom(wrong head) = %v; want a ChainError at run %d", err, n+1)
	}
	if _, err := s.db.Exec("UPDATE purge_runs SET deleted=9 WHERE seq=3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.VerifyChainFrom(ctx, head, n); !errors.As(err, &ce) || ce.Seq != 3 {
		t.Errorf("VerifyChainFrom after editing run 3 = %v; want a ChainError at run 3", err)
	}
}

func TestPurgeTimer(t *testing.T) {
	clk := newFakeClock()
	tick := make(chan time.Time)
	runs := make(chan PurgeRun, 4)
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = time.Hour
	opts.Tick = tick
	opts.OnPurge = func(r PurgeRun, err error) {
		if err != nil {
			t.Errorf("timed purge: %v", err)
		}
		runs <- r
	}
	s := openTest(t, t.TempDir(), opts)
	if r := <-runs; r.Seq != 1 {
		t.Fatalf("start-up run seq = %d; want 1", r.Seq)
	}
	m := mustPut(t, s, sampleCheckIn(1))
	clk.Advance(time.Hour)
	tick <- clk.Now()
	r := <-runs
	if r.Seq != 2 || r.Deleted != 1 {
		t.Errorf("timed run = seq %d deleted %d; want 2, 1", r.Seq, r.Deleted)
	}
	if _, err := s.Get(context.Background(), m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after timed purge = %v; want ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case tick <- clk.Now():
		t.Errorf("purge loop still receiving ticks after Close")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestClockSetBack sets the wall clock back a day between a write and its
// expiry: the record still purges on time, and a restart with the clock
// still wrong cannot extend retention either.
func TestClockSetBack(t *testing.T) {
	clk := newFakeClock()
	dir := t.TempDir()
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = time.Hour
	s := openTest(t, dir, opts)
	ctx := context.Background()
	m := mustPut(t, s, sampleCheckIn(1))
	clk.Advance(30 * time.Minute)
	clk.SetWall(clk.Now().Add(-24 * time.Hour))
	clk.Advance(29 * time.Minute)
	if run, _ := s.Purge(ctx); run.Deleted != 0 {
		t.Fatalf("Purge at 59 min after write deleted %d; want 0", run.Deleted)
	}
	clk.Advance(time.Minute)
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 1 {
		t.Fatalf("Purge 60 min after write with the clock a day back = deleted %d, %v; want 1", run.Deleted, err)
	}
	if !run.Started.Equal(m.CreatedAt.Add(time.Hour)) {
		t.Errorf("run started at store time %v; want %v", run.Started, m.CreatedAt.Add(time.Hour))
	}
	// New writes are stamped with store time, not the wrong wall clock.
	m2 := mustPut(t, s, sampleCheckIn(2))
	if m2.CreatedAt.Before(m.CreatedAt) {
		t.Errorf("record written after set-back stamped %v, before the earlier %v", m2.CreatedAt, m.CreatedAt)
	}
	s.Close()

	// Restart: the monotonic clock restarts at zero and the wall clock is
	// still a day behind. The persisted high-water mark holds time up.
	clk2 := testclock.New(clk.Now())
	opts.Now, opts.Elapsed = clk2.Now, clk2.Elapsed
	s2 := openTest(t, dir, opts)
	if now := s2.Now(); now.Before(m2.CreatedAt) {
		t.Errorf("store time after restart = %v; want >= %v (high-water mark)", now, m2.CreatedAt)
	}
	clk2.Advance(time.Hour)
	if run, err := s2.Purge(ctx); err != nil || run.Deleted != 1 {
		t.Errorf("Purge an hour after restart = deleted %d, %v; want 1", run.Deleted, err)
	}
}

// TestRatchetAdvances checks that the ratchet moves past fully expired
// epochs only, and that enrolled people survive by being re-wrapped.
func TestRatchetAdvances(t *testing.T) {
	clk := newFakeClock()
	keys := newTestKeys(t)
	opts := defaultOpts(t, clk, keys)
	opts.Retention = 2 * time.Hour
	s := openTest(t, t.TempDir(), opts)
	ctx := context.Background()
	e := EpochOf(clk.Now(), time.Hour)
	if o, _ := keys.OldestEpoch(); o != e {
		t.Fatalf("OldestEpoch after start-up purge of an empty store = %d; want the current epoch %d", o, e)
	}
	a := mustPut(t, s, sampleCheckIn(1))
	pid, err := s.Enroll(ctx, Person{Name: "P", Template: []byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "settings.change", Note: "retention"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	b := mustPut(t, s, sampleCheckIn(2))
	if a.Epoch != e || b.Epoch != e+1 {
		t.Fatalf("epochs = %d, %d; want %d, %d", a.Epoch, b.Epoch, e, e+1)
	}
	clk.Advance(time.Hour) // a expires; epoch e is fully expired
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 1 || run.RatchetOldest != e+1 || run.Errors != 0 {
		t.Fatalf("Purge = deleted %d ratchet %d errors %d, %v; want 1, %d, 0", run.Deleted, run.RatchetOldest, run.Errors, err, e+1)
	}
	if _, err := keys.EpochKey(e); err == nil {
		t.Errorf("EpochKey(%d) after purge = nil error; want erased", e)
	}
	if _, err := s.Get(ctx, b.ID); err != nil {
		t.Errorf("Get(live record in epoch %d) = %v; want nil", e+1, err)
	}
	if p, err := s.Person(ctx, pid); err != nil || p.Name != "P" {
		t.Errorf("Person after its epoch was erased = %v; want re-wrapped and readable", err)
	}
	if evs, bad, err := s.AuditEvents(ctx, 10); err != nil || bad != 0 || len(evs) != 1 || evs[0].Note != "retention" {
		t.Errorf("AuditEvents after erase = %v, %d bad, %v; want the event, re-wrapped", evs, bad, err)
	}
	clk.Advance(time.Hour) // b expires
	if run, err := s.Purge(ctx); err != nil || run.RatchetOldest != e+3 || run.RecordsHeld != 0 {
		t.Errorf("second Purge = ratchet %d held %d, %v; want %d, 0", run.RatchetOldest, run.RecordsHeld, err, e+3)
	}
	if _, err := s.Person(ctx, pid); err != nil {
		t.Errorf("Person after second erase = %v; want readable", err)
	}
}

// ratchetFixture is a store whose oldest epoch e holds an enrolled person
// and an audit event but no live check-in any more, so the next purge
// re-wraps both into a newer epoch and erases e.
func ratchetFixture(t *testing.T) (s *Store, keys *MemoryKeys, clk *fakeClock, e uint64, pid ID) {
	t.Helper()
	clk = newFakeClock()
	keys = newTestKeys(t)
	opts := defaultOpts(t, clk, keys)
	opts.Retention = 2 * time.Hour
	s = openTest(t, t.TempDir(), opts)
	ctx := context.Background()
	e = EpochOf(clk.Now(), time.Hour)
	mustPut(t, s, sampleCheckIn(1))
	pid, err := s.Enroll(ctx, Person{Name: "P", Template: []byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "settings.change", Note: "retention"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	mustPut(t, s, sampleCheckIn(2))
	clk.Advance(time.Hour) // the first check-in expires; epoch e is fully expired
	return s, keys, clk, e, pid
}

// injectSQL runs SQL on the store's database, as a fault injection.
func injectSQL(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	db, err := s.usable(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// opensAll checks the enrolled person and the audit event still open.
func opensAll(t *testing.T, s *Store, pid ID, when string) {
	t.Helper()
	ctx := context.Background()
	if p, err := s.Person(ctx, pid); err != nil || p.Name != "P" {
		t.Errorf("%s: Person = %v; want it readable", when, err)
	}
	if evs, bad, err := s.AuditEvents(ctx, 10); err != nil || bad != 0 || len(evs) != 1 || evs[0].Note != "retention" {
		t.Errorf("%s: AuditEvents = %v, %d unreadable, %v; want the event", when, evs, bad, err)
	}
}

// TestRatchetWaitsWhenRewrapFails injects a fault into the re-wrap (the
// audit rows' update aborts after the people rows were updated in the same
// transaction): the purge run counts an error, the ratchet does not advance,
// the epoch's key still derives and every row still opens. Once the fault
// is gone, the next run re-wraps and erases the epoch.
func TestRatchetWaitsWhenRewrapFails(t *testing.T) {
	s, keys, _, e, pid := ratchetFixture(t)
	ctx := context.Background()
	injectSQL(t, s, `CREATE TRIGGER inject_fault BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'injected fault'); END`)
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 1 || run.Errors == 0 || run.RatchetOldest != e {
		t.Fatalf("Purge with a failing re-wrap = deleted %d, errors %d, ratchet %d, %v; want 1 deleted, an error counted, ratchet still %d",
			run.Deleted, run.Errors, run.RatchetOldest, err, e)
	}
	if _, err := keys.EpochKey(e); err != nil {
		t.Errorf("EpochKey(%d) after the failed re-wrap = %v; want it kept", e, err)
	}
	opensAll(t, s, pid, "after the failed re-wrap")

	injectSQL(t, s, `DROP TRIGGER inject_fault`)
	run, err = s.Purge(ctx)
	if err != nil || run.Errors != 0 || run.RatchetOldest != e+1 {
		t.Fatalf("Purge once the fault is gone = errors %d, ratchet %d, %v; want 0 errors, ratchet %d", run.Errors, run.RatchetOldest, err, e+1)
	}
	if _, err := keys.EpochKey(e); !errors.Is(err, ErrEpochErased) {
		t.Errorf("EpochKey(%d) after the retry = %v; want erased", e, err)
	}
	opensAll(t, s, pid, "after the retried re-wrap")
}

// TestRatchetWaitsOnRowScanFault: a people row that does not read (its KEK
// version is not a number) stops the re-wrap, since it may belong to the
// epoch about to be erased; the ratchet waits, and once the row is mended
// it opens and is re-wrapped before the epoch goes.
func TestRatchetWaitsOnRowScanFault(t *testing.T) {
	s, keys, _, e, pid := ratchetFixture(t)
	ctx := context.Background()
	injectSQL(t, s, `UPDATE people SET kek_version = 'one' WHERE id = ?`, int64(pid))
	run, err := s.Purge(ctx)
	if err != nil || run.Errors == 0 || run.RatchetOldest != e {
		t.Fatalf("Purge with an unreadable row = errors %d, ratchet %d, %v; want an error counted, ratchet still %d", run.Errors, run.RatchetOldest, err, e)
	}
	if _, err := keys.EpochKey(e); err != nil {
		t.Errorf("EpochKey(%d) after the scan fault = %v; want it kept", e, err)
	}
	injectSQL(t, s, `UPDATE people SET kek_version = 1 WHERE id = ?`, int64(pid))
	opensAll(t, s, pid, "after the row was mended")
	if run, err := s.Purge(ctx); err != nil || run.Errors != 0 || run.RatchetOldest != e+1 {
		t.Fatalf("Purge after mending = errors %d, ratchet %d, %v; want 0, %d", run.Errors, run.RatchetOldest, err, e+1)
	}
	opensAll(t, s, pid, "after the epoch was erased")
}
