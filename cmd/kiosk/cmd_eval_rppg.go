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
	if all, ok := rep.Summary["all"]; ok && all.MAE >= all.ConstantMAE {
		fmt.Fprintln(e.stdout, "\nThe estimate does not beat a constant guess on these files: they do not show that it measures a pulse.")
	}
	return exitOK
}
