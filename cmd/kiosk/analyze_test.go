package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kiosk/eval"
)

// genTruth is the generated clip's mean heart rate over its first seconds:
// capture.Synthetic varies the rate by ±3 % at 0.1 Hz.
func genTruth(bpm, fps, seconds float64) float64 {
	var sum float64
	n := int(seconds * fps)
	for i := 0; i < n; i++ {
		sum += bpm * (1 + 0.03*math.Sin(2*math.Pi*0.1*float64(i)/fps))
	}
	return sum / float64(n)
}

type analyzeOut struct {
	BPM          float64 `json:"bpm"`
	Final        bool    `json:"final"`
	DecidedAfter float64 `json:"decided_after_s"`
	Decision     struct {
		Verdict string `json:"verdict"`
		Reason  string `json:"reason"`
	} `json:"decision"`
}

func genAndAnalyze(t *testing.T, vars map[string]string, seconds, analyse float64, extra ...string) analyzeOut {
	t.Helper()
	face := filepath.Join(sharedData(t, "spoof"), "image_T1.jpg")
	clip := filepath.Join(t.TempDir(), "clip.avi")
	// 640×480, a kiosk camera's size: at 480×360 the patches hold too few
	// pixels for a 1 % pulse in 5 s (coherence drops to about 0.22).
	args := append([]string{"gen-clip", "--out", clip, "--seconds", fmt.Sprint(seconds), "--face", face}, extra...)
	if _, errs, code := kiosk(t, vars, args...); code != exitOK {
		t.Fatalf("gen-clip %v: exit %d: %s", extra, code, errs)
	}
	out, errs, code := kiosk(t, vars, "analyze", "--json", "--seconds", fmt.Sprint(analyse), clip)
	if code != exitOK {
		t.Fatalf("analyze: exit %d: %s", code, errs)
	}
	var a analyzeOut
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}
	return a
}

// TestAnalyzeGeneratedClips is the video-level acceptance: a real photo whose
// skin carries a known pulse, with head motion and sensor noise, written
// losslessly, gives the heart rate within 2 bpm from 5 s of video and is
// judged live; a still photo and a flickering scene are judged not live.
func TestAnalyzeGeneratedClips(t *testing.T) {
	vars := baseVars(t)
	for _, fps := range []float64{30, 15} {
		for _, bpm := range []float64{50, 72, 100, 140} {
			t.Run(fmt.Sprintf("%.0ffps_%.0fbpm", fps, bpm), func(t *testing.T) {
				t.Parallel()
				// The kiosk decides after 5 s of window; --seconds 0
				// analyses until it does.
				a := genAndAnalyze(t, vars, 6, 0, "--fps", fmt.Sprint(fps), "--bpm", fmt.Sprint(bpm))
				truth := genTruth(bpm, fps, 5)
				if math.Abs(a.BPM-truth) > 2 {
					t.Errorf("estimate %.1f bpm, truth %.1f", a.BPM, truth)
				}
				if a.Decision.Verdict != "live" || !a.Final || a.DecidedAfter > 5.5 {
					t.Errorf("verdict %s (%s), final %v after %.1f s; want live at the first decision time, 5 s", a.Decision.Verdict, a.Decision.Reason, a.Final, a.DecidedAfter)
				}
			})
		}
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"still photo", nil},
		{"global flicker", []string{"--flicker-hz", "1.2", "--flicker-amplitude", "0.02"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := genAndAnalyze(t, vars, 9, 9, tc.extra...)
			if a.Decision.Verdict != "not_live" {
				t.Errorf("verdict %s (%s); want not_live", a.Decision.Verdict, a.Decision.Reason)
			}
		})
	}
}

func TestAnalyzeBadVideo(t *testing.T) {
	vars := baseVars(t)
	bad := filepath.Join(t.TempDir(), "bad.avi")
	os.WriteFile(bad, []byte("not a video"), 0o600)
	_, errs, code := kiosk(t, vars, "analyze", bad)
	if code != exitBadInput || !strings.Contains(errs, "cannot decode") {
		t.Errorf("analyze on garbage: exit %d, %q; want 2 and a clear error", code, errs)
	}
}

// TestEvalRPPGPrintsEverySubject runs the real patch videos: one row per
// subject of ground_truth.csv (from the patches each has), the MAE per
// country, and beside it the constant-guess baseline.
func TestEvalRPPGPrintsEverySubject(t *testing.T) {
	dir := sharedData(t, "rppg-patches")
	truth, err := os.ReadFile(filepath.Join(dir, "ground_truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	subjects := strings.Count(strings.TrimSpace(string(truth)), "\n")
	out, errs, code := kiosk(t, map[string]string{}, "eval", "rppg", "--json", dir)
	if code != exitOK {
		t.Fatalf("eval rppg: exit %d: %s", code, errs)
	}
	var rep eval.RPPGReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != subjects {
		t.Fatalf("%d rows; want the %d subjects of ground_truth.csv", len(rep.Rows), subjects)
	}
	for _, r := range rep.Rows {
		if r.Problem != "" || r.Estimate < 42 || r.Estimate > 240 || len(r.Patches) < 2 {
			t.Errorf("%s: estimate %.1f from %v, problem %q", r.Subject, r.Estimate, r.Patches, r.Problem)
		}
	}
	for _, k := range []string{"all", "India", "Sierra_Leone"} {
		if s, ok := rep.Summary[k]; !ok || s.N == 0 || s.ConstantMAE <= 0 {
			t.Errorf("no MAE with its baseline for %s: %+v", k, s)
		}
	}
	if rep.Constant < 66 || rep.Constant > 86 {
		t.Errorf("constant guess %.1f bpm; want the median truth (between 66 and 86)", rep.Constant)
	}
	// Regression guard, not a claim: the MAE was 6.71 bpm over 13 subjects
	// when last measured, against 4.53 for the constant guess.
	if mae := rep.Summary["all"].MAE; mae > 8 {
		t.Errorf("MAE %.2f bpm; it was 6.71 when this test was last measured", mae)
	}
	text, _, _ := kiosk(t, map[string]string{}, "eval", "rppg", dir)
	if !strings.Contains(text, "baseline, a constant") {
		t.Errorf("the table lacks the baseline:\n%s", text)
	}
}

// TestEvalLivenessCommand: gen-sweep writes a set with its manifest, eval
// liveness judges it as the kiosk does and prints the verdicts with the
// totals and their baselines; a folder with no manifest is refused with
// what to do.
func TestEvalLivenessCommand(t *testing.T) {
	vars := map[string]string{}
	dir := filepath.Join(t.TempDir(), "set")
	face := filepath.Join(sharedData(t, "faces/pairs"), "img20.jpg")
	if _, errs, code := kiosk(t, vars, "gen-sweep", "--out", dir, "--face", face, "--fps", "15", "--kinds", "steady", "--seconds", "6.5"); code != exitOK {
		t.Fatalf("gen-sweep: exit %d: %s", code, errs)
	}
	out, errs, code := kiosk(t, vars, "eval", "liveness", "--quiet", dir)
	if code != exitOK {
		t.Fatalf("eval liveness: exit %d: %s", code, errs)
	}
	for _, want := range []string{"15fps-steady", "live", "BPCER 0.0 %", "always live BPCER 0 %", "anti-spoof model alone", "baseline, a constant"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval liveness output lacks %q:\n%s", want, out)
		}
	}
	empty := t.TempDir()
	if _, errs, code := kiosk(t, vars, "eval", "liveness", empty); code != exitBadInput || !strings.Contains(errs, "manifest.csv") {
		t.Errorf("eval liveness on an empty folder: exit %d, %q; want %d naming the manifest", code, errs, exitBadInput)
	}
	// A manifest whose every video is missing: each row says so, and the
	// command fails rather than print rates over nothing.
	gone := t.TempDir()
	if err := os.WriteFile(filepath.Join(gone, "manifest.csv"), []byte("file,label\nmissing.avi,live\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := kiosk(t, vars, "eval", "liveness", gone); code != exitBadInput || !strings.Contains(errs, "could not be evaluated") {
		t.Errorf("eval liveness with no readable video: exit %d, %q %q; want %d and the problem named", code, out, errs, exitBadInput)
	}
}
