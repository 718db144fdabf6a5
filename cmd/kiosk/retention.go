package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"kiosk/api"
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

	retention api.Retention // the evidence snapshot of this vault's store
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
	v.retention.Store = st.Load
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

// watch points the metrics at this vault: the TPM's kind, the policy, the
// latest purge run's time, and the live holdings. Call it after the store
// is (re)opened with its final policy.
func (v *vault) watch(ctx context.Context, m *api.Metrics) {
	m.SetTPM(metricKind(v.custody.Kind()), v.custody.Kind().Secure())
	p := v.store.Policy()
	ret := p.Retention
	if p.Ephemeral {
		ret = 0
	}
	m.SetPolicy(ret, p.PurgeInterval)
	if run, ok, err := v.store.LatestPurgeRun(ctx); err == nil && ok {
		m.SetLastPurge(run.Finished)
	}
	m.WatchHoldings(v.holdings, nil)
}

// evidenceHandler serves the retention report signed by b, quoting the
// boot state with the TPM's attestation key for ?nonce= requests.
func (v *vault) evidenceHandler(b *evidence.Builder, log *slog.Logger) *evidence.Handler {
	return evidence.NewHandler(b, v.retention.Snapshot, evidence.HandlerOptions{Logger: log,
		Quote: func(_ context.Context, nonce, qualifyingData []byte) (any, error) {
			return v.custody.Quote(nonce, qualifyingData)
		}})
}

// attestation is GET /api/attestation: the bundle tying the evidence
// signing key to this TPM (certified once per start, then cached).
func (v *vault) attestation() (any, error) {
	a, err := v.custody.Attestation()
	if err != nil {
		return nil, err
	}
	return a, nil
}

// activate is POST /api/attestation/activate: the TPM recovers a
// verifier's secret only for its own EK and AK.
func (v *vault) activate(ch evidence.ActivationChallenge) (evidence.ActivationResponse, error) {
	secret, err := v.custody.ActivateCredential(ch.CredentialBlob, ch.EncryptedSecret)
	switch {
	case errors.Is(err, tpmkeys.ErrCredentialRejected):
		return evidence.ActivationResponse{}, fmt.Errorf("%w: %v", api.ErrActivationRejected, err)
	case errors.Is(err, tpmkeys.ErrNoEKCert):
		return evidence.ActivationResponse{}, fmt.Errorf("%w: %v", api.ErrNoAttestation, err)
	case err != nil:
		return evidence.ActivationResponse{}, err
	}
	return evidence.ActivationResponse{Secret: secret}, nil
}

// metricKind is the TPM kind as kiosk_tpm_info labels it.
func metricKind(k tpmkeys.Kind) string {
	switch k {
	case tpmkeys.KindHardware:
		return "hardware"
	case tpmkeys.KindSWTPM:
		return "swtpm"
	case tpmkeys.KindSimulator:
		return "simulator"
	}
	return "unknown"
}

// holdings reads what the store in use holds now (it may be reopened with
// the operator's saved retention at start), for the live metrics.
func (v *vault) holdings(ctx context.Context) (store.Holdings, error) {
	return v.store.Holdings(ctx)
}

// evidenceKind maps the TPM kind to the report's label.
func evidenceKind(k tpmkeys.Kind) evidence.TPMKind {
	if k.Secure() {
		return evidence.TPMHardware
	}
	return evidence.TPMSoftware
}
