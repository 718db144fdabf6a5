package checkin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"slices"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
	"kiosk/models"
	"kiosk/mrz"
	"kiosk/store"
)

var errEOF = io.EOF

// Photos of the shared pairs set: img20 and img21 show the same person
// (labelled Yes in master.csv), img16 someone else.
const (
	visitorClipFace = "faces/pairs/img20.jpg"
	visitorIDPhoto  = "faces/pairs/img21.jpg"
	otherPerson     = "faces/pairs/img16.jpg"
)

// visitorClip is a generated camera clip of a real photo at 640×480 and
// 30 fps, with head motion and sensor noise, whose skin carries a pulse at
// bpm (none when 0), timed from t0 and unpaced: the fake clock follows the
// frames' timestamps, so time-outs run on recorded time.
func visitorClip(t testing.TB, clk *clock, face string, bpm float64, seconds float64) capture.Source {
	src := capture.NewSynthetic(capture.SyntheticOptions{Face: decodeData(t, face), PulseBPM: bpm, Start: clk.Now(),
		Frames: int(seconds * 30), Seed: 7})
	return clockedSource{Source: src, clk: clk}
}

// twoFaces puts two people side by side in one 640×480 frame.
func twoFaces(t testing.TB) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.RGBA{90, 100, 110, 255}}, image.Point{}, draw.Src)
	for i, f := range []string{"faces/identities/bernadette/bernadette1.png", "faces/identities/howard/howard1.png"} {
		img := decodeData(t, f)
		b := img.Bounds()
		at := image.Pt(40+i*320, 240-b.Dy()/2)
		draw.Draw(out, image.Rectangle{Min: at, Max: at.Add(b.Size())}, img, b.Min, draw.Src)
	}
	return out
}

// run steps the flow over src until a result (or lock-out) is shown or the
// source ends, and returns the prompts seen in order (deduplicated).
func run(t *testing.T, f *Flow, src capture.Source) (last Snapshot, prompts []Prompt) {
	t.Helper()
	defer src.Close()
	ctx := context.Background()
	for {
		fr, err := src.Read(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("reading frames: %v", err)
			}
			return f.Snapshot(), prompts
		}
		last = f.Step(ctx, fr)
		fr.Release()
		if len(prompts) == 0 || prompts[len(prompts)-1] != last.Prompt {
			prompts = append(prompts, last.Prompt)
		}
		if last.Stage == StageResult || last.Stage == StageLockedOut {
			return last, prompts
		}
	}
}

// TestFlowOutcomes is the check-in acceptance: generated clips of real
// photos through the real models and a real SQLite store, asserting each
// outcome, the prompt shown, and the records written.
func TestFlowOutcomes(t *testing.T) {
	m := testMatcher(t)
	for _, tc := range []struct {
		name        string
		source      func(*clock) capture.Source
		reference   string // reference photo; "" = the flow is left to time out
		retention   time.Duration
		wantOutcome Outcome
		wantReason  Reason
		wantPrompt  Prompt // a prompt that must have been shown
		wantRecords int
	}{
		{name: "live genuine passes",
			source:    func(c *clock) capture.Source { return visitorClip(t, c, visitorClipFace, 72, 12) },
			reference: visitorIDPhoto, retention: time.Hour,
			wantOutcome: OutcomePass, wantPrompt: PromptKeepStill, wantRecords: 1},
		{name: "still photo is not live",
			source:    func(c *clock) capture.Source { return visitorClip(t, c, visitorClipFace, 0, 14) },
			reference: visitorIDPhoto, retention: time.Hour,
			wantOutcome: OutcomeFail, wantReason: ReasonNotLive, wantRecords: 1},
		{name: "flickering photo is not live",
			source: func(c *clock) capture.Source {
				src := capture.NewSynthetic(capture.SyntheticOptions{Face: decodeData(t, visitorClipFace), FlickerHz: 1.2, FlickerAmplitude: 0.02,
					Start: c.Now(), Frames: 14 * 30, Seed: 7})
				return clockedSource{Source: src, clk: c}
			},
			reference: visitorIDPhoto, retention: time.Hour,
			wantOutcome: OutcomeFail, wantReason: ReasonNotLive, wantRecords: 1},
		{name: "different person does not match",
			source:    func(c *clock) capture.Source { return visitorClip(t, c, visitorClipFace, 72, 12) },
			reference: otherPerson, retention: time.Hour,
			wantOutcome: OutcomeFail, wantReason: ReasonNoMatch, wantRecords: 1},
		{name: "two faces are prompted then time out",
			source: func(c *clock) capture.Source {
				return clockedSource{Source: newStillSource(twoFaces(t), 10, 260, c.Now()), clk: c}
			},
			reference: visitorIDPhoto, retention: time.Hour,
			wantOutcome: OutcomeFail, wantReason: ReasonTimeout, wantPrompt: PromptOnePerson},
		{name: "no face times out",
			source: func(c *clock) capture.Source {
				blank := image.NewRGBA(image.Rect(0, 0, 640, 480))
				draw.Draw(blank, blank.Bounds(), &image.Uniform{color.RGBA{120, 130, 140, 255}}, image.Point{}, draw.Src)
				return clockedSource{Source: newStillSource(blank, 10, 260, c.Now()), clk: c}
			},
			reference: visitorIDPhoto, retention: time.Hour,
			wantOutcome: OutcomeFail, wantReason: ReasonTimeout, wantPrompt: PromptNoFace},
		{name: "ephemeral mode stores nothing",
			source:    func(c *clock) capture.Source { return visitorClip(t, c, visitorClipFace, 72, 12) },
			reference: visitorIDPhoto, retention: 0,
			wantOutcome: OutcomePass, wantRecords: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			st := testStore(t, clk, tc.retention)
			var results []Result
			f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t), StoreFaceCrop: true,
				OnResult: func(r Result) { results = append(results, r) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Begin(); err != nil {
				t.Fatalf("Begin() = %v", err)
			}
			if err := f.Agree(English); err != nil {
				t.Fatalf("Agree() = %v", err)
			}
			ref, err := PhotoReference(m, readData(t, tc.reference))
			if err != nil {
				t.Fatalf("PhotoReference(%s) = %v", tc.reference, err)
			}
			n, err := f.UseReference(agreed(ref))
			if err != nil || n != 1 {
				t.Fatalf("UseReference() = %d, %v; want 1, nil", n, err)
			}
			last, prompts := run(t, f, tc.source(clk))
			if last.Stage != StageResult {
				t.Fatalf("flow ended in %s (prompts %q); want result", last.Stage, prompts)
			}
			if last.Outcome != tc.wantOutcome || last.Reason != tc.wantReason {
				t.Errorf("outcome %s/%q; want %s/%q (prompts %q)", last.Outcome, last.Reason, tc.wantOutcome, tc.wantReason, prompts)
			}
			if tc.wantPrompt != "" && !slices.Contains(prompts, tc.wantPrompt) {
				t.Errorf("prompts %q lack %q", prompts, tc.wantPrompt)
			}
			if len(results) != 1 {
				t.Fatalf("OnResult called %d times; want 1", len(results))
			}
			r := results[0]
			if tc.wantOutcome == OutcomePass && r.Duration > 7*time.Second {
				t.Errorf("pass took %s of clip time; want ≤ 7 s from the reference", r.Duration)
			}
			metas, err := st.List(context.Background(), store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(metas) != tc.wantRecords || r.Stored != (tc.wantRecords > 0) {
				t.Fatalf("%d records stored (Result.Stored %v); want %d", len(metas), r.Stored, tc.wantRecords)
			}
			if tc.wantRecords == 0 {
				return
			}
			rec, err := st.Get(context.Background(), metas[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Wipe()
			if rec.Passed != (tc.wantOutcome == OutcomePass) || rec.ID != r.RecordID {
				t.Errorf("record passed=%v id=%d; want passed=%v id=%d", rec.Passed, rec.ID, tc.wantOutcome == OutcomePass, r.RecordID)
			}
			if len(rec.Photo) == 0 || len(rec.Liveness) == 0 {
				t.Errorf("record lacks the face crop (%d bytes) or the liveness details (%d bytes)", len(rec.Photo), len(rec.Liveness))
			}
			if live := tc.wantReason != ReasonNotLive; live != (len(rec.Embedding) > 0) {
				t.Errorf("record embedding %d bytes; want one only when live", len(rec.Embedding))
			}
		})
	}
}

// TestFlowLockout: repeated failures lock check-in for the cool-down, a
// tap during it is refused with the time, and it reopens afterwards.
func TestFlowLockout(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t),
		MaxFailures: 2, FailureWindow: 3 * time.Minute, Cooldown: 2 * time.Minute, ResultHold: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ref, err := PhotoReference(m, readData(t, otherPerson))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.UseReference(agreed(ref)); err != nil {
			t.Fatalf("attempt %d: UseReference() = %v", i+1, err)
		}
		last, _ := run(t, f, visitorClip(t, clk, visitorClipFace, 72, 12))
		want := StageResult
		if i == 1 {
			want = StageLockedOut
		}
		if last.Stage != want || last.Reason != ReasonNoMatch {
			t.Fatalf("attempt %d ended in %s/%q; want %s/no_match", i+1, last.Stage, last.Reason, want)
		}
		clk.Advance(2 * time.Second) // the result screen times out
	}
	if err := f.Begin(); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("Begin() during the cool-down = %v; want ErrLockedOut", err)
	}
	if s := f.Snapshot(); s.Prompt != PromptLockedOut || s.Until.IsZero() {
		t.Errorf("locked-out snapshot has no lock-out prompt or end time: %+v", s)
	}
	clk.Advance(2 * time.Minute)
	if err := f.Begin(); err != nil {
		t.Fatalf("Begin() after the cool-down = %v", err)
	}
}

// TestFlowCancelAndTimeouts steps a fake clock with no frames: an
// abandoned reference screen returns to idle, a cancel returns to idle
// and wakes a waiter with ReasonCancelled, and nothing is stored.
func TestFlowCancelAndTimeouts(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := f.Begin(); !errors.Is(err, ErrBusy) {
		t.Errorf("second Begin() = %v; want ErrBusy", err)
	}
	clk.Advance(61 * time.Second)
	if s := f.Snapshot(); s.Stage != StageIdle {
		t.Fatalf("after the reference time-out: %s; want idle", s.Stage)
	}
	if r, ok := f.Lookup(1); !ok || r.Reason != ReasonCancelled {
		t.Errorf("Lookup(1) = %+v, %v; want cancelled", r, ok)
	}
	ref, err := PhotoReference(m, readData(t, visitorIDPhoto))
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.UseReference(agreed(ref))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result)
	go func() {
		r, _ := f.Wait(context.Background(), n)
		done <- r
	}()
	f.Cancel()
	select {
	case r := <-done:
		if r.Reason != ReasonCancelled || r.CheckIn != n {
			t.Errorf("Wait(%d) = %+v; want check-in %d cancelled", n, r, n)
		}
	case <-time.After(time.Minute):
		t.Fatal("Wait did not return within a minute of Cancel")
	}
	if _, err := f.Wait(context.Background(), n+5); !errors.Is(err, ErrUnknownCheckIn) {
		t.Errorf("Wait(unissued) = %v; want ErrUnknownCheckIn", err)
	}
	if metas, _ := st.List(context.Background(), store.ListOptions{}); len(metas) != 0 {
		t.Errorf("%d records after cancels; want 0", len(metas))
	}
	if s := f.Snapshot(); s.Stage != StageIdle || s.Prompt != PromptTap {
		t.Errorf("after Cancel: %s %q; want idle %q", s.Stage, s.Prompt, PromptTap)
	}
}

// TestFlowLeavesNoPlaintext runs a real check-in with a name and document
// number, then scans every file of the data directory and every log line
// for the name, the document number, and samples of the stored template
// and face crop: none may appear in plaintext.
func TestFlowLeavesNoPlaintext(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st, dir, log, logs := scannedStore(t, clk)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: log, StoreFaceCrop: true})
	if err != nil {
		t.Fatal(err)
	}
	const name, doc = "Zebulon Quarternight", "DOC-7Q4-X9Z2"
	n, err := f.SubmitPhoto(readData(t, visitorIDPhoto), name, doc, apiConsent())
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
	if rec.Name != name || rec.DocumentNumber != doc || len(rec.Embedding) < 2048 || len(rec.Photo) < 1000 {
		t.Fatalf("record lacks what was sealed: name %v doc %v embedding %d photo %d", rec.Name == name, rec.DocumentNumber == doc, len(rec.Embedding), len(rec.Photo))
	}
	markers := map[string][]byte{"name": []byte(name), "document": []byte(doc)}
	for i := 0; i+32 <= len(rec.Embedding); i += 512 {
		markers[fmt.Sprintf("template[%d:]", i)] = rec.Embedding[i : i+32]
	}
	for i := 600; i+32 <= len(rec.Photo); i += len(rec.Photo) / 4 {
		markers[fmt.Sprintf("photo[%d:]", i)] = rec.Photo[i : i+32]
	}
	st.Close() // flush the WAL into the files scanned
	assertNotStored(t, dir, logs.Bytes(), markers)
	if !bytes.Contains(logs.Bytes(), []byte("check-in finished")) {
		t.Error("the flow logged nothing: the log scan proves nothing")
	}
	// Nor the visitor's heart rate or scores: verdicts only.
	if bytes.Contains(logs.Bytes(), []byte("bpm")) || bytes.Contains(logs.Bytes(), []byte("coherence ")) {
		t.Errorf("the logs carry the visitor's heart rate or scores:\n%s", logs.Bytes())
	}
}

// TestFlowCardIntake: "Hold up ID card" takes the reference from the
// camera. A live face held up instead is refused with a prompt; the
// portrait of a printed photo becomes the reference and capturing starts.
func TestFlowCardIntake(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	f, err := NewFlow(Options{Matcher: m, Records: testStore(t, clk, time.Hour), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ExpectCard(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("ExpectCard() from idle = %v; want ErrNotReady", err)
	}
	if err := f.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := f.ExpectCard(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("ExpectCard() before the notice was agreed to = %v; want ErrNotReady", err)
	}
	if err := f.Agree(German); err != nil {
		t.Fatal(err)
	}
	if err := f.ExpectCard(); err != nil {
		t.Fatal(err)
	}
	if s := f.Snapshot(); !s.Card || s.Prompt != PromptCardHold {
		t.Fatalf("after ExpectCard: card %v prompt %q", s.Card, s.Prompt)
	}
	card, _ := visitorDocument(t, mrz.Date{Year: 2031, Month: 5, Day: 17})
	cardImg := models.FromImage(card)
	step := func(img models.Image) Snapshot {
		clk.Advance(100 * time.Millisecond)
		fr := &capture.Frame{Seq: 1, Time: clk.Now(), Width: img.Width, Height: img.Height, Pix: img.Pix}
		return f.Step(context.Background(), fr)
	}
	file := func(rel string) models.Image {
		img, err := models.DecodeImage(readData(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	if s := step(file("spoof/image_T1.jpg")); s.Stage != StageReference || s.Prompt != PromptCardLive {
		t.Errorf("live face held up as the card: %s %q; want reference %q", s.Stage, s.Prompt, PromptCardLive)
	}
	// A print held sideways, the face turned: the reference gate asks for
	// the card held straight.
	if s := step(file("spoof/image_F1.jpg")); s.Stage != StageReference || s.Prompt != PromptRefTurned {
		t.Errorf("sideways print held up: %s %q; want reference %q", s.Stage, s.Prompt, PromptRefTurned)
	}
	s := step(cardImg)
	if s.Stage != StageCapturing || s.Reference != ReferenceCard || s.Card || s.Prompt != PromptCardAway {
		t.Errorf("ID card held up: %s reference %s card %v %q; want capturing with a card reference, asking to put it away", s.Stage, s.Reference, s.Card, s.Prompt)
	}
	// The card still in view during the grace time is not taken for the visitor.
	if s := step(cardImg); s.Prompt != PromptCardAway || !s.Face.Empty() {
		t.Errorf("card still in view: prompt %q face %v; want the put-away prompt and no face tracked", s.Prompt, s.Face)
	}
	clk.Advance(CardAwayTime)
	if s := step(file("spoof/image_T1.jpg")); s.Stage != StageCapturing || s.Prompt == PromptCardAway {
		t.Errorf("after the grace time: %s %q; want the capture prompts", s.Stage, s.Prompt)
	}
}

// TestFlowScreenChallenge: with the screen-light challenge on, a live pulse
// is followed by a random colour sequence on screen. A face lit by the
// screen follows it and passes; a replayed video of a live face (its pulse
// intact, but lit by nothing the kiosk shows) fails as not live.
func TestFlowScreenChallenge(t *testing.T) {
	m := testMatcher(t)
	for _, tc := range []struct {
		name        string
		reflects    bool
		wantOutcome Outcome
		wantReason  Reason
	}{
		{"a face lit by the screen passes", true, OutcomePass, ReasonNone},
		{"a replay that does not reflect it fails", false, OutcomeFail, ReasonNotLive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			var results []Result
			f, err := NewFlow(Options{Matcher: m, Records: testStore(t, clk, time.Hour), Now: clk.Now, Logger: testLogger(t),
				ScreenChallenge: true, OnResult: func(r Result) { results = append(results, r) }})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := PhotoReference(m, readData(t, visitorIDPhoto))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.UseReference(agreed(ref)); err != nil {
				t.Fatal(err)
			}
			o := capture.SyntheticOptions{Face: decodeData(t, visitorClipFace), PulseBPM: 72, Start: clk.Now(), Frames: 15 * 30, Seed: 7}
			if tc.reflects {
				o.ScreenLight = f.ScreenLightAt
			}
			src := clockedSource{Source: capture.NewSynthetic(o), clk: clk}
			flashed := false
			ctx := context.Background()
			var last Snapshot
			for last.Stage != StageResult {
				fr, err := src.Read(ctx)
				if err != nil {
					t.Fatalf("clip ended in %s: %v", last.Stage, err)
				}
				last = f.Step(ctx, fr)
				fr.Release()
				flashed = flashed || (last.Flashing && last.Prompt == PromptFlash)
			}
			if !flashed {
				t.Error("the screen never flashed")
			}
			if last.Outcome != tc.wantOutcome || last.Reason != tc.wantReason {
				t.Fatalf("outcome %s/%q; want %s/%q (liveness: %s)", last.Outcome, last.Reason, tc.wantOutcome, tc.wantReason, results[0].Liveness.Reason)
			}
			var ch *liveness.Signal
			for i, s := range results[0].Liveness.Signals {
				if s.Name == "challenge" {
					ch = &results[0].Liveness.Signals[i]
				}
			}
			if ch == nil || ch.Pass != tc.reflects {
				t.Errorf("challenge signal %+v; want pass = %v", ch, tc.reflects)
			}
			t.Logf("challenge correlation %.2f; check-in took %s of clip time", ch.Value, results[0].Duration)
		})
	}
}
