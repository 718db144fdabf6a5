package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"kiosk/eval"
)

func init() {
	register(command{name: "eval rppg", summary: "heart-rate accuracy over a folder of patch videos with ground_truth.csv, beside a constant guess", run: runEvalRPPG})
}

func runEvalRPPG(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval rppg", "eval rppg [--json] DIR\n\nDIR holds ground_truth.csv (country,video,mean_hr_bpm) and COUNTRY/VIDEO_{forehead,leftcheek,rightcheek}.avi;\na subject is estimated from the patch videos it has.")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Bool("detection-limit", false, "also inject pulses of 0.1-2 % into every crop, at rates far from the truth, and say which amplitudes the estimate recovers")
	patchOpts := addPatchFlags(fs)
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	o, err := patchOpts()
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk eval rppg:", err)
		return exitBadInput
	}
	rep, err := eval.EvalRPPG(ctx, fs.Arg(0), o)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval rppg: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		out := struct {
			eval.RPPGReport
			Method           string `json:"method"`
			Fusion           string `json:"fusion"`
			KeyframeNotch    bool   `json:"keyframe_notch"`
			RegressIntensity bool   `json:"regress_intensity"`
		}{rep, o.Method.String(), o.Fusion.String(), o.KeyframeNotch, o.RegressIntensity}
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(e.stderr, "kiosk eval rppg: writing JSON:", err)
			return exitFailure
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "subject\tpatches\ttruth\testimate\terror\tSNR dB\tcoherence\tforehead only\terror\tconstant %.1f\t\n", rep.Constant)
	for _, r := range rep.Rows {
		patches := strings.Join(r.Patches, "+")
		fh, fhErr := "-", "-"
		if r.Forehead != 0 {
			fh, fhErr = fmt.Sprintf("%.1f", r.Forehead), fmt.Sprintf("%+.1f", r.Forehead-r.Truth)
		}
		if r.Problem != "" {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t-\t-\t-\t-\t%s\t%s\t%+.1f\t(%s)\n", r.Subject, patches, r.Truth, fh, fhErr, rep.Constant-r.Truth, r.Problem)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%+.1f\t%.1f\t%.2f\t%s\t%s\t%+.1f\t\n", r.Subject, patches, r.Truth, r.Estimate, r.Error, r.SNR, r.Coherence, fh, fhErr, rep.Constant-r.Truth)
	}
	tw.Flush()
	keys := make([]string, 0, len(rep.Summary))
	for k := range rep.Summary {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintln(e.stdout)
	for _, k := range keys {
		s := rep.Summary[k]
		fmt.Fprintf(e.stdout, "MAE %-13s %5.2f bpm over %2d videos | baseline, a constant %.1f bpm: %5.2f | forehead only: %5.2f over %d\n",
			k, s.MAE, s.N, rep.Constant, s.ConstantMAE, s.ForeheadMAE, s.ForeheadN)
	}
	if all, ok := rep.Summary["all"]; ok && all.Windows > 0 {
		fmt.Fprintf(e.stdout, "\nWindows within 3 bpm of their own subject's truth: %.1f %% of %d; of another subject's truth: %.1f %% (what these estimates score by chance)\n",
			100*all.OwnHits, all.Windows, 100*all.OtherHits)
	}
	if all, ok := rep.Summary["all"]; ok && all.MAE >= all.ConstantMAE {
		fmt.Fprintln(e.stdout, "\nThe estimate does not beat a constant guess on these files: they do not show that it measures a pulse.")
	}
	if *limit {
		rows, err := eval.DetectionLimit(ctx, fs.Arg(0), o, []float64{0.001, 0.002, 0.005, 0.01, 0.02})
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval rppg: detection limit: %v\n", err)
			return exitFailure
		}
		fmt.Fprintln(e.stdout, "\nDetection limit: a pulse added to every crop at a rate far from its truth, recovered within 3 bpm:")
		for _, r := range rows {
			fmt.Fprintf(e.stdout, "  %4.1f %% of green: %2d of %2d subjects, MAE %5.2f bpm\n", 100*r.Amplitude, r.Within3, r.N, r.MAE)
		}
	}
	return exitOK
}
