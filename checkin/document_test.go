package checkin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"strings"
	"sync"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/models"
	"kiosk/mrz"
	"kiosk/store"
)

var (
	readerOnce sync.Once
	mrzReader  *models.MRZOCR
	readerErr  error
)

// testMRZReader loads the real document reader once per test binary; its
// two-digit years resolve against the tests' fixed day t0.
func testMRZReader(t testing.TB) *models.MRZOCR {
	t.Helper()
	dir := modelsDir(t)
	readerOnce.Do(func() {
		mrzReader, readerErr = models.LoadMRZReader(dir, models.MRZOptions{Parse: mrz.Options{Now: func() time.Time { return t0 }}})
	})
	if readerErr != nil {
		t.Fatalf("loading the document reader: %v (run make setup)", readerErr)
	}
	return mrzReader
}

// visitorDocument is a passport data page of the visitor: the shared ID
// photo as its portrait, and a zone with the given expiry.
func visitorDocument(t testing.TB, expiry mrz.Date) (image.Image, mrz.Fields) {
	t.Helper()
	f := mrz.Fields{DocumentCode: "P", Issuer: "UTO", Surname: "QUARTERNIGHT", GivenNames: "ZEBULON ARTHUR", DocumentNumber: "Q7X4K2L9",
		Nationality: "UTO", BirthDate: mrz.Date{Year: 1985, Month: 4, Day: 17}, Sex: "M", ExpiryDate: expiry}
	lines, err := mrz.Compose(mrz.TD3, f)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := capture.RenderDocument(capture.DocumentOptions{Lines: lines, Portrait: decodeData(t, visitorIDPhoto), PxPerMM: 10})
	if errors.Is(err, capture.ErrNoOCRBFont) {
		t.Skip(err) // make setup installs fonts-ocr-b
	}
	if err != nil {
		t.Fatal(err)
	}
	return doc, f
}

// readerPaced delivers the next frame only once the flow's document reader
// has finished the read in flight, while the card is expected: reads take
// wall time, frames here come as fast as they decode, so this waits for
// the event (a read done) rather than for a time. Outside card intake it
// passes frames straight through.
type readerPaced struct {
	capture.Source
	f *Flow
}

func (s readerPaced) Read(ctx context.Context) (*capture.Frame, error) {
	if s.f.card != nil {
		for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			s.f.card.mu.Lock()
			busy := s.f.card.busy
			s.f.card.mu.Unlock()
			if !busy {
				break
			}
		}
	}
	return s.Source.Read(ctx)
}

// cardClip is the visitor holding their passport page up to the camera,
// then lowering it and looking at the camera with a 72 bpm pulse.
func cardClip(t *testing.T, clk *clock, f *Flow, doc image.Image) capture.Source {
	t.Helper()
	clip, err := capture.NewDocumentClip(capture.DocumentClipOptions{
		Scene:    capture.SyntheticOptions{Face: decodeData(t, visitorClipFace), PulseBPM: 72, Start: clk.Now(), Frames: 30 * 14, Seed: 7},
		Document: doc, Start: 5, Enter: 10, Hold: 120, Leave: 10, Fill: 0.7, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	return readerPaced{Source: clockedSource{Source: clip, clk: clk}, f: f}
}

// TestFlowIDCardDocumentCheckIn is the whole ID-card check-in: the visitor
// agrees, holds up their passport page (portrait and zone in one hold), the
// zone is read off the frame loop and voted across frames, the card goes
// away, the pulse window passes and the face matches the portrait. The
// sealed record holds the document's fields, the result greets by first
// name, and neither the data directory nor the logs hold any of the fields
// in plaintext.
func TestFlowIDCardDocumentCheckIn(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st, dir, log, logs := scannedStore(t, clk)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: log, MRZ: testMRZReader(t), StoreFaceCrop: true})
	if err != nil {
		t.Fatal(err)
	}
	doc, fields := visitorDocument(t, mrz.Date{Year: 2031, Month: 6, Day: 30})
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := f.Agree(English); err != nil {
		t.Fatal(err)
	}
	if err := f.ExpectCard(); err != nil {
		t.Fatal(err)
	}
	last, prompts := run(t, f, cardClip(t, clk, f, doc))
	if last.Stage != StageResult || last.Outcome != OutcomePass {
		t.Fatalf("check-in ended %s %s/%s (prompts %q); want a pass", last.Stage, last.Outcome, last.Reason, prompts)
	}
	if last.Prompt != PromptPass || f.Greeting(last.Version) != "ZEBULON" {
		t.Errorf("result prompt %s, greeting %q; want the pass and ZEBULON", last.Prompt, f.Greeting(last.Version))
	}
	r, _ := f.Lookup(1)
	if r.Reference != ReferenceCard || r.Document == nil || r.Document.Fields != fields || r.Document.Agree < cardVotes {
		t.Fatalf("result reference %s, document %+v; want the card's fields %+v agreed by %d reads", r.Reference, r.Document, fields, cardVotes)
	}
	rec, err := st.Get(context.Background(), r.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Wipe()
	var sealed Document
	if err := json.Unmarshal(rec.Document, &sealed); err != nil || sealed.Fields != fields || rec.Name != "ZEBULON ARTHUR QUARTERNIGHT" || rec.DocumentNumber != "Q7X4K2L9" {
		t.Fatalf("sealed record: document %+v (%v), name %q, number %q; want the card's", sealed, err, rec.Name, rec.DocumentNumber)
	}
	t.Logf("read after %d prompts: %q", len(prompts), prompts)

	st.Close()
	markers := map[string][]byte{}
	for _, mk := range []string{"QUARTERNIGHT", "ZEBULON", "Q7X4K2L9", "1985-04-17", "850417", "2031-06-30"} {
		markers[mk] = []byte(mk)
	}
	assertNotStored(t, dir, logs.Bytes(), markers)
}

// TestFlowRefusesExpiredDocument: an expired passport is refused on the
// reference screen with its own message; no record, no lock-out count. An
// operator who accepts expired documents lets it through.
func TestFlowRefusesExpiredDocument(t *testing.T) {
	m := testMatcher(t)
	doc, _ := visitorDocument(t, mrz.Date{Year: 2025, Month: 1, Day: 31})
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_expired=%v", allow), func(t *testing.T) {
			clk := newClock()
			st := testStore(t, clk, time.Hour)
			f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t), MRZ: testMRZReader(t),
				Documents: DocumentPolicy{AllowExpired: allow}})
			if err != nil {
				t.Fatal(err)
			}
			f.Begin()
			f.Agree(German)
			f.ExpectCard()
			last, prompts := run(t, f, cardClip(t, clk, f, doc))
			if !allow {
				if last.Stage != StageResult || last.Reason != ReasonExpired || last.Prompt != PromptExpired {
					t.Fatalf("expired passport: %s %s %s (prompts %q); want refused as expired", last.Stage, last.Reason, last.Prompt, prompts)
				}
				if metas, _ := st.List(context.Background(), store.ListOptions{}); len(metas) != 0 || len(f.fails) != 0 {
					t.Errorf("%d records, %d lock-out failures after an expired document; want none", len(metas), len(f.fails))
				}
				return
			}
			if last.Outcome != OutcomePass {
				t.Errorf("expired passport with expired documents allowed: %s/%s; want a pass", last.Outcome, last.Reason)
			}
		})
	}
}

// TestPhotoReferenceReadsDocument: an imported photo of the document page
// gives the reference and the zone's fields (voted across rescaled reads);
// a plain portrait gives no document, which a kiosk requiring one refuses.
func TestPhotoReferenceReadsDocument(t *testing.T) {
	m := testMatcher(t)
	doc, fields := visitorDocument(t, mrz.Date{Year: 2031, Month: 6, Day: 30})
	var page bytes.Buffer
	if err := jpeg.Encode(&page, doc, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	newFlow := func(p DocumentPolicy) *Flow {
		f, err := NewFlow(Options{Matcher: m, Records: testStore(t, clk, 0), Now: clk.Now, MRZ: testMRZReader(t), Documents: p})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ref, err := newFlow(DocumentPolicy{}).PhotoReference(page.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ref.Document == nil || ref.Document.Fields != fields || ref.Document.Source != DocumentFromPhoto || ref.Document.Agree < 2 {
		t.Errorf("document from the page = %+v; want %+v from the photo, agreed by 2 reads", ref.Document, fields)
	}
	ref.Wipe()
	plain := readData(t, visitorIDPhoto)
	if ref, err := newFlow(DocumentPolicy{}).PhotoReference(plain); err != nil || ref.Document != nil {
		t.Errorf("plain ID photo = %+v, %v; want a reference with no document", ref, err)
	}
	if _, err := newFlow(DocumentPolicy{RequireMRZ: true}).PhotoReference(plain); !errors.Is(err, ErrNoDocument) || !strings.Contains(err.Error(), "no_zone") {
		t.Errorf("plain ID photo where a zone is required = %v; want ErrNoDocument (no_zone)", err)
	}
}
