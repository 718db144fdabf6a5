package checkin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"kiosk/internal/safelog"
	"kiosk/models"
	"kiosk/store"
)

// PINVerifier checks the operator PIN in the TPM; *tpmkeys.Custody is the
// real one, adapted in cmd/kiosk so its errors wrap ErrWrongPIN or a
// *PINLockoutError.
type PINVerifier interface {
	VerifyPIN(pin string) error
}

// ErrWrongPIN means the TPM rejected the PIN; the try counted.
var ErrWrongPIN = errors.New("wrong PIN")

// ErrNameRequired means an enrolment was attempted without a name.
var ErrNameRequired = errors.New("enter the person's name")

// ErrConsoleLocked is returned by operator actions while the console is
// locked (never unlocked, logged out, or idle too long).
var ErrConsoleLocked = errors.New("operator mode is locked: enter the PIN")

// PINLockoutError means the TPM's dictionary-attack lockout is active: no
// PIN, not even the right one, is accepted until RetryAfter has passed.
type PINLockoutError struct {
	RetryAfter time.Duration // 0 when the TPM cannot say
}

func (e *PINLockoutError) Error() string {
	if e.RetryAfter <= 0 {
		return "too many wrong PINs: the TPM has locked operator sign-in; ask the administrator to reset it"
	}
	return fmt.Sprintf("too many wrong PINs: the TPM has locked operator sign-in; try again in %s", roundUp(e.RetryAfter))
}

func roundUp(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s", int((d+time.Second-1)/time.Second))
	}
	return fmt.Sprintf("%d min", int((d+time.Minute-1)/time.Minute))
}

// ConsoleStore is what operator mode needs of the store; *store.Store.
type ConsoleStore interface {
	List(ctx context.Context, o store.ListOptions) ([]store.Meta, error)
	Get(ctx context.Context, id store.ID) (*store.CheckIn, error)
	Delete(ctx context.Context, id store.ID) error
	Enroll(ctx context.Context, p store.Person) (store.ID, error)
	People(ctx context.Context) ([]store.Meta, error)
	Person(ctx context.Context, id store.ID) (*store.Person, error)
	Unenroll(ctx context.Context, id store.ID) error
	Audit(ctx context.Context, ev store.AuditEvent) error
	CountEvent(ctx context.Context, event string) error
	Setting(ctx context.Context, key string) (string, bool, error)
	SetSetting(ctx context.Context, key, value string) error
}

// ConsoleOptions configures NewConsole. PIN and Store are required.
type ConsoleOptions struct {
	PIN     PINVerifier
	Store   ConsoleStore
	Matcher *models.Matcher // for enrolment; nil disables Enroll
	Now     func() time.Time
	// IdleLock locks operator mode after this long without a touch (2 min).
	IdleLock time.Duration
	// PhotoTime is how long decrypted photos stay on screen (30 s).
	PhotoTime time.Duration
	// OnEnroll is called with each new enrolment, so the check-in flow's
	// gallery can include it. The template is the caller's to keep.
	OnEnroll func(id store.ID, t models.Template)
	// OnUnenroll is called after a person is removed, so the gallery
	// forgets them.
	OnUnenroll func(id store.ID)
	// Referrals is the flow's queue of check-ins sent to staff; nil
	// when there is no flow (the console then has none to decide).
	Referrals *Referrals
	Logger    *slog.Logger
}

// Console is operator mode: a TPM-checked PIN, auto-lock, the records list
// locked by default, photos decrypted on request for a short time, erase,
// enrolment and settings. Safe for concurrent use.
type Console struct {
	o ConsoleOptions

	mu          sync.Mutex
	unlocked    bool
	lastActive  time.Time
	photos      map[store.ID]image.Image
	outcomes    map[store.ID]Outcome
	documents   map[store.ID]*Document
	names       map[store.ID]string // enrolled people's names, while revealed
	referral    *ReferralView       // the referral opened for a decision
	photosUntil time.Time           // when decrypted photos, outcomes, names and the referral lock again
}

// NewConsole returns a locked console.
func NewConsole(o ConsoleOptions) (*Console, error) {
	if o.PIN == nil || o.Store == nil {
		return nil, errors.New("checkin.NewConsole: PIN and Store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleLock <= 0 {
		o.IdleLock = 2 * time.Minute
	}
	if o.PhotoTime <= 0 {
		o.PhotoTime = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = safelog.Discard()
	}
	return &Console{o: o}, nil
}

// Unlock checks pin in the TPM. Wrong PINs count in hardware; after the
// TPM's limit every PIN is refused with a *PINLockoutError.
func (c *Console) Unlock(ctx context.Context, pin string) error {
	err := c.o.PIN.VerifyPIN(pin)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.o.Logger.Warn("operator unlock refused", "err", err.Error())
		c.lockLocked()
		return err
	}
	c.unlocked, c.lastActive = true, c.o.Now()
	c.audit(ctx, "operator.unlock", 0)
	return nil
}

// Lock leaves operator mode and drops any decrypted photo.
func (c *Console) Lock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockLocked()
}

func (c *Console) lockLocked() {
	c.unlocked = false
	c.dropPhotos()
}

func (c *Console) dropPhotos() {
	for id, img := range c.photos {
		wipeImage(img)
		delete(c.photos, id)
	}
	c.dropReferral()
	clear(c.outcomes)
	clear(c.documents)
	clear(c.names)
	c.photosUntil = time.Time{}
}

// expire applies the idle lock and the photo time. Callers hold mu.
func (c *Console) expire(now time.Time) {
	if c.unlocked && now.Sub(c.lastActive) >= c.o.IdleLock {
		c.o.Logger.Info("operator mode locked after inactivity")
		c.lockLocked()
	}
	if !c.photosUntil.IsZero() && !now.Before(c.photosUntil) {
		c.dropPhotos()
	}
}

// Unlocked reports whether operator mode is open, applying the idle lock.
func (c *Console) Unlocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.o.Now())
	return c.unlocked
}

// Touch records operator activity, pushing back the idle lock.
func (c *Console) Touch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.o.Now())
	if c.unlocked {
		c.lastActive = c.o.Now()
	}
}

// active checks the console is unlocked and records the activity.
func (c *Console) active() error {
	now := c.o.Now()
	c.expire(now)
	if !c.unlocked {
		return ErrConsoleLocked
	}
	c.lastActive = now
	return nil
}

func (c *Console) audit(ctx context.Context, action string, subject store.ID) {
	err := c.o.Store.Audit(ctx, store.AuditEvent{Action: action, Subject: subject})
	if err != nil && !errors.Is(err, store.ErrEphemeral) {
		c.o.Logger.Warn("audit event not stored", "action", action, "err", err.Error())
	}
}

// RecordRow is one line of the records list. Photo is nil (a padlock on
// screen) unless the photos were decrypted and their time has not run out.
type RecordRow struct {
	store.Meta
	Photo  image.Image // decrypted face crop, or nil
	Opened bool        // the record was decrypted: Outcome is known
	// Outcome is pass, fail or refer (sent to staff), once decrypted.
	Outcome Outcome
	// Document is what the visitor's document gave (nil when none was
	// read), while decrypted.
	Document *Document
}

// Records lists the newest records' metadata, with photos only while
// decrypted.
func (c *Console) Records(ctx context.Context, limit int) ([]RecordRow, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return nil, err
	}
	metas, err := c.o.Store.List(ctx, store.ListOptions{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("listing records: %w", err)
	}
	rows := make([]RecordRow, len(metas))
	for i, m := range metas {
		rows[i].Meta = m
		if img, ok := c.photos[m.ID]; ok {
			rows[i].Photo = img
		}
		if o, ok := c.outcomes[m.ID]; ok {
			rows[i].Opened, rows[i].Outcome = true, o
			rows[i].Document = c.documents[m.ID]
		}
	}
	return rows, nil
}

// DecryptPhotos opens the given records in memory and keeps their face
// crops for PhotoTime. Every decrypted record is an audit event. A record
// that does not open (purged meanwhile, or tampered) is skipped and
// counted in the error.
func (c *Console) DecryptPhotos(ctx context.Context, ids []store.ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if c.photos == nil {
		c.photos, c.outcomes, c.documents = map[store.ID]image.Image{}, map[store.ID]Outcome{}, map[store.ID]*Document{}
	}
	failed := 0
	for _, id := range ids {
		rec, err := c.o.Store.Get(ctx, id)
		if err != nil {
			failed++
			c.o.Logger.Warn("record did not open", "record_id", int64(id), "err", err.Error())
			continue
		}
		c.audit(ctx, "records.decrypt", id)
		c.outcomes[id] = recordOutcome(rec)
		if len(rec.Document) > 0 {
			var d Document
			if err := json.Unmarshal(rec.Document, &d); err == nil {
				c.documents[id] = &d
			}
		}
		if img := decodeCrop(rec.Photo); img != nil {
			c.photos[id] = img
		}
		rec.Wipe()
	}
	c.photosUntil = c.o.Now().Add(c.o.PhotoTime)
	if failed > 0 {
		return fmt.Errorf("%d of %d records could not be opened (purged or damaged)", failed, len(ids))
	}
	return nil
}

// recordOutcome is what a decrypted record says the visitor was told.
func recordOutcome(rec *store.CheckIn) Outcome {
	switch {
	case rec.Passed:
		return OutcomePass
	case rec.Referred:
		return OutcomeRefer
	}
	return OutcomeFail
}

// wipeImage zeroes a decoded image's pixels.
func wipeImage(img image.Image) {
	switch m := img.(type) {
	case *image.RGBA:
		clear(m.Pix)
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	case *image.Gray:
		clear(m.Pix)
	}
}

// PhotosUntil is when decrypted photos lock again (zero when none are shown).
func (c *Console) PhotosUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.o.Now())
	return c.photosUntil
}

// LockPhotos drops decrypted photos now.
func (c *Console) LockPhotos() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropPhotos()
}

// Erase deletes one record now (secure delete), as an audited action.
func (c *Console) Erase(ctx context.Context, id store.ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if err := c.o.Store.Delete(ctx, id); err != nil {
		return fmt.Errorf("erasing record %d: %w", id, err)
	}
	delete(c.photos, id)
	delete(c.outcomes, id)
	delete(c.names, id)
	c.audit(ctx, "records.erase", id)
	return nil
}

// Enroll adds a person from a reference photo held in memory, for
// enrolled (1:N) check-in, behind the reference gate (a
// *models.ReferenceError says what is wrong with the photo). The name and
// template are sealed by the store.
func (c *Console) Enroll(ctx context.Context, name string, photo []byte) (store.ID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return 0, err
	}
	if c.o.Matcher == nil {
		return 0, errors.New("enrolment needs the face models")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, ErrNameRequired
	}
	p, err := ReadPhoto(photo)
	if err != nil {
		return 0, err
	}
	defer p.Wipe()
	// An enrolment is a reference like an ID photo: behind the same gate.
	t, _, err := c.o.Matcher.FitReference(p.Image)
	if err != nil {
		return 0, err
	}
	defer t.Wipe()
	tb, err := t.AppendBinary(nil)
	if err != nil {
		return 0, err
	}
	defer clear(tb)
	id, err := c.o.Store.Enroll(ctx, store.Person{Name: name, Template: tb})
	if err != nil {
		return 0, fmt.Errorf("enrolling: %w", err)
	}
	c.audit(ctx, "person.enrol", id)
	if c.o.OnEnroll != nil {
		c.o.OnEnroll(id, t)
	}
	return id, nil
}

// PersonRow is one line of the enrolled-people list. Name is empty (the
// name stays sealed) unless the names were revealed and their time has not
// run out.
type PersonRow struct {
	store.Meta
	Name string
}

// People lists who is enrolled: ids and enrolment times, with names only
// while revealed (RevealNames). Templates are never opened here.
func (c *Console) People(ctx context.Context) ([]PersonRow, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return nil, err
	}
	people, err := c.o.Store.People(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing enrolled people: %w", err)
	}
	rows := make([]PersonRow, len(people))
	for i, p := range people {
		rows[i] = PersonRow{Meta: p, Name: c.names[p.ID]}
	}
	return rows, nil
}

// RevealNames opens the given people's sealed names in memory for
// PhotoTime, so an operator can tell who to remove. Each is an audit event.
// A person who does not open is skipped and counted in the error.
func (c *Console) RevealNames(ctx context.Context, ids []store.ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if c.names == nil {
		c.names = map[store.ID]string{}
	}
	failed := 0
	for _, id := range ids {
		p, err := c.o.Store.Person(ctx, id)
		if err != nil {
			failed++
			c.o.Logger.Warn("enrolled person did not open", "person_id", int64(id), "err", err.Error())
			continue
		}
		c.audit(ctx, "people.view", id)
		c.names[id] = p.Name
		clear(p.Template)
	}
	c.photosUntil = c.o.Now().Add(c.o.PhotoTime)
	if failed > 0 {
		return fmt.Errorf("%d of %d people could not be opened (sealed under a retired key, or damaged)", failed, len(ids))
	}
	return nil
}

// Unenroll erases an enrolled person now (secure delete); the store
// audits it. Enrolled check-in stops matching them at once.
func (c *Console) Unenroll(ctx context.Context, id store.ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if err := c.o.Store.Unenroll(ctx, id); err != nil {
		return fmt.Errorf("removing person %d: %w", id, err)
	}
	if c.o.OnUnenroll != nil {
		c.o.OnUnenroll(id)
	}
	return nil
}

// Settings are the operator's choices. They are stored in plain text in
// the store and take effect at the next start (retention and the purge
// interval fix records' expiry when they are written).
type Settings struct {
	Retention     time.Duration
	PurgeInterval time.Duration
	// Match is the face match's bands: auto-pass at or above Pass, no
	// match below Fail, a member of staff decides between. Operators move
	// them within the model's calibration bounds (docs/matching.md).
	Match models.Bands
	// Language is the visitor language each visitor starts in ("" is the
	// first of Languages).
	Language Lang
	// Documents: whether a readable machine-readable zone is required, and
	// whether expired documents are accepted.
	Documents DocumentPolicy
}

// Setting keys in the store.
const (
	SettingRetention     = "retention"
	SettingPurgeInterval = "purge_interval"
	SettingMatchPass     = "match_pass"
	SettingMatchFail     = "match_fail"
	SettingLanguage      = "language"
	SettingRequireMRZ    = "require_mrz"
	SettingAllowExpired  = "allow_expired"
)

// LoadSettings reads the stored settings over defaults.
func LoadSettings(ctx context.Context, s ConsoleStore, def Settings) (Settings, error) {
	out := def
	get := func(key string, apply func(string) error) error {
		v, ok, err := s.Setting(ctx, key)
		if err != nil || !ok {
			return err
		}
		if err := apply(v); err != nil {
			return fmt.Errorf("setting %s=%q: %w", key, v, err)
		}
		return nil
	}
	err := errors.Join(
		get(SettingRetention, func(v string) (err error) { out.Retention, err = time.ParseDuration(v); return }),
		get(SettingPurgeInterval, func(v string) (err error) { out.PurgeInterval, err = time.ParseDuration(v); return }),
		get(SettingMatchPass, func(v string) error {
			f, err := strconv.ParseFloat(v, 32)
			out.Match.Pass = float32(f)
			return err
		}),
		get(SettingMatchFail, func(v string) error {
			f, err := strconv.ParseFloat(v, 32)
			out.Match.Fail = float32(f)
			return err
		}),
		get(SettingLanguage, func(v string) (err error) { out.Language, err = ParseLang(v); return }),
		get(SettingRequireMRZ, func(v string) (err error) { out.Documents.RequireMRZ, err = strconv.ParseBool(v); return }),
		get(SettingAllowExpired, func(v string) (err error) { out.Documents.AllowExpired, err = strconv.ParseBool(v); return }),
	)
	return out, err
}

// Validate checks the settings are within sane bounds, the match bands
// within the face model's calibration (a *models.BandsError says which
// edge is out). The single match threshold of earlier versions
// ("match_threshold") is not read: its usual 0.38 would auto-pass
// look-alikes the bands send to staff.
func (s Settings) Validate(cal models.Calibration) error {
	switch {
	case s.Retention < 0 || s.Retention > 366*24*time.Hour:
		return errors.New("retention must be between 0 (store nothing) and 366 days")
	case s.PurgeInterval < time.Minute || s.PurgeInterval > 24*time.Hour:
		return errors.New("the purge interval must be between 1 minute and 24 hours")
	}
	if err := cal.Check(s.Match); err != nil {
		return err
	}
	if s.Language != "" {
		if _, err := ParseLang(string(s.Language)); err != nil {
			return err
		}
	}
	return nil
}

// calibration is the running face model's, which bounds the match bands.
func (c *Console) calibration() models.Calibration {
	if c.o.Matcher == nil {
		return models.DefaultCalibration
	}
	return c.o.Matcher.Calibration()
}

// Calibration is the running face model's calibration: the bounds within
// which the settings may move the match bands.
func (c *Console) Calibration() models.Calibration { return c.calibration() }

// SaveSettings validates and stores the settings, as an audited action.
func (c *Console) SaveSettings(ctx context.Context, s Settings) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if err := s.Validate(c.calibration()); err != nil {
		return err
	}
	for k, v := range map[string]string{
		SettingRetention:     s.Retention.String(),
		SettingPurgeInterval: s.PurgeInterval.String(),
		SettingMatchPass:     strconv.FormatFloat(float64(s.Match.Pass), 'f', 2, 32),
		SettingMatchFail:     strconv.FormatFloat(float64(s.Match.Fail), 'f', 2, 32),
		SettingLanguage:      string(cmp.Or(s.Language, Languages[0])),
		SettingRequireMRZ:    strconv.FormatBool(s.Documents.RequireMRZ),
		SettingAllowExpired:  strconv.FormatBool(s.Documents.AllowExpired),
	} {
		if err := c.o.Store.SetSetting(ctx, k, v); err != nil {
			return fmt.Errorf("saving %s: %w", k, err)
		}
	}
	c.audit(ctx, "settings.change", 0)
	return nil
}
