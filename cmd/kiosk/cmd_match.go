package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "match", summary: "compare the faces in two photos: score, decision (match, refer, no_match) and bands", run: runMatch})
	register(command{name: "eval fusion", summary: "one live frame vs several fused, on generated clips of a labelled folder's photos", run: runEvalFusion})
	register(command{name: "eval faces", summary: "verification accuracy over a labelled folder (identity sub-folders or master.csv): ROC, three-outcome rates, groups, reference gate", run: runEvalFaces})
}

// faceModels loads the detector and the named manifest embedding model
// from the verified cache.
func faceModels(dir, faceModel string) (*models.Matcher, func(), error) {
	det, err := models.LoadDetector(dir, models.DetectorOptions{})
	if err != nil {
		return nil, nil, err
	}
	emb, err := models.LoadFaceEmbedder(dir, faceModel)
	if err != nil {
		det.Close()
		return nil, nil, err
	}
	return models.NewMatcher(det, emb, nil), func() { emb.Close(); det.Close() }, nil
}

// readImage loads and decodes a photo in memory, with the bomb guard.
func readImage(path string) (models.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return models.Image{}, err
	}
	return models.DecodeImage(data)
}

func readReference(m *models.Matcher, path string) (models.Template, error) {
	t, _, err := readReferenceChecked(m, path)
	return t, err
}

// readReferenceChecked embeds a photo's single face and runs the
// reference gate over it; an unfit photo is still embedded (the check says
// why the kiosk would refuse it).
func readReferenceChecked(m *models.Matcher, path string) (models.Template, models.ReferenceCheck, error) {
	img, err := readImage(path)
	if err != nil {
		return models.Template{}, models.ReferenceCheck{}, err
	}
	t, face, err := m.Reference(img)
	if err != nil {
		return models.Template{}, models.ReferenceCheck{}, err
	}
	c, err := models.AssessReference(img, []models.Face{face}, m.Gate())
	if err != nil {
		t.Wipe()
		return models.Template{}, c, err
	}
	return t, c, nil
}

// addModelFlags registers --face-model and --bands: which manifest
// embedding model to use, and bands other than its calibration.
func addModelFlags(fs *flag.FlagSet) (faceModel, bands *string) {
	faceModel = fs.String("face-model", models.FeatureModel, fmt.Sprintf("the manifest's embedding model to use (one of %v)", models.Embedders()))
	bands = fs.String("bands", "", "FAIL,PASS score edges instead of the model's calibration (for evaluation; the kiosk takes them from its settings)")
	return faceModel, bands
}

// bandsFor is the model's calibration, or the --bands flag's value.
func bandsFor(m *models.Matcher, flagValue string) (models.Bands, error) {
	if flagValue == "" {
		return m.Bands, nil
	}
	f, p, ok := strings.Cut(flagValue, ",")
	fail, err1 := strconv.ParseFloat(strings.TrimSpace(f), 32)
	pass, err2 := strconv.ParseFloat(strings.TrimSpace(p), 32)
	b := models.Bands{Fail: float32(fail), Pass: float32(pass)}
	if !ok || err1 != nil || err2 != nil || !b.Calibrated() {
		return models.Bands{}, fmt.Errorf("bad --bands %q: want FAIL,PASS, two cosine similarities with FAIL ≤ PASS", flagValue)
	}
	return b, nil
}

// matchReport is what kiosk match --json prints: the decision's fields
// (score, decision, match, threshold, fail_edge), the model, and the
// reference gate's verdict on each photo.
type matchReport struct {
	models.Decision
	Model      string          `json:"model"`
	Calibrated bool            `json:"calibrated"`
	References [2]photoVerdict `json:"references"`
}

type photoVerdict struct {
	Photo    string                    `json:"photo"`
	Fit      bool                      `json:"fit"`
	Problems []models.ReferenceProblem `json:"problems,omitempty"`
}

func runMatch(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "match", "match [--json] [--face-model FILE] [--bands FAIL,PASS] PHOTO_A PHOTO_B\n\nEach photo must show exactly one face. The decision is match (auto-pass), refer (a member of staff decides) or no_match. Exit 0 when compared, 2 on unusable input.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	faceModel, bandsFlag := addModelFlags(fs)
	if ok, code := parseArgs(fs, args, exactly(2)); !ok {
		return code
	}
	m, closeModels, err := faceModels(cfg.modelsDir, *faceModel)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk match: %v\n", err)
		return exitFailure
	}
	defer closeModels()
	bands, err := bandsFor(m, *bandsFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk match: %v\n", err)
		return exitBadInput
	}
	rep := matchReport{Model: m.Emb.Model(), Calibrated: bands.Calibrated()}
	var ts [2]models.Template
	for i, p := range fs.Args() {
		var c models.ReferenceCheck
		if ts[i], c, err = readReferenceChecked(m, p); err != nil {
			fmt.Fprintf(e.stderr, "kiosk match: %s: %v\n", p, err)
			return exitBadInput
		}
		defer ts[i].Wipe()
		rep.References[i] = photoVerdict{Photo: p, Fit: c.OK(), Problems: c.Problems}
	}
	rep.Decision = bands.Decide(ts[0].Similarity(ts[1]))
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(rep); err != nil {
			fmt.Fprintf(e.stderr, "kiosk match: writing JSON: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	verdict := map[models.Outcome]string{models.OutcomeMatch: "same person (auto-pass)", models.OutcomeRefer: "not sure: refer to staff", models.OutcomeNoMatch: "different people"}[rep.Outcome]
	fmt.Fprintf(e.stdout, "%s: score %.3f; %s (%s)\n", verdict, rep.Score, bands, rep.Model)
	if !rep.Calibrated {
		fmt.Fprintf(e.stdout, "  %s has no calibration: every comparison is referred; measure it with 'kiosk eval faces --face-model %s' on a consented set\n", rep.Model, rep.Model)
	}
	for _, r := range rep.References {
		if !r.Fit {
			fmt.Fprintf(e.stdout, "  %s: the kiosk would refuse this reference: %s\n", r.Photo, joinProblems(r.Problems))
		}
	}
	return exitOK
}

func joinProblems(ps []models.ReferenceProblem) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func runEvalFaces(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval faces", "eval faces [--json] [--summary] [--groups FILE] [--face-model FILE] [--bands FAIL,PASS] DIR\n\nDIR holds either master.csv (file1,file2,Yes/No) or one sub-folder of photos per person. A groups.csv (identity,group) in DIR, or --groups, reports every group on its own; identities are the sub-folder names, or the photo file names for master.csv.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("summary", false, "print only the summary, not every pair")
	groupsFile := fs.String("groups", "", "identity,group CSV (default DIR/groups.csv when present)")
	faceModel, bandsFlag := addModelFlags(fs)
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	dir := fs.Arg(0)
	pairs, err := eval.LoadPairs(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval faces: %v\n", err)
		return exitBadInput
	}
	var groups eval.Groups
	if *groupsFile == "" {
		if _, err := os.Stat(filepath.Join(dir, "groups.csv")); err == nil {
			*groupsFile = filepath.Join(dir, "groups.csv")
		}
	}
	if *groupsFile != "" {
		if groups, err = eval.LoadGroups(*groupsFile); err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval faces: %v (fix the file, or leave --groups out)\n", err)
			return exitBadInput
		}
	}
	m, closeModels, err := faceModels(cfg.modelsDir, *faceModel)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval faces: %v\n", err)
		return exitFailure
	}
	defer closeModels()
	bands, err := bandsFor(m, *bandsFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval faces: %v\n", err)
		return exitBadInput
	}
	sc := eval.ScorePairs(m, dir, pairs, bands, log)
	log.Info("evaluated", "pair_count", len(pairs), "photo_count", sc.Embedded, "unusable_count", sc.Unusable)
	s := eval.SummarisePairs(pairs, bands)
	gate := eval.SummariseGate(pairs, sc.Gate)
	s.Gate = &gate
	if groups != nil {
		s.Groups = eval.SummariseGroups(pairs, groups, bands)
	}
	suggested, margin, _ := eval.SuggestBands(pairs)
	if *asJSON {
		out := map[string]any{"dir": dir, "model": m.Emb.Model(), "calibrated": bands.Calibrated(), "summary": s, "suggested_bands": suggested}
		if !*quiet {
			out["pairs"] = pairs
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval faces: writing JSON: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if !*quiet {
		printPairs(e.stdout, pairs)
	}
	printSummary(e.stdout, dir, m.Emb.Model(), s)
	fmt.Fprintf(e.stdout, "  bands this set suggests: fail %.2f, pass %.2f (margin %.3f: half the different-person scores' SD; docs/matching.md)\n", suggested.Fail, suggested.Pass, margin)
	return exitOK
}

func printPairs(w io.Writer, pairs []eval.Pair) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "A\tB\tTRUTH\tSCORE\tDECISION\tREFERENCE")
	for _, p := range pairs {
		truth := "different"
		if p.Same {
			truth = "same"
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\tunusable: %s\t\n", p.A, p.B, truth, p.Error)
			continue
		}
		flag := ""
		switch {
		case p.Same && p.Decision == models.OutcomeNoMatch:
			flag = "  <-- false non-match"
		case !p.Same && p.Decision == models.OutcomeMatch:
			flag = "  <-- FALSE MATCH"
		case !p.Same && p.Decision == models.OutcomeRefer:
			flag = "  <-- look-alike referred"
		}
		ref := "fit"
		if p.Unfit {
			ref = "unfit"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s%s\t%s\n", p.A, p.B, truth, p.Score, p.Decision, flag, ref)
	}
	tw.Flush()
}

func printSummary(w io.Writer, dir, model string, s eval.FacesSummary) {
	fmt.Fprintf(w, "\nSummary for %s (model %s)\n", dir, model)
	fmt.Fprintf(w, "  pairs %d: %d same-person, %d different-person, %d unusable\n", s.Pairs, s.Genuine, s.Impostor, s.Unusable)
	fmt.Fprintf(w, "  ROC AUC            %.4f   (baseline, a random score: %.4f)\n", s.AUC, s.RandomAUC)
	fmt.Fprintf(w, "  EER                %.4f at threshold %.3f   (baseline, a random score: %.4f)\n", s.EER, s.EERThreshold, s.RandomEER)
	for _, t := range []string{"0.01", "0.001"} {
		if v, ok := s.FNMRAt[t]; ok {
			fmt.Fprintf(w, "  FNMR at FMR %-6s %.4f (threshold %.3f)\n", t, v, s.ThresholdAt[t])
		} else {
			fmt.Fprintf(w, "  FNMR at FMR %-6s n/a: %d different-person pairs cannot resolve it\n", t, s.Impostor)
		}
	}
	fmt.Fprintf(w, "  same-person scores ≥ %.3f; different-person scores ≤ %.3f; separable: %v\n", s.MinGenuine, s.MaxImpostor, s.Separates)
	fmt.Fprintf(w, "  single threshold   %.3f (%s)\n", s.Chosen, s.ChosenRule)
	if !s.Bands.Calibrated() {
		fmt.Fprintf(w, "  bands              none: this model is uncalibrated, so the kiosk would refer every comparison\n")
	} else {
		fmt.Fprintf(w, "  bands              %s: %d different-person pairs auto-passed\n", s.Bands, s.FalseMatches)
	}
	fmt.Fprintf(w, "\n  Outcomes at the bands (baseline: the same scores shuffled across the pairs)\n")
	printOutcomes(w, []string{"all"}, []eval.OutcomeRates{s.Outcomes}, []eval.OutcomeRates{s.RandomOutcomes}, nil)
	if len(s.Groups) > 0 {
		fmt.Fprintf(w, "\n  By group (groups.csv)\n")
		var names []string
		var real, random []eval.OutcomeRates
		var roc []string
		for _, g := range s.Groups {
			names = append(names, g.Group)
			real, random = append(real, g.Outcomes), append(random, g.RandomOutcomes)
			if g.HasROC {
				roc = append(roc, fmt.Sprintf("AUC %.3f (random %.3f), EER %.3f", g.AUC, g.RandomAUC, g.EER))
			} else {
				roc = append(roc, "n/a (one kind of pair)")
			}
		}
		printOutcomes(w, names, real, random, roc)
	}
	if g := s.Gate; g != nil {
		fmt.Fprintf(w, "\n  Reference gate: %d of %d photos refused", g.Refused, g.Photos)
		if g.Refused > 0 {
			fmt.Fprintf(w, " (first reason: %s)", reasons(g.ByReason))
		}
		fmt.Fprintln(w)
		for _, r := range g.Refusals {
			fmt.Fprintf(w, "    %s: %s\n", r.Photo, joinProblems(r.Problems))
		}
		fmt.Fprintf(w, "  same-person pairs with a refused photo: %s of the weakest tenth by score, %s of those not auto-passed (baseline, all same-person pairs: %s)\n",
			frac(g.WeakestUnfit, g.Weakest), frac(g.NotPassUnfit, g.NotPassed), frac(g.SameUnfit, g.Same))
	}
}

// printOutcomes prints one row per group and truth: the three rates and,
// beside them, the shuffled-score baseline; notes (the group's AUC) go at
// the end of its first row.
func printOutcomes(w io.Writer, names []string, real, random []eval.OutcomeRates, notes []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "  GROUP\tPAIRS\tTRUTH\tAUTO-PASS\tREFER\tFAIL\tBASELINE (pass / refer / fail)\t")
	if notes != nil {
		fmt.Fprint(tw, "ROC\t")
	}
	fmt.Fprintln(tw)
	for i, n := range names {
		first := true
		for _, row := range []struct {
			truth    string
			got, rnd eval.OutcomeCounts
		}{{"same", real[i].Same, random[i].Same}, {"different", real[i].Different, random[i].Different}} {
			if row.got.Pairs == 0 {
				continue
			}
			m, r, f := row.got.Rates()
			bm, br, bf := row.rnd.Rates()
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%.1f %% / %.1f %% / %.1f %%\t", n, row.got.Pairs, row.truth,
				pct(row.got.Match, m), pct(row.got.Refer, r), pct(row.got.NoMatch, f), 100*bm, 100*br, 100*bf)
			if notes != nil && first {
				fmt.Fprintf(tw, "%s\t", notes[i])
			}
			fmt.Fprintln(tw)
			first = false
		}
	}
	tw.Flush()
}

func pct(n int, rate float64) string { return fmt.Sprintf("%d (%.1f %%)", n, 100*rate) }

func frac(n, of int) string {
	if of == 0 {
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (%.0f %%)", n, of, 100*float64(n)/float64(of))
}

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func runEvalFusion(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval fusion", "eval fusion [--json] [--frames 90] [--picks 5] [--limit N] [--face-model FILE] [--bands FAIL,PASS] DIR\n\nEach photo of DIR (as for eval faces) becomes a generated 30 fps clip; the single best frame and PICKS frames spread over the clip are embedded, and each way of fusing them is scored against the pair's other photo.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	frames := fs.Int("frames", 90, "frames per clip (30 fps)")
	picks := fs.Int("picks", 5, "frames fused, spread over the clip")
	limit := fs.Int("limit", 0, "use only pairs among the first N photos (0: all)")
	faceModel, bandsFlag := addModelFlags(fs)
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	if *frames < *picks || *picks < 1 || *frames > 3000 {
		fmt.Fprintf(e.stderr, "kiosk eval fusion: want 1 ≤ --picks ≤ --frames ≤ 3000\n")
		return exitBadInput
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	m, closeModels, err := faceModels(cfg.modelsDir, *faceModel)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval fusion: %v\n", err)
		return exitFailure
	}
	defer closeModels()
	bands, err := bandsFor(m, *bandsFlag)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval fusion: %v\n", err)
		return exitBadInput
	}
	rep, err := eval.EvalFusion(ctx, m, fs.Arg(0), bands, eval.FusionOptions{Frames: *frames, Picks: *picks, Limit: *limit}, log)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval fusion: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(map[string]any{"dir": fs.Arg(0), "model": m.Emb.Model(), "report": rep}); err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval fusion: writing JSON: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "Fusion on %d generated clips of %s (%d frames each, %.1f passed the live gate; %.1f picks fused; model %s)\n",
		rep.Clips, fs.Arg(0), rep.Frames, rep.Usable, rep.Fused, m.Emb.Model())
	fmt.Fprintf(e.stdout, "bands %s; baseline: the single best frame\n", rep.Bands)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIVE TEMPLATE\tSAME\tMEAN\tMIN\tAUTO-PASS\tREFER\tFAIL\tVS SINGLE (better/worse)\tDIFFERENT\tMAX\tAUTO-PASSED\t")
	for _, r := range rep.Rows {
		pm, pr, pf := r.Outcomes.Same.Rates()
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.1f %%\t%.1f %%\t%.1f %%\t%d / %d\t%d\t%.3f\t%d\t\n", r.Method, r.Genuine, r.MeanGenuine, r.MinGenuine,
			100*pm, 100*pr, 100*pf, r.Better, r.Worse, r.Impostor, r.MaxImpostor, r.Outcomes.Different.Match)
	}
	tw.Flush()
	return exitOK
}
