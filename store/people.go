package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const (
	tablePeople = "people"
	tableAudit  = "audit_events"
)

// Person is an enrolled person: a reference template and a name, both
// sealed. Enrolled people do not expire; Unenroll erases one. Their keys
// are re-wrapped forward as the erase ratchet advances, so they never hold
// an old epoch alive.
type Person struct {
	ID        ID
	CreatedAt time.Time
	Name      string
	Template  []byte
}

// String never prints personal data.
func (p *Person) String() string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("store.Person{ID:%d [redacted]}", p.ID)
}

// GoString never prints personal data.
func (p *Person) GoString() string { return p.String() }

// Format never prints personal data, whatever the verb.
func (p *Person) Format(f fmt.State, _ rune) { f.Write([]byte(p.String())) }

// SensitiveValue marks Person for safelog.
func (p *Person) SensitiveValue() {}

// Enroll stores a person and returns their id. In ephemeral mode it stores
// nothing and returns ErrEphemeral.
func (s *Store) Enroll(ctx context.Context, p Person) (ID, error) {
	db, err := s.usable(true)
	if err != nil {
		return 0, err
	}
	if s.policy.Ephemeral {
		return 0, ErrEphemeral
	}
	now := s.clk.Now()
	v, epoch := s.keys.CurrentKEKVersion(), s.epochFor(now)
	id := newID()
	dek := NewDataKey()
	defer dek.Destroy()
	wrapped, err := wrapDEK(nil, s.keys, tablePeople, int64(id), v, epoch, dek)
	if err != nil {
		return 0, fmt.Errorf("sealing person: %w", err)
	}
	c := Context{Table: tablePeople, RecordID: int64(id), KeyID: v}
	c.Column = "name"
	name := dek.Seal(nil, c, []byte(p.Name))
	c.Column = "template"
	tmpl := dek.Seal(nil, c, p.Template)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.writeFailed("enrolling", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO people(id, created_at, epoch, kek_version, wrapped_dek, name, template)
		VALUES(?, ?, ?, ?, ?, ?, ?)`, int64(id), now.UnixNano(), int64(epoch), int64(v), wrapped, name, tmpl); err != nil {
		return 0, s.writeFailed("enrolling", err)
	}
	if err := countersUpdate(ctx, tx, "enrolments"); err != nil {
		return 0, s.writeFailed("enrolling", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.writeFailed("enrolling", err)
	}
	return id, nil
}

// Person opens enrolled person id.
func (s *Store) Person(ctx context.Context, id ID) (*Person, error) {
	db, err := s.usable(true)
	if err != nil {
		return nil, err
	}
	var created, epoch, v int64
	var wrapped, name, tmpl []byte
	err = db.QueryRowContext(ctx, `SELECT created_at, epoch, kek_version, wrapped_dek, name, template FROM people WHERE id=?`,
		int64(id)).Scan(&created, &epoch, &v, &wrapped, &name, &tmpl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading person %d: %w", id, classify(err))
	}
	if epoch < 0 || v < 0 || v > 1<<32-1 {
		return nil, ErrUnreadable
	}
	dek, err := unwrapDEK(s.keys, tablePeople, int64(id), uint32(v), uint64(epoch), wrapped)
	if err != nil {
		return nil, fmt.Errorf("opening person %d: %w", id, err)
	}
	defer dek.Destroy()
	c := Context{Table: tablePeople, Column: "name", RecordID: int64(id), KeyID: uint32(v)}
	n, err := dek.Open(nil, c, name)
	if err != nil {
		return nil, fmt.Errorf("opening person %d: %w", id, err)
	}
	c.Column = "template"
	t, err := dek.Open(nil, c, tmpl)
	if err != nil {
		clear(n)
		return nil, fmt.Errorf("opening person %d: %w", id, err)
	}
	p := &Person{ID: id, CreatedAt: time.Unix(0, created).UTC(), Name: string(n), Template: t}
	clear(n)
	return p, nil
}

// People lists enrolled ids and enrolment times (nothing sealed is opened).
func (s *Store) People(ctx context.Context) ([]Meta, error) {
	db, err := s.usable(false)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, created_at, epoch FROM people ORDER BY created_at, id`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []Meta
	for rows.Next() {
		var m Meta
		var created, epoch int64
		if err := rows.Scan(&m.ID, &created, &epoch); err != nil {
			return nil, classify(err)
		}
		m.CreatedAt, m.Epoch = time.Unix(0, created).UTC(), uint64(epoch)
		out = append(out, m)
	}
	return out, classify(rows.Err())
}

// Unenroll erases person id now (secure_delete and a WAL TRUNCATE
// checkpoint). Check-ins that referenced them keep a null person id.
func (s *Store) Unenroll(ctx context.Context, id ID) error {
	db, err := s.usable(false)
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, "DELETE FROM people WHERE id=?", int64(id))
	if err != nil {
		return s.writeFailed("unenrolling", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := checkpoint(ctx, db); err != nil {
		s.log.Warn("checkpoint after unenrol incomplete", "person_id", int64(id), "err", err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "person.unenrol", Subject: id}); err != nil && !errors.Is(err, ErrEphemeral) {
		s.log.Warn("audit of unenrol failed", "person_id", int64(id), "err", err)
	}
	return nil
}

// AuditEvent is an operator action. Action is a plain-text code of
// lower-case letters, digits, '.', '_' and '-' (e.g. "records.decrypt");
// Subject is an optional record id; Note is sealed.
type AuditEvent struct {
	ID      ID
	At      time.Time
	Action  string
	Subject ID
	Note    string
}

func validAction(a string) bool {
	if a == "" || len(a) > 64 || a[0] < 'a' || a[0] > 'z' {
		return false
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Audit appends an operator audit event, kept for AuditRetention. In
// ephemeral mode it stores nothing and returns ErrEphemeral.
func (s *Store) Audit(ctx context.Context, ev AuditEvent) error {
	db, err := s.usable(true)
	if err != nil {
		return err
	}
	if !validAction(ev.Action) {
		return fmt.Errorf("audit action %q: use a code of lower-case letters, digits, '.', '_', '-'", ev.Action)
	}
	if s.policy.Ephemeral {
		return ErrEphemeral
	}
	now := s.clk.Now()
	v, epoch := s.keys.CurrentKEKVersion(), s.epochFor(now)
	id := newID()
	dek := NewDataKey()
	defer dek.Destroy()
	wrapped, err := wrapDEK(nil, s.keys, tableAudit, int64(id), v, epoch, dek)
	if err != nil {
		return fmt.Errorf("sealing audit event: %w", err)
	}
	note := dek.Seal(nil, Context{Table: tableAudit, Column: "note", RecordID: int64(id), KeyID: v}, []byte(ev.Note))
	var subject sql.NullInt64
	if ev.Subject != 0 {
		subject = sql.NullInt64{Int64: int64(ev.Subject), Valid: true}
	}
	_, err = db.ExecContext(ctx, `INSERT INTO audit_events(id, at, expires_at, epoch, kek_version, wrapped_dek, action, subject, note)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`, int64(id), now.UnixNano(), now.Add(s.policy.AuditRetention).UnixNano(),
		int64(epoch), int64(v), wrapped, ev.Action, subject, note)
	if err != nil {
		return s.writeFailed("appending audit event", err)
	}
	return nil
}

// AuditEvents returns the newest audit events (at most limit; 100 if <= 0)
// with their notes opened. An event whose note does not open is returned
// with an empty note and counted in the second result.
func (s *Store) AuditEvents(ctx context.Context, limit int) ([]AuditEvent, int, error) {
	db, err := s.usable(true)
	if err != nil {
		return nil, 0, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.QueryContext(ctx, `SELECT id, at, epoch, kek_version, wrapped_dek, action, subject, note
		FROM audit_events ORDER BY at DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, 0, classify(err)
	}
	type raw struct {
		id, at, epoch, v int64
		wrapped, note    []byte
		action           string
		subject          sql.NullInt64
	}
	var rs []raw
	for rows.Next() {
		var r raw
		if err := rows.Scan(&r.id, &r.at, &r.epoch, &r.v, &r.wrapped, &r.action, &r.subject, &r.note); err != nil {
			rows.Close()
			return nil, 0, classify(err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, classify(err)
	}
	out := make([]AuditEvent, 0, len(rs))
	bad := 0
	for _, r := range rs {
		ev := AuditEvent{ID: ID(r.id), At: time.Unix(0, r.at).UTC(), Action: r.action, Subject: ID(r.subject.Int64)}
		if r.epoch >= 0 && r.v >= 0 && r.v <= 1<<32-1 {
			if dek, err := unwrapDEK(s.keys, tableAudit, r.id, uint32(r.v), uint64(r.epoch), r.wrapped); err == nil {
				n, err := dek.Open(nil, Context{Table: tableAudit, Column: "note", RecordID: r.id, KeyID: uint32(r.v)}, r.note)
				dek.Destroy()
				if err == nil {
					ev.Note = string(n)
					clear(n)
					out = append(out, ev)
					continue
				}
			}
		}
		bad++
		out = append(out, ev)
	}
	return out, bad, nil
}
