package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/liveness"
	"kiosk/store"
)

// writeClip records a generated 640×480, 30 fps clip of a real face photo
// losslessly, as `kiosk gen-clip` does.
func writeClip(t *testing.T, o capture.SyntheticOptions, seconds float64) string {
	t.Helper()
	o.Face = decodeData(t, "faces/pairs/img20.jpg")
	o.Seed = 7
	syn := capture.NewSynthetic(o)
	defer syn.Close()
	path := filepath.Join(t.TempDir(), "clip.avi")
	if _, err := capture.Record(context.Background(), syn, path, capture.CodecLossless, 30, int(seconds*30)); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkInOnClip runs a whole check-in of the clip through the kiosk's frame
// loop on the frames' own clock, against the matching ID photo, and
// returns the finished check-in.
func checkInOnClip(t *testing.T, clip string) checkin.Result {
	t.Helper()
	m := testMatcher(t)
	clk := &checkin.FrameClock{}
	st, err := store.Open(t.TempDir(), store.Options{Keys: mustMemoryKeys(t), Retention: 0, Now: clk.Now, Logger: testLogger(t), DisablePurge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res checkin.Result
	done := false
	f, err := checkin.NewFlow(checkin.Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t),
		OnResult: func(r checkin.Result) { res, done = r, true; cancel() }})
	if err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile(dataPath(t, "faces/pairs/img21.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := checkin.PhotoReference(m, photo)
	if err != nil {
		t.Fatal(err)
	}
	ref.Consent = &checkin.Consent{Notice: f.Notice().Version(), At: time.Now(), Language: checkin.English, Via: checkin.ConsentViaAPI}
	if _, err := f.UseReference(ref); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(clip, capture.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	loop := &checkin.Loop{Flow: f, Source: src, Clock: clk}
	if err := loop.Run(ctx, func(fr checkin.Frame) { fr.Frame.Release() }); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatalf("the clip ended before the check-in finished (stage %s)", f.Snapshot().Stage)
	}
	return res
}

func mustMemoryKeys(t *testing.T) *store.MemoryKeys {
	t.Helper()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// TestAnalyzeFlowParity: the same clips through the check-in flow and
// through AnalyzeVideo (kiosk analyze) reach the same verdict and heart
// rate, decided at the same moment of the window: they share one window.
func TestAnalyzeFlowParity(t *testing.T) {
	m := testMatcher(t)
	for _, tc := range []struct {
		name string
		o    capture.SyntheticOptions
		want liveness.Verdict
	}{
		{"live 72 bpm", capture.SyntheticOptions{PulseBPM: 72}, liveness.Live},
		{"live 110 bpm", capture.SyntheticOptions{PulseBPM: 110}, liveness.Live},
		{"still photo", capture.SyntheticOptions{}, liveness.NotLive},
		{"global flicker", capture.SyntheticOptions{FlickerHz: 1.2, FlickerAmplitude: 0.02}, liveness.NotLive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clip := writeClip(t, tc.o, 10)
			res := checkInOnClip(t, clip)
			a, err := AnalyzeVideo(context.Background(), clip, AnalyzeOptions{Matcher: m})
			if err != nil {
				t.Fatal(err)
			}
			fd, ad := res.Liveness, a.Decision
			t.Logf("flow: %s %.2f bpm (%s); analyze: %s %.2f bpm after %.1f s (%s)", fd.Verdict, fd.RPPG.BPM, fd.Reason, ad.Verdict, a.BPM, a.DecidedAfter, ad.Reason)
			if fd.Verdict != tc.want {
				t.Errorf("flow verdict %s (%s); want %s", fd.Verdict, fd.Reason, tc.want)
			}
			if !a.Final || ad.Verdict != fd.Verdict || ad.Reason != fd.Reason || a.BPM != fd.RPPG.BPM || ad.RPPG.Frames != fd.RPPG.Frames {
				t.Errorf("analyze: final %v, %s %q, %.3f bpm over %d frames; flow: %s %q, %.3f bpm over %d frames; want the same decision",
					a.Final, ad.Verdict, ad.Reason, a.BPM, ad.RPPG.Frames, fd.Verdict, fd.Reason, fd.RPPG.BPM, fd.RPPG.Frames)
			}
			if fmt.Sprint(ad.Signals) != fmt.Sprint(fd.Signals) {
				t.Errorf("signals differ:\nanalyze %v\nflow    %v", ad.Signals, fd.Signals)
			}
		})
	}
}

// TestAnalyzeSecondsJudgesAsTheKioskWould: --seconds N stops the video at
// N s and gives the window's verdict at that moment: before the first
// decision time a live clip is still "retry" and not final; after it, the
// kiosk's final verdict.
func TestAnalyzeSecondsJudgesAsTheKioskWould(t *testing.T) {
	m := testMatcher(t)
	clip := writeClip(t, capture.SyntheticOptions{PulseBPM: 72}, 7)
	early, err := AnalyzeVideo(context.Background(), clip, AnalyzeOptions{Matcher: m, Seconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if early.Final || early.Decision.Verdict != liveness.Retry || early.Frames != 90 {
		t.Errorf("after 3 s: final %v, %s (%s) over %d frames; want a non-final retry over 90 frames", early.Final, early.Decision.Verdict, early.Decision.Reason, early.Frames)
	}
	late, err := AnalyzeVideo(context.Background(), clip, AnalyzeOptions{Matcher: m, Seconds: 6.5})
	if err != nil {
		t.Fatal(err)
	}
	if !late.Final || late.Decision.Verdict != liveness.Live || late.DecidedAfter < 5 || late.DecidedAfter > 5.5 {
		t.Errorf("after 6.5 s: final %v, %s after %.2f s; want a final live at the first decision time (5 s)", late.Final, late.Decision.Verdict, late.DecidedAfter)
	}
}
