package checkin

import (
	"context"
	"testing"
	"time"

	"kiosk/capture"
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
