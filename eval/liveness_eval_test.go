package eval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"kiosk/capture"
	"kiosk/liveness"
)

// TestEvalLivenessOnGeneratedClips runs the whole evaluation as `kiosk
// gen-sweep` and `kiosk eval liveness` do, on two short clips: a live face
// (judged live at the first decision time, within 3 bpm of its own
// waveform) and a still photo (never accepted). The clips end before 8 s,
// so the last decision time is absent and the kiosk's outcome stands.
func TestEvalLivenessOnGeneratedClips(t *testing.T) {
	m := testMatcher(t)
	dir := t.TempDir()
	manifest, err := GenerateSweep(context.Background(), SweepOptions{Out: dir, Face: decodeData(t, "faces/pairs/img20.jpg"), FPS: []float64{15}, Seconds: 6.5,
		Conditions: []Condition{{Kind: "steady", Label: LabelLive}, {Kind: "photo", Label: LabelAttack, Options: capture.SyntheticOptions{Motion: -1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(manifest) != dir {
		t.Fatalf("manifest written to %s; want it in %s", manifest, dir)
	}
	entries, err := LoadLivenessSet(dir)
	if err != nil || len(entries) != 2 || entries[0].BVP == "" || entries[0].Group != "15fps" {
		t.Fatalf("LoadLivenessSet = %+v, %v; want the live clip with its waveform and the photo, grouped by frame rate", entries, err)
	}
	rep, err := EvalLiveness(context.Background(), entries, LivenessEvalOptions{Matcher: m})
	if err != nil {
		t.Fatal(err)
	}
	live, photo := rep.Rows[0], rep.Rows[1]
	p := live.At[0]
	if p == nil || p.Verdict != liveness.Live || !p.Accepted || !p.Error.Known() || math.Abs(float64(p.Error)) > 3 {
		t.Fatalf("live clip at 5 s: %+v; want live within 3 bpm of its waveform", p)
	}
	t.Logf("live clip: %.1f bpm, truth %.1f (spectral %.1f), pulse coherence %.2f", float64(p.BPM), float64(p.Truth), float64(p.TruthSpectral), float64(p.PulseCoherence))
	if live.At[1] != nil || !live.Decided || live.Outcome != liveness.Live {
		t.Errorf("live clip: 8 s point %+v, outcome %s (decided %v); want none (6.5 s of clip) and the kiosk's live", live.At[1], live.Outcome, live.Decided)
	}
	if photo.At[0] == nil || photo.At[0].Accepted || (photo.Decided && photo.Outcome == liveness.Live) {
		t.Errorf("photo: %+v, outcome %s; want it never accepted", photo.At[0], photo.Outcome)
	}
	s := rep.At[0]
	if s.Live != 1 || s.Attacks != 1 || s.BPCER != 0 || s.APCER != 0 || s.HRN != 1 || s.ConstantMAE != 0 || s.ConstantWithin3 != 1 {
		t.Errorf("totals at 5 s: %+v; want 1 live accepted, 1 attack rejected, one heart rate (a constant guess of it scores 0, within 3 bpm)", s)
	}
	if g := rep.ByGroup["15fps"]; len(g) != 2 || g[0].Live != 1 {
		t.Errorf("group 15fps: %+v; want the same totals", g)
	}
}

// TestGenerateVariants: a variant keeps every frame (so the original's
// waveform still applies) and is listed beside the original.
func TestGenerateVariants(t *testing.T) {
	m := testMatcher(t)
	clip := writeClip(t, capture.SyntheticOptions{PulseBPM: 72}, 1)
	out := filepath.Join(t.TempDir(), "variants")
	manifest, err := GenerateVariants(context.Background(), []ManifestEntry{{File: clip, Label: LabelLive, BPM: 72}},
		VariantOptions{Detector: m.Det, Out: out, Variants: []Variant{{Name: "crop-2face", Crop: 2}, {Name: "closer", FaceFrac: 0.8}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadManifest(f, out)
	if err != nil || len(rows) != 3 || rows[0].File != clip || rows[1].Kind != "crop-2face" || rows[2].BPM != 72 {
		t.Fatalf("manifest %+v, %v; want the original and two variants with its truth", rows, err)
	}
	for _, r := range rows[1:] {
		v, err := capture.OpenFile(r.File, capture.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var w, h int
		for {
			fr, err := v.Read(context.Background())
			if err != nil {
				break
			}
			w, h = fr.Width, fr.Height
			fr.Release()
			n++
		}
		v.Close()
		t.Logf("%s: %d frames of %dx%d", r.Kind, n, w, h)
		if n != 30 {
			t.Errorf("%s has %d frames; want all 30", r.Kind, n)
		}
		if r.Kind == "closer" && (w != 640 || h != 480) {
			t.Errorf("closer is %dx%d; want the original 640x480", w, h)
		}
	}
}

// TestSummariseCountsReferralsApart: a video sent to staff is neither
// accepted nor turned away, live or attack, at either decision time; BPCER
// counts only the people turned away, over the windows that opened and
// were decided; a video that ended before any decision is in no rate.
func TestSummariseCountsReferralsApart(t *testing.T) {
	point := func(v liveness.Verdict) *LivenessPoint {
		return &LivenessPoint{Judged: Judged{Verdict: v, PAD: NaN()}, Truth: NaN(), Error: NaN(),
			Accepted: v == liveness.Live, Referred: v == liveness.Refer}
	}
	row := func(label Label, v liveness.Verdict, opened bool) LivenessRow {
		r := LivenessRow{Label: label, Opened: opened, Outcome: v, Decided: true, At: []*LivenessPoint{point(v), nil}}
		if !opened {
			r.At = []*LivenessPoint{nil, nil}
		}
		return r
	}
	rows := []LivenessRow{
		row(LabelLive, liveness.Live, true), row(LabelLive, liveness.Refer, true), row(LabelLive, liveness.NotLive, true),
		row(LabelLive, liveness.Retry, false),
		row(LabelAttack, liveness.Live, true), row(LabelAttack, liveness.Refer, true), row(LabelAttack, liveness.NotLive, true),
		// Windows that opened in videos too short for any decision.
		{Label: LabelLive, Opened: true, At: []*LivenessPoint{nil, nil}},
		{Label: LabelAttack, Opened: true, At: []*LivenessPoint{nil, nil}},
	}
	for k := range 2 { // at the first decision time from the point; at the last from the kiosk's outcome
		s := summarisePoint(rows, k, 0, 0.5)
		if s.Live != 5 || s.LiveNoWindow != 1 || s.LiveUndecided != 1 || s.LiveAccepted != 1 || s.LiveReferred != 1 || s.LiveTurnedAway != 1 || s.BPCER != Num(1.0/3) {
			t.Errorf("k=%d live: %d, %d without a window, %d undecided, %d accepted, %d referred, %d turned away, BPCER %v; want 5, 1, 1, 1, 1, 1, 1/3",
				k, s.Live, s.LiveNoWindow, s.LiveUndecided, s.LiveAccepted, s.LiveReferred, s.LiveTurnedAway, s.BPCER)
		}
		if s.Attacks != 4 || s.AttackUndecided != 1 || s.AttackAccepted != 1 || s.AttackReferred != 1 || s.APCER != Num(1.0/3) {
			t.Errorf("k=%d attacks: %d, %d undecided, %d accepted, %d referred, APCER %v; want 4, 1, 1, 1, 1/3", k, s.Attacks, s.AttackUndecided, s.AttackAccepted, s.AttackReferred, s.APCER)
		}
	}
}
