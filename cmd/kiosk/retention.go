package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"kiosk/evidence"
	"kiosk/store"
	"kiosk/tpmkeys"
)

// retentionFlags are the policy settings shared by serve and purge.
type retentionFlags struct {
	tpm           *string
	retention     time.Duration
	purgeInterval time.Duration
}

func (r *retentionFlags) register(fs *flag.FlagSet, e *env) {
	r.tpm = addTPMFlag(fs, e)
	fs.DurationVar(&r.retention, "retention", 24*time.Hour, "how long a check-in record is kept; 0 stores nothing personal (ephemeral mode)")
	fs.DurationVar(&r.purgeInterval, "purge-interval", store.DefaultPurgeInterval, "how often expired records are purged")
}

// vault is the TPM key custody and the sealed store, opened together: the
// store's keys come from the TPM, and the TPM's erase ratchet runs on the
// store's clock, so a wall clock set back cannot stall crypto-erase.
type vault struct {
	custody *tpmkeys.Custody
	store   *store.Store
	close   func() error
}

// openVault opens custody then the store. A store that opens degraded (a
// corrupt file, a wrong key, a full disk) is returned with its error, so the
// caller can keep serving and report it.
func openVault(ctx context.Context, dataDir string, rf *retentionFlags, log *slog.Logger, onPurge func(store.PurgeRun, error), disablePurge bool) (*vault, error) {
	var st atomic.Pointer[store.Store]
	custody, closeCustody, err := openCustodyWith(ctx, *rf.tpm, dataDir, log, tpmkeys.Options{Now: func() time.Time {
		if s := st.Load(); s != nil {
			return s.Now()
		}
		return time.Now()
	}})
	if err != nil {
		return nil, err
	}
	s, err := store.Open(filepath.Join(dataDir, "store"), store.Options{
		Keys: custody, Retention: rf.retention, EpochLength: custody.EpochLength(),
		PurgeInterval: rf.purgeInterval, Logger: log, OnPurge: onPurge, DisablePurge: disablePurge,
	})
	if s == nil {
		closeCustody()
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	st.Store(s)
	v := &vault{custody: custody, store: s, close: func() error { return errors.Join(s.Close(), closeCustody()) }}
	if err != nil && !errors.Is(err, store.ErrDegraded) {
		v.close()
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return v, err
}

// evidenceKind maps the TPM kind to the report's label.
func evidenceKind(k tpmkeys.Kind) evidence.TPMKind {
	if k.Secure() {
		return evidence.TPMHardware
	}
	return evidence.TPMSoftware
}

// recentRuns is how many run hashes a report carries (evidence's default).
const recentRuns = 96

// snapshot reads the store's retention state into the evidence package's
// terms, from one consistent read of the chain.
func (v *vault) snapshot(ctx context.Context) (evidence.Snapshot, error) {
	stats, err := v.store.Stats(ctx)
	if err != nil {
		return evidence.Snapshot{}, err
	}
	if _, _, err := v.store.VerifyChain(ctx); err != nil {
		return evidence.Snapshot{}, fmt.Errorf("the purge chain does not verify: %w", err)
	}
	runs, err := v.store.PurgeRuns(ctx, recentRuns)
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
		r := runs[0]
		snap.LatestRun = &evidence.PurgeRun{Seq: r.Seq, Started: r.Started, Finished: r.Finished, Scanned: r.Scanned, Deleted: r.Deleted,
			Errors: r.Errors, OldestRemainingAgeSeconds: evidence.Seconds(r.OldestAge), RecordsHeld: r.RecordsHeld,
			PrevHash: evidence.Hash(r.PrevHash), Hash: evidence.Hash(r.Hash)}
		snap.Chain = evidence.Chain{Runs: r.Seq, Head: evidence.Hash(r.Hash)}
		for i := len(runs) - 1; i >= 0; i-- {
			snap.Chain.Recent = append(snap.Chain.Recent, evidence.Hash(runs[i].Hash))
		}
	}
	return snap, nil
}
