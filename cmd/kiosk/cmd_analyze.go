package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "analyze", summary: "liveness on a face video, judged as the kiosk judges: heart rate, signals, the verdict and its reason", run: runAnalyze})
}

func runAnalyze(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "analyze", "analyze [--json] [--seconds N] VIDEO\n\nThe video goes through the kiosk's own liveness path: the quality gate, the pulse window and its decision times.\nExit status 0 when analysed (whatever the verdict), 2 for an unreadable video.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	seconds := fs.Float64("seconds", 0, "judge as the kiosk would after the first N seconds of video (0: where the kiosk decides, or the end)")
	inputSize := fs.Int("input-size", 320, "longest side frames are scaled to for face detection (as kiosk run)")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	if *seconds < 0 || math.IsNaN(*seconds) {
		fmt.Fprintf(e.stderr, "kiosk analyze: --seconds %v: want 0 or more\n", *seconds)
		return exitBadInput
	}
	det, err := models.LoadDetector(cfg.modelsDir, models.DetectorOptions{InputSize: *inputSize})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
		return exitFailure
	}
	defer det.Close()
	pad, err := models.LoadPAD(cfg.modelsDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
		return exitFailure
	}
	defer pad.Close()
	a, err := eval.AnalyzeVideo(ctx, fs.Arg(0), eval.AnalyzeOptions{Matcher: models.NewMatcher(det, nil, pad), Seconds: *seconds})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(a); err != nil {
			fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s: %d frames (%.1f s at %.0f fps), one face in %d\n", a.File, a.Frames, a.Seconds, a.FPS, a.FaceFrames)
	if !a.Opened {
		fmt.Fprintln(e.stdout, "verdict: none: the quality gate never passed three frames in a row, so the kiosk would not start the pulse window")
		printQuality(e, a.Quality)
		return exitOK
	}
	when := "the kiosk's decision"
	if !a.Final {
		when = "not final: the window was still open"
	}
	fmt.Fprintf(e.stdout, "verdict after %.1f s of window (%s): %s: %s\n", a.DecidedAfter, when, a.Decision.Verdict, a.Decision.Reason)
	for _, s := range a.Decision.Signals {
		state := "fail"
		if !s.Used {
			state = "absent"
		} else if s.Pass {
			state = "pass"
		}
		fmt.Fprintf(e.stdout, "  %-15s %8.3f (threshold %.2f) %s\n", s.Name, s.Value, s.Threshold, state)
	}
	r := a.Decision.RPPG
	fmt.Fprintf(e.stdout, "  heart rate %.1f bpm, SNR %.1f dB, coherence %.2f, agreement %.2f\n", r.BPM, r.SNR, r.Coherence, r.Agreement)
	printQuality(e, a.Quality)
	return exitOK
}

// printQuality lists the quality gate's prompts while the window was shut.
func printQuality(e *env, q map[string]int) {
	if len(q) == 0 {
		return
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return q[keys[i]] > q[keys[j]] })
	fmt.Fprintln(e.stdout, "  frames the quality gate held back:")
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "    %5d  %s\n", q[k], k)
	}
}
