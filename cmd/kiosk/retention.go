package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
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

	dataDir      string
	current      *atomic.Pointer[store.Store] // the store whose clock custody follows
	disablePurge bool

	// The chain is walked whole once, then only the runs appended since
	// the last report: a year of 5-minute runs is 105k rows.
	chainMu       sync.Mutex
	verifiedHead  store.Digest
	verifiedRuns  int64
	verifiedStore *store.Store
}

// verifyChain checks the purge runs appended since the last check.
func (v *vault) verifyChain(ctx context.Context) error {
	v.chainMu.Lock()
	defer v.chainMu.Unlock()
	if v.verifiedStore != v.store { // first report, or the store was reopened
		v.verifiedHead, v.verifiedRuns, v.verifiedStore = store.Digest{}, 0, v.store
	}
	head, runs, err := v.store.VerifyChainFrom(ctx, v.verifiedHead, v.verifiedRuns)
	if err != nil {
		return err
	}
	v.verifiedHead, v.verifiedRuns = head, runs
	return nil
}

// openStore opens the store under the vault's custody with rf's policy and
// makes it the vault's store.
func (v *vault) openStore(rf *retentionFlags, log *slog.Logger, onPurge func(store.PurgeRun, error)) (*store.Store, error) {
	s, err := store.Open(storeDir(v.dataDir), store.Options{
		Keys: v.custody, Retention: rf.retention, EpochLength: v.custody.EpochLength(),
		PurgeInterval: rf.purgeInterval, Logger: log, OnPurge: onPurge, DisablePurge: v.disablePurge,
	})
	if s != nil {
		v.store = s
		v.current.Store(s)
	}
	return s, err
}

// reopenStore closes the store and opens it again with another policy (the
// operator's saved retention, applied at start). Records keep the expiry
// fixed when they were written.
func (v *vault) reopenStore(rf *retentionFlags, log *slog.Logger, onPurge func(store.PurgeRun, error)) error {
	if err := v.store.Close(); err != nil {
		return err
	}
	s, err := v.openStore(rf, log, onPurge)
	if s == nil {
		return fmt.Errorf("reopening the store: %w", err)
	}
	return err
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
	v := &vault{custody: custody, dataDir: dataDir, current: &st, disablePurge: disablePurge}
	s, err := v.openStore(rf, log, onPurge)
	if s == nil {
		closeCustody()
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	v.close = func() error { return errors.Join(v.store.Close(), closeCustody()) }
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
	if err := v.verifyChain(ctx); err != nil {
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
