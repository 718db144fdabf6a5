package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Digest is a SHA-256 hash of a purge run. It prints and marshals as hex.
type Digest [32]byte

func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText implements encoding.TextMarshaler (lower-case hex).
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("digest: want 64 hex digits, got %d characters", len(b))
	}
	_, err := hex.Decode(d[:], b)
	return err
}

// PurgeRun is one link of the purge chain. Hash = ComputeHash(); PrevHash
// is the previous run's Hash (all zeros for the first run).
type PurgeRun struct {
	Seq      int64     `json:"seq"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Scanned is the number of check-in and audit rows examined.
	Scanned int64 `json:"scanned"`
	// Deleted is the number of expired rows deleted.
	Deleted int64 `json:"deleted"`
	// Errors counts failed steps (batches, checkpoint, ratchet, re-wraps).
	Errors int64 `json:"errors"`
	// OldestAge is the age of the oldest check-in left at Finished (0 if none).
	OldestAge time.Duration `json:"oldest_age_ns"`
	// RecordsHeld is the number of check-ins left at Finished.
	RecordsHeld int64 `json:"records_held"`
	// RatchetOldest is the oldest epoch whose key still derives after the run.
	RatchetOldest uint64 `json:"ratchet_oldest"`
	PrevHash      Digest `json:"prev_hash"`
	Hash          Digest `json:"hash"`
}

// ComputeHash returns SHA-256 over a fixed binary encoding of every field
// but Hash:
//
//	"kiosk/store/purge-run/v1" | seq | started ns | finished ns | scanned |
//	deleted | errors | oldest age ns | records held | ratchet oldest | prev hash
//
// with every integer as 8 bytes big endian.
func (r PurgeRun) ComputeHash() Digest {
	b := make([]byte, 0, 24+9*8+32)
	b = append(b, "kiosk/store/purge-run/v1"...)
	for _, v := range []uint64{uint64(r.Seq), uint64(r.Started.UnixNano()), uint64(r.Finished.UnixNano()),
		uint64(r.Scanned), uint64(r.Deleted), uint64(r.Errors), uint64(r.OldestAge), uint64(r.RecordsHeld), r.RatchetOldest} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = append(b, r.PrevHash[:]...)
	return sha256.Sum256(b)
}

// Purge runs one purge now: it deletes expired check-ins and audit events
// in batches of PurgeBatch rows (one transaction each, so writers
// interleave), checkpoints the WAL with TRUNCATE, advances the erase
// ratchet past every fully expired epoch, and appends the run to the chain.
// Runs are serialised. The run is returned even when steps failed (Errors > 0);
// the error is non-nil only if the run could not be recorded.
func (s *Store) Purge(ctx context.Context) (PurgeRun, error) {
	db, err := s.usable(false)
	if err != nil {
		return PurgeRun{}, err
	}
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	run := PurgeRun{Started: s.clk.Now().UTC()}
	now := run.Started.UnixNano()
	for _, t := range []string{tableCheckins, tableAudit} {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			run.Errors++
			s.log.Warn("purge: count failed", "table", t, "err", err)
		}
		run.Scanned += n
		deleted, err := s.deleteExpired(ctx, db, t, now)
		run.Deleted += deleted
		if err != nil {
			run.Errors++
			s.log.Warn("purge: delete failed", "table", t, "deleted_count", deleted, "err", err)
		}
	}
	if err := checkpoint(ctx, db); err != nil {
		run.Errors++
		s.log.Warn("purge: checkpoint failed", "err", err)
	}
	run.Errors += s.advanceRatchet(ctx, db, run.Started)
	if o, err := s.keys.OldestEpoch(); err == nil {
		run.RatchetOldest = o
	} else {
		run.Errors++
	}
	run.Finished = s.clk.Now().UTC()
	var minCreated sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT count(*), min(created_at) FROM checkins").Scan(&run.RecordsHeld, &minCreated); err != nil {
		run.Errors++
	}
	if minCreated.Valid {
		run.OldestAge = max(run.Finished.Sub(time.Unix(0, minCreated.Int64)), 0)
	}
	if err := s.appendRun(ctx, db, &run); err != nil {
		return run, s.writeFailed("recording purge run", err)
	}
	if run.Errors == 0 {
		s.recoverFrom(ErrDiskFull)
	}
	s.log.Info("purge run", "seq", run.Seq, "scanned_count", run.Scanned, "deleted_count", run.Deleted,
		"errors_count", run.Errors, "held_count", run.RecordsHeld, "duration_ms", run.Finished.Sub(run.Started).Milliseconds())
	return run, nil
}

func (s *Store) deleteExpired(ctx context.Context, db *sql.DB, table string, now int64) (int64, error) {
	var total int64
	q := "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " + table + " WHERE expires_at <= ? LIMIT ?)"
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := db.ExecContext(ctx, q, now, s.opts.PurgeBatch)
		if err != nil {
			return total, classify(err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(s.opts.PurgeBatch) {
			return total, nil
		}
	}
}

// advanceRatchet erases every epoch older than the current one that no
// check-in still uses. Long-lived rows (people, audit events) in those
// epochs are first re-wrapped into the current epoch. It returns the number
// of failed steps.
func (s *Store) advanceRatchet(ctx context.Context, db *sql.DB, now time.Time) int64 {
	s.mu.Lock()
	keysBad := s.keysBad
	s.mu.Unlock()
	if keysBad != nil {
		return 0 // not our provider: never erase its epochs
	}
	oldest, err := s.keys.OldestEpoch()
	if err != nil {
		s.log.Warn("purge: reading the ratchet failed", "err", err)
		return 1
	}
	cur := EpochOf(now, s.policy.EpochLength)
	if cur <= oldest {
		return 0
	}
	target := cur - 1
	var minLive sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT min(epoch) FROM checkins").Scan(&minLive); err != nil {
		return 1
	}
	if minLive.Valid {
		if minLive.Int64 <= int64(oldest) {
			return 0
		}
		target = min(target, uint64(minLive.Int64)-1)
	}
	if target < oldest {
		return 0
	}
	// The re-wrap must be committed before the ratchet moves: erasing an
	// epoch whose long-lived rows were not moved out would destroy them.
	unreadable, err := s.rewrapForward(ctx, db, target, cur)
	if err != nil {
		s.log.Warn("purge: re-wrapping people and audit events failed; the erase ratchet waits for the next run", "epoch", target, "err", err)
		return unreadable + 1
	}
	if err := s.keys.AdvancePast(target); err != nil {
		s.log.Warn("purge: advancing the ratchet failed", "epoch", target, "err", err)
		return unreadable + 1
	}
	s.mu.Lock()
	s.oldest = max(s.oldest, target+1)
	s.mu.Unlock()
	s.log.Info("erase ratchet advanced", "past_epoch", target)
	return unreadable
}

// rewrapForward moves the DEKs of people and audit events in epochs <=
// target into epoch to, keeping their KEK version (the fields' AAD binds
// it), in one transaction. A row whose DEK no longer unwraps (sealed under
// a set-aside KEK, or damaged) is counted in unreadable and left as it is:
// nobody can open it now, and it must not hold the erasure of every other
// row back. Any other failure (a query, a row that does not scan, an
// update, the commit) rolls the whole re-wrap back and returns an error:
// then no row has moved, and the caller must not erase the epochs.
func (s *Store) rewrapForward(ctx context.Context, db *sql.DB, target, to uint64) (unreadable int64, err error) {
	type rw struct {
		table        string
		id, epoch, v int64
		wrapped      []byte
	}
	var rs []rw
	for _, t := range []string{tablePeople, tableAudit} {
		rows, err := db.QueryContext(ctx, "SELECT id, epoch, kek_version, wrapped_dek FROM "+t+" WHERE epoch <= ?", int64(target))
		if err != nil {
			return 0, fmt.Errorf("listing %s to re-wrap: %w", t, classify(err))
		}
		for rows.Next() {
			r := rw{table: t}
			if err := rows.Scan(&r.id, &r.epoch, &r.v, &r.wrapped); err != nil {
				rows.Close()
				return 0, fmt.Errorf("reading a %s row to re-wrap: %w", t, err)
			}
			rs = append(rs, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, fmt.Errorf("listing %s to re-wrap: %w", t, classify(err))
		}
	}
	if len(rs) == 0 {
		return 0, nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("starting the re-wrap: %w", classify(err))
	}
	defer tx.Rollback()
	for _, r := range rs {
		if r.epoch < 0 || r.v < 0 || r.v > 1<<32-1 {
			unreadable++
			continue
		}
		dek, err := unwrapDEK(s.keys, r.table, r.id, uint32(r.v), uint64(r.epoch), r.wrapped)
		if err != nil {
			unreadable++
			continue
		}
		nw, err := wrapDEK(nil, s.keys, r.table, r.id, uint32(r.v), to, dek)
		dek.Destroy()
		if err != nil {
			return unreadable, fmt.Errorf("re-wrapping %s row %d: %w", r.table, r.id, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+r.table+" SET wrapped_dek=?, epoch=? WHERE id=?", nw, int64(to), r.id); err != nil {
			return unreadable, fmt.Errorf("re-wrapping %s row %d: %w", r.table, r.id, classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return unreadable, fmt.Errorf("committing the re-wrap: %w", classify(err))
	}
	return unreadable, nil
}

func (s *Store) appendRun(ctx context.Context, db *sql.DB, run *PurgeRun) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var prevSeq int64
	var prev []byte
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM purge_runs ORDER BY seq DESC LIMIT 1").Scan(&prevSeq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if len(prev) == 32 {
		copy(run.PrevHash[:], prev)
	} else if prev != nil {
		return fmt.Errorf("%w: purge run %d has a %d-byte hash", ErrCorrupt, prevSeq, len(prev))
	}
	run.Seq = prevSeq + 1
	run.Hash = run.ComputeHash()
	if _, err := tx.ExecContext(ctx, `INSERT INTO purge_runs
		(seq, started, finished, scanned, deleted, errors, oldest_age, records_held, ratchet_oldest, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, run.Seq, run.Started.UnixNano(), run.Finished.UnixNano(),
		run.Scanned, run.Deleted, run.Errors, int64(run.OldestAge), run.RecordsHeld, int64(run.RatchetOldest),
		run.PrevHash[:], run.Hash[:]); err != nil {
		return err
	}
	if err := persistHWM(ctx, tx, run.Finished); err != nil {
		return err
	}
	return tx.Commit()
}

const runColumns = "seq, started, finished, scanned, deleted, errors, oldest_age, records_held, ratchet_oldest, prev_hash, hash"

// decodeRun is the purge-run row decoder.
func decodeRun(sc interface{ Scan(...any) error }) (PurgeRun, error) {
	var r PurgeRun
	var started, finished, age, ratchet int64
	var prev, hash []byte
	if err := sc.Scan(&r.Seq, &started, &finished, &r.Scanned, &r.Deleted, &r.Errors, &age, &r.RecordsHeld, &ratchet, &prev, &hash); err != nil {
		return r, err
	}
	if len(prev) != 32 || len(hash) != 32 || ratchet < 0 {
		return r, &ChainError{Seq: r.Seq, Reason: "malformed row"}
	}
	r.Started, r.Finished = time.Unix(0, started).UTC(), time.Unix(0, finished).UTC()
	r.OldestAge, r.RatchetOldest = time.Duration(age), uint64(ratchet)
	copy(r.PrevHash[:], prev)
	copy(r.Hash[:], hash)
	return r, nil
}

// PurgeRuns returns the newest runs, newest first (at most limit; 100 if <= 0).
func (s *Store) PurgeRuns(ctx context.Context, limit int) ([]PurgeRun, error) {
	db, err := s.usable(false)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.QueryContext(ctx, "SELECT "+runColumns+" FROM purge_runs ORDER BY seq DESC LIMIT ?", limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []PurgeRun
	for rows.Next() {
		r, err := decodeRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// LatestPurgeRun returns the newest run; ok is false before the first run.
func (s *Store) LatestPurgeRun(ctx context.Context) (run PurgeRun, ok bool, err error) {
	runs, err := s.PurgeRuns(ctx, 1)
	if err != nil || len(runs) == 0 {
		return PurgeRun{}, false, err
	}
	return runs[0], true, nil
}

// VerifyChain walks every purge run from the first, recomputing each hash
// and checking each link. It returns the head hash and the number of runs,
// or a *ChainError naming the first bad run.
func (s *Store) VerifyChain(ctx context.Context) (head Digest, runs int64, err error) {
	return s.VerifyChainFrom(ctx, Digest{}, 0)
}

// VerifyChainFrom continues a verification that ended at run number runs
// with hash head (as VerifyChain or an earlier VerifyChainFrom returned):
// it checks only the runs appended since, so a caller that verifies on
// every request (the evidence endpoint) does not walk a year of runs each
// time. The first run after runs must link to head.
func (s *Store) VerifyChainFrom(ctx context.Context, head Digest, runs int64) (Digest, int64, error) {
	db, err := s.usable(false)
	if err != nil {
		return Digest{}, 0, err
	}
	rows, err := db.QueryContext(ctx, "SELECT "+runColumns+" FROM purge_runs WHERE seq > ? ORDER BY seq", runs)
	if err != nil {
		return Digest{}, 0, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := decodeRun(rows)
		if err != nil {
			return head, runs, err
		}
		switch {
		case r.Seq != runs+1:
			return head, runs, &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("sequence gap after %d", runs)}
		case r.PrevHash != head:
			return head, runs, &ChainError{Seq: r.Seq, Reason: "previous-hash link does not match"}
		case r.ComputeHash() != r.Hash:
			return head, runs, &ChainError{Seq: r.Seq, Reason: "hash does not match the run's contents"}
		}
		head, runs = r.Hash, runs+1
	}
	return head, runs, classify(rows.Err())
}

// startTimer runs Purge on every tick until Close.
func (s *Store) startTimer() {
	tick := s.opts.Tick
	var stop func()
	if tick == nil {
		t := time.NewTicker(s.opts.PurgeInterval)
		tick, stop = t.C, t.Stop
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if stop != nil {
			defer stop()
		}
		for {
			select {
			case <-s.done:
				return
			case _, ok := <-tick:
				if !ok {
					return
				}
				run, err := s.Purge(context.Background())
				if err != nil {
					s.log.Warn("timed purge failed", "err", err)
				}
				if s.opts.OnPurge != nil {
					s.opts.OnPurge(run, err)
				}
			}
		}
	}()
}

// Counters are the aggregate counts that survive in every mode.
type Counters struct {
	CheckIns   int64 `json:"checkins"`
	Passed     int64 `json:"passed"`
	Failed     int64 `json:"failed"`
	Referred   int64 `json:"referred"` // sent to staff: the face match was uncertain
	Stored     int64 `json:"stored"`
	Enrolments int64 `json:"enrolments"`
	Declined   int64 `json:"consent_declined"`
	Confirmed  int64 `json:"referrals_confirmed"` // referrals staff confirmed
	Refused    int64 `json:"referrals_refused"`   // referrals staff refused
}

// Stats is what the evidence, metrics and doctor need, all plain values.
type Stats struct {
	Now             time.Time     `json:"now"` // store time
	Policy          Policy        `json:"policy"`
	Healthy         bool          `json:"healthy"`
	HealthReason    string        `json:"health_reason,omitempty"`
	RecordsHeld     int64         `json:"records_held"`
	PeopleHeld      int64         `json:"people_held"`
	AuditEvents     int64         `json:"audit_events"`
	OldestRecordAge time.Duration `json:"oldest_record_age_ns"` // 0 when no record is held
	OldestEpoch     uint64        `json:"oldest_epoch"`         // oldest epoch whose key still derives
	Runs            int64         `json:"runs"`                 // purge runs in the chain
	ChainHead       Digest        `json:"chain_head"`           // hash of the latest run; zero before the first
	LatestRun       *PurgeRun     `json:"latest_run,omitempty"`
	Counters        Counters      `json:"counters"`
}

// Holdings is what the store holds right now: the check-in records and
// the age of the oldest, for metrics that must agree with the evidence.
type Holdings struct {
	Records   int64
	OldestAge time.Duration // 0 when no record is held
}

// Holdings reads the records held and the oldest one's age, in one query
// on the created_at index.
func (s *Store) Holdings(ctx context.Context) (Holdings, error) {
	db, err := s.usable(false)
	if err != nil {
		return Holdings{}, err
	}
	var h Holdings
	var minCreated sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT count(*), min(created_at) FROM checkins").Scan(&h.Records, &minCreated); err != nil {
		return Holdings{}, classify(err)
	}
	if minCreated.Valid {
		h.OldestAge = max(s.clk.Now().Sub(time.Unix(0, minCreated.Int64)), 0)
	}
	return h, nil
}

// Stats gathers the store's aggregate state. In a degraded store without a
// database it still returns Now, Policy and the health fields, with the error.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	h := s.Health()
	st := Stats{Now: s.clk.Now().UTC(), Policy: s.policy, Healthy: h.OK, HealthReason: h.Reason}
	if o, err := s.keys.OldestEpoch(); err == nil {
		st.OldestEpoch = o
	}
	db, err := s.usable(false)
	if err != nil {
		return st, err
	}
	hold, err := s.Holdings(ctx)
	if err != nil {
		return st, err
	}
	st.RecordsHeld, st.OldestRecordAge = hold.Records, hold.OldestAge
	if err := db.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM audit_events), (SELECT count(*) FROM purge_runs)").
		Scan(&st.PeopleHeld, &st.AuditEvents, &st.Runs); err != nil {
		return st, classify(err)
	}
	if run, ok, err := s.LatestPurgeRun(ctx); err != nil {
		return st, err
	} else if ok {
		st.LatestRun, st.ChainHead = &run, run.Hash
	}
	rows, err := db.QueryContext(ctx, "SELECT name, value FROM counters")
	if err != nil {
		return st, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return st, classify(err)
		}
		switch name {
		case "checkins":
			st.Counters.CheckIns = v
		case "checkins_passed":
			st.Counters.Passed = v
		case "checkins_failed":
			st.Counters.Failed = v
		case "checkins_referred":
			st.Counters.Referred = v
		case "checkins_stored":
			st.Counters.Stored = v
		case "enrolments":
			st.Counters.Enrolments = v
		case EventConsentDeclined:
			st.Counters.Declined = v
		case EventReferralConfirmed:
			st.Counters.Confirmed = v
		case EventReferralRefused:
			st.Counters.Refused = v
		}
	}
	return st, classify(rows.Err())
}
