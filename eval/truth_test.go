package eval

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
)

func TestReadManifest(t *testing.T) {
	const good = `# a comment line
file,label,group,kind,bpm,bvp,frame_times
a/live.avi, live, cam1, steady, 72.5, a/BVP.csv, a/frames.csv
/abs/photo.avi,ATTACK,cam1,photo,,,
b.avi,live,,,,,
`
	got, err := ReadManifest(strings.NewReader(good), "/data")
	if err != nil {
		t.Fatalf("ReadManifest(good) = %v", err)
	}
	want := []ManifestEntry{
		{File: "/data/a/live.avi", Label: LabelLive, Group: "cam1", Kind: "steady", BPM: 72.5, BVP: "/data/a/BVP.csv", FrameTimes: "/data/a/frames.csv"},
		{File: "/abs/photo.avi", Label: LabelAttack, Group: "cam1", Kind: "photo"},
		{File: "/data/b.avi", Label: LabelLive},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ReadManifest(good) =\n%+v\nwant\n%+v", got, want)
	}
	for _, tc := range []struct{ name, csv, want string }{
		{"empty", "", "want a header"},
		{"no label column", "file,bpm\na.avi,70\n", `no "label" column`},
		{"no rows", "file,label\n", "no videos"},
		{"duplicate column", "file,label,file\na,live,b\n", "twice"},
		{"bad label", "file,label\na.avi,alive\n", `label "alive"`},
		{"the error names the file's line, comments counted", "# note\nfile,label\na.avi,live\n# more\nb.avi,alive\n", "line 5 (b.avi)"},
		{"no file", "file,label\n,live\n", "no file"},
		{"bad bpm", "file,label,bpm\na.avi,live,fast\n", `bpm "fast"`},
		{"absurd bpm", "file,label,bpm\na.avi,live,900\n", "20-300"},
		{"NaN bpm", "file,label,bpm\na.avi,live,NaN\n", "20-300"},
		{"frame times alone", "file,label,frame_times\na.avi,live,t.csv\n", "frame_times without bvp"},
		{"bad quoting", "file,label\n\"a.avi,live\n", "manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadManifest(strings.NewReader(tc.csv), "/d"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadManifest(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
}

func TestWriteManifestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	rows := []ManifestEntry{
		{File: filepath.Join(dir, "v.avi"), Label: LabelLive, Group: "g", Kind: "closer", BPM: 71, BVP: "/shared/BVP.csv", FrameTimes: "/shared/frames.csv"},
		{File: filepath.Join(dir, "sub", "p.avi"), Label: LabelAttack, Kind: "photo"},
	}
	var buf bytes.Buffer
	if err := WriteManifest(&buf, dir, rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), dir) {
		t.Errorf("manifest %q names files inside its folder by absolute path; want relative", buf.String())
	}
	got, err := ReadManifest(&buf, dir)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(rows) {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, rows)
	}
}

func TestReadWaveformAndFrameTimesRefuseBadInput(t *testing.T) {
	for _, tc := range []struct{ name, csv, want string }{
		{"empty", "", "header"},
		{"too short", "timestamp,bvp\n1,2\n2,3\n", "2 samples"},
		{"not numbers", "timestamp,bvp\n1,2\nx,3\n2,3\n3,4\n", "two finite numbers"},
		{"infinite", "timestamp,bvp\n1,2\n2,Inf\n3,3\n4,4\n", "two finite numbers"},
		{"time goes back", "timestamp,bvp\n1,2\n3,3\n2,3\n4,4\n", "not after"},
		{"one column", "timestamp,bvp\n1\n", "want timestamp,bvp"},
	} {
		t.Run("waveform "+tc.name, func(t *testing.T) {
			if _, err := ReadWaveform(strings.NewReader(tc.csv)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadWaveform(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, csv, want string }{
		{"gap", "frame,timestamp\n0,1\n2,2\n", "want 1"},
		{"one frame", "frame,timestamp\n0,1\n", "fewer than 2"},
		{"same time", "frame,timestamp\n0,1\n1,1\n", "not after"},
	} {
		t.Run("frame times "+tc.name, func(t *testing.T) {
			if _, err := ReadFrameTimes(strings.NewReader(tc.csv)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadFrameTimes(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
	ft, err := ReadFrameTimes(strings.NewReader("frame,timestamp\n0,100.5\n1,100.533\n"))
	if err != nil || len(ft) != 2 || ft[1] != 100.533 {
		t.Errorf("ReadFrameTimes(good) = %v, %v", ft, err)
	}
}

// oximeter is a pulse waveform like a finger oximeter's: the generator's
// beat shape at bpm with ±4 % heart-rate variability, sampled at rate Hz
// with timestamp jitter and noise, on a Unix-like clock.
func oximeter(bpm, rate, seconds float64, seed uint64) (Waveform, func(t0, t1 float64) float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	const start = 1.6e9
	beats := func(t float64) float64 {
		// Integral of bpm/60·(1 + 0.04 sin(2π·0.15 t)).
		w := 2 * math.Pi * 0.15
		return bpm / 60 * (t + 0.04*(1-math.Cos(w*t))/w)
	}
	var w Waveform
	for i := 0; float64(i)/rate < seconds; i++ {
		t := float64(i)/rate + rng.NormFloat64()*0.004
		w.T = append(w.T, start+t)
		w.V = append(w.V, 50+40*capture.PulseWave(beats(t))+rng.NormFloat64())
	}
	truth := func(t0, t1 float64) float64 { return 60 * (beats(t1-start) - beats(t0-start)) / (t1 - t0) }
	return w, truth
}

// TestHeartRateFromWaveform: the reference heart rate from the beats is
// within 0.5 bpm of the exact mean rate over 5 s and 8 s spans, at slow
// and fast rates and at the sample rates of an oximeter (20 Hz) and of a
// generated clip's waveform (100 Hz). The spectral peak, a second opinion,
// agrees within 3 (its Hann taper weights the span's middle, whose rate
// differs from the mean with heart-rate variability).
func TestHeartRateFromWaveform(t *testing.T) {
	for _, bpm := range []float64{48, 72, 110, 170} {
		for _, rate := range []float64{20, 100} {
			w, truth := oximeter(bpm, rate, 20, uint64(bpm))
			for _, span := range []float64{5, 8} {
				t0 := w.T[0] + 2.3
				ref := w.HeartRate(t0, t0+span)
				want := truth(t0, t0+span)
				if math.Abs(ref.BPM-want) > 0.5 || math.Abs(ref.Spectral-want) > 3 {
					t.Errorf("%g bpm at %g Hz over %g s: beats %.2f (%d), spectral %.2f; want %.2f", bpm, rate, span, ref.BPM, ref.Beats, ref.Spectral, want)
				}
			}
		}
	}
	if r := (Waveform{T: []float64{0, 1, 2, 3}, V: []float64{1, 1, 1, 1}}).HeartRate(0, 3); !math.IsNaN(r.BPM) {
		t.Errorf("a flat waveform gave %v bpm; want NaN (no beats)", r.BPM)
	}
	// A flat stretch long enough for the spectral peak (a recorder whose
	// log went flat): no rate either way, not the band's first one.
	var flat Waveform
	for i := range 1000 {
		flat.T, flat.V = append(flat.T, float64(i)/100), append(flat.V, 512.25)
	}
	if r := flat.HeartRate(1, 9); !math.IsNaN(r.BPM) || !math.IsNaN(r.Spectral) {
		t.Errorf("a flat 8 s span gave %v bpm, spectral %v; want NaN for both", r.BPM, r.Spectral)
	}
}

// TestSummarisePoint: BPCER counts live videos not accepted among those
// whose window opened (one that never opened is a failure to acquire,
// counted apart), APCER attacks accepted, per kind as well; the
// anti-spoof baseline and the constant guess come from the same rows.
func TestSummarisePoint(t *testing.T) {
	pt := func(v liveness.Verdict, bpm, truth, pad float64) *LivenessPoint {
		e := NaN()
		if bpm > 0 && !math.IsNaN(truth) {
			e = Num(bpm - truth)
		}
		return &LivenessPoint{Judged: Judged{Verdict: v, BPM: Num(bpm), PAD: Num(pad)}, Truth: Num(truth), Error: e, Accepted: v == liveness.Live}
	}
	rows := []LivenessRow{
		{Label: LabelLive, Opened: true, At: []*LivenessPoint{pt(liveness.Live, 70, 72, 0.9), nil}, Decided: true, Outcome: liveness.Live},
		{Label: LabelLive, Opened: true, At: []*LivenessPoint{pt(liveness.Retry, 100, 90, 0.9), pt(liveness.NotLive, 100, 90, 0.9)}, Decided: true, Outcome: liveness.NotLive},
		{Label: LabelLive, Opened: false, At: []*LivenessPoint{nil, nil}},
		{Label: LabelAttack, Kind: "photo", Opened: true, At: []*LivenessPoint{pt(liveness.Retry, 60, math.NaN(), 0.8), pt(liveness.NotLive, 60, math.NaN(), 0.8)}},
		{Label: LabelAttack, Kind: "replay", Opened: true, At: []*LivenessPoint{pt(liveness.Live, 72, math.NaN(), 0.2), nil}, Decided: true, Outcome: liveness.Live},
		{Label: LabelLive, Problem: "unreadable"},
	}
	s := summarisePoint(rows, 0, 5*time.Second, 0.5)
	if s.Live != 3 || s.LiveNoWindow != 1 || s.LiveAccepted != 1 || s.BPCER != 0.5 || s.Attacks != 2 || s.AttackAccepted != 1 || s.APCER != 0.5 {
		t.Errorf("at 5 s: %+v; want 1 of the 2 live with a window accepted (1 never opened it), 1 of 2 attacks", s)
	}
	if s.APCERByKind["photo"] != 0 || s.APCERByKind["replay"] != 1 {
		t.Errorf("APCER by kind %v; want photo 0, replay 1", s.APCERByKind)
	}
	if s.PADBPCER != 0 || s.PADAPCER != 0.5 {
		t.Errorf("anti-spoof alone: BPCER %v, APCER %v; want 0 and 0.5", s.PADBPCER, s.PADAPCER)
	}
	if s.HRN != 2 || s.MAE != 6 || s.Within3 != 1 || s.Constant != 81 || s.ConstantMAE != 9 {
		t.Errorf("heart rate: n %d, MAE %v, within 3 %d, constant %v (MAE %v); want 2, 6, 1, 81 (9)", s.HRN, s.MAE, s.Within3, s.Constant, s.ConstantMAE)
	}
	// By 8 s the rows that stopped early keep the kiosk's outcome.
	s8 := summarisePoint(rows, 1, 8*time.Second, 0.5)
	if s8.LiveAccepted != 1 || s8.AttackAccepted != 1 {
		t.Errorf("at 8 s: %d live and %d attacks accepted; want 1 and 1 (the kiosk's decisions stand)", s8.LiveAccepted, s8.AttackAccepted)
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add("file,label,group,kind,bpm,bvp,frame_times\na.avi,live,g,k,72,b.csv,t.csv\n")
	f.Add("file,label\n#c\nb.avi,attack\n")
	f.Add("file,label,bpm\na.avi,live,NaN\n")
	f.Add("\"")
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ReadManifest(strings.NewReader(s), "/d")
		if err != nil {
			return
		}
		for _, e := range es {
			if e.File == "" || (e.Label != LabelLive && e.Label != LabelAttack) || (e.BPM != 0 && !(e.BPM >= 20 && e.BPM <= 300)) {
				t.Fatalf("ReadManifest accepted a bad row: %+v", e)
			}
		}
	})
}

func FuzzReadWaveform(f *testing.F) {
	f.Add("timestamp,bvp\n1,2\n1.05,3\n1.1,4\n1.15,3\n1.2,2\n")
	f.Add("frame,timestamp\n0,1\n1,2\n")
	f.Add("timestamp,bvp\n1e308,1\n-1e308,2\n")
	f.Fuzz(func(t *testing.T, s string) {
		if w, err := ReadWaveform(strings.NewReader(s)); err == nil {
			for i := 1; i < len(w.T); i++ {
				if !(w.T[i] > w.T[i-1]) {
					t.Fatalf("ReadWaveform accepted times out of order: %v", w.T)
				}
			}
			w.HeartRate(w.T[0], w.T[len(w.T)-1])
		}
		if ft, err := ReadFrameTimes(strings.NewReader(s)); err == nil && len(ft) < 2 {
			t.Fatalf("ReadFrameTimes accepted %d frames", len(ft))
		}
	})
}
