package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func init() {
	register(command{name: "eval rppg", summary: "heart-rate accuracy over a folder of patch videos with ground_truth.csv", run: runEvalRPPG})
}

type rppgRow struct {
	Subject   string  `json:"subject"`
	Truth     float64 `json:"truth_bpm"`
	Estimate  float64 `json:"estimate_bpm"`
	Error     float64 `json:"error_bpm"`
	Baseline  float64 `json:"forehead_only_bpm"`
	Coherence float64 `json:"coherence"`
	SNR       float64 `json:"snr_db"`
	Problem   string  `json:"problem,omitempty"`
}

func runEvalRPPG(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval rppg", "eval rppg [--json] DIR\n\nDIR holds ground_truth.csv (country,video,mean_hr_bpm) and COUNTRY/VIDEO_{forehead,leftcheek,rightcheek}.avi.")
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
	dir := fs.Arg(0)
	f, err := os.Open(filepath.Join(dir, "ground_truth.csv"))
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval rppg: %v\n", err)
		return exitBadInput
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) < 2 {
		fmt.Fprintf(e.stderr, "kiosk eval rppg: ground_truth.csv: want a header and rows of country,video,mean_hr_bpm (%v)\n", err)
		return exitBadInput
	}
	var rows []rppgRow
	for _, rec := range recs[1:] {
		if len(rec) < 3 {
			continue
		}
		truth, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval rppg: bad heart rate %q\n", rec[2])
			return exitBadInput
		}
		row := rppgRow{Subject: rec[0] + "/" + rec[1], Truth: truth}
		base := filepath.Join(dir, rec[0], rec[1])
		patches := []string{base + "_forehead.avi", base + "_leftcheek.avi", base + "_rightcheek.avi"}
		rep, err := estimatePatches(ctx, patches, o)
		if err != nil {
			row.Problem = err.Error()
		} else {
			row.Estimate, row.Error, row.Coherence, row.SNR = rep.BPM, rep.BPM-truth, rep.Last.Coherence, rep.SNR
		}
		if b, err := estimatePatches(ctx, patches[:1], o); err == nil {
			row.Baseline = b.BPM
		}
		rows = append(rows, row)
	}
	summary := summariseRPPG(rows)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonSafe(map[string]any{"dir": dir, "method": o.Method.String(), "fusion": o.Fusion.String(), "keyframe_notch": o.KeyframeNotch, "regress_intensity": o.RegressIntensity, "rows": rows, "summary": summary})); err != nil {
			fmt.Fprintln(e.stderr, "kiosk eval rppg: writing JSON:", err)
			return exitFailure
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subject\ttruth\testimate\terror\tSNR dB\tforehead only\terror\tcoherence\t")
	for _, r := range rows {
		if r.Problem != "" {
			fmt.Fprintf(tw, "%s\t%.1f\t-\t-\t-\t%.1f\t-\t-\t(%s)\n", r.Subject, r.Truth, r.Baseline, r.Problem)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%+.1f\t%.1f\t%.1f\t%+.1f\t%.2f\t\n", r.Subject, r.Truth, r.Estimate, r.Error, r.SNR, r.Baseline, r.Baseline-r.Truth, r.Coherence)
	}
	tw.Flush()
	keys := make([]string, 0, len(summary))
	for k := range summary {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := summary[k]
		fmt.Fprintf(e.stdout, "MAE %-14s %.2f bpm (forehead only %.2f) over %d videos\n", k, s.MAE, s.BaselineMAE, s.N)
	}
	return exitOK
}

type rppgSummary struct {
	N           int     `json:"n"`
	MAE         float64 `json:"mae_bpm"`
	BaselineMAE float64 `json:"forehead_only_mae_bpm"`
}

func summariseRPPG(rows []rppgRow) map[string]rppgSummary {
	out := map[string]rppgSummary{}
	add := func(k string, r rppgRow) {
		s := out[k]
		s.MAE = (s.MAE*float64(s.N) + math.Abs(r.Error)) / float64(s.N+1)
		s.BaselineMAE = (s.BaselineMAE*float64(s.N) + math.Abs(r.Baseline-r.Truth)) / float64(s.N+1)
		s.N++
		out[k] = s
	}
	for _, r := range rows {
		if r.Problem != "" {
			continue
		}
		add("all", r)
		add(strings.SplitN(r.Subject, "/", 2)[0], r)
	}
	return out
}
