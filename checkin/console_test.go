package checkin

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"kiosk/models"
	"kiosk/store"
)

// pinCheck stands in for the TPM's PIN object in tests of the console's
// own rules (locking, timers, auditing). The TPM-backed verifier, with
// hardware lockout, is tested in cmd/kiosk against the simulator.
type pinCheck struct{ pin string }

func (p pinCheck) VerifyPIN(pin string) error {
	if pin != p.pin {
		return ErrWrongPIN
	}
	return nil
}

// countingStore is the real store, counting record decryptions.
type countingStore struct {
	*store.Store
	gets atomic.Int32
}

func (c *countingStore) Get(ctx context.Context, id store.ID) (*store.CheckIn, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, id)
}

// TestConsoleLockedByDefault: records list without opening anything, photos
// are decrypted only after the PIN and "decrypt", and are dropped when
// their time runs out or the console locks from inactivity.
func TestConsoleLockedByDefault(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := &countingStore{Store: testStore(t, clk, time.Hour)}
	ctx := context.Background()
	photo := encodeJPEG(t, decodeData(t, "faces/pairs/img21.jpg"))
	var ids []store.ID
	for range 3 {
		meta, err := st.Put(ctx, store.CheckIn{Passed: true, Photo: photo, Name: "Ada Lovelace"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, meta.ID)
	}
	c, err := NewConsole(ConsoleOptions{PIN: pinCheck{"482916"}, Store: st, Matcher: m, Now: clk.Now,
		IdleLock: 2 * time.Minute, PhotoTime: 30 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Records(ctx, 10); !errors.Is(err, ErrConsoleLocked) {
		t.Fatalf("Records() before unlock = %v; want ErrConsoleLocked", err)
	}
	if err := c.DecryptPhotos(ctx, ids); !errors.Is(err, ErrConsoleLocked) {
		t.Fatalf("DecryptPhotos() before unlock = %v; want ErrConsoleLocked", err)
	}
	if err := c.Unlock(ctx, "000000"); !errors.Is(err, ErrWrongPIN) || c.Unlocked() {
		t.Fatalf("Unlock(wrong) = %v, unlocked %v; want ErrWrongPIN, locked", err, c.Unlocked())
	}
	if err := c.Unlock(ctx, "482916"); err != nil {
		t.Fatalf("Unlock(right) = %v", err)
	}
	rows, err := c.Records(ctx, 10)
	if err != nil || len(rows) != 3 {
		t.Fatalf("Records() = %d rows, %v; want 3", len(rows), err)
	}
	for _, r := range rows {
		if r.Photo != nil || r.Opened {
			t.Errorf("record %d shows a photo before decrypt", r.ID)
		}
	}
	if n := st.gets.Load(); n != 0 {
		t.Fatalf("listing opened %d records; want 0 (locked by default)", n)
	}
	if err := c.DecryptPhotos(ctx, ids[:2]); err != nil {
		t.Fatalf("DecryptPhotos() = %v", err)
	}
	rows, _ = c.Records(ctx, 10)
	shown := 0
	for _, r := range rows {
		if r.Photo != nil {
			shown++
			if b := r.Photo.Bounds(); b.Dx() < 100 || !r.Opened || r.Outcome != OutcomePass {
				t.Errorf("record %d: photo %v opened %v outcome %v", r.ID, b, r.Opened, r.Outcome)
			}
		}
	}
	if shown != 2 || st.gets.Load() != 2 {
		t.Fatalf("%d photos shown after decrypting 2 (%d opened)", shown, st.gets.Load())
	}
	events, _, err := st.AuditEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	decrypts := 0
	for _, ev := range events {
		if ev.Action == "records.decrypt" {
			decrypts++
		}
	}
	if decrypts != 2 {
		t.Errorf("%d records.decrypt audit events; want 2 (one per record viewed)", decrypts)
	}
	clk.Advance(31 * time.Second)
	rows, _ = c.Records(ctx, 10)
	for _, r := range rows {
		if r.Photo != nil {
			t.Errorf("record %d still shows its photo after the photo time", r.ID)
		}
	}
	if !c.PhotosUntil().IsZero() {
		t.Error("PhotosUntil() not reset after the photos locked")
	}
	if err := c.DecryptPhotos(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if c.Unlocked() {
		t.Fatal("console still unlocked after 2 min without a touch")
	}
	if _, err := c.Records(ctx, 10); !errors.Is(err, ErrConsoleLocked) {
		t.Errorf("Records() after the idle lock = %v; want ErrConsoleLocked", err)
	}
}

func TestConsoleEraseEnrolSettings(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	ctx := context.Background()
	meta, err := st.Put(ctx, store.CheckIn{Passed: false})
	if err != nil {
		t.Fatal(err)
	}
	var enrolled, unenrolled []store.ID
	c, err := NewConsole(ConsoleOptions{PIN: pinCheck{"482916"}, Store: st, Matcher: m, Now: clk.Now,
		OnEnroll: func(id store.ID, tm models.Template) {
			if tm.Valid() {
				enrolled = append(enrolled, id)
			}
		},
		OnUnenroll: func(id store.ID) { unenrolled = append(unenrolled, id) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Erase(ctx, meta.ID); !errors.Is(err, ErrConsoleLocked) {
		t.Fatalf("Erase() while locked = %v; want ErrConsoleLocked", err)
	}
	if err := c.Unlock(ctx, "482916"); err != nil {
		t.Fatal(err)
	}
	// A record without a photo still locks again when the time runs out.
	if err := c.DecryptPhotos(ctx, []store.ID{meta.ID}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := c.Records(ctx, 10); len(rows) != 1 || !rows[0].Opened || rows[0].Outcome != OutcomeFail {
		t.Fatalf("Records() after decrypt = %+v; want the failed record opened", rows)
	}
	clk.Advance(31 * time.Second)
	if rows, _ := c.Records(ctx, 10); len(rows) != 1 || rows[0].Opened {
		t.Errorf("Records() after the photo time = %+v; want it locked again", rows)
	}
	if err := c.Erase(ctx, meta.ID); err != nil {
		t.Fatalf("Erase() = %v", err)
	}
	if err := c.Erase(ctx, meta.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Erase() = %v; want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, meta.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(erased) = %v; want ErrNotFound", err)
	}

	photo := readData(t, "faces/pairs/img21.jpg")
	for _, tc := range []struct {
		name, person string
		photo        []byte
		want         error
	}{
		{"no name", " ", photo, ErrNameRequired},
		{"no face", "Ada", encodeJPEG(t, blankImage(320, 240)), models.ErrNoFace},
		{"not an image", "Ada", []byte("%PDF-1.7"), ErrBadPhoto},
	} {
		if _, err := c.Enroll(ctx, tc.person, tc.photo); err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("Enroll(%s) = %v; want an error matching %v", tc.name, err, tc.want)
		}
	}
	id, err := c.Enroll(ctx, "Ada Lovelace", photo)
	if err != nil {
		t.Fatalf("Enroll() = %v", err)
	}
	p, err := st.Person(ctx, id)
	if err != nil || p.Name != "Ada Lovelace" || len(p.Template) == 0 {
		t.Fatalf("Person(%d) = %v, %v", id, p, err)
	}
	if len(enrolled) != 1 || enrolled[0] != id {
		t.Errorf("OnEnroll saw %v; want [%d]", enrolled, id)
	}
	people, err := c.People(ctx)
	if err != nil || len(people) != 1 || people[0].ID != id || people[0].Name != "" {
		t.Fatalf("People() = %v, %v; want [%d] with the name sealed", people, err, id)
	}
	if err := c.RevealNames(ctx, []store.ID{id}); err != nil {
		t.Fatalf("RevealNames() = %v", err)
	}
	if people, _ := c.People(ctx); people[0].Name != "Ada Lovelace" {
		t.Errorf("People() after RevealNames: name %q; want it shown", people[0].Name)
	}
	clk.Advance(31 * time.Second)
	if people, _ := c.People(ctx); people[0].Name != "" {
		t.Errorf("People() after the reveal time: name %q; want it sealed again", people[0].Name)
	}

	if err := c.Unenroll(ctx, id); err != nil {
		t.Fatalf("Unenroll() = %v", err)
	}
	if len(unenrolled) != 1 || unenrolled[0] != id {
		t.Errorf("OnUnenroll saw %v; want [%d]", unenrolled, id)
	}
	if _, err := st.Person(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Person(unenrolled) = %v; want ErrNotFound", err)
	}
	if err := c.Unenroll(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Unenroll() = %v; want ErrNotFound", err)
	}

	for _, tc := range []struct {
		bands models.Bands
		edge  string
	}{
		{models.Bands{Fail: 0.25, Pass: 0.38}, "pass"}, // the old single threshold: would auto-pass look-alikes
		{models.Bands{Fail: 0.25, Pass: 0.95}, "pass"},
		{models.Bands{Fail: 0.50, Pass: 0.60}, "fail"},
		{models.Bands{Fail: -0.1, Pass: 0.60}, "fail"},
	} {
		err := c.SaveSettings(ctx, Settings{Retention: time.Hour, PurgeInterval: time.Minute, Match: tc.bands})
		var be *models.BandsError
		if !errors.As(err, &be) || be.Edge != tc.edge {
			t.Errorf("SaveSettings(bands %v) = %v; want a BandsError on the %s edge", tc.bands, err, tc.edge)
		}
	}
	if err := c.SaveSettings(ctx, Settings{Retention: time.Hour, PurgeInterval: time.Minute, Match: models.DefaultBands, Language: "it"}); err == nil {
		t.Error("SaveSettings(language it) accepted")
	}
	want := Settings{Retention: 72 * time.Hour, PurgeInterval: 10 * time.Minute, Match: models.Bands{Fail: 0.3, Pass: 0.6}, Language: Spanish}
	if err := c.SaveSettings(ctx, want); err != nil {
		t.Fatalf("SaveSettings() = %v", err)
	}
	got, err := LoadSettings(ctx, st, Settings{})
	if err != nil || got != want {
		t.Errorf("LoadSettings() = %+v, %v; want %+v", got, err, want)
	}
}
