package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "match", summary: "compare the faces in two photos: score, decision and threshold", run: runMatch})
	register(command{name: "eval faces", summary: "verification accuracy over a labelled folder (identity sub-folders or master.csv)", run: runEvalFaces})
}

// faceModels loads the detector and embedder from the verified cache.
func faceModels(dir string) (*models.Matcher, func(), error) {
	det, err := models.LoadDetector(dir, models.DetectorOptions{})
	if err != nil {
		return nil, nil, err
	}
	emb, err := models.LoadEmbedder(dir)
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
	img, err := readImage(path)
	if err != nil {
		return models.Template{}, err
	}
	t, _, err := m.Reference(img)
	return t, err
}

func runMatch(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "match", "match [--json] PHOTO_A PHOTO_B\n\nEach photo must show exactly one face. Exit 0 when compared (match or not), 2 on unusable input.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	threshold := fs.Float64("threshold", models.DefaultMatchThreshold, "cosine similarity at or above which the faces match")
	if ok, code := parseArgs(fs, args, exactly(2)); !ok {
		return code
	}
	m, closeModels, err := faceModels(cfg.modelsDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk match: %v\n", err)
		return exitFailure
	}
	defer closeModels()
	var ts [2]models.Template
	for i, p := range fs.Args() {
		if ts[i], err = readReference(m, p); err != nil {
			fmt.Fprintf(e.stderr, "kiosk match: %s: %v\n", p, err)
			return exitBadInput
		}
		defer ts[i].Wipe()
	}
	d := models.Decide(ts[0].Similarity(ts[1]), float32(*threshold))
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(d)
	} else {
		verdict := "different people"
		if d.Match {
			verdict = "same person"
		}
		fmt.Fprintf(e.stdout, "%s: score %.3f, threshold %.3f\n", verdict, d.Score, d.Threshold)
	}
	return exitOK
}

func runEvalFaces(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval faces", "eval faces [--json] [--summary] DIR\n\nDIR holds either master.csv (file1,file2,Yes/No) or one sub-folder of photos per person.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("summary", false, "print only the summary, not every pair")
	threshold := fs.Float64("threshold", models.DefaultMatchThreshold, "cosine similarity at or above which a pair is called the same person (the kiosk's by default)")
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
	m, closeModels, err := faceModels(cfg.modelsDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval faces: %v\n", err)
		return exitFailure
	}
	defer closeModels()
	embedded, unusable := eval.ScorePairs(m, dir, pairs, float32(*threshold), log)
	log.Info("evaluated", "pair_count", len(pairs), "photo_count", embedded, "unusable_count", unusable)
	s := eval.SummarisePairs(pairs, float32(*threshold))
	if *asJSON {
		out := map[string]any{"dir": dir, "summary": s}
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
	printSummary(e.stdout, dir, s)
	return exitOK
}

func printPairs(w io.Writer, pairs []eval.Pair) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "A\tB\tTRUTH\tSCORE\tDECISION")
	for _, p := range pairs {
		truth := "different"
		if p.Same {
			truth = "same"
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\tunusable: %s\n", p.A, p.B, truth, p.Error)
			continue
		}
		dec := "no match"
		if p.Match {
			dec = "match"
		}
		flag := ""
		if p.Match != p.Same {
			flag = "  <-- error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s%s\n", p.A, p.B, truth, p.Score, dec, flag)
	}
	tw.Flush()
}

func printSummary(w io.Writer, dir string, s eval.FacesSummary) {
	fmt.Fprintf(w, "\nSummary for %s\n", dir)
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
	fmt.Fprintf(w, "  threshold chosen   %.3f (%s)\n", s.Chosen, s.ChosenRule)
	fmt.Fprintf(w, "  kiosk threshold    %.3f: %d false matches, %d false non-matches\n", s.Threshold, s.FalseMatches, s.FalseNonMatches)
}
