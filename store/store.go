package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"kiosk/internal/safelog"
)

// DBFileName is the database file inside the data directory. SQLite adds
// DBFileName+"-wal" and DBFileName+"-shm" beside it; nothing else is written.
const DBFileName = "kiosk.db"

// Defaults used when the Options field is zero.
const (
	DefaultPurgeInterval  = 5 * time.Minute
	DefaultPurgeBatch     = 500
	DefaultAuditRetention = 90 * 24 * time.Hour
)

// Options configures Open. The zero value works and is ephemeral mode:
// Retention 0 stores nothing personal.
type Options struct {
	// Keys supplies KEKs and epoch keys. Required.
	Keys KeyProvider
	// Retention is how long a check-in record is kept. 0 is ephemeral mode:
	// Put, Enroll and Audit only update aggregate counters and return
	// ErrEphemeral. A record's expiry is fixed when it is written.
	Retention time.Duration
	// AuditRetention is how long operator audit events are kept
	// (DefaultAuditRetention if 0). Ignored in ephemeral mode.
	AuditRetention time.Duration
	// EpochLength is the crypto-erase granularity (DefaultEpochLength if 0).
	// It must match the provider's ratchet; it must not change once data exists.
	EpochLength time.Duration
	// PurgeInterval is the purge timer period (DefaultPurgeInterval if 0).
	PurgeInterval time.Duration
	// PurgeBatch is the number of rows deleted per transaction (DefaultPurgeBatch if 0).
	PurgeBatch int
	// Tick, if set, replaces the purge timer: a purge runs on every receive.
	// Tests use it to step the timer.
	Tick <-chan time.Time
	// DisablePurge turns off the start-up purge and the timer (read-only
	// inspection of a copied data directory). Purge still runs when called.
	DisablePurge bool
	// OnPurge, if set, is called after every timed or start-up purge run
	// (from the purge goroutine; it must not block for long).
	OnPurge func(PurgeRun, error)
	// Now is the wall clock (time.Now if nil).
	Now func() time.Time
	// Elapsed is a monotonic clock: time since an arbitrary fixed point. It
	// keeps store time moving at the real rate when the wall clock is set
	// back. Defaults to the monotonic reading of time.Since.
	Elapsed func() time.Duration
	// Logger receives operational logs (counts, ids, durations; never
	// personal data). safelog.Discard() if nil.
	Logger *slog.Logger
}

// Policy is the retention policy in force.
type Policy struct {
	Retention      time.Duration `json:"retention"`
	Ephemeral      bool          `json:"ephemeral"`
	AuditRetention time.Duration `json:"audit_retention"`
	EpochLength    time.Duration `json:"epoch_length"`
	PurgeInterval  time.Duration `json:"purge_interval"`
}

// Health says whether the store is fully working. When OK is false, Reason
// is a short operator-safe sentence and Err the cause (it matches
// ErrCorrupt, ErrWrongKey, ErrDiskFull, ...).
type Health struct {
	OK     bool
	Reason string
	Err    error
	Since  time.Time
}

// Store is the kiosk's encrypted record store. Open it once per data
// directory and process; all methods are safe for concurrent use. Close
// stops the purge timer, persists the time high-water mark and closes the
// database; methods called after Close return ErrClosed.
type Store struct {
	opts   Options
	keys   KeyProvider
	log    *slog.Logger
	dir    string
	db     *sql.DB // nil when the database could not be opened
	policy Policy

	clk *storeClock

	mu      sync.Mutex
	health  Health
	keysBad error // non-nil when the KEK check failed: no sealing or opening
	closed  bool
	oldest  uint64 // cached provider OldestEpoch

	purgeMu sync.Mutex
	done    chan struct{}
	wg      sync.WaitGroup
}

// Open opens (creating if needed) the store in dir, migrates its schema,
// checks the KEK, and runs the start-up purge and the timer.
//
// Data-level failures do not leave the caller without a store: if the
// database is corrupt, the disk is full or the KEK is wrong, Open returns a
// non-nil degraded *Store together with a *DegradedError (matching
// ErrDegraded and the cause). A caller that must fail closed returns the
// error; a kiosk that keeps serving keeps the Store, whose Health reports
// the reason, whose Stats still work, and whose writes fail with
// ErrDegraded. Whenever the Store is non-nil, Close it, even if err is
// non-nil (a degraded store whose database opened keeps its purge timer).
// Open returns a nil Store only for misuse (no Keys, empty dir, negative
// durations).
func Open(dir string, opts Options) (*Store, error) {
	if opts.Keys == nil {
		return nil, errors.New("store.Open: Options.Keys is nil")
	}
	if dir == "" {
		return nil, errors.New("store.Open: empty data directory")
	}
	if opts.Retention < 0 || opts.AuditRetention < 0 || opts.EpochLength < 0 || opts.PurgeInterval < 0 || opts.PurgeBatch < 0 {
		return nil, errors.New("store.Open: negative duration or batch in Options")
	}
	if opts.AuditRetention == 0 {
		opts.AuditRetention = DefaultAuditRetention
	}
	if opts.EpochLength == 0 {
		opts.EpochLength = DefaultEpochLength
	}
	if opts.EpochLength < time.Second {
		return nil, errors.New("store.Open: EpochLength under one second")
	}
	if opts.PurgeInterval == 0 {
		opts.PurgeInterval = DefaultPurgeInterval
	}
	if opts.PurgeBatch == 0 {
		opts.PurgeBatch = DefaultPurgeBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Elapsed == nil {
		start := time.Now()
		opts.Elapsed = func() time.Duration { return time.Since(start) }
	}
	if opts.Logger == nil {
		opts.Logger = safelog.Discard()
	}
	s := &Store{
		opts: opts, keys: opts.Keys, log: opts.Logger, dir: dir, done: make(chan struct{}),
		policy: Policy{
			Retention: opts.Retention, Ephemeral: opts.Retention == 0,
			AuditRetention: opts.AuditRetention, EpochLength: opts.EpochLength,
			PurgeInterval: opts.PurgeInterval,
		},
		health: Health{OK: true},
	}
	s.clk = &storeClock{now: opts.Now, elapsed: opts.Elapsed}
	s.clk.anchor(opts.Now(), opts.Elapsed())
	openErr := s.open()
	// A degraded store whose database opened (wrong KEK) still purges:
	// retention does not wait for the keys to be fixed.
	if s.db != nil && !opts.DisablePurge {
		run, err := s.Purge(context.Background())
		if err != nil {
			s.log.Warn("start-up purge failed", "err", err)
		}
		if opts.OnPurge != nil {
			opts.OnPurge(run, err)
		}
		s.startTimer()
	}
	return s, openErr
}

func (s *Store) open() error {
	ctx := context.Background()
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return s.degrade("cannot create the data directory", err)
	}
	path := filepath.Join(s.dir, DBFileName)
	// Create the file owner-only; SQLite gives -wal and -shm the same mode.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	db, err := openDB(path)
	if err != nil {
		return s.degrade("cannot open the database", err)
	}
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil || check != "ok" {
		db.Close()
		if err == nil {
			err = fmt.Errorf("%w: quick_check: %.200s", ErrCorrupt, check)
		}
		return s.degrade("the database is corrupt", classify(err))
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		reason := "cannot migrate the database schema"
		if errors.Is(err, ErrCorrupt) {
			reason = "the database is corrupt"
		}
		return s.degrade(reason, err)
	}
	s.db = db
	// Resume the time high-water mark.
	if hwm, ok, err := s.settingInt(ctx, "time_hwm"); err != nil {
		return s.degrade("cannot read settings", err)
	} else if ok {
		s.clk.raise(time.Unix(0, hwm))
	}
	if o, err := s.keys.OldestEpoch(); err == nil {
		s.oldest = o
	}
	if err := s.checkKEK(ctx); err != nil {
		s.mu.Lock()
		s.keysBad = err
		s.mu.Unlock()
		return s.degrade("the key provider does not open this database (wrong KEK)", err)
	}
	return nil
}

// checkKEK verifies, or on first use records, a check value per KEK version.
func (s *Store) checkKEK(ctx context.Context) error {
	v := s.keys.CurrentKEKVersion()
	key, err := checkKey(s.keys, v)
	if err != nil {
		return fmt.Errorf("%w: KEK version %d: %w", ErrWrongKey, v, err)
	}
	defer clear(key)
	name := "kek_check." + strconv.FormatUint(uint64(v), 10)
	var stored []byte
	err = s.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key=?", name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		// First use of this KEK version on this database.
		_, err = s.db.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES(?, ?)", name, key[:16])
		return classify(err)
	}
	if err != nil {
		return classify(err)
	}
	if subtle.ConstantTimeCompare(stored, key[:16]) != 1 {
		return fmt.Errorf("%w (KEK version %d)", ErrWrongKey, v)
	}
	return nil
}

// degrade records a degraded state and returns the error describing it.
func (s *Store) degrade(reason string, err error) error {
	de := &DegradedError{Reason: reason, Err: err}
	s.mu.Lock()
	if s.health.OK || s.health.Reason != reason {
		s.health = Health{OK: false, Reason: reason, Err: err, Since: s.clk.peek()}
	}
	s.mu.Unlock()
	s.log.Error("store degraded", "reason", reason, "err", err)
	return de
}

// recover clears a transient degraded state (disk full) after a write succeeds.
func (s *Store) recoverFrom(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.health.OK && errors.Is(s.health.Err, cause) {
		s.health = Health{OK: true}
		s.log.Info("store recovered")
	}
}

// Health reports whether the store is fully working and, if not, why.
func (s *Store) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

// Policy returns the retention policy in force.
func (s *Store) Policy() Policy { return s.policy }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Now returns store time: the wall clock, never earlier than the persisted
// high-water mark, and advancing at least at the monotonic rate when the
// wall clock is set back.
func (s *Store) Now() time.Time { return s.clk.Now() }

// usable returns the database for a request, or why it cannot be served.
// needKeys is set for requests that seal or open.
func (s *Store) usable(needKeys bool) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.db == nil {
		return nil, &DegradedError{Reason: s.health.Reason, Err: s.health.Err}
	}
	if needKeys && s.keysBad != nil {
		return nil, &DegradedError{Reason: "wrong KEK", Err: s.keysBad}
	}
	return s.db, nil
}

// writeFailed classifies a failed write and degrades on disk full or
// corruption found while writing.
func (s *Store) writeFailed(what string, err error) error {
	err = classify(err)
	switch {
	case errors.Is(err, ErrDiskFull):
		s.degrade("disk full: free space on the data partition", err)
	case errors.Is(err, ErrCorrupt):
		s.degrade("the database is corrupt", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Close stops the purge timer, persists the time high-water mark and
// closes the database. It waits for a running purge to finish.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	if s.db == nil {
		return nil
	}
	if err := persistHWM(context.Background(), s.db, s.clk.Now()); err != nil {
		s.log.Warn("persisting time high-water mark at close failed", "err", err)
	}
	return s.db.Close()
}

func (s *Store) settingInt(ctx context.Context, key string) (int64, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key=?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, classify(err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: setting %s is not an integer", ErrCorrupt, key)
	}
	return n, true, nil
}

// execer is what both *sql.DB and *sql.Tx offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// persistHWM raises the stored high-water mark to t (never lowers it).
func persistHWM(ctx context.Context, ex execer, t time.Time) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES('time_hwm', ?)
		ON CONFLICT(key) DO UPDATE SET value=excluded.value WHERE CAST(excluded.value AS INTEGER) > CAST(value AS INTEGER)`,
		strconv.FormatInt(t.UnixNano(), 10))
	return err
}

// Setting returns an operator setting (plain text; never personal data).
func (s *Store) Setting(ctx context.Context, key string) (string, bool, error) {
	db, err := s.usable(false)
	if err != nil {
		return "", false, err
	}
	if !validSettingKey(key) {
		return "", false, fmt.Errorf("setting key %q: use lower-case letters, digits, '.', '_'", key)
	}
	var v string
	err = db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key=?", "op."+key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, classify(err)
}

// SetSetting stores an operator setting such as a threshold. Values are
// stored in plain text: never put personal data in them.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	db, err := s.usable(false)
	if err != nil {
		return err
	}
	if !validSettingKey(key) {
		return fmt.Errorf("setting key %q: use lower-case letters, digits, '.', '_'", key)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value=excluded.value`, "op."+key, value)
	if err != nil {
		return s.writeFailed("saving setting", err)
	}
	return nil
}

func validSettingKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// storeClock is wall time that never goes backwards and, when the wall
// clock is set back, keeps advancing at the monotonic rate.
type storeClock struct {
	mu       sync.Mutex
	now      func() time.Time
	elapsed  func() time.Duration
	lastWall time.Time     // store time at the last reading
	lastMono time.Duration // monotonic reading then
}

func (c *storeClock) anchor(wall time.Time, mono time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastWall, c.lastMono = wall.Round(0), mono
}

// raise moves store time up to t if it is behind (persisted high-water mark).
func (c *storeClock) raise(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.lastWall) {
		c.lastWall = t.Round(0)
	}
}

func (c *storeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall, mono := c.now().Round(0), c.elapsed()
	d := mono - c.lastMono
	if d < 0 {
		d = 0
	}
	t := c.lastWall.Add(d)
	if wall.After(t) {
		t = wall
	}
	c.lastWall, c.lastMono = t, mono
	return t
}

// peek returns the last store time without reading the clocks.
func (c *storeClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastWall
}
