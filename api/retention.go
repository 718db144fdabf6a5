package api

import (
	"context"
	"fmt"
	"sync"

	"kiosk/evidence"
	"kiosk/store"
)

// RecentRuns is how many run hashes a retention report carries.
const RecentRuns = evidence.DefaultRecentRuns

// Retention reads the store's retention state into the evidence report's
// terms: the policy, the latest purge run, the chain head with its recent
// hashes, the oldest record's age and the records held. The chain is walked
// whole on the first report and then only for the runs appended since (a
// year of 5-minute purges is 105k runs). Safe for concurrent use.
type Retention struct {
	// Store returns the store in use (the kiosk may reopen it with a new
	// policy at start).
	Store func() *store.Store

	mu       sync.Mutex
	verified *store.Store
	head     store.Digest
	runs     int64
}

// Snapshot is an evidence.Handler's snapshot function. It fails when the
// chain does not verify: a broken chain is never signed.
func (r *Retention) Snapshot(ctx context.Context) (evidence.Snapshot, error) {
	st := r.Store()
	if err := r.verify(ctx, st); err != nil {
		return evidence.Snapshot{}, fmt.Errorf("the purge chain does not verify: %w", err)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return evidence.Snapshot{}, err
	}
	runs, err := st.PurgeRuns(ctx, RecentRuns)
	if err != nil {
		return evidence.Snapshot{}, err
	}
	p := stats.Policy
	snap := evidence.Snapshot{
		Policy: evidence.Policy{RetentionSeconds: evidence.Seconds(p.Retention), PurgeIntervalSeconds: evidence.Seconds(p.PurgeInterval),
			EpochSeconds: evidence.Seconds(p.EpochLength), Ephemeral: p.Ephemeral},
		OldestRemainingRecordAgeSeconds: evidence.Seconds(stats.OldestRecordAge),
		RecordsHeld:                     stats.RecordsHeld,
	}
	if len(runs) > 0 {
		run := runs[0]
		snap.LatestRun = &evidence.PurgeRun{Seq: run.Seq, Started: run.Started, Finished: run.Finished, Scanned: run.Scanned, Deleted: run.Deleted,
			Errors: run.Errors, OldestRemainingAgeSeconds: evidence.Seconds(run.OldestAge), RecordsHeld: run.RecordsHeld,
			PrevHash: evidence.Hash(run.PrevHash), Hash: evidence.Hash(run.Hash)}
		snap.Chain = evidence.Chain{Runs: run.Seq, Head: evidence.Hash(run.Hash)}
		for i := len(runs) - 1; i >= 0; i-- {
			snap.Chain.Recent = append(snap.Chain.Recent, evidence.Hash(runs[i].Hash))
		}
	}
	return snap, nil
}

// verify checks the runs appended since the last report.
func (r *Retention) verify(ctx context.Context, st *store.Store) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.verified != st { // the first report, or a reopened store
		r.verified, r.head, r.runs = st, store.Digest{}, 0
	}
	head, runs, err := st.VerifyChainFrom(ctx, r.head, r.runs)
	if err != nil {
		return err
	}
	r.head, r.runs = head, runs
	return nil
}
