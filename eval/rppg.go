package eval

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// PatchNames are the skin-patch crops a subject may have, in the order
// they are read: forehead first (the single-patch comparison uses it).
var PatchNames = []string{"forehead", "leftcheek", "rightcheek"}

// RPPGRow is one subject of a heart-rate evaluation.
type RPPGRow struct {
	Subject string `json:"subject"` // COUNTRY/VIDEO
	// Patches names the crops the subject has (some have two of three).
	Patches  []string `json:"patches"`
	Truth    float64  `json:"truth_bpm"`
	Estimate float64  `json:"estimate_bpm"`
	Error    float64  `json:"error_bpm"`
	// Forehead is the forehead crop's estimate alone (0 when the subject
	// has no forehead crop or it gave none): does fusing patches help?
	Forehead  float64 `json:"forehead_only_bpm,omitempty"`
	Coherence float64 `json:"coherence"`
	SNR       float64 `json:"snr_db"`
	// Problem says why there is no estimate; the row then counts in no MAE.
	Problem string `json:"problem,omitempty"`
	// WindowBPMs are the sliding windows' estimates the median came from.
	WindowBPMs []float64 `json:"window_bpms,omitempty"`
}

// RPPGSummary is the mean absolute error over a group of subjects, beside
// what trivial methods score on the same subjects.
type RPPGSummary struct {
	N   int     `json:"n"`
	MAE float64 `json:"mae_bpm"`
	// ConstantMAE is the error of guessing Constant for everyone: the
	// baseline an estimate must beat to show it measures a pulse.
	ConstantMAE float64 `json:"constant_guess_mae_bpm"`
	// ForeheadN and ForeheadMAE are the forehead crop alone, over the
	// subjects that have one with an estimate.
	ForeheadN   int     `json:"forehead_n"`
	ForeheadMAE float64 `json:"forehead_only_mae_bpm"`
	// OwnHits is the share of all sliding windows whose estimate lies
	// within 3 bpm of their own subject's truth; OtherHits the share within
	// 3 bpm of another subject's truth, averaged over the others: what the
	// same estimates score by chance. Estimates that follow a pulse hit
	// their own truth more often than the others'.
	Windows   int     `json:"windows"`
	OwnHits   float64 `json:"own_truth_hits"`
	OtherHits float64 `json:"other_truth_hits"`
}

// RPPGReport is a heart-rate evaluation over a folder.
type RPPGReport struct {
	Dir  string    `json:"dir"`
	Rows []RPPGRow `json:"rows"`
	// Constant is the trivial guess: the median of every subject's truth.
	Constant float64 `json:"constant_guess_bpm"`
	// Summary is keyed "all" and by country.
	Summary map[string]RPPGSummary `json:"summary"`
}

// EvalRPPG estimates every subject of dir's ground_truth.csv (columns
// country,video,mean_hr_bpm; patches in COUNTRY/VIDEO_{forehead,leftcheek,
// rightcheek}.avi) from the patch crops it has, and summarises the errors
// per country beside the constant-guess and forehead-only baselines.
func EvalRPPG(ctx context.Context, dir string, o PatchOptions) (RPPGReport, error) {
	rep := RPPGReport{Dir: dir}
	truths, err := readRPPGTruth(filepath.Join(dir, "ground_truth.csv"))
	if err != nil {
		return rep, err
	}
	for _, tr := range truths {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		row := RPPGRow{Subject: tr.country + "/" + tr.video, Truth: tr.bpm}
		var files []string
		for _, p := range PatchNames {
			f := filepath.Join(dir, tr.country, tr.video+"_"+p+".avi")
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
				row.Patches = append(row.Patches, p)
			}
		}
		if len(files) == 0 {
			row.Problem = "no patch videos"
			rep.Rows = append(rep.Rows, row)
			continue
		}
		r, err := EstimatePatches(ctx, files, o)
		if err != nil {
			row.Problem = err.Error()
		} else {
			row.Estimate, row.Error, row.Coherence, row.SNR = r.BPM, r.BPM-tr.bpm, r.Last.Coherence, r.SNR
			row.WindowBPMs = r.WindowBPMs
		}
		if row.Patches[0] == "forehead" {
			if len(files) == 1 && err == nil {
				row.Forehead = r.BPM
			} else if f, err := EstimatePatches(ctx, files[:1], o); err == nil {
				row.Forehead = f.BPM
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Constant, rep.Summary = summariseRPPG(rep.Rows)
	return rep, nil
}

type rppgTruth struct {
	country, video string
	bpm            float64
}

func readRPPGTruth(path string) ([]rppgTruth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%s: want a header and rows of country,video,mean_hr_bpm", path)
	}
	var out []rppgTruth
	for i, rec := range recs[1:] {
		if len(rec) < 3 {
			return nil, fmt.Errorf("%s line %d: want country,video,mean_hr_bpm", path, i+2)
		}
		bpm, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil || bpm <= 0 || math.IsInf(bpm, 0) {
			return nil, fmt.Errorf("%s line %d: bad heart rate %q", path, i+2, rec[2])
		}
		country, video := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if country == "" || video == "" || strings.ContainsAny(country+video, `/\`) || country == ".." || video == ".." {
			return nil, fmt.Errorf("%s line %d: bad subject %q/%q", path, i+2, rec[0], rec[1])
		}
		out = append(out, rppgTruth{country: country, video: video, bpm: bpm})
	}
	return out, nil
}

// errNoValues is median's error for no values.
var errNoValues = errors.New("no values")

func median(v []float64) (float64, error) {
	if len(v) == 0 {
		return 0, errNoValues
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2, nil
	}
	return s[len(s)/2], nil
}

// summariseRPPG returns the constant guess (the median truth) and the
// errors per country and over all subjects with an estimate.
func summariseRPPG(rows []RPPGRow) (float64, map[string]RPPGSummary) {
	var truths []float64
	for _, r := range rows {
		truths = append(truths, r.Truth)
	}
	guess, _ := median(truths)
	out := map[string]RPPGSummary{}
	add := func(k string, r RPPGRow) {
		s := out[k]
		s.MAE = (s.MAE*float64(s.N) + math.Abs(r.Error)) / float64(s.N+1)
		s.ConstantMAE = (s.ConstantMAE*float64(s.N) + math.Abs(guess-r.Truth)) / float64(s.N+1)
		s.N++
		if r.Forehead != 0 {
			s.ForeheadMAE = (s.ForeheadMAE*float64(s.ForeheadN) + math.Abs(r.Forehead-r.Truth)) / float64(s.ForeheadN+1)
			s.ForeheadN++
		}
		out[k] = s
	}
	for _, r := range rows {
		if r.Problem != "" {
			continue
		}
		add("all", r)
		add(strings.SplitN(r.Subject, "/", 2)[0], r)
	}
	for k, s := range out {
		s.Windows, s.OwnHits, s.OtherHits = windowHits(rows, func(r RPPGRow) bool {
			return k == "all" || strings.SplitN(r.Subject, "/", 2)[0] == k
		})
		out[k] = s
	}
	return guess, out
}

// hitWidth is how close, in bpm, a window's estimate must be to a truth
// to count as hitting it.
const hitWidth = 3

// windowHits is RPPGSummary's window test over the rows in the group:
// how many windows, the share within hitWidth of their own subject's truth,
// and the share within hitWidth of the other subjects' truths (all of
// them, not only the group's), averaged over those subjects.
func windowHits(rows []RPPGRow, in func(RPPGRow) bool) (n int, own, other float64) {
	var ownHits, otherHits, otherN float64
	for i, r := range rows {
		if r.Problem != "" || !in(r) {
			continue
		}
		for _, b := range r.WindowBPMs {
			n++
			if math.Abs(b-r.Truth) <= hitWidth {
				ownHits++
			}
			for j, o := range rows {
				if j == i {
					continue
				}
				otherN++
				if math.Abs(b-o.Truth) <= hitWidth {
					otherHits++
				}
			}
		}
	}
	if n == 0 || otherN == 0 {
		return n, 0, 0
	}
	return n, ownHits / float64(n), otherHits / otherN
}
