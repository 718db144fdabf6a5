package eval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kiosk/liveness"
	"kiosk/models"
)

func TestWeightedMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		v, w []float64
		want float64
	}{
		{"one", []float64{70}, []float64{1}, 70},
		{"equal weights", []float64{60, 70, 80}, []float64{1, 1, 1}, 70},
		{"light outlier loses", []float64{60, 70, 200}, []float64{5, 5, 1}, 70},
		{"weight moves it", []float64{60, 70, 80}, []float64{1, 1, 10}, 80},
		{"unsorted", []float64{80, 60, 70}, []float64{1, 1, 1}, 70},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := weightedMedian(tc.v, tc.w); got != tc.want {
				t.Errorf("weightedMedian(%v, %v) = %v; want %v", tc.v, tc.w, got, tc.want)
			}
		})
	}
	if got := weightedMedian(nil, nil); !math.IsNaN(got) {
		t.Errorf("weightedMedian(nil) = %v; want NaN", got)
	}
}

// TestSummariseRPPGBaseline: the constant guess is the truths' median, and
// each group's MAE sits beside that guess's MAE on the same subjects.
func TestSummariseRPPGBaseline(t *testing.T) {
	rows := []RPPGRow{
		{Subject: "A/1", Truth: 70, Estimate: 72, Error: 2, Forehead: 75},
		{Subject: "A/2", Truth: 80, Estimate: 77, Error: -3},
		{Subject: "B/1", Truth: 90, Estimate: 90, Error: 0, Forehead: 80},
		{Subject: "B/2", Truth: 60, Problem: "not enough signal"},
	}
	guess, s := summariseRPPG(rows)
	if guess != 75 { // median of 60, 70, 80, 90
		t.Errorf("constant guess %v; want 75", guess)
	}
	all := s["all"]
	if all.N != 3 || math.Abs(all.MAE-5.0/3) > 1e-9 || math.Abs(all.ConstantMAE-(5+5+15)/3.0) > 1e-9 {
		t.Errorf("all = %+v; want 3 subjects, MAE 1.67, constant MAE 8.33", all)
	}
	if all.ForeheadN != 2 || all.ForeheadMAE != 7.5 {
		t.Errorf("forehead only = %d subjects, MAE %v; want 2 and 7.5", all.ForeheadN, all.ForeheadMAE)
	}
	if a := s["A"]; a.N != 2 || a.MAE != 2.5 {
		t.Errorf("A = %+v; want 2 subjects, MAE 2.5", a)
	}
}

func TestReadRPPGTruthRefusesBadInput(t *testing.T) {
	for _, tc := range []struct{ name, csv, want string }{
		{"empty", "", "want a header"},
		{"header only", "country,video,mean_hr_bpm\n", "want a header"},
		{"short row", "country,video,mean_hr_bpm\nIndia,video1\n", "want country,video,mean_hr_bpm"},
		{"bad rate", "country,video,mean_hr_bpm\nIndia,video1,fast\n", "bad heart rate"},
		{"negative rate", "country,video,mean_hr_bpm\nIndia,video1,-70\n", "bad heart rate"},
		{"path escape", "country,video,mean_hr_bpm\n..,video1,70\n", "bad subject"},
		{"slash", "country,video,mean_hr_bpm\nIndia,../x,70\n", "bad subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ground_truth.csv")
			os.WriteFile(p, []byte(tc.csv), 0o600)
			if _, err := readRPPGTruth(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readRPPGTruth(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
}

func TestReadMaster(t *testing.T) {
	pairs, err := readMaster(strings.NewReader("file1,file2,Decision\na.jpg, b.jpg, Yes\nc.jpg,d.jpg,no\n"))
	if err != nil || len(pairs) != 2 || !pairs[0].Same || pairs[1].Same || pairs[0].B != "b.jpg" {
		t.Fatalf("readMaster = %+v, %v; want two pairs, the first the same person", pairs, err)
	}
	for _, tc := range []struct{ name, csv, want string }{
		{"no pairs", "file1,file2,Decision\n", "no pairs"},
		{"bad label", "a.jpg,b.jpg,Yes\nc.jpg,d.jpg,maybe\n", "not Yes or No"},
		{"short", "a.jpg,b.jpg\n", "want file1,file2"},
		{"escape", "../a.jpg,b.jpg,Yes\n", "not a file inside"},
		{"absolute", "/etc/passwd,b.jpg,No\n", "not a file inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readMaster(strings.NewReader(tc.csv)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readMaster(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
}

// TestSummarisePairsRandomBaseline: perfectly separated scores give AUC 1,
// while the random-score baseline on the same labels sits near 0.5.
func TestSummarisePairsRandomBaseline(t *testing.T) {
	var pairs []Pair
	for i := 0; i < 200; i++ {
		same := i%4 == 0
		score := 0.1 + 0.001*float64(i%50)
		if same {
			score += 0.5
		}
		pairs = append(pairs, Pair{A: "a", B: "b", Same: same, Score: score})
	}
	pairs = append(pairs, Pair{A: "x", B: "y", Error: "no face"})
	s := SummarisePairs(pairs, models.DefaultBands)
	if s.AUC != 1 || !s.Separates || s.Unusable != 1 || s.FalseMatches != 0 {
		t.Errorf("summary %+v; want AUC 1, separable, 1 unusable, no false match", s)
	}
	if s.RandomAUC < 0.35 || s.RandomAUC > 0.65 || s.RandomEER < 0.35 || s.RandomEER > 0.65 {
		t.Errorf("random baseline AUC %.3f, EER %.3f; want both near 0.5", s.RandomAUC, s.RandomEER)
	}
}

// TestSummarisePairsOutcomes counts the three outcomes per truth at the
// bands, and the shuffled-score baseline moves same-person pairs out of
// auto-pass and different-person pairs into it.
func TestSummarisePairsOutcomes(t *testing.T) {
	b := models.Bands{Fail: 0.3, Pass: 0.6}
	var pairs []Pair
	add := func(same bool, scores ...float64) {
		for _, s := range scores {
			pairs = append(pairs, Pair{A: "a", B: "b", Same: same, Score: s})
		}
	}
	add(true, 0.9, 0.8, 0.7, 0.65, 0.5, 0.2)               // 4 pass, 1 refer, 1 fail
	add(false, 0.1, 0.0, -0.1, 0.05, 0.12, 0.31, 0.2, 0.1) // 0 pass, 1 refer, 7 fail
	s := SummarisePairs(pairs, b)
	want := OutcomeRates{Same: OutcomeCounts{Pairs: 6, Match: 4, Refer: 1, NoMatch: 1}, Different: OutcomeCounts{Pairs: 8, Refer: 1, NoMatch: 7}}
	if s.Outcomes != want || s.FalseMatches != 0 {
		t.Errorf("outcomes %+v, false matches %d; want %+v and 0", s.Outcomes, s.FalseMatches, want)
	}
	r := s.RandomOutcomes
	if r.Same.Pairs != 6 || r.Different.Pairs != 8 || r.Same.Match+r.Different.Match != 4 || r.Same.Match == 4 {
		t.Errorf("shuffled baseline %+v; want the same 4 auto-passes spread over both truths", r)
	}
	if m, rf, f := want.Same.Rates(); m != 4.0/6 || rf != 1.0/6 || f != 1.0/6 {
		t.Errorf("Rates() = %v %v %v", m, rf, f)
	}
}

func TestSuggestBands(t *testing.T) {
	var pairs []Pair
	for i := 0; i < 100; i++ {
		pairs = append(pairs, Pair{Same: false, Score: float64(i%10) / 30}) // 0 … 0.3
	}
	for i := 0; i < 20; i++ {
		pairs = append(pairs, Pair{Same: true, Score: 0.5 + float64(i)/100})
	}
	b, margin, ok := SuggestBands(pairs)
	if !ok || margin < 0.04 || margin > 0.06 {
		t.Fatalf("SuggestBands = %v, margin %.3f, %v; want a margin of about half the SD (0.05)", b, margin, ok)
	}
	if b.Pass <= 0.3 || b.Pass > 0.36 || b.Fail >= b.Pass || b.Fail > 0.5-float32(margin) {
		t.Errorf("SuggestBands = %v; want pass just above 0.3 by the margin, fail below the lowest same-person score by it", b)
	}
	if _, _, ok := SuggestBands(pairs[:100]); ok {
		t.Error("SuggestBands without same-person pairs reported ok")
	}
}

func TestEstimatePatchesBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.avi")
	os.WriteFile(bad, []byte("not a video"), 0o600)
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"none", nil},
		{"garbage", []string{bad}},
		{"missing", []string{filepath.Join(t.TempDir(), "missing.avi")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EstimatePatches(context.Background(), tc.files, PatchOptions{}); err == nil {
				t.Errorf("EstimatePatches(%v) = nil error; want one", tc.files)
			}
		})
	}
}

// TestWindowHits: windows on their own subject's truth count as own hits;
// the same windows against the other subjects' truths give the chance
// level for these estimates.
func TestWindowHits(t *testing.T) {
	rows := []RPPGRow{
		{Subject: "A/1", Truth: 70, WindowBPMs: []float64{70, 71, 90, 100}},
		{Subject: "A/2", Truth: 90, WindowBPMs: []float64{89, 60}},
		{Subject: "B/1", Truth: 100, Problem: "unreadable", WindowBPMs: []float64{100}},
	}
	n, own, other := windowHits(rows, func(RPPGRow) bool { return true })
	// Own: 70, 71, 89 of 6. Other: per window, against every other row's
	// truth (the unreadable one's too): 90 hits A/2's, 100 hits B/1's (from
	// A/1); 60 hits nothing; 89 hits nothing of 70 or 100: 2 of 12.
	if n != 6 || math.Abs(own-0.5) > 1e-9 || math.Abs(other-2.0/12) > 1e-9 {
		t.Errorf("windowHits = %d, %.3f, %.3f; want 6, 0.5, 0.167", n, own, other)
	}
}

// TestInjectPulse: the injected pulse is relative to each patch's level,
// strongest in green, and leaves the input untouched.
func TestInjectPulse(t *testing.T) {
	start := time.Unix(0, 0)
	var ss []liveness.Sample
	for i := 0; i < 300; i++ {
		ss = append(ss, liveness.Sample{Time: start.Add(time.Duration(i) * time.Second / 30), Patches: map[string]liveness.RGB{"p": {R: 100, G: 50, B: 20}}})
	}
	out := injectPulse(ss, 72, 0.01)
	var maxG, maxR float64
	for i := range out {
		if ss[i].Patches["p"] != (liveness.RGB{R: 100, G: 50, B: 20}) {
			t.Fatal("injectPulse changed its input")
		}
		maxG = max(maxG, math.Abs(out[i].Patches["p"].G/50-1))
		maxR = max(maxR, math.Abs(out[i].Patches["p"].R/100-1))
	}
	if maxG < 0.006 || maxG > 0.0075 || maxR > 0.5*maxG {
		t.Errorf("relative swing: green %.4f, red %.4f; want green about 0.007 (0.01 × the beat's peak) and red under half of it", maxG, maxR)
	}
}
