package checkin

import (
	"context"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/models"
	"kiosk/mrz"
)

// renderClip pre-renders n frames of the generated visitor clip, so the
// benchmarks time the check-in, not the generator.
func renderClip(b *testing.B, clk *clock, n int) []*capture.Frame {
	b.Helper()
	src := capture.NewSynthetic(capture.SyntheticOptions{Face: decodeData(b, visitorClipFace), PulseBPM: 72, Start: clk.Now(), Frames: n, Seed: 7})
	defer src.Close()
	frames := make([]*capture.Frame, 0, n)
	for range n {
		f, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f.Clone())
		f.Release()
	}
	return frames
}

// BenchmarkStepLiveness is the per-frame cost during the pulse window at
// 640×480: detection at 320 px, the quality gate, 14 skin patches, the
// estimator, the anti-spoof model every 8th frame and the kept best frame.
func BenchmarkStepLiveness(b *testing.B) {
	m := testMatcher(b)
	clk := newClock()
	frames := renderClip(b, clk, 120) // 4 s: the window never decides
	st := testStore(b, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	restart := func() {
		f.Cancel()
		ref, err := PhotoReference(m, readData(b, visitorIDPhoto))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.UseReference(agreed(ref)); err != nil {
			b.Fatal(err)
		}
	}
	restart()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%len(frames) == 0 {
			b.StopTimer()
			restart()
			b.StartTimer()
		}
		fr := frames[i%len(frames)]
		clk.Follow(fr.Time)
		f.Step(ctx, fr)
	}
}

// BenchmarkCheckIn is one whole check-in on recorded frames: reference
// photo intake, capturing, the 5 s pulse window, matching and the sealed
// record in a real SQLite store. frames/op says how many frames it took.
func BenchmarkCheckIn(b *testing.B) {
	m := testMatcher(b)
	clk := newClock()
	frames := renderClip(b, clk, 200)
	st := testStore(b, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, StoreFaceCrop: true})
	if err != nil {
		b.Fatal(err)
	}
	photo := readData(b, visitorIDPhoto)
	ctx := context.Background()
	stepped := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n, err := f.SubmitPhoto(photo, "", "", apiConsent())
		if err != nil {
			b.Fatal(err)
		}
		// Replay the clip on a fresh stretch of time for each check-in.
		base := clk.Now().Add(time.Second)
		for _, fr := range frames {
			fr2 := *fr
			fr2.Time = base.Add(fr.Time.Sub(frames[0].Time))
			clk.Follow(fr2.Time)
			stepped++
			if s := f.Step(ctx, &fr2); s.Stage == StageResult {
				break
			}
		}
		r, ok := f.Lookup(n)
		if !ok || r.Outcome != OutcomePass {
			b.Fatalf("check-in %d: %+v (found %v); want a pass", n, r, ok)
		}
		clk.Advance(10 * time.Second) // the result screen ends
	}
	b.ReportMetric(float64(stepped)/float64(b.N), "frames/op")
}

// BenchmarkCardFrame is the frame loop's cost per frame while an ID card
// is held up and its portrait searched for (detection, anti-spoof and the
// embedding, on every frame), with the real document reader reading on
// its own goroutine ("reading"), and with a reader that takes no CPU while
// a read is "in flight" ("idle", the baseline): what reading the zone costs
// the preview's frame rate on this machine's cores. Report the two
// sub-benchmarks' ratio.
func BenchmarkCardFrame(b *testing.B) {
	m := testMatcher(b)
	// A zone whose check digit fails: every read costs the OCR, and none
	// is ever accepted, so the flow stays on the card screen.
	lines, err := mrz.Compose(mrz.TD3, mrz.Fields{DocumentCode: "P", Issuer: "UTO", Surname: "QUARTERNIGHT", GivenNames: "ZEBULON",
		DocumentNumber: "Q7X4K2L9", Nationality: "UTO", BirthDate: mrz.Date{Year: 1985, Month: 4, Day: 17}, Sex: "M",
		ExpiryDate: mrz.Date{Year: 2031, Month: 6, Day: 30}})
	if err != nil {
		b.Fatal(err)
	}
	last := []byte(lines[1])
	last[9] = '0' + (last[9]-'0'+1)%10 // the document number's check digit
	lines[1] = string(last)
	doc, err := capture.RenderDocument(capture.DocumentOptions{Lines: lines, Portrait: decodeData(b, visitorIDPhoto), PxPerMM: 10})
	if err != nil {
		b.Skip(err)
	}
	clk := newClock()
	clip, err := capture.NewDocumentClip(capture.DocumentClipOptions{
		Scene:    capture.SyntheticOptions{Face: decodeData(b, visitorClipFace), Start: clk.Now(), Frames: 60, Seed: 7},
		Document: doc, Start: -1, Enter: 1, Hold: 60, Leave: 1, Fill: 0.7, Seed: 7,
	})
	if err != nil {
		b.Fatal(err)
	}
	var frames []*capture.Frame
	for range 40 {
		f, err := clip.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, f.Clone())
		f.Release()
	}
	clip.Close()
	stuck := stalledReader{release: make(chan struct{})}
	defer close(stuck.release)
	for _, tc := range []struct {
		name   string
		reader models.MRZReader
	}{{"idle", stuck}, {"reading", testMRZReader(b)}} {
		b.Run(tc.name, func(b *testing.B) {
			f, err := NewFlow(Options{Matcher: m, Records: testStore(b, clk, 0), Now: clk.Now, MRZ: tc.reader,
				Documents: DocumentPolicy{RequireMRZ: true}})
			if err != nil {
				b.Fatal(err)
			}
			f.Begin()
			f.Agree(English)
			f.ExpectCard()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				f.Step(ctx, frames[i%len(frames)])
				f.mu.Lock()
				f.cardRef.Wipe() // search the portrait again on the next frame
				f.cardRef = nil
				f.mu.Unlock()
				if f.snap.Stage != StageReference {
					b.Fatalf("the flow left the card screen (%s)", f.snap.Stage)
				}
			}
			b.StopTimer()
			if tc.name == "idle" {
				return
			}
			for f.card.state(); ; time.Sleep(time.Millisecond) { // the read in flight ends before the reader is reused
				f.card.mu.Lock()
				busy := f.card.busy
				f.card.mu.Unlock()
				if !busy {
					break
				}
			}
		})
	}
}

// stalledReader is a document reader whose reads never finish (until
// release): one stays "in flight", using no CPU, so the frame loop runs
// alone.
type stalledReader struct{ release chan struct{} }

func (s stalledReader) Read(models.Image) (models.MRZRead, error) {
	<-s.release
	return models.MRZRead{}, &models.MRZError{Reason: models.MRZReasonNoZone}
}
