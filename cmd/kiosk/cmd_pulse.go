package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
)

func init() {
	register(command{name: "pulse", summary: "heart rate from skin-patch videos (--whole-frame: each file is one patch of the same moment)", run: runPulse})
	register(command{name: "eval rppg", summary: "heart-rate accuracy over a folder of patch videos with ground_truth.csv", run: runEvalRPPG})
}

// pulseReport is the estimate for one recording.
type pulseReport struct {
	Files   []string `json:"files"`
	Frames  int      `json:"frames"`
	FPS     float64  `json:"fps"`
	Seconds float64  `json:"seconds"`
	// BPM is the SNR-weighted median of the estimates over sliding windows,
	// the figure to compare with a mean heart rate.
	BPM     float64 `json:"bpm"`
	Windows int     `json:"windows"`
	// Last is the final window's full result.
	Last liveness.Result `json:"last"`
}

// estimatePatches reads the files frame by frame in lockstep, each file's
// whole-frame mean colour standing for one skin patch, and estimates the
// heart rate over sliding windows.
func estimatePatches(ctx context.Context, files []string, window time.Duration, method liveness.Method, fusion liveness.Fusion) (pulseReport, error) {
	rep := pulseReport{Files: files}
	var srcs []*capture.File
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	start := time.Unix(0, 0)
	for _, f := range files {
		s, err := capture.OpenFile(f, capture.FileOptions{Start: start})
		if err != nil {
			return rep, err
		}
		srcs = append(srcs, s)
	}
	rep.FPS = srcs[0].FPS()
	est := liveness.NewEstimator(liveness.Options{Window: window, MinWindow: window, Method: method, Fusion: fusion})
	step := int(math.Max(1, 2*rep.FPS)) // re-estimate every 2 s
	var bpms, weights []float64
	for {
		s := liveness.Sample{Patches: map[string]liveness.RGB{}, Motion: -1}
		ended := false
		for i, src := range srcs {
			fr, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				ended = true
				break
			}
			if err != nil {
				return rep, err
			}
			if i == 0 {
				s.Time = fr.Time
			}
			s.Patches[filepath.Base(files[i])] = meanBGR(fr)
			fr.Release()
		}
		if ended {
			break
		}
		est.Add(s)
		rep.Frames++
		if rep.Frames%step == 0 {
			if r := est.Estimate(); r.Enough {
				bpms = append(bpms, r.BPM)
				weights = append(weights, math.Pow(10, math.Max(r.SNR, -20)/10))
			}
		}
	}
	if rep.Frames == 0 {
		return rep, errors.New("no frames decoded")
	}
	rep.Seconds = float64(rep.Frames) / rep.FPS
	rep.Last = est.Estimate()
	rep.Windows = len(bpms)
	if len(bpms) == 0 {
		return rep, fmt.Errorf("not enough signal: %.1f s of video, %s", rep.Seconds, rep.Last.Reason)
	}
	rep.BPM = weightedMedian(bpms, weights)
	return rep, nil
}

// weightedMedian is the value below and above which half the weight lies:
// windows with a clear pulse count more than noisy stretches, and a few
// wild windows cannot move it.
func weightedMedian(v, w []float64) float64 {
	idx := make([]int, len(v))
	var total float64
	for i := range idx {
		idx[i] = i
		total += w[i]
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	var acc float64
	for _, i := range idx {
		acc += w[i]
		if acc >= total/2 {
			return v[i]
		}
	}
	return v[idx[len(idx)-1]]
}

func meanBGR(f *capture.Frame) liveness.RGB {
	var b, g, r float64
	for i := 0; i+2 < len(f.Pix); i += 3 {
		b += float64(f.Pix[i])
		g += float64(f.Pix[i+1])
		r += float64(f.Pix[i+2])
	}
	n := float64(len(f.Pix) / 3)
	return liveness.RGB{R: r / n, G: g / n, B: b / n}
}

func parseMethod(s string) (liveness.Method, error) {
	switch strings.ToUpper(s) {
	case "POS":
		return liveness.POS, nil
	case "CHROM":
		return liveness.CHROM, nil
	}
	return 0, fmt.Errorf("unknown --method %q: want POS or CHROM", s)
}

func runPulse(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pulse", "pulse --whole-frame [--json] FILE...\n\nEach file is one skin patch recorded at the same moment (e.g. forehead and cheeks).")
	asJSON := fs.Bool("json", false, "print JSON")
	whole := fs.Bool("whole-frame", false, "treat each file's whole frame as one skin patch (required: face videos go to 'kiosk analyze')")
	window := fs.Duration("window", 10*time.Second, "analysis window")
	methodName := fs.String("method", "POS", "POS or CHROM")
	fusionName := fs.String("fusion", "adaptive", "how patches combine: adaptive, coherent, spectral or geometric")
	if ok, code := parseArgs(fs, args, atLeast(1)); !ok {
		return code
	}
	if !*whole {
		fs.Usage()
		return exitBadInput
	}
	method, err := parseMethod(*methodName)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk pulse:", err)
		return exitBadInput
	}
	fusion, err := parseFusion(*fusionName)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk pulse:", err)
		return exitBadInput
	}
	rep, err := estimatePatches(ctx, fs.Args(), *window, method, fusion)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk pulse: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(rep)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%.1f bpm (median of %d windows of %v over %.0f s at %.0f fps); last window: %.1f bpm, SNR %.1f dB, coherence %.2f\n",
		rep.BPM, rep.Windows, *window, rep.Seconds, rep.FPS, rep.Last.BPM, rep.Last.SNR, rep.Last.Coherence)
	return exitOK
}

func parseFusion(s string) (liveness.Fusion, error) {
	switch strings.ToLower(s) {
	case "adaptive":
		return liveness.Adaptive, nil
	case "coherent":
		return liveness.Coherent, nil
	case "spectral":
		return liveness.SpectralSum, nil
	case "geometric":
		return liveness.GeometricMean, nil
	}
	return 0, fmt.Errorf("unknown --fusion %q: want adaptive, coherent, spectral or geometric", s)
}

type rppgRow struct {
	Subject   string  `json:"subject"`
	Truth     float64 `json:"truth_bpm"`
	Estimate  float64 `json:"estimate_bpm"`
	Error     float64 `json:"error_bpm"`
	Baseline  float64 `json:"forehead_only_bpm"`
	Coherence float64 `json:"coherence"`
	Problem   string  `json:"problem,omitempty"`
}

func runEvalRPPG(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval rppg", "eval rppg [--json] DIR\n\nDIR holds ground_truth.csv (country,video,mean_hr_bpm) and COUNTRY/VIDEO_{forehead,leftcheek,rightcheek}.avi.")
	asJSON := fs.Bool("json", false, "print JSON")
	window := fs.Duration("window", 10*time.Second, "analysis window")
	methodName := fs.String("method", "POS", "POS or CHROM")
	fusionName := fs.String("fusion", "adaptive", "how patches combine: adaptive, coherent, spectral or geometric")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	method, err := parseMethod(*methodName)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk eval rppg:", err)
		return exitBadInput
	}
	fusion, err := parseFusion(*fusionName)
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
		rep, err := estimatePatches(ctx, patches, *window, method, fusion)
		if err != nil {
			row.Problem = err.Error()
		} else {
			row.Estimate, row.Error, row.Coherence = rep.BPM, rep.BPM-truth, rep.Last.Coherence
		}
		if b, err := estimatePatches(ctx, patches[:1], *window, method, fusion); err == nil {
			row.Baseline = b.BPM
		}
		rows = append(rows, row)
	}
	summary := summariseRPPG(rows)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"dir": dir, "method": method.String(), "rows": rows, "summary": summary})
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "subject\ttruth\testimate\terror\tforehead only\terror\tcoherence\t")
	for _, r := range rows {
		if r.Problem != "" {
			fmt.Fprintf(tw, "%s\t%.1f\t-\t-\t%.1f\t-\t-\t(%s)\n", r.Subject, r.Truth, r.Baseline, r.Problem)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%+.1f\t%.1f\t%+.1f\t%.2f\t\n", r.Subject, r.Truth, r.Estimate, r.Error, r.Baseline, r.Baseline-r.Truth, r.Coherence)
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
