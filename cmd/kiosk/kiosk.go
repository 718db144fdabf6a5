package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"kiosk/api"
	"kiosk/checkin"
	"kiosk/evidence"
	"kiosk/models"
	"kiosk/mrz"
	"kiosk/store"
	"kiosk/tpmkeys"
	"kiosk/ui"
)

// station is the whole check-in machine assembled from its parts: the face
// models, the TPM custody and the sealed store, the check-in flow, operator
// mode, metrics and the signed retention evidence. `kiosk run` builds one.
type station struct {
	log      *slog.Logger
	matcher  *models.Matcher
	vault    *vault
	flow     *checkin.Flow
	console  *checkin.Console
	metrics  *api.Metrics
	evidence *evidence.Handler
	settings checkin.Settings
	notice   *checkin.Notice

	mu      sync.Mutex
	gallery *models.Gallery // replaced, never mutated, on enrolment

	checkIns, passed atomic.Int64
	// afterCheckIns, if set, is called with the number of finished
	// check-ins after each one (kiosk run --checkins stops with it).
	afterCheckIns func(n int64)

	closers []func() error
}

type kioskOptions struct {
	dataDir, modelsDir string
	inputSize          int
	rf                 *retentionFlags
	// explicit names the policy flags given on the command line: they win
	// over settings the operator saved.
	explicit        map[string]bool
	kioskID         string
	storeFaceCrop   bool
	screenChallenge bool
	match           models.Bands // --match-threshold (the pass edge) and --match-fail-edge
	demoPIN         string       // set as the operator PIN on a software TPM with none
	// now is the check-in flow's clock (time.Now if nil): a FrameClock
	// when frames come unpaced from a file or the generator.
	now func() time.Time
	// notice is the privacy notice visitors agree to.
	notice *checkin.Notice
	// language is --language: the visitor language each visitor starts in.
	language checkin.Lang
	// documents is --require-mrz / --allow-expired.
	documents checkin.DocumentPolicy
}

// loadMatcher loads and verifies the three face models.
func loadMatcher(dir string, inputSize int) (*models.Matcher, func() error, error) {
	det, err := models.LoadDetector(dir, models.DetectorOptions{InputSize: inputSize})
	if err != nil {
		return nil, nil, err
	}
	emb, err := models.LoadEmbedder(dir)
	if err != nil {
		det.Close()
		return nil, nil, err
	}
	pad, err := models.LoadPAD(dir)
	if err != nil {
		det.Close()
		emb.Close()
		return nil, nil, err
	}
	return models.NewMatcher(det, emb, pad), func() error { return errors.Join(det.Close(), emb.Close(), pad.Close()) }, nil
}

// openKiosk assembles the kiosk. A degraded store (corrupt, wrong key, disk
// full) does not stop it: check-ins still run and say they were not stored,
// the evidence and diagnostics report why.
func openKiosk(ctx context.Context, o kioskOptions, log *slog.Logger) (*station, error) {
	k := &station{log: log, metrics: api.NewMetrics()}
	fail := func(err error) (*station, error) { k.close(); return nil, err }
	m, closeModels, err := loadMatcher(o.modelsDir, o.inputSize)
	if err != nil {
		return fail(err)
	}
	k.matcher = m
	k.closers = append(k.closers, closeModels)

	onPurge := k.metrics.ObservePurge
	v, err := openVault(ctx, o.dataDir, o.rf, log, onPurge, false)
	if v == nil {
		return fail(err)
	}
	k.vault = v
	k.closers = append(k.closers, v.close)
	if err != nil {
		log.Warn("store degraded: check-ins run but are not stored", "reason", v.store.Health().Reason)
	}

	// Operator settings apply at start, unless a flag says otherwise.
	k.settings = checkin.Settings{Retention: o.rf.retention, PurgeInterval: o.rf.purgeInterval, Match: o.match,
		Language: o.language, Documents: o.documents}
	if saved, err := checkin.LoadSettings(ctx, v.store, k.settings); err != nil {
		log.Warn("saved settings ignored", "err", err.Error())
	} else if err := saved.Validate(m.Calibration()); err != nil {
		log.Warn("saved settings ignored: the running ones apply", "err", err.Error())
	} else {
		if !o.explicit["match-threshold"] {
			k.settings.Match.Pass = saved.Match.Pass
		}
		if !o.explicit["match-fail-edge"] {
			k.settings.Match.Fail = saved.Match.Fail
		}
		if !o.explicit["language"] && saved.Language != "" {
			k.settings.Language = saved.Language
		}
		if !o.explicit["require-mrz"] {
			k.settings.Documents.RequireMRZ = saved.Documents.RequireMRZ
		}
		if !o.explicit["allow-expired"] {
			k.settings.Documents.AllowExpired = saved.Documents.AllowExpired
		}
		if (saved.Retention != o.rf.retention && !o.explicit["retention"]) || (saved.PurgeInterval != o.rf.purgeInterval && !o.explicit["purge-interval"]) {
			rf := *o.rf
			rf.retention, rf.purgeInterval = saved.Retention, saved.PurgeInterval
			if err := v.reopenStore(&rf, log, onPurge); err != nil {
				log.Warn("store degraded after applying the saved retention", "reason", v.store.Health().Reason)
			}
			k.settings.Retention, k.settings.PurgeInterval = rf.retention, rf.purgeInterval
		}
	}
	if err := m.Calibration().Check(k.settings.Match); err != nil {
		log.Warn("face match bands out of the model's bounds: using its calibration", "err", err.Error())
		k.settings.Match = m.Calibration().Bands
	}
	m.Bands = k.settings.Match
	v.watch(ctx, k.metrics)

	if o.demoPIN != "" && !v.custody.Kind().Secure() && !v.custody.HasPIN() {
		if err := v.custody.SetPIN(o.demoPIN); err != nil {
			log.Warn("demo operator PIN not set", "err", err.Error())
		} else {
			log.Warn("demo: the README's demo operator PIN was set on this software TPM; change it with 'kiosk keys set-pin' before real use")
		}
	}

	if err := k.loadGallery(ctx); err != nil {
		log.Warn("enrolled people not loaded: enrolled check-in is unavailable", "err", err.Error())
	}
	k.notice = o.notice
	var reader models.MRZReader
	if r, err := models.LoadMRZReader(o.modelsDir, models.MRZOptions{Parse: mrz.Options{Now: o.now}}); err != nil {
		// The face check works without it; a kiosk that requires a
		// readable zone then refuses documents, with the reason.
		log.Warn("the document reader is off: identity documents' machine-readable zones are not read", "err", err.Error())
	} else {
		reader = r
		k.closers = append(k.closers, r.Close)
	}
	k.flow, err = checkin.NewFlow(checkin.Options{Matcher: m, Records: v.store, Logger: log, Now: o.now, StoreFaceCrop: o.storeFaceCrop,
		ScreenChallenge: o.screenChallenge, OnResult: k.observe, OnDecline: k.metrics.ObserveDecline, Notice: o.notice,
		MRZ: reader, Documents: k.settings.Documents})
	if err != nil {
		return fail(err)
	}
	k.console, err = checkin.NewConsole(checkin.ConsoleOptions{PIN: tpmPIN{v.custody}, Store: v.store, Matcher: m, Logger: log,
		OnEnroll: k.enrolled, OnUnenroll: k.unenrolled, Referrals: k.flow.Referrals()})
	if err != nil {
		return fail(err)
	}
	b, err := evidence.NewBuilder(v.custody.Signer(), evidence.Options{KioskID: o.kioskID, TPMKind: evidenceKind(v.custody.Kind()), Logger: log})
	if err != nil {
		return fail(err)
	}
	k.evidence = v.evidenceHandler(b, log)
	return k, nil
}

// retention is what the store keeps a record for, as the privacy notice
// states it: 0 in ephemeral mode, where nothing is kept.
func (k *station) retention() time.Duration {
	if p := k.vault.store.Policy(); !p.Ephemeral {
		return p.Retention
	}
	return 0
}

// close releases everything in reverse order of opening.
func (k *station) close() error {
	var errs []error
	for i := len(k.closers) - 1; i >= 0; i-- {
		errs = append(errs, k.closers[i]())
	}
	k.closers = nil
	return errors.Join(errs...)
}

// observe counts a finished check-in (aggregates only).
func (k *station) observe(r checkin.Result) {
	k.metrics.ObserveCheckIn(r)
	if r.Outcome == checkin.OutcomePass {
		k.passed.Add(1)
	}
	n := k.checkIns.Add(1)
	if k.afterCheckIns != nil {
		k.afterCheckIns(n)
	}
}

// loadGallery builds the 1:N gallery from the enrolled people.
func (k *station) loadGallery(ctx context.Context) error {
	people, err := k.vault.store.People(ctx)
	if err != nil {
		return err
	}
	g := &models.Gallery{}
	unreadable := 0
	for _, meta := range people {
		p, err := k.vault.store.Person(ctx, meta.ID)
		if errors.Is(err, store.ErrUnreadable) {
			unreadable++ // sealed under a key set aside or erased: enrol them again
			continue
		}
		if err != nil {
			return fmt.Errorf("person %d: %w", meta.ID, err)
		}
		t, err := models.ParseTemplate(p.Template)
		clear(p.Template)
		if err != nil {
			return fmt.Errorf("person %d: %w", meta.ID, err)
		}
		err = g.Add(meta.ID.String(), t)
		t.Wipe()
		if err != nil {
			return err
		}
	}
	if unreadable > 0 {
		k.log.Warn("some enrolled people cannot be opened (their key was set aside or erased); enrol them again", "count", unreadable)
	}
	k.mu.Lock()
	k.gallery = g
	k.mu.Unlock()
	return nil
}

// enrolled adds a new enrolment to the gallery.
func (k *station) enrolled(id store.ID, t models.Template) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gallery == nil {
		k.gallery = &models.Gallery{}
	}
	g, err := k.gallery.With(id.String(), t)
	if err != nil {
		k.log.Warn("enrolment not added to the gallery", "person_id", int64(id), "err", err.Error())
		return
	}
	k.gallery = g
}

// unenrolled drops a removed person from the gallery.
func (k *station) unenrolled(id store.ID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gallery != nil {
		k.gallery = k.gallery.Without(id.String())
	}
}

// enrolledReference is a 1:N reference over everyone enrolled now.
func (k *station) enrolledReference() (*checkin.Reference, error) {
	k.mu.Lock()
	g := k.gallery
	k.mu.Unlock()
	return checkin.GalleryReference(g)
}

// photoReference builds a 1:1 reference from an imported ID photo.
func (k *station) photoReference(data []byte) (*checkin.Reference, error) {
	return k.flow.PhotoReference(data)
}

// evidenceView is the latest signed retention report for the operator's
// evidence screen: its summary, the report and the key to verify it with.
func (k *station) evidenceView(ctx context.Context) (ui.EvidenceView, error) {
	s, err := k.evidence.Current(ctx)
	if err != nil {
		return ui.EvidenceView{}, fmt.Errorf("building the retention report: %w", err)
	}
	pretty, err := json.MarshalIndent(s.Report, "", "  ")
	if err != nil {
		return ui.EvidenceView{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(k.vault.custody.Signer().Public())
	if err != nil {
		return ui.EvidenceView{}, err
	}
	r := s.Report
	summary := fmt.Sprintf("%d records held, oldest %s; retention %s, purged every %s; %d purge runs; signed %s by %s",
		r.RecordsHeld, time.Duration(r.OldestRemainingRecordAgeSeconds)*time.Second, time.Duration(r.Policy.RetentionSeconds)*time.Second,
		time.Duration(r.Policy.PurgeIntervalSeconds)*time.Second, r.Chain.Runs, r.ServerTime.Format("2006-01-02 15:04:05 MST"), r.TPMKind)
	return ui.EvidenceView{Summary: summary, Report: string(pretty), KeyID: r.KeyID,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}

// diagnostics gathers what an operator checks first: the camera, the TPM
// (and whether it is real hardware), the store, the models and the disk.
func (k *station) diagnostics(ctx context.Context, cam checkin.CameraStats, source string, cfg *config) []ui.DiagLine {
	lines := []ui.DiagLine{{Label: "Camera", Value: fmt.Sprintf("%s: %.1f fps, %d frames, %d dropped", source, cam.FPS, cam.Frames, cam.Dropped), OK: cam.FPS > 5}}
	if st, err := k.vault.custody.Status(); err == nil {
		lines = append(lines, ui.DiagLine{Label: "TPM", Value: st.Summary(), OK: st.Secure})
	} else {
		lines = append(lines, ui.DiagLine{Label: "TPM", Value: "status unavailable: " + err.Error()})
	}
	h := k.vault.store.Health()
	sv := "healthy"
	if !h.OK {
		sv = h.Reason
	}
	if stats, err := k.vault.store.Stats(ctx); err == nil {
		sv += fmt.Sprintf("; %d records, %d enrolled; retention %s", stats.RecordsHeld, stats.PeopleHeld, stats.Policy.Retention)
	}
	lines = append(lines, ui.DiagLine{Label: "Store", Value: sv, OK: h.OK})
	for _, s := range checkModels(cfg.modelsDir) {
		lines = append(lines, ui.DiagLine{Label: "Model " + s.File, Value: s.Status + " sha256 " + short(s.SHA256), OK: s.Status == "ok"})
	}
	dc := dataDirCheck(cfg.dataDir)
	lines = append(lines, ui.DiagLine{Label: "Disk", Value: dc.Detail, OK: dc.OK})
	return lines
}

// tpmPIN adapts the TPM's PIN object to operator mode: wrong PINs and the
// TPM's dictionary-attack lockout become the console's errors, the latter
// with when to retry.
type tpmPIN struct{ c *tpmkeys.Custody }

func (p tpmPIN) VerifyPIN(pin string) error {
	err := p.c.VerifyPIN(pin)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tpmkeys.ErrWrongPIN):
		if st, serr := p.c.Status(); serr == nil {
			tries := "tries"
			if st.DA.TriesLeft() == 1 {
				tries = "try"
			}
			return fmt.Errorf("%w (%d %s left before the TPM locks)", checkin.ErrWrongPIN, st.DA.TriesLeft(), tries)
		}
		return checkin.ErrWrongPIN
	case errors.Is(err, tpmkeys.ErrLockedOut):
		le := &checkin.PINLockoutError{}
		if st, serr := p.c.Status(); serr == nil && st.DA.RecoveryTime > 0 {
			over := max(int64(st.DA.Counter)-int64(st.DA.MaxTries)+1, 1)
			le.RetryAfter = time.Duration(over) * st.DA.RecoveryTime
		}
		return le
	case errors.Is(err, tpmkeys.ErrNoPIN):
		return errors.New("no operator PIN is set: set one with 'kiosk keys set-pin'")
	}
	return fmt.Errorf("checking the PIN: %w", err)
}

func short(h string) string { return h[:min(16, len(h))] }

// storeDir is where the store lives in the data directory.
func storeDir(dataDir string) string { return filepath.Join(dataDir, "store") }
