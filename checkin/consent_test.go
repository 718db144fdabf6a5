package checkin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kiosk/store"
)

// TestConsentDeclineLeavesNothing: a visitor stands in front of the camera
// on the notice and says no. While the notice shows, no frame is analysed
// (no face tracked, no window); after the decline the flow is idle, no
// record exists, only the aggregate decline counter moved, and no file of
// the data directory holds the visitor's pixels.
func TestConsentDeclineLeavesNothing(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	dir := t.TempDir()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{FirstEpoch: store.EpochOf(t0, 0) - 24})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{Keys: mk, Retention: time.Hour, Now: clk.Now, Logger: testLogger(t), DisablePurge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	declines := 0
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t), OnDecline: func() { declines++ }})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	src := visitorClip(t, clk, visitorClipFace, 72, 3)
	defer src.Close()
	var pixels [][]byte
	for i := 0; i < 60; i++ {
		fr, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 { // rows through the face, to look for on disk later
			row := fr.Width * 3
			mid := fr.Height / 2 * row
			pixels = append(pixels, bytes.Clone(fr.Pix[mid+row/3:mid+row/3+96]))
		}
		s := f.Step(context.Background(), fr)
		fr.Release()
		if s.Stage != StageConsent || s.Prompt != PromptConsent || !s.Face.Empty() || s.Progress != 0 {
			t.Fatalf("frame %d on the notice: %s %q face %v progress %.2f; want the notice, no face tracked", i, s.Stage, s.Prompt, s.Face, s.Progress)
		}
	}
	if f.win.Open() || f.win.good != 0 || f.win.faceFrame != 0 {
		t.Fatalf("the liveness window saw frames before consent (open %v, good %d, frames %d)", f.win.Open(), f.win.good, f.win.faceFrame)
	}
	if err := f.Decline(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.Snapshot(); s.Stage != StageIdle {
		t.Errorf("after Decline: %s; want idle", s.Stage)
	}
	if r, err := f.Wait(context.Background(), 1); err != nil || r.Reason != ReasonDeclined {
		t.Errorf("Wait(1) = %+v, %v; want the check-in ended as declined", r, err)
	}
	if err := f.Decline(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Errorf("Decline from idle = %v; want ErrNotReady", err)
	}
	metas, err := st.List(context.Background(), store.ListOptions{})
	if err != nil || len(metas) != 0 {
		t.Errorf("records after a decline: %d, %v; want none", len(metas), err)
	}
	stats, err := st.Stats(context.Background())
	if err != nil || stats.Counters.Declined != 1 || stats.Counters.CheckIns != 0 || declines != 1 {
		t.Errorf("counters %+v, OnDecline %d times, %v; want 1 decline and no check-in", stats.Counters, declines, err)
	}
	st.Close()
	markers := map[string][]byte{}
	for i, px := range pixels {
		markers[fmt.Sprintf("the visitor's pixels (row %d)", i)] = px
	}
	assertNotStored(t, dir, nil, markers)
}

// TestConsentRecordedInSealedRecord: the notice's SHA-256, the time the
// visitor agreed and the language go into the sealed record.
func TestConsentRecordedInSealedRecord(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(7 * time.Second) // reading the notice
	agreedAt := clk.Now()
	if err := f.Agree(French); err != nil {
		t.Fatal(err)
	}
	if s := f.Snapshot(); s.Stage != StageReference {
		t.Fatalf("after Agree: %s; want reference", s.Stage)
	}
	ref, err := PhotoReference(m, readData(t, visitorIDPhoto))
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.UseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := run(t, f, visitorClip(t, clk, visitorClipFace, 72, 12)); last.Outcome != OutcomePass {
		t.Fatalf("check-in %s/%s; want pass", last.Outcome, last.Reason)
	}
	r, _ := f.Lookup(n)
	rec, err := st.Get(context.Background(), r.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Wipe()
	var c Consent
	if err := json.Unmarshal(rec.Consent, &c); err != nil {
		t.Fatalf("consent in the record %q: %v", rec.Consent, err)
	}
	want := Consent{Notice: DefaultNotice().Version(), At: agreedAt.UTC(), Language: French, Via: ConsentOnScreen}
	if c != want {
		t.Errorf("consent in the sealed record = %+v; want %+v", c, want)
	}
}

// TestUseReferenceNeedsConsent: a reference is refused before the visitor
// agreed, and an integration must name the notice this kiosk shows.
func TestUseReferenceNeedsConsent(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	f, err := NewFlow(Options{Matcher: m, Records: testStore(t, clk, 0), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	photo := readData(t, visitorIDPhoto)
	ref := func(c *Consent) *Reference {
		r, err := PhotoReference(m, photo)
		if err != nil {
			t.Fatal(err)
		}
		r.Consent = c
		return r
	}
	other := apiConsent()
	other.Notice = strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name  string
		begin bool
		c     *Consent
		want  error
	}{
		{"from idle without consent", false, nil, ErrNoConsent},
		{"from idle, another notice", false, &other, ErrWrongNotice},
		{"on the notice, not yet agreed", true, nil, ErrNoConsent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.begin {
				if err := f.Begin(); err != nil {
					t.Fatal(err)
				}
				defer f.Cancel()
			}
			if _, err := f.UseReference(ref(tc.c)); !errors.Is(err, tc.want) {
				t.Errorf("UseReference = %v; want %v", err, tc.want)
			}
			if s := f.Snapshot(); s.Stage == StageCapturing {
				t.Errorf("capturing started without consent")
			}
		})
	}
	if _, err := f.SubmitPhoto(photo, "", "", Consent{}); !errors.Is(err, ErrNoConsent) {
		t.Errorf("SubmitPhoto without consent = %v; want ErrNoConsent", err)
	}
	if _, err := f.SubmitPhoto(photo, "", "", apiConsent()); err != nil {
		t.Errorf("SubmitPhoto with consent to this notice = %v", err)
	}
}

func TestParseNotice(t *testing.T) {
	def := DefaultNotice()
	if len(def.Version()) != 64 || !strings.Contains(def.Text(German).Body, NoticeKeep) {
		t.Fatalf("default notice: version %q, German body %q", def.Version(), def.Text(German).Body)
	}
	all := func(edit func(l Lang, t *NoticeText)) []byte {
		m := map[Lang]NoticeText{}
		for _, l := range Languages {
			t := NoticeText{Title: "Notice " + string(l), Body: "We keep it: " + NoticeKeep}
			if edit != nil {
				edit(l, &t)
			}
			m[l] = t
		}
		b, _ := json.Marshal(m)
		return b
	}
	if n, err := ParseNotice(all(nil)); err != nil || n.Version() == def.Version() {
		t.Fatalf("ParseNotice(valid) = %v, version %s", err, n.Version())
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"not json", "want a JSON object", []byte("hello")},
		{"trailing", "trailing data", append(all(nil), []byte(" {}")...)},
		{"unknown field", "want a JSON object", []byte(`{"en":{"title":"t","body":"b {keep}","x":1}}`)},
		{"missing language", `no text for "es"`, []byte(`{"en":{"title":"t","body":"{keep}"},"de":{"title":"t","body":"{keep}"},"fr":{"title":"t","body":"{keep}"}}`)},
		{"unknown language", "unknown language", []byte(`{"it":{"title":"t","body":"{keep}"}}`)},
		{"region tag", "unknown language", []byte(`{"en-GB":{"title":"t","body":"{keep}"}}`)},
		{"no keep", "exactly once", all(func(l Lang, t *NoticeText) { t.Body = "We keep it forever." })},
		{"two keeps", "exactly once", all(func(l Lang, t *NoticeText) { t.Body = NoticeKeep + NoticeKeep })},
		{"empty title", "must not be empty", all(func(l Lang, t *NoticeText) { t.Title = " " })},
		{"long body", "longer than", all(func(l Lang, t *NoticeText) { t.Body = strings.Repeat("x", MaxNoticeBody) + NoticeKeep })},
		{"control char", "control", all(func(l Lang, t *NoticeText) { t.Body = "a\x1b[31m " + NoticeKeep })},
		{"two-line title", "one line", all(func(l Lang, t *NoticeText) { t.Title = "a\nb" })},
		{"not utf-8", "not UTF-8", []byte("{\"en\":\"\xff\"}")},
		{"too big", "limit", bytes.Repeat([]byte(" "), MaxNoticeBytes+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseNotice(tc.b); !errors.Is(err, ErrBadNotice) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseNotice = %v; want ErrBadNotice saying %q", err, tc.want)
			}
		})
	}
	p := filepath.Join(t.TempDir(), "notice.json")
	os.WriteFile(p, all(nil), 0o600)
	if n, err := LoadNotice(p); err != nil || n.Text(Spanish).Title != "Notice es" {
		t.Errorf("LoadNotice = %v; want the Spanish title", err)
	}
}

// FuzzParseNotice: no input panics, and whatever parses has every
// language, the placeholder once per body, and a stable version.
func FuzzParseNotice(f *testing.F) {
	f.Add(defaultNotice)
	f.Add([]byte(`{"en":{"title":"t","body":"{keep}"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNotice(b)
		if err != nil {
			return
		}
		for _, l := range Languages {
			if strings.Count(n.Text(l).Body, NoticeKeep) != 1 || n.Text(l).Title == "" {
				t.Fatalf("parsed notice has a bad %s text: %+v", l, n.Text(l))
			}
		}
		if again, _ := ParseNotice(b); again.Version() != n.Version() {
			t.Fatal("version is not stable")
		}
	})
}
