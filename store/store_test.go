package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPutGetRoundTrip(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	tests := []struct {
		name string
		in   CheckIn
	}{
		{"full", sampleCheckIn(1)},
		{"empty fields", CheckIn{}},
		{"passed only", CheckIn{Passed: true, Name: "Zoë Ü"}},
		{"referred with both faces", CheckIn{Referred: true, Photo: []byte("live crop"), ReferencePhoto: []byte("reference crop"), Match: []byte(`{"decision":"refer"}`)}},
		{"large photo", CheckIn{Photo: bytes.Repeat([]byte{1, 2, 3}, 400_000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.Put(ctx, tc.in)
			if err != nil {
				t.Fatalf("Put = %v", err)
			}
			if want := m.CreatedAt.Add(24 * time.Hour); !m.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %v; want %v", m.ExpiresAt, want)
			}
			got, err := s.Get(ctx, m.ID)
			if err != nil {
				t.Fatalf("Get(%d) = %v", m.ID, err)
			}
			if got.Passed != tc.in.Passed || got.Referred != tc.in.Referred || !bytes.Equal(got.ReferencePhoto, tc.in.ReferencePhoto) || !bytes.Equal(got.Photo, tc.in.Photo) || !bytes.Equal(got.Embedding, tc.in.Embedding) ||
				!bytes.Equal(got.Liveness, tc.in.Liveness) || !bytes.Equal(got.Match, tc.in.Match) ||
				got.Name != tc.in.Name || got.DocumentNumber != tc.in.DocumentNumber {
				t.Errorf("Get(%d) returned a different record", m.ID)
			}
			if got.ID != m.ID || !got.CreatedAt.Equal(m.CreatedAt) || got.Epoch != m.Epoch {
				t.Errorf("Get(%d) metadata = %d %v %d; want %d %v %d", m.ID, got.ID, got.CreatedAt, got.Epoch, m.ID, m.CreatedAt, m.Epoch)
			}
		})
	}
	if _, err := s.Get(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) = %v; want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, CheckIn{Passed: true, Referred: true}); err == nil {
		t.Errorf("Put(passed and referred) = nil; want an error")
	}
	for _, ev := range []string{EventReferralConfirmed, EventReferralRefused, EventReferralRefused} {
		if err := s.CountEvent(ctx, ev); err != nil {
			t.Fatalf("CountEvent(%s) = %v", ev, err)
		}
	}
	if err := s.CountEvent(ctx, "referrals_guessed"); err == nil {
		t.Errorf("CountEvent(unknown) = nil; want an error")
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Counters; c.Referred != 1 || c.Passed != 1 || c.Confirmed != 1 || c.Refused != 2 {
		t.Errorf("Counters = %+v; want 1 referred, 1 passed, 1 confirmed, 2 refused", c)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil || len(list) != len(tests) {
		t.Fatalf("List = %d items, %v; want %d", len(list), err, len(tests))
	}
}

func TestCheckInNeverPrints(t *testing.T) {
	c := sampleCheckIn(3)
	k := NewDataKey()
	for _, v := range []any{&c, k} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			if bytes.Contains([]byte(out), []byte("Ada")) || bytes.Contains([]byte(out), []byte("X1234567")) || !bytes.Contains([]byte(out), []byte("redacted")) {
				t.Errorf("Sprintf(%q, %T) = %q; want redacted", verb, v, out)
			}
		}
	}
}

func TestPragmas(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, defaultOpts(t, newFakeClock(), newTestKeys(t)))
	mustPut(t, s, sampleCheckIn(1))
	for _, f := range []string{DBFileName, DBFileName + "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode of %s = %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"}, {"secure_delete", "1"}, {"foreign_keys", "1"},
		{"temp_store", "2"}, {"synchronous", "2"}, {"journal_size_limit", "1048576"},
		{"busy_timeout", "5000"}, {"page_size", "16384"}, {"user_version", fmt.Sprint(SchemaVersion)},
	} {
		var got string
		if err := s.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil || got != tc.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tc.pragma, got, err, tc.want)
		}
	}
}

func TestEphemeralStoresNothingPersonal(t *testing.T) {
	clk := newFakeClock()
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = 0
	s := openTest(t, t.TempDir(), opts)
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.Put(ctx, sampleCheckIn(i)); !errors.Is(err, ErrEphemeral) {
			t.Fatalf("Put in ephemeral mode = %v; want ErrEphemeral", err)
		}
	}
	if _, err := s.Enroll(ctx, Person{Name: "x"}); !errors.Is(err, ErrEphemeral) {
		t.Errorf("Enroll in ephemeral mode = %v; want ErrEphemeral", err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "records.decrypt"}); !errors.Is(err, ErrEphemeral) {
		t.Errorf("Audit in ephemeral mode = %v; want ErrEphemeral", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.RecordsHeld != 0 || st.PeopleHeld != 0 || st.AuditEvents != 0 {
		t.Errorf("ephemeral Stats held %d records, %d people, %d events; want none", st.RecordsHeld, st.PeopleHeld, st.AuditEvents)
	}
	if want := (Counters{CheckIns: 5, Passed: 3, Failed: 2}); st.Counters != want {
		t.Errorf("ephemeral Counters = %+v; want %+v", st.Counters, want)
	}
	if !st.Policy.Ephemeral {
		t.Errorf("Policy.Ephemeral = false; want true")
	}
	// Every non-counter table is empty.
	for _, tbl := range []string{"checkins", "people", "audit_events"} {
		var n int
		s.db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n)
		if n != 0 {
			t.Errorf("table %s has %d rows in ephemeral mode; want 0", tbl, n)
		}
	}
}

func TestPeopleAndAudit(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	id, err := s.Enroll(ctx, Person{Name: "Grace Hopper", Template: []byte{1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	c := sampleCheckIn(2)
	c.PersonID = id
	m := mustPut(t, s, c)
	if _, err := s.Put(ctx, CheckIn{PersonID: 999}); err == nil {
		t.Errorf("Put with an unknown person = nil; want an error")
	}
	p, err := s.Person(ctx, id)
	if err != nil || p.Name != "Grace Hopper" || !bytes.Equal(p.Template, []byte{1, 2, 3, 4}) {
		t.Fatalf("Person(%d) = %v, %v; want the enrolled person", id, p, err)
	}
	if err := s.Audit(ctx, AuditEvent{Action: "Bad Action"}); err == nil {
		t.Errorf("Audit with a free-text action = nil; want an error")
	}
	if err := s.Audit(ctx, AuditEvent{Action: "records.decrypt", Subject: m.ID, Note: "shown for 30 s"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unenroll(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Person(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Person after Unenroll = %v; want ErrNotFound", err)
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil || got.PersonID != 0 {
		t.Errorf("check-in after Unenroll: PersonID %d, %v; want 0 (ON DELETE SET NULL)", got.PersonID, err)
	}
	evs, bad, err := s.AuditEvents(ctx, 10)
	if err != nil || bad != 0 || len(evs) != 2 {
		t.Fatalf("AuditEvents = %d events, %d bad, %v; want 2, 0", len(evs), bad, err)
	}
	actions := map[string]string{}
	for _, e := range evs {
		actions[e.Action] = e.Note
	}
	if actions["records.decrypt"] != "shown for 30 s" {
		t.Errorf("audit note = %q; want %q", actions["records.decrypt"], "shown for 30 s")
	}
	if _, ok := actions["person.unenrol"]; !ok {
		t.Errorf("Unenroll wrote no audit event; got %v", actions)
	}
}

func TestDeleteNow(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	a, b := mustPut(t, s, sampleCheckIn(1)), mustPut(t, s, sampleCheckIn(2))
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v; want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v; want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, b.ID); err != nil {
		t.Errorf("Get(other) after Delete = %v; want nil", err)
	}
}

func TestSettings(t *testing.T) {
	s := openTest(t, t.TempDir(), defaultOpts(t, newFakeClock(), newTestKeys(t)))
	ctx := context.Background()
	if err := s.SetSetting(ctx, "match.threshold", "0.42"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Setting(ctx, "match.threshold"); v != "0.42" || !ok || err != nil {
		t.Errorf("Setting = %q, %v, %v; want 0.42", v, ok, err)
	}
	if err := s.SetSetting(ctx, "Bad Key", "x"); err == nil {
		t.Errorf("SetSetting(bad key) = nil; want error")
	}
}

// TestMigrateFromV1 opens a database left at schema version 1 and checks
// that Open applies the later migrations and keeps the data.
func TestMigrateFromV1(t *testing.T) {
	dir := t.TempDir()
	db, err := openDB(filepath.Join(dir, DBFileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version=1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO settings(key, value) VALUES('op.kept', 'yes')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openTest(t, dir, defaultOpts(t, newFakeClock(), newTestKeys(t)))
	var v int
	s.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion || SchemaVersion < 2 {
		t.Errorf("user_version after Open = %d; want %d", v, SchemaVersion)
	}
	if got, ok, err := s.Setting(context.Background(), "kept"); got != "yes" || !ok || err != nil {
		t.Errorf("Setting(kept) after migration = %q, %v, %v; want yes", got, ok, err)
	}
	mustPut(t, s, sampleCheckIn(1)) // needs the counters table from migration 2
}

// TestConcurrentPutsDuringPurge runs writers while the timer purges in
// small batches (run it with -race).
func TestConcurrentPutsDuringPurge(t *testing.T) {
	clk := newFakeClock()
	tick := make(chan time.Time)
	done := make(chan PurgeRun, 16)
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = time.Minute
	opts.PurgeBatch = 3
	opts.Tick = tick
	opts.Logger = nil
	opts.OnPurge = func(r PurgeRun, err error) { done <- r }
	s := openTest(t, t.TempDir(), opts)
	<-done // start-up run
	ctx := context.Background()
	errc := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := range 25 {
				if _, err := s.Put(ctx, sampleCheckIn(w*100+i)); err != nil {
					errc <- err
					return
				}
				if i == 10 && w == 0 {
					clk.Advance(2 * time.Minute)
				}
			}
			errc <- nil
		}()
	}
	go func() {
		for range 3 {
			tick <- clk.Now()
		}
	}()
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatalf("Put during purge = %v", err)
		}
	}
	var deleted int64
	for range 3 {
		deleted += (<-done).Deleted
	}
	clk.Advance(2 * time.Minute)
	run, err := s.Purge(ctx)
	if err != nil || run.RecordsHeld != 0 || deleted+run.Deleted != 100 {
		t.Errorf("after all purges: held %d, deleted %d+%d, %v; want 0 held, 100 deleted", run.RecordsHeld, deleted, run.Deleted, err)
	}
	if _, n, err := s.VerifyChain(ctx); err != nil || n != 5 {
		t.Errorf("VerifyChain = %d, %v; want 5 runs", n, err)
	}
}

// TestKEKRotation adds KEK version 2: old records keep opening under
// version 1, new ones are wrapped under 2, and dropping version 1 from the
// provider makes exactly the old records unreadable.
func TestKEKRotation(t *testing.T) {
	clk := newFakeClock()
	keys := newTestKeys(t)
	dir := t.TempDir()
	opts := defaultOpts(t, clk, keys)
	s := openTest(t, dir, opts)
	ctx := context.Background()
	old := mustPut(t, s, sampleCheckIn(1))
	s.Close()
	if err := keys.AddKEK(2, bytes.Repeat([]byte{0x22}, 32)); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, opts)
	young := mustPut(t, s, sampleCheckIn(2))
	var v1, v2 int
	s.db.QueryRow("SELECT kek_version FROM checkins WHERE id=?", int64(old.ID)).Scan(&v1)
	s.db.QueryRow("SELECT kek_version FROM checkins WHERE id=?", int64(young.ID)).Scan(&v2)
	if v1 != 1 || v2 != 2 {
		t.Errorf("KEK versions = %d, %d; want 1, 2", v1, v2)
	}
	for _, m := range []Meta{old, young} {
		if _, err := s.Get(ctx, m.ID); err != nil {
			t.Errorf("Get(%d) after rotation = %v", m.ID, err)
		}
	}
	keys.mu.Lock()
	delete(keys.keks, 1)
	keys.mu.Unlock()
	if _, err := s.Get(ctx, old.ID); !errors.Is(err, ErrUnreadable) {
		t.Errorf("Get(v1 record) without KEK v1 = %v; want ErrUnreadable", err)
	}
	if _, err := s.Get(ctx, young.ID); err != nil {
		t.Errorf("Get(v2 record) without KEK v1 = %v; want nil", err)
	}
}
