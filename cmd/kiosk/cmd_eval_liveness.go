package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "eval liveness", summary: "liveness over a folder of face videos with truth, judged as the kiosk judges: heart rate and verdict at 5 s and 8 s, BPCER and APCER beside trivial baselines", run: runEvalLiveness})
}

func runEvalLiveness(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval liveness", "eval liveness [--json] DIR\n\nDIR holds manifest.csv (file,label,group,kind,bpm,bvp,frame_times; see docs/liveness.md), or is a recorder's folder\n(BVP.csv, frames_timestamp.csv and .avi videos, such as ../shared/data/rppg-faces). Every video runs through the\ncheck-in's own liveness window; see kiosk gen-variants and kiosk gen-sweep for sets to run it on.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	inputSize := fs.Int("input-size", 320, "longest side frames are scaled to for face detection (as kiosk run)")
	nominal := fs.Bool("nominal-times", false, "feed frames at i/fps even where the manifest gives their capture times")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	entries, err := eval.LoadLivenessSet(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval liveness: %v\n", err)
		return exitBadInput
	}
	det, err := models.LoadDetector(cfg.modelsDir, models.DetectorOptions{InputSize: *inputSize})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval liveness: %v\n", err)
		return exitFailure
	}
	defer det.Close()
	pad, err := models.LoadPAD(cfg.modelsDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval liveness: %v\n", err)
		return exitFailure
	}
	defer pad.Close()
	o := eval.LivenessEvalOptions{Matcher: models.NewMatcher(det, nil, pad), NominalTimes: *nominal}
	if !*quiet {
		o.Progress = func(done, total int, r eval.LivenessRow) {
			what := string(r.Outcome)
			if r.Problem != "" {
				what = "could not be evaluated: " + r.Problem
			}
			fmt.Fprintf(e.stderr, "[%d/%d] %s: %s\n", done, total, r.ShortName(), what)
		}
	}
	rep, err := eval.EvalLiveness(ctx, entries, o)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval liveness: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(e.stderr, "kiosk eval liveness: writing JSON:", err)
			return exitFailure
		}
		return evalExit(rep)
	}
	printLivenessRows(e.stdout, rep.Rows)
	fmt.Fprintln(e.stdout)
	groups := make([]string, 0, len(rep.ByGroup))
	for g := range rep.ByGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		printLivenessTotals(e.stdout, g, rep.ByGroup[g])
	}
	printLivenessTotals(e.stdout, "all", rep.At)
	if rep.Problems > 0 {
		fmt.Fprintf(e.stdout, "%d videos could not be evaluated (see their rows); they count in no rate.\n", rep.Problems)
	}
	return evalExit(rep)
}

// evalExit is the command's status: bad input when no video could be
// evaluated at all (every row a problem), so a script sees the failure.
func evalExit(rep eval.LivenessReport) int {
	if rep.Problems > 0 && rep.Problems == len(rep.Rows) {
		return exitBadInput
	}
	return exitOK
}

// printLivenessRows prints one line per video: the window at 5 s and 8 s
// beside the truth, and the kiosk's outcome.
func printLivenessRows(w io.Writer, rows []eval.LivenessRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "video\tlabel\t| 5 s:\tverdict\tbpm\ttruth\terror\tpulse coh\t| 8 s:\tverdict\tbpm\ttruth\terror\tpulse coh\t| kiosk:\toutcome\tafter\t")
	for _, r := range rows {
		if r.Problem != "" {
			fmt.Fprintf(tw, "%s\t%s\t(%s)\t\n", r.ShortName(), r.Label, r.Problem)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t", r.ShortName(), r.Label)
		for _, p := range r.At {
			if p == nil {
				fmt.Fprint(tw, "|\t-\t-\t-\t-\t-\t")
				continue
			}
			fmt.Fprintf(tw, "|\t%s\t%s\t%s\t%s\t%.2f\t", p.Verdict, num(p.BPM, "%.1f"), num(p.Truth, "%.1f"), num(p.Error, "%+.1f"), float64(p.PulseCoherence))
		}
		if !r.Opened {
			fmt.Fprintf(tw, "|\tno window\t-\t%s\n", topPrompt(r.Quality))
			continue
		}
		after := num(eval.Num(r.OutcomeAfter), "%.1f s")
		if !r.Decided {
			after += " (video ended)"
		}
		fmt.Fprintf(tw, "|\t%s\t%s\t\n", r.Outcome, after)
	}
	tw.Flush()
}

// printLivenessTotals prints a group's rates at both decision times beside
// the trivial baselines.
func printLivenessTotals(w io.Writer, name string, at []eval.PointSummary) {
	for _, s := range at {
		gated := ""
		if s.LiveNoWindow > 0 {
			gated = fmt.Sprintf(" (%d held back by the quality gate: failures to acquire, not in BPCER)", s.LiveNoWindow)
		}
		referred := ""
		if s.LiveReferred > 0 {
			referred = fmt.Sprintf(", sent to staff %d", s.LiveReferred)
		}
		if n := s.LiveUndecided + s.AttackUndecided; n > 0 {
			gated += fmt.Sprintf(" (%d ended before this decision time: in no rate)", n)
		}
		fmt.Fprintf(w, "%-12s at %.0f s: live %d%s%s, turned away %d: BPCER %s | attacks %d, accepted %d: APCER %s",
			name, s.Age, s.Live, gated, referred, s.LiveTurnedAway, pctNum(s.BPCER), s.Attacks, s.AttackAccepted, pctNum(s.APCER))
		for _, k := range s.Kinds() {
			fmt.Fprintf(w, " (%s %s)", k, pctNum(s.APCERByKind[k]))
		}
		if s.AttackReferred > 0 {
			fmt.Fprintf(w, ", sent to staff %d", s.AttackReferred)
		}
		fmt.Fprintf(w, "\n%-12s           baselines: always live BPCER 0 %%, APCER %s; always not live BPCER %s, APCER 0 %%; anti-spoof model alone BPCER %s, APCER %s\n",
			"", pctNum(one(s.Attacks)), pctNum(one(s.Live)), pctNum(s.PADBPCER), pctNum(s.PADAPCER))
		if s.HRN > 0 {
			fmt.Fprintf(w, "%-12s           heart rate: MAE %.2f bpm over %d live videos, %d within 3 bpm | baseline, a constant %.1f bpm: MAE %.2f, %d within 3 bpm\n",
				"", float64(s.MAE), s.HRN, s.Within3, float64(s.Constant), float64(s.ConstantMAE), s.ConstantWithin3)
		}
	}
}

// one is 1 when there are any, NaN when none (a rate over nothing).
func one(n int) eval.Num {
	if n == 0 {
		return eval.NaN()
	}
	return 1
}

func pctNum(v eval.Num) string {
	if !v.Known() {
		return "-"
	}
	return fmt.Sprintf("%.1f %%", 100*v)
}

func num(v eval.Num, f string) string {
	if !v.Known() {
		return "-"
	}
	return fmt.Sprintf(f, float64(v))
}

// topPrompt is the quality gate's most frequent prompt.
func topPrompt(q map[string]int) string {
	best, n := "", 0
	for k, v := range q {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	if best == "" {
		return "-"
	}
	return fmt.Sprintf("gate: %q ×%d", best, n)
}
