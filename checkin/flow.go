package checkin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kiosk/capture"
	"kiosk/internal/safelog"
	"kiosk/liveness"
	"kiosk/models"
	"kiosk/store"
)

// Records is where the flow writes one sealed record per check-in;
// *store.Store is the real one. In ephemeral mode Put returns
// store.ErrEphemeral after counting, which the flow takes as success.
type Records interface {
	Put(ctx context.Context, c store.CheckIn) (store.Meta, error)
}

// Options configures NewFlow. Matcher and Records are required; every
// other zero value takes the default named beside it.
type Options struct {
	Matcher *models.Matcher
	Records Records
	// Now is the clock every time-out runs on (time.Now if nil). Tests
	// step it with the frames' timestamps.
	Now func() time.Time
	// Logger gets operational logs only: stages, reasons, durations.
	Logger *slog.Logger

	// ReferenceTimeout returns an abandoned reference screen to idle (60 s).
	ReferenceTimeout time.Duration
	// CaptureTimeout fails a check-in that never gets a usable face (20 s).
	CaptureTimeout time.Duration
	// LostFace is how long the face may leave during the liveness window
	// before it starts again from capturing (1 s).
	LostFace time.Duration
	// ResultHold is how long the result stays on screen (6 s).
	ResultHold time.Duration
	// MaxFailures failures within FailureWindow lock check-in for Cooldown
	// (5 in 3 min → 2 min, as AWS suggests for face liveness).
	MaxFailures   int
	FailureWindow time.Duration
	Cooldown      time.Duration

	// Liveness and Thresholds configure the rPPG window and the fusion
	// (liveness.DefaultThresholds if zero).
	Liveness   liveness.Options
	Thresholds liveness.Thresholds
	// ScreenChallenge adds the screen-light challenge after a live pulse:
	// the screen flashes ChallengeSlots random colours for ChallengeSlot
	// each, and the light the face reflects must follow them, which a
	// replayed video cannot. It runs after the pulse window, not during
	// it, so the flashes never reach the rPPG traces. Off by default: it
	// adds about 3.3 s to a check-in.
	ScreenChallenge bool
	ChallengeSlots  int           // default 12
	ChallengeSlot   time.Duration // default 250 ms
	// StoreFaceCrop keeps the live face crop (JPEG) in the sealed record;
	// off, the record holds the decision details and the template only.
	StoreFaceCrop bool
	// OnResult, if set, is called after every finished check-in, from the
	// goroutine that fed the deciding frame. It gets no pixels.
	OnResult func(Result)
	// Referrals receives the check-ins referred to staff (the console's
	// queue); NewFlow makes one when nil (Flow.Referrals).
	Referrals *Referrals
	// OnDecline, if set, is called when a visitor declines the notice.
	OnDecline func()
	// Notice is the privacy notice visitors agree to (DefaultNotice if nil).
	Notice *Notice
	// MRZ reads identity documents' machine-readable zones: on the ID-card
	// route from the frames (voted across several), and from imported ID
	// photos (PhotoReference). Nil reads none: the card gives its portrait
	// only.
	MRZ models.MRZReader
	// Documents is what the operator allows: whether a readable zone is
	// required, whether an expired document is accepted (not by default).
	Documents DocumentPolicy
	// MRZGrace is how long the card route keeps reading the zone once the
	// portrait is found, when a zone is not required (4 s); then the
	// check-in goes on with the face only.
	MRZGrace time.Duration
}

// EventCounter is the optional side of Records that counts visitor events
// which are not check-ins (a declined notice); *store.Store is one.
type EventCounter interface {
	CountEvent(ctx context.Context, event string) error
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = safelog.Discard()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReferenceTimeout, 60*time.Second)
	def(&o.CaptureTimeout, 20*time.Second)
	def(&o.LostFace, time.Second)
	def(&o.ResultHold, 6*time.Second)
	def(&o.FailureWindow, 3*time.Minute)
	def(&o.Cooldown, 2*time.Minute)
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.ChallengeSlots <= 0 {
		o.ChallengeSlots = 12
	}
	def(&o.ChallengeSlot, 250*time.Millisecond)
	def(&o.MRZGrace, 4*time.Second)
	if o.Liveness.MinWindow <= 0 {
		o.Liveness.MinWindow = DefaultLivenessWindow
	}
	if o.Thresholds == (liveness.Thresholds{}) {
		o.Thresholds = liveness.DefaultThresholds
	}
	if o.Notice == nil {
		o.Notice = DefaultNotice()
	}
}

// DefaultLivenessWindow is the pulse window before the first decision.
// At 4 s (the estimator's floor) generated live clips were sometimes
// judged global (background SNR over 6 dB) by spectral leakage; 5 s is
// the target and separates them (see docs/checkin.md).
const DefaultLivenessWindow = 5 * time.Second

// Result is a finished check-in as the operator, the API and the metrics
// see it. It holds scores but no pixels and no template; visitors only
// ever see the Outcome.
type Result struct {
	CheckIn   uint64        `json:"checkin"` // the flow's check-in number
	Outcome   Outcome       `json:"outcome"`
	Reason    Reason        `json:"reason,omitempty"`
	Reference ReferenceKind `json:"reference"`
	// Document is what the identity document's zone gave (nil if none):
	// personal data, for the API caller that started the check-in and
	// asked for it, never for metrics or logs.
	Document *Document         `json:"-"`
	Liveness liveness.Decision `json:"liveness"`
	Match    *models.Decision  `json:"match,omitempty"`
	PersonID store.ID          `json:"person_id,omitempty"`
	RecordID store.ID          `json:"record_id,omitempty"` // 0 when nothing was stored
	Stored   bool              `json:"stored"`
	Started  time.Time         `json:"started"`
	Duration time.Duration     `json:"duration_ns"`
}

// Sentinel errors for calls made in the wrong state.
var (
	ErrBusy      = errors.New("a check-in is already in progress")
	ErrNotReady  = errors.New("the flow is not waiting for a reference")
	ErrLockedOut = errors.New("check-in is locked after repeated failures")
)

// Flow is the check-in state machine shared by the UI and the API. Frames
// drive it (Step); taps and API calls move it (Begin, UseReference,
// Cancel). All methods are safe for concurrent use; Step does the vision
// work and must be called from one goroutine at a time.
type Flow struct {
	o Options

	mu      sync.Mutex
	snap    Snapshot
	since   time.Time // when the current stage began
	started time.Time // when the current check-in began
	ref     *Reference
	fails   []time.Time

	win     *Window  // the liveness window, shared with kiosk analyze
	consent *Consent // the current visitor's agreement; nil until given

	// the ID-card route: the zone reader (nil without MRZ), and the card's
	// portrait once found, waiting for the zone
	card    *cardReader
	cardRef *Reference
	cardAt  time.Time
	// greeting is the first name on the document of the check-in on the
	// result screen, for "Welcome, Anna"; empty otherwise.
	greeting  string
	holdUntil time.Time // capturing ignores frames until then (the card is put away)

	// the screen-light challenge, once the pulse said live
	challenge atomic.Pointer[liveness.Challenge] // nil when none; ScreenLightAt reads it without mu
	pulse     liveness.Result                    // the window's result the challenge adds to
	chSamples []liveness.Sample

	// results of recent check-ins by number, for Wait (no pixels, no
	// templates); changed is closed and replaced whenever one is added.
	results map[uint64]Result
	changed chan struct{}
}

// keepResults is how many finished check-ins Wait and Lookup can find.
const keepResults = 256

// NewFlow returns an idle flow.
func NewFlow(o Options) (*Flow, error) {
	if o.Matcher == nil || o.Records == nil {
		return nil, errors.New("checkin.NewFlow: Matcher and Records are required")
	}
	o.defaults()
	if o.Referrals == nil {
		o.Referrals = NewReferrals()
	}
	f := &Flow{o: o, results: map[uint64]Result{}, changed: make(chan struct{})}
	if o.MRZ != nil {
		f.card = newCardReader(o.MRZ, o.Now)
	}
	f.win = NewWindow(WindowOptions{Liveness: o.Liveness, Thresholds: o.Thresholds, PAD: padScorer(o.Matcher), LostFace: o.LostFace})
	f.setStage(StageIdle, o.Now())
	return f, nil
}

// Referrals is the queue of check-ins this flow referred to staff, for
// the operator console.
func (f *Flow) Referrals() *Referrals { return f.o.Referrals }

// Snapshot returns the current state, after applying any time-out due.
func (f *Flow) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick(f.o.Now())
	return f.snap
}

// setStage moves to s and resets the per-stage fields. Callers hold mu.
func (f *Flow) setStage(s Stage, now time.Time) {
	if s != f.snap.Stage {
		f.o.Logger.Debug("check-in stage", "stage", s.String(), "checkin", f.snap.CheckIn)
	}
	f.snap.Stage = s
	f.snap.Version++
	f.snap.Progress = 0
	f.snap.Face = image.Rectangle{}
	f.since = now
	switch s {
	case StageIdle:
		f.snap.Prompt, f.snap.Outcome, f.snap.Reason, f.snap.Until = PromptTap, OutcomeNone, ReasonNone, time.Time{}
		f.snap.Reference = ReferenceNone
		f.consent, f.greeting = nil, ""
		f.dropReference()
		f.resetWindow()
	case StageConsent:
		f.snap.Prompt = PromptConsent
	case StageReference:
		f.snap.Prompt = PromptReference
	case StageCapturing:
		f.snap.Prompt = PromptNoFace
		f.resetWindow()
	case StageLiveness:
		f.snap.Prompt = PromptKeepStill
	}
}

func (f *Flow) dropReference() {
	f.ref.Wipe()
	f.ref = nil
	f.snap.Card = false
	f.cardRef.Wipe()
	f.cardRef = nil
	if f.card != nil {
		f.card.reset()
	}
}

// resetWindow forgets the liveness window, its best frame and any
// challenge.
func (f *Flow) resetWindow() {
	f.win.Reset()
	f.challenge.Store(nil)
	f.chSamples = f.chSamples[:0]
	f.snap.Flash, f.snap.Flashing = color.NRGBA{}, false
}

// padScorer is the matcher's anti-spoof model, or nil when it has none (a
// nil *models.PAD in the interface would not be nil).
func padScorer(m *models.Matcher) PADScorer {
	if m.PAD == nil {
		return nil
	}
	return m.PAD
}

// Begin starts a check-in from idle (the visitor tapped): the privacy
// notice comes first, and no frame is analysed until the visitor agrees
// (Agree). It fails with ErrLockedOut during a cool-down and ErrBusy while
// another check-in runs.
func (f *Flow) Begin() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.o.Now()
	f.tick(now)
	switch f.snap.Stage {
	case StageLockedOut:
		return fmt.Errorf("%w until %s", ErrLockedOut, f.snap.Until.Format("15:04:05"))
	case StageIdle, StageResult:
	default:
		return ErrBusy
	}
	f.begin(now)
	f.setStage(StageConsent, now)
	return nil
}

// Agree records that the visitor agreed to the notice shown in lang, and
// moves on to the reference. It fails with ErrNotReady outside the
// consent stage.
func (f *Flow) Agree(lang Lang) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.o.Now()
	f.tick(now)
	if f.snap.Stage != StageConsent {
		return ErrNotReady
	}
	f.consent = &Consent{Notice: f.o.Notice.Version(), At: now.UTC(), Language: lang, Via: ConsentOnScreen}
	f.setStage(StageReference, now)
	return nil
}

// Decline returns to idle after the visitor said no to the notice. No
// frame was analysed and nothing about the visitor is kept: only the
// aggregate count of declines moves (Options.Records, if it counts
// events, and OnDecline). It fails with ErrNotReady outside the consent
// stage.
func (f *Flow) Decline(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.o.Now()
	f.tick(now)
	if f.snap.Stage != StageConsent {
		return ErrNotReady
	}
	f.abandon(now, ReasonDeclined)
	f.setStage(StageIdle, now)
	if ec, ok := f.o.Records.(EventCounter); ok {
		if err := ec.CountEvent(context.WithoutCancel(ctx), store.EventConsentDeclined); err != nil {
			f.o.Logger.Warn("counting a declined notice failed", "err", err.Error())
		}
	}
	f.o.Logger.Info("privacy notice declined")
	if f.o.OnDecline != nil {
		f.o.OnDecline()
	}
	return nil
}

// begin numbers a new check-in. Callers hold mu.
func (f *Flow) begin(now time.Time) {
	f.started = now
	f.snap.CheckIn++
	f.snap.Outcome, f.snap.Reason, f.snap.Until = OutcomeNone, ReasonNone, time.Time{}
}

// UseReference hands the flow the reference and starts capturing. The
// flow owns ref from here and wipes it when the check-in ends. On the
// reference screen the visitor has agreed already; from idle (the API's
// path) ref.Consent must carry the agreement to this kiosk's notice
// (ErrNoConsent, ErrWrongNotice), and a check-in begins. It returns the
// check-in's number, for Wait.
func (f *Flow) UseReference(ref *Reference) (uint64, error) {
	if ref == nil {
		return 0, errors.New("checkin: nil reference")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.o.Now()
	f.tick(now)
	switch f.snap.Stage {
	case StageLockedOut:
		ref.Wipe()
		return 0, fmt.Errorf("%w until %s", ErrLockedOut, f.snap.Until.Format("15:04:05"))
	case StageIdle, StageResult:
		if err := f.checkConsent(ref.Consent); err != nil {
			ref.Wipe()
			return 0, err
		}
		f.begin(now)
		c := *ref.Consent
		f.consent = &c
	case StageReference:
	case StageConsent:
		ref.Wipe()
		return 0, ErrNoConsent
	default:
		ref.Wipe()
		return 0, ErrBusy
	}
	f.dropReference()
	f.ref = ref
	f.setStage(StageCapturing, now)
	f.snap.Reference = ref.Kind
	return f.snap.CheckIn, nil
}

// checkConsent accepts an agreement to this kiosk's notice. Callers hold mu.
func (f *Flow) checkConsent(c *Consent) error {
	switch {
	case c == nil || c.Notice == "":
		return ErrNoConsent
	case c.Notice != f.o.Notice.Version():
		return fmt.Errorf("%w: this kiosk shows notice %s", ErrWrongNotice, f.o.Notice.Version())
	}
	return nil
}

// Notice is the privacy notice visitors agree to.
func (f *Flow) Notice() *Notice { return f.o.Notice }

// SubmitPhoto starts a check-in against a reference photo held in memory
// (the integration API's path), for a visitor who agreed to the notice as
// consent says: it is checked before the photo is even decoded. Name and
// document number, if given, go into the sealed record only.
func (f *Flow) SubmitPhoto(photo []byte, name, document string, consent Consent) (uint64, error) {
	f.mu.Lock()
	err := f.checkConsent(&consent)
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	ref, err := f.PhotoReference(photo)
	if err != nil {
		return 0, err
	}
	ref.Name, ref.DocumentNumber, ref.Consent = name, document, &consent
	return f.UseReference(ref)
}

// ErrUnknownCheckIn means Wait or Lookup was given a number the flow never
// issued, or one too old to be remembered.
var ErrUnknownCheckIn = errors.New("unknown check-in")

// Lookup returns the result of finished check-in n.
func (f *Flow) Lookup(n uint64) (Result, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick(f.o.Now())
	r, ok := f.results[n]
	return r, ok
}

// Wait blocks until check-in n has finished (or ctx ends) and returns its
// result. A cancelled check-in finishes with ReasonCancelled.
func (f *Flow) Wait(ctx context.Context, n uint64) (Result, error) {
	for {
		f.mu.Lock()
		f.tick(f.o.Now())
		r, ok := f.results[n]
		cur, ch := f.snap.CheckIn, f.changed
		f.mu.Unlock()
		switch {
		case ok:
			return r, nil
		case n == 0 || n > cur || n+keepResults <= cur:
			return Result{}, ErrUnknownCheckIn
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(250 * time.Millisecond): // time-outs advance with the clock
		}
	}
}

// record remembers a finished check-in and wakes waiters. Callers hold mu.
func (f *Flow) record(r Result) {
	f.results[r.CheckIn] = r
	delete(f.results, r.CheckIn-keepResults)
	close(f.changed)
	f.changed = make(chan struct{})
}

// abandon records the check-in in progress as ended without a verdict
// (cancelled, declined). Callers hold mu.
func (f *Flow) abandon(now time.Time, why Reason) {
	if _, done := f.results[f.snap.CheckIn]; f.snap.CheckIn > 0 && !done {
		f.record(Result{CheckIn: f.snap.CheckIn, Outcome: OutcomeFail, Reason: why, Reference: f.snap.Reference,
			Started: f.started, Duration: now.Sub(f.started)})
	}
}

// ExpectCard switches the reference screen to ID-card intake: the next
// frames are searched for a card portrait (CardReference), and the check-in
// continues by itself once one is found.
func (f *Flow) ExpectCard() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap.Stage != StageReference {
		return ErrNotReady
	}
	f.snap.Card = true
	f.snap.Prompt = PromptCardHold
	f.snap.Version++
	f.cardRef.Wipe()
	f.cardRef = nil
	if f.card != nil {
		f.card.reset()
	}
	return nil
}

// Cancel abandons the check-in in progress and returns to idle. Nothing
// is stored and it does not count as a failure.
func (f *Flow) Cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap.Stage == StageLockedOut || f.snap.Stage == StageIdle {
		return
	}
	f.o.Logger.Info("check-in cancelled", "stage", f.snap.Stage.String())
	f.abandon(f.o.Now(), ReasonCancelled)
	f.setStage(StageIdle, f.o.Now())
}

// tick applies the time-outs that do not need a frame. Callers hold mu.
func (f *Flow) tick(now time.Time) {
	in := now.Sub(f.since)
	switch f.snap.Stage {
	case StageResult, StageLockedOut:
		if !now.Before(f.snap.Until) {
			f.setStage(StageIdle, now)
		}
	case StageConsent, StageReference:
		if in >= f.o.ReferenceTimeout {
			f.abandon(now, ReasonCancelled)
			f.setStage(StageIdle, now)
		}
	case StageCapturing:
		if in >= f.o.CaptureTimeout {
			f.finish(context.Background(), now, Result{Outcome: OutcomeFail, Reason: ReasonTimeout}, nil)
		}
	case StageLiveness:
		// A face that stays away ends the window; one that never gives
		// a verdict ends as the fusion's give-up says (Step decides).
		if now.Sub(f.win.LastFace()) >= f.o.LostFace {
			f.setStage(StageCapturing, now)
		}
	}
}

// Step feeds one camera frame. It runs detection, the quality gate and the
// liveness window as the stage needs, decides when the evidence is in, and
// returns the new state. It never keeps fr: the caller releases it. In idle,
// result and lock-out it only applies time-outs, so an idle kiosk costs
// no vision work.
func (f *Flow) Step(ctx context.Context, fr *capture.Frame) Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.o.Now()
	f.tick(now)
	img := models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix}
	switch f.snap.Stage {
	case StageReference:
		if f.snap.Card {
			f.stepCard(ctx, now, fr, img)
		}
	case StageCapturing:
		f.stepCapture(now, fr, img)
	case StageLiveness:
		f.stepLiveness(ctx, now, fr, img)
	}
	return f.snap
}

// stepCard looks for the card's portrait in the frame and, with an MRZ
// reader, hands the frame to the zone reader (off the frame loop). The
// check-in goes on once the portrait is found and the zone accepted (or,
// when a zone is not required, MRZGrace after the portrait without one).
// A TD1 card's zone is on its back: after the portrait the prompt asks to
// turn it over.
func (f *Flow) stepCard(ctx context.Context, now time.Time, fr *capture.Frame, img models.Image) {
	if f.card != nil {
		f.card.offer(fr)
	}
	var portraitErr error
	if f.cardRef == nil {
		ref, err := CardReference(f.o.Matcher, img)
		if err == nil {
			f.cardRef, f.cardAt = ref, now
		}
		portraitErr = err
	}
	var cs cardState
	if f.card != nil {
		cs = f.card.state()
	}
	switch {
	case f.cardRef == nil:
		var unfit *models.ReferenceError
		switch {
		case errors.Is(portraitErr, ErrCardLooksLive):
			f.snap.Prompt = PromptCardLive
		case errors.Is(portraitErr, models.ErrManyFaces):
			f.snap.Prompt = PromptCardOne
		case errors.As(portraitErr, &unfit):
			f.snap.Prompt = ReferencePrompt(unfit.Check.Problem())
		default:
			f.snap.Prompt = PromptCardHold
		}
		return
	case f.card == nil:
		if err := f.o.Documents.check(nil, now); err != nil { // a zone is required, and there is no reader
			f.refuseDocument(ctx, now, err)
			return
		}
	case cs.doc != nil:
		if err := f.o.Documents.check(cs.doc, now); err != nil {
			f.refuseDocument(ctx, now, err)
			return
		}
		f.cardRef.Document = cs.doc
	case !f.o.Documents.RequireMRZ && now.Sub(f.cardAt) >= f.o.MRZGrace:
		f.o.Logger.Info("ID card: the machine-readable zone was not read; going on with the portrait", "reason", string(cs.reason), "reads", cs.reads)
	default:
		f.snap.Prompt = cardPrompt(cs)
		f.snap.Progress = float64(cs.agree) / cardVotes
		return
	}
	f.ref, f.cardRef = f.cardRef, nil
	f.snap.Card = false
	f.setStage(StageCapturing, now)
	f.snap.Reference = ReferenceCard
	f.snap.Prompt = PromptCardAway
	// The card is still in view: give the visitor time to put it away, so
	// its portrait is not taken for them.
	f.holdUntil = now.Add(CardAwayTime)
}

// cardPrompt asks for what the zone reader needs next.
func cardPrompt(cs cardState) Prompt {
	switch {
	case cs.agree > 0:
		return PromptCardReading
	case cs.reason == models.MRZReasonTooSmall:
		return PromptCardCloser
	case cs.reason == models.MRZReasonBlurry || cs.reason == models.MRZReasonNotValid:
		return PromptCardStill
	case cs.reason == models.MRZReasonGlare:
		return PromptCardTilt
	}
	return PromptCardTurn
}

// refuseDocument ends the check-in on the reference screen: the document
// is expired, or its zone unreadable where one is required. Nothing is
// stored (no face was captured), and it does not count towards the
// lock-out: it is no attack.
func (f *Flow) refuseDocument(ctx context.Context, now time.Time, err error) {
	reason := ReasonNoDocument
	if errors.Is(err, ErrDocumentExpired) {
		reason = ReasonExpired
	}
	f.o.Logger.Info("identity document refused", "reason", string(reason))
	f.finish(ctx, now, Result{Outcome: OutcomeFail, Reason: reason}, nil)
}

// PhotoReference builds the reference from an imported ID photo (a USB
// stick, the API) and, with an MRZ reader, reads the document's zone from
// the same photo, under the operator's document policy: an expired
// document wraps ErrDocumentExpired, a required but unreadable zone
// ErrNoDocument. It does not touch the flow's state: call it off the frame
// loop (it takes up to a second), then UseReference.
func (f *Flow) PhotoReference(data []byte) (*Reference, error) {
	p, err := ReadPhoto(data)
	if err != nil {
		return nil, err
	}
	defer p.Wipe()
	ref, err := photoReference(f.o.Matcher, p.Image)
	if err != nil {
		return nil, err
	}
	if f.o.MRZ == nil {
		return ref, nil
	}
	doc, reason := readStillDocument(f.o.MRZ, p.Image, f.o.Now)
	if err := f.o.Documents.check(doc, f.o.Now()); err != nil {
		ref.Wipe()
		return nil, fmt.Errorf("%w (zone: %s)", err, cmpReason(reason))
	}
	ref.Document = doc
	return ref, nil
}

func cmpReason(r models.MRZReason) string {
	if r == "" {
		return "read"
	}
	return string(r)
}

// detect runs the detector and the quality gate on one frame.
func (f *Flow) detect(img models.Image) ([]models.Face, models.Quality, error) {
	faces, err := f.o.Matcher.Det.Detect(img)
	if err != nil {
		return nil, models.Quality{}, err
	}
	q, err := models.AssessQuality(img, faces, f.o.Matcher.Quality)
	return faces, q, err
}

// CardAwayTime is how long capturing waits after an ID card was read, for
// the visitor to put it away.
const CardAwayTime = 2 * time.Second

func (f *Flow) stepCapture(now time.Time, fr *capture.Frame, img models.Image) {
	if now.Before(f.holdUntil) {
		return
	}
	faces, q, err := f.detect(img)
	if err != nil {
		f.o.Logger.Warn("frame skipped", "stage", "capturing", "err", err.Error())
		return
	}
	f.snap.Prompt = QualityPrompt(q.Prompt)
	f.snap.Face = image.Rectangle{}
	if len(faces) == 1 {
		f.snap.Face = faces[0].Rect()
	}
	if obs, _ := f.win.Observe(fr, img, faces, q); obs != Opened {
		return
	}
	f.setStage(StageLiveness, now)
	f.snap.Face = faces[0].Rect()
}

func (f *Flow) stepLiveness(ctx context.Context, now time.Time, fr *capture.Frame, img models.Image) {
	faces, q, err := f.detect(img)
	if err != nil {
		f.o.Logger.Warn("frame skipped", "stage", "liveness", "err", err.Error())
		return
	}
	obs, sample := f.win.Observe(fr, img, faces, q)
	switch obs {
	case Missing:
		f.snap.Prompt = PromptNoFace
		f.snap.Face = image.Rectangle{}
		return // tick returns to capturing once LostFace has passed
	case Lost:
		f.setStage(StageCapturing, now)
		return
	case Crowd:
		f.setStage(StageCapturing, now)
		f.snap.Prompt = PromptOnePerson
		return
	}
	f.snap.Face = faces[0].Rect()
	f.snap.Prompt = PromptKeepStill
	if c := f.challenge.Load(); c != nil {
		f.stepChallenge(ctx, now, c, sample)
		return
	}
	f.snap.Progress = f.win.Progress()
	d, due, final := f.win.Judge(fr.Time)
	if !due || !final {
		return
	}
	if (d.Verdict == liveness.Live || d.Verdict == liveness.Refer) && f.o.ScreenChallenge {
		f.startChallenge(sample.Time, d.RPPG)
		return
	}
	f.decide(ctx, now, d)
}

// challengeSettle is how long the flashing goes on after the last colour,
// so a camera's latency (up to 200 ms, liveness.Challenge.Check) still
// sees every colour.
const challengeSettle = 250 * time.Millisecond

// startChallenge begins the screen-light challenge: a fresh random colour
// sequence, never shown before, that the face must reflect. The sequence
// runs on the frames' capture clock, which the screen (Snapshot.Flash),
// the sampled face colours and the end of the challenge all share: for a
// live camera it is the wall clock, for a recorded clip its own time.
func (f *Flow) startChallenge(now time.Time, pulse liveness.Result) {
	var seed [32]byte
	rand.Read(seed[:])
	c := liveness.NewChallenge(seed, now, f.o.ChallengeSlots, f.o.ChallengeSlot)
	f.challenge.Store(&c)
	f.pulse, f.chSamples = pulse, f.chSamples[:0]
	f.snap.Progress = 1
	f.snap.Prompt = PromptFlash
	f.setFlash(&c, now)
}

// setFlash puts the colour on screen at now into the snapshot.
func (f *Flow) setFlash(c *liveness.Challenge, now time.Time) {
	col, on := c.ColourAt(now)
	f.snap.Flashing = on
	f.snap.Flash = color.NRGBA{R: uint8(col.R), G: uint8(col.G), B: uint8(col.B), A: 0xff}
}

// stepChallenge collects the face's colour while the screen flashes, and
// decides once the sequence has been shown.
func (f *Flow) stepChallenge(ctx context.Context, now time.Time, c *liveness.Challenge, s liveness.Sample) {
	f.chSamples = append(f.chSamples, s)
	f.snap.Prompt = PromptFlash
	f.setFlash(c, s.Time)
	if s.Time.Before(c.End().Add(challengeSettle)) {
		return
	}
	res := c.Check(f.chSamples)
	f.decide(ctx, now, f.win.DecideWith(f.pulse, &res))
}

// Greeting is the first name to welcome the visitor by on the result
// screen of check-in version v (Snapshot.Version), read from their
// document; empty when there is none. It is not in the snapshot, which
// holds nothing personal and may be logged.
func (f *Flow) Greeting(v uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap.Stage != StageResult || f.snap.Version != v {
		return ""
	}
	return f.greeting
}

// ScreenLightAt is the colour the screen shows at t during a screen-light
// challenge (0–255 per channel), and whether one is showing. Safe from any
// goroutine; the generated demo camera uses it to light its face.
func (f *Flow) ScreenLightAt(t time.Time) (r, g, b float64, ok bool) {
	c := f.challenge.Load()
	if c == nil {
		return 0, 0, 0, false
	}
	col, on := c.ColourAt(t)
	return col.R, col.G, col.B, on
}

// signalVerdicts lists each liveness signal used and whether it passed,
// e.g. "pad:pass rppg_pulse_coherence:pass challenge:fail", with no values.
func signalVerdicts(d liveness.Decision) string {
	var parts []string
	for _, sg := range d.Signals {
		if !sg.Used {
			continue
		}
		v := "fail"
		if sg.Pass {
			v = "pass"
		}
		parts = append(parts, sg.Name+":"+v)
	}
	return strings.Join(parts, " ")
}

// liveTemplate is the visitor's face as one template: the mean of the
// embeddings of LivePicks frames spread over the window, or of the best
// frame alone when fusing fails (say, one pick embedded badly).
func (f *Flow) liveTemplate(best *capture.Frame, bestFace models.Face) (models.Template, error) {
	frames, faces := f.win.Picks(LivePicks)
	imgs := make([]models.Image, len(frames))
	for i, fr := range frames {
		imgs[i] = models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix}
	}
	t, err := f.o.Matcher.EmbedFused(imgs, faces, models.FuseMean)
	if err == nil {
		return t, nil
	}
	f.o.Logger.Warn("fusing the live frames failed; matching the best frame alone", "frames", len(frames), "err", err.Error())
	return f.o.Matcher.Emb.EmbedFace(models.Image{Width: best.Width, Height: best.Height, Pix: best.Pix}, bestFace)
}

// decide matches the live face (fused from several frames) against the
// reference, when live or referred, and finishes the check-in. A face the
// anti-spoof model was unsure of is still matched: staff should see a
// visitor who matches, while one who clearly does not fails as any other.
func (f *Flow) decide(ctx context.Context, now time.Time, d liveness.Decision) {
	f.setStage(StageDeciding, now)
	r := Result{Liveness: d, Outcome: OutcomeFail, Reason: ReasonNotLive}
	best, bestFace, ok := f.win.Best()
	if (d.Verdict != liveness.Live && d.Verdict != liveness.Refer) || !ok {
		f.finish(ctx, now, r, nil)
		return
	}
	live, err := f.liveTemplate(best, bestFace)
	if err != nil {
		f.o.Logger.Error("embedding the live face failed", "err", err.Error())
		r.Reason = ReasonError
		f.finish(ctx, now, r, nil)
		return
	}
	defer live.Wipe()
	var md models.Decision
	switch f.ref.Kind {
	case ReferenceEnrolled:
		// 1:N: the best-scoring enrolled person, in the same three bands.
		best := f.ref.gallery.Search(live, 1)
		if len(best) == 0 {
			r.Reason = ReasonNotEnroll
			f.finish(ctx, now, r, &live)
			return
		}
		md = f.o.Matcher.Decide(best[0].Score)
		if md.Outcome != models.OutcomeNoMatch {
			r.PersonID, _ = store.ParseID(best[0].ID)
		}
	default:
		md = f.o.Matcher.Decide(f.ref.template.Similarity(live))
		r.PersonID = f.ref.PersonID
	}
	r.Match = &md
	switch md.Outcome {
	case models.OutcomeMatch:
		r.Outcome, r.Reason = OutcomePass, ReasonNone
	case models.OutcomeRefer:
		r.Outcome, r.Reason = OutcomeRefer, ReasonUncertain
	default:
		r.Reason = ReasonNoMatch
		if f.ref.Kind == ReferenceEnrolled {
			r.Reason = ReasonNotEnroll
		}
	}
	if d.Verdict == liveness.Refer && r.Outcome != OutcomeFail {
		r.Outcome, r.Reason = OutcomeRefer, ReasonUncertainLive
	}
	f.finish(ctx, now, r, &live)
}

// finish stores the record, counts failures, and shows the result (or the
// lock-out). Callers hold mu.
func (f *Flow) finish(ctx context.Context, now time.Time, r Result, live *models.Template) {
	r.CheckIn = f.snap.CheckIn
	r.Started = f.started
	r.Duration = now.Sub(f.started)
	if f.ref != nil {
		r.Reference = f.ref.Kind
		r.Document = f.ref.Document
	}
	// A record is kept for a check-in that saw the visitor's face; not
	// for a time-out with nobody there, nor a refused document.
	_, _, hasFrame := f.win.Best()
	if (r.Reason != ReasonTimeout || hasFrame) && r.Reason != ReasonExpired && r.Reason != ReasonNoDocument {
		f.store(ctx, &r, live)
	}
	// The log gets verdicts only: the heart rate and the scores behind them
	// are the visitor's, and stay in the sealed record.
	f.o.Logger.Info("check-in finished", "outcome", r.Outcome.String(), "reason", string(r.Reason),
		"liveness", string(r.Liveness.Verdict), "signals", signalVerdicts(r.Liveness),
		"reference", r.Reference.String(), "duration_ms", r.Duration.Milliseconds(), "stored", r.Stored)
	if r.Outcome == OutcomeFail && (r.Reason == ReasonNotLive || r.Reason == ReasonNoMatch || r.Reason == ReasonNotEnroll) {
		f.fails = append(f.fails, now)
	}
	cut := 0
	for cut < len(f.fails) && now.Sub(f.fails[cut]) > f.o.FailureWindow {
		cut++
	}
	f.fails = f.fails[cut:]
	f.setStage(StageResult, now)
	f.snap.Reference = r.Reference
	f.snap.Outcome, f.snap.Reason, f.snap.Until = r.Outcome, r.Reason, now.Add(f.o.ResultHold)
	f.snap.Prompt = ResultPrompt(r.Outcome, r.Reason)
	if r.Outcome == OutcomePass && r.Document != nil {
		f.greeting = r.Document.FirstName()
	}
	if r.Outcome == OutcomeRefer {
		f.refer(r)
	}
	f.dropReference()
	f.resetWindow()
	if len(f.fails) >= f.o.MaxFailures {
		f.fails = f.fails[:0]
		until := now.Add(f.o.Cooldown)
		f.setStage(StageLockedOut, now)
		f.snap.Until = until
		f.snap.Outcome, f.snap.Reason = r.Outcome, r.Reason
		f.snap.Prompt = PromptLockedOut
		f.o.Logger.Warn("check-in locked after repeated failures", "until", until.Format(time.RFC3339), "failures", f.o.MaxFailures)
	}
	f.record(r)
	if f.o.OnResult != nil {
		f.o.OnResult(r)
	}
}

// refer puts a referred check-in in the staff queue. Callers hold mu.
func (f *Flow) refer(r Result) {
	if !r.Stored {
		f.o.Logger.Warn("referred check-in has no stored record: staff must compare the visitor with their document in person")
	}
	f.o.Referrals.add(Referral{RecordID: r.RecordID, At: f.o.Now(), Reference: r.Reference, Reason: r.Reason})
}

// store writes the sealed record of r. Its personal parts (the face
// crop, the template, the scores, the name) exist only in memory until
// the store seals them.
func (f *Flow) store(ctx context.Context, r *Result, live *models.Template) {
	c := store.CheckIn{PersonID: r.PersonID, Passed: r.Outcome == OutcomePass, Referred: r.Outcome == OutcomeRefer}
	defer c.Wipe()
	if f.ref != nil {
		c.Name, c.DocumentNumber = f.ref.Name, f.ref.DocumentNumber
		if c.Referred {
			// Staff compare the two faces; the record keeps the
			// reference's crop only for that.
			c.ReferencePhoto = bytes.Clone(f.ref.crop)
		}
		if d := f.ref.Document; d != nil {
			// The document's own, checked fields win over what an
			// integration typed.
			c.Name, c.DocumentNumber = d.DisplayName(), d.Fields.DocumentNumber
			var err error
			if c.Document, err = json.Marshal(d); err != nil {
				f.o.Logger.Error("encoding the document fields failed; the record is stored without them", "err", err.Error())
			}
		}
	}
	if live != nil {
		c.Embedding, _ = live.AppendBinary(nil)
	}
	if f.consent != nil {
		c.Consent, _ = json.Marshal(f.consent) // plain strings and a time: cannot fail
	}
	var err error
	if c.Liveness, err = json.Marshal(r.Liveness); err != nil {
		f.o.Logger.Error("encoding the liveness details failed; the record is stored without them", "err", err.Error())
	}
	if r.Match != nil {
		if c.Match, err = json.Marshal(r.Match); err != nil {
			f.o.Logger.Error("encoding the match details failed; the record is stored without them", "err", err.Error())
		}
	}
	if best, face, ok := f.win.Best(); (f.o.StoreFaceCrop || r.Outcome == OutcomeRefer) && ok {
		c.Photo = faceCrop(models.Image{Width: best.Width, Height: best.Height, Pix: best.Pix}, face)
	}
	// A finished check-in is stored even while the kiosk shuts down.
	m, err := f.o.Records.Put(context.WithoutCancel(ctx), c)
	switch {
	case err == nil:
		r.RecordID, r.Stored = m.ID, true
	case errors.Is(err, store.ErrEphemeral):
	default:
		f.o.Logger.Error("storing the check-in record failed; the result stands", "err", err.Error())
	}
}
