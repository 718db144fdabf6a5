package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// ID identifies a record. IDs are random 63-bit positive integers, so they
// reveal neither order nor volume.
type ID int64

func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// ParseID parses the decimal form of an ID.
func ParseID(s string) (ID, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("record id %q: want a positive decimal integer", s)
	}
	return ID(n), nil
}

func newID() ID {
	var b [8]byte
	for {
		rand.Read(b[:])
		if n := int64(binary.BigEndian.Uint64(b[:]) >> 1); n != 0 {
			return ID(n)
		}
	}
}

// CheckIn is one check-in record. Everything except ID, PersonID and the
// times is sealed on disk. A CheckIn holds personal data: it never prints
// it, and callers should clear Photo and Embedding when done.
type CheckIn struct {
	ID        ID        // set by Put
	PersonID  ID        // enrolled person matched against; 0 if none
	CreatedAt time.Time // set by Put (store time)
	ExpiresAt time.Time // set by Put: CreatedAt + Retention, fixed
	Epoch     uint64    // set by Put: retention epoch of the record's key

	Passed bool
	// Referred: the face match was neither clearly the same person nor
	// clearly not, and a member of staff decides (never with Passed).
	Referred bool
	Photo    []byte // encoded image, in memory only
	// ReferencePhoto is the reference's face crop (encoded), kept only for
	// a referral so staff can compare the two faces; sealed with the details.
	ReferencePhoto []byte
	Embedding      []byte // caller-encoded embedding
	Liveness       []byte // caller-encoded liveness decision details
	Match          []byte // caller-encoded match details
	Consent        []byte // caller-encoded consent: which notice the visitor agreed to, and when
	Name           string
	DocumentNumber string
	// Document is the caller-encoded identity document read from its
	// machine-readable zone (every field); personal, sealed with the name.
	Document []byte
}

// String never prints personal data.
func (c *CheckIn) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("store.CheckIn{ID:%d [redacted]}", c.ID)
}

// GoString never prints personal data.
func (c *CheckIn) GoString() string { return c.String() }

// Format never prints personal data, whatever the verb.
func (c *CheckIn) Format(f fmt.State, _ rune) { f.Write([]byte(c.String())) }

// SensitiveValue marks CheckIn for safelog.
func (c *CheckIn) SensitiveValue() {}

// Wipe zeroes the byte fields and drops the strings.
func (c *CheckIn) Wipe() {
	clear(c.Photo)
	clear(c.ReferencePhoto)
	clear(c.Embedding)
	clear(c.Liveness)
	clear(c.Match)
	clear(c.Consent)
	clear(c.Document)
	c.Name, c.DocumentNumber = "", ""
}

// Meta is the plaintext metadata of a check-in: what List returns.
type Meta struct {
	ID        ID        `json:"id"`
	PersonID  ID        `json:"person_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Epoch     uint64    `json:"epoch"`
}

const tableCheckins = "checkins"

// Field tags of the sealed multi-value columns.
const (
	tagPassed   = 1
	tagLiveness = 2
	tagMatch    = 3
	tagConsent  = 4
	tagRefPhoto = 5
	maxDetails  = 5

	tagName     = 1
	tagDocument = 2
	tagDocData  = 3
	maxPersonal = 3
)

// The sealed outcome byte (tagPassed): 0 and 1 since the first schema,
// 2 for a referral.
const (
	outcomeFailed   = 0
	outcomePassed   = 1
	outcomeReferred = 2
)

// rawCheckIn is a check-in row exactly as stored.
type rawCheckIn struct {
	ID         int64
	PersonID   sql.NullInt64
	CreatedAt  int64
	ExpiresAt  int64
	Epoch      int64
	KEKVersion int64
	WrappedDEK []byte
	Photo      []byte
	Embedding  []byte
	Details    []byte
	Personal   []byte
}

func (r *rawCheckIn) ctx(column string) Context {
	return Context{Table: tableCheckins, Column: column, RecordID: r.ID, KeyID: uint32(r.KEKVersion)}
}

// sealCheckIn builds the stored row of c under a fresh DEK.
func sealCheckIn(kp KeyProvider, id ID, v uint32, epoch uint64, created, expires time.Time, c *CheckIn) (*rawCheckIn, error) {
	r := &rawCheckIn{ID: int64(id), CreatedAt: created.UnixNano(), ExpiresAt: expires.UnixNano(),
		Epoch: int64(epoch), KEKVersion: int64(v)}
	if c.PersonID != 0 {
		r.PersonID = sql.NullInt64{Int64: int64(c.PersonID), Valid: true}
	}
	dek := NewDataKey()
	defer dek.Destroy()
	var err error
	if r.WrappedDEK, err = wrapDEK(nil, kp, tableCheckins, r.ID, v, epoch, dek); err != nil {
		return nil, err
	}
	r.Photo = dek.Seal(nil, r.ctx("photo"), c.Photo)
	r.Embedding = dek.Seal(nil, r.ctx("embedding"), c.Embedding)
	if c.Passed && c.Referred {
		return nil, errors.New("a check-in cannot be both passed and referred")
	}
	passed := []byte{outcomeFailed}
	switch {
	case c.Passed:
		passed[0] = outcomePassed
	case c.Referred:
		passed[0] = outcomeReferred
	}
	scratch := appendFields(make([]byte, 0, 24+len(c.Liveness)+len(c.Match)+len(c.Consent)+len(c.ReferencePhoto)),
		field{tagPassed, passed}, field{tagLiveness, c.Liveness}, field{tagMatch, c.Match}, field{tagConsent, c.Consent},
		field{tagRefPhoto, c.ReferencePhoto})
	r.Details = dek.Seal(nil, r.ctx("details"), scratch)
	clear(scratch)
	scratch = appendFields(scratch[:0], field{tagName, []byte(c.Name)}, field{tagDocument, []byte(c.DocumentNumber)}, field{tagDocData, c.Document})
	r.Personal = dek.Seal(nil, r.ctx("personal"), scratch)
	clear(scratch)
	return r, nil
}

// decodeCheckIn is the row decoder: it validates the plaintext columns,
// unwraps the DEK and opens every sealed column. Any failure is
// ErrUnreadable and returns nothing.
func decodeCheckIn(kp KeyProvider, r *rawCheckIn) (*CheckIn, error) {
	if r.ID <= 0 || r.Epoch < 0 || r.KEKVersion < 0 || r.KEKVersion > 1<<32-1 ||
		(r.PersonID.Valid && r.PersonID.Int64 <= 0) {
		return nil, ErrUnreadable
	}
	dek, err := unwrapDEK(kp, tableCheckins, r.ID, uint32(r.KEKVersion), uint64(r.Epoch), r.WrappedDEK)
	if err != nil {
		return nil, ErrUnreadable
	}
	defer dek.Destroy()
	c := &CheckIn{ID: ID(r.ID), CreatedAt: time.Unix(0, r.CreatedAt).UTC(),
		ExpiresAt: time.Unix(0, r.ExpiresAt).UTC(), Epoch: uint64(r.Epoch)}
	if r.PersonID.Valid {
		c.PersonID = ID(r.PersonID.Int64)
	}
	fail := func() (*CheckIn, error) { c.Wipe(); return nil, ErrUnreadable }
	if c.Photo, err = dek.Open(nil, r.ctx("photo"), r.Photo); err != nil {
		return fail()
	}
	if c.Embedding, err = dek.Open(nil, r.ctx("embedding"), r.Embedding); err != nil {
		return fail()
	}
	details, err := dek.Open(nil, r.ctx("details"), r.Details)
	if err != nil {
		return fail()
	}
	defer clear(details)
	var df [maxDetails + 1][]byte
	if decodeFields(details, maxDetails, df[:]) != nil || len(df[tagPassed]) != 1 || df[tagPassed][0] > outcomeReferred {
		return fail()
	}
	c.Passed, c.Referred = df[tagPassed][0] == outcomePassed, df[tagPassed][0] == outcomeReferred
	c.Liveness = append([]byte(nil), df[tagLiveness]...)
	c.Match = append([]byte(nil), df[tagMatch]...)
	c.Consent = append([]byte(nil), df[tagConsent]...)
	c.ReferencePhoto = append([]byte(nil), df[tagRefPhoto]...)
	personal, err := dek.Open(nil, r.ctx("personal"), r.Personal)
	if err != nil {
		return fail()
	}
	defer clear(personal)
	var pf [maxPersonal + 1][]byte
	if decodeFields(personal, maxPersonal, pf[:]) != nil {
		return fail()
	}
	c.Name, c.DocumentNumber = string(pf[tagName]), string(pf[tagDocument])
	c.Document = append([]byte(nil), pf[tagDocData]...)
	return c, nil
}

// epochFor returns the epoch of a record written at t: the epoch containing
// t, or the provider's oldest live epoch if that is later.
func (s *Store) epochFor(t time.Time) uint64 {
	e := EpochOf(t, s.policy.EpochLength)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e < s.oldest {
		e = s.oldest
	}
	return e
}

func countersUpdate(ctx context.Context, ex execer, names ...string) error {
	for _, n := range names {
		if _, err := ex.ExecContext(ctx, `INSERT INTO counters(name, value) VALUES(?, 1)
			ON CONFLICT(name) DO UPDATE SET value=value+1`, n); err != nil {
			return err
		}
	}
	return nil
}

// Event counters: aggregate counts of visitor and staff events that are
// not check-ins.
const (
	// EventConsentDeclined counts visitors who said no to the privacy
	// notice: the only trace a declined visitor leaves.
	EventConsentDeclined = "consent_declined"
	// EventReferralConfirmed and EventReferralRefused count staff
	// decisions on referred check-ins.
	EventReferralConfirmed = "referrals_confirmed"
	EventReferralRefused   = "referrals_refused"
)

// CountEvent adds one to an aggregate counter of visitor events that are
// not check-ins (the Event constants). It stores nothing else, in every
// mode, ephemeral included.
func (s *Store) CountEvent(ctx context.Context, event string) error {
	if event != EventConsentDeclined && event != EventReferralConfirmed && event != EventReferralRefused {
		return fmt.Errorf("store: unknown event counter %q", event)
	}
	db, err := s.usable(false)
	if err != nil {
		return err
	}
	if err := countersUpdate(ctx, db, event); err != nil {
		return s.writeFailed("counting "+event, err)
	}
	return nil
}

func outcomeCounter(c *CheckIn) string {
	switch {
	case c.Passed:
		return "checkins_passed"
	case c.Referred:
		return "checkins_referred"
	}
	return "checkins_failed"
}

// Put stores a check-in. It returns after the transaction has committed
// (synchronous=FULL): a returned Meta is durable. The caller keeps
// ownership of c's buffers; Put does not retain or modify them.
//
// In ephemeral mode Put only increments the aggregate counters and returns
// ErrEphemeral: nothing personal, not even the record's metadata, is stored.
func (s *Store) Put(ctx context.Context, c CheckIn) (Meta, error) {
	db, err := s.usable(!s.policy.Ephemeral)
	if err != nil {
		return Meta{}, err
	}
	now := s.clk.Now()
	if s.policy.Ephemeral {
		if err := countersUpdate(ctx, db, "checkins", outcomeCounter(&c)); err != nil {
			return Meta{}, s.writeFailed("counting check-in", err)
		}
		return Meta{}, ErrEphemeral
	}
	v := s.keys.CurrentKEKVersion()
	epoch := s.epochFor(now)
	expires := now.Add(s.policy.Retention)
	for attempt := 0; ; attempt++ {
		id := newID()
		row, err := sealCheckIn(s.keys, id, v, epoch, now, expires, &c)
		if err != nil {
			return Meta{}, fmt.Errorf("sealing check-in: %w", err)
		}
		err = insertCheckIn(ctx, db, row, outcomeCounter(&c), now)
		if err == nil {
			s.recoverFrom(ErrDiskFull)
			return Meta{ID: id, PersonID: c.PersonID, CreatedAt: now.UTC(), ExpiresAt: expires.UTC(), Epoch: epoch}, nil
		}
		var se sqlite3.Error
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey && attempt < 3 {
			continue // random id collision
		}
		if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey {
			return Meta{}, fmt.Errorf("storing check-in: person %d is not enrolled", c.PersonID)
		}
		return Meta{}, s.writeFailed("storing check-in", err)
	}
}

// insertCheckIn writes one row, its counters and the time high-water mark
// in one transaction.
func insertCheckIn(ctx context.Context, db *sql.DB, r *rawCheckIn, outcome string, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkins
		(id, person_id, created_at, expires_at, epoch, kek_version, wrapped_dek, photo, embedding, details, personal)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.PersonID, r.CreatedAt, r.ExpiresAt, r.Epoch, r.KEKVersion, r.WrappedDEK,
		r.Photo, r.Embedding, r.Details, r.Personal); err != nil {
		return err
	}
	if err := countersUpdate(ctx, tx, "checkins", outcome, "checkins_stored"); err != nil {
		return err
	}
	if err := persistHWM(ctx, tx, now); err != nil {
		return err
	}
	return tx.Commit()
}

const checkinColumns = `id, person_id, created_at, expires_at, epoch, kek_version, wrapped_dek, photo, embedding, details, personal`

func scanCheckIn(sc interface{ Scan(...any) error }) (*rawCheckIn, error) {
	r := &rawCheckIn{}
	err := sc.Scan(&r.ID, &r.PersonID, &r.CreatedAt, &r.ExpiresAt, &r.Epoch, &r.KEKVersion,
		&r.WrappedDEK, &r.Photo, &r.Embedding, &r.Details, &r.Personal)
	return r, err
}

// Get opens check-in id. It fails with ErrNotFound if there is no such
// record (also once purged) and with ErrUnreadable if it does not open
// (tampered, wrong key, erased epoch). A record past its expiry that the
// purge has not removed yet is reported as ErrNotFound.
func (s *Store) Get(ctx context.Context, id ID) (*CheckIn, error) {
	db, err := s.usable(true)
	if err != nil {
		return nil, err
	}
	r, err := scanCheckIn(db.QueryRowContext(ctx, "SELECT "+checkinColumns+" FROM checkins WHERE id=?", int64(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading check-in %d: %w", id, classify(err))
	}
	if r.ExpiresAt <= s.clk.Now().UnixNano() {
		return nil, ErrNotFound
	}
	c, err := decodeCheckIn(s.keys, r)
	if err != nil {
		return nil, fmt.Errorf("opening check-in %d: %w", id, err)
	}
	return c, nil
}

// ListOptions pages through List. The zero value lists the newest 100.
type ListOptions struct {
	Limit  int // default 100, at most 10000
	Offset int
}

// List returns check-in metadata, newest first, without opening anything.
func (s *Store) List(ctx context.Context, o ListOptions) ([]Meta, error) {
	db, err := s.usable(false)
	if err != nil {
		return nil, err
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	o.Limit = min(o.Limit, 10000)
	rows, err := db.QueryContext(ctx, `SELECT id, person_id, created_at, expires_at, epoch FROM checkins
		ORDER BY created_at DESC, id LIMIT ? OFFSET ?`, o.Limit, max(o.Offset, 0))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Meta
	for rows.Next() {
		var m Meta
		var pid sql.NullInt64
		var created, expires, epoch int64
		if err := rows.Scan(&m.ID, &pid, &created, &expires, &epoch); err != nil {
			return nil, classify(err)
		}
		m.PersonID = ID(pid.Int64)
		m.CreatedAt, m.ExpiresAt, m.Epoch = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC(), uint64(epoch)
		out = append(out, m)
	}
	return out, classify(rows.Err())
}

// Delete erases check-in id now (operator erase): the row is deleted with
// secure_delete, the WAL is checkpointed with TRUNCATE so no copy stays in
// it, and an audit event "record.delete" is appended.
func (s *Store) Delete(ctx context.Context, id ID) error {
	db, err := s.usable(false)
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, "DELETE FROM checkins WHERE id=?", int64(id))
	if err != nil {
		return s.writeFailed("deleting check-in", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := checkpoint(ctx, db); err != nil {
		s.log.Warn("checkpoint after delete incomplete", "record_id", int64(id), "err", err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "record.delete", Subject: id}); err != nil && !errors.Is(err, ErrEphemeral) {
		s.log.Warn("audit of delete failed", "record_id", int64(id), "err", err)
	}
	s.log.Info("check-in deleted by operator", "record_id", int64(id))
	return nil
}

// checkpoint copies the WAL into the database and truncates it to zero bytes.
func checkpoint(ctx context.Context, db *sql.DB) error {
	var busy, logFrames, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done); err != nil {
		return classify(err)
	}
	if busy != 0 {
		return errors.New("wal_checkpoint(TRUNCATE) was blocked by a reader")
	}
	return nil
}
