package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

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

type evalPair struct {
	A     string  `json:"a"`
	B     string  `json:"b"`
	Same  bool    `json:"same"`
	Score float64 `json:"score"`
	Match bool    `json:"match"`
	Error string  `json:"error,omitempty"`
}

func runEvalFaces(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval faces", "eval faces [--json] [--summary] DIR\n\nDIR holds either master.csv (file1,file2,Yes/No) or one sub-folder of photos per person.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("summary", false, "print only the summary, not every pair")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	dir := fs.Arg(0)
	pairs, err := loadPairs(dir)
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

	templates := map[string]models.Template{}
	failures := map[string]error{}
	embed := func(name string) (models.Template, error) {
		if t, ok := templates[name]; ok {
			return t, nil
		}
		if err, ok := failures[name]; ok {
			return models.Template{}, err
		}
		t, err := embedLargestFace(m, filepath.Join(dir, name))
		if err != nil {
			failures[name] = err
			log.Warn("photo not usable", "file", name, "err", err)
			return t, err
		}
		templates[name] = t
		return t, nil
	}
	var scored []models.ScoredPair
	for i := range pairs {
		p := &pairs[i]
		ta, errA := embed(p.A)
		tb, errB := embed(p.B)
		if err := errors.Join(errA, errB); err != nil {
			p.Error = err.Error()
			continue
		}
		p.Score = float64(ta.Similarity(tb))
		p.Match = p.Score >= models.DefaultMatchThreshold
		scored = append(scored, models.ScoredPair{Score: p.Score, Same: p.Same})
	}
	for _, t := range templates {
		t.Wipe()
	}
	log.Info("evaluated", "pair_count", len(pairs), "photo_count", len(templates), "unusable_count", len(failures))

	roc := models.ComputeROC(scored, 1e-2, 1e-3)
	s := summarise(roc, pairs)
	if *asJSON {
		out := map[string]any{"dir": dir, "summary": s}
		if !*quiet {
			out["pairs"] = pairs
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		if !*quiet {
			printPairs(e.stdout, pairs)
		}
		printSummary(e.stdout, dir, s)
	}
	return exitOK
}

// embedLargestFace embeds the most prominent face of a photo: evaluation
// sets include group shots, where the labelled person is the main subject.
func embedLargestFace(m *models.Matcher, path string) (models.Template, error) {
	img, err := readImage(path)
	if err != nil {
		return models.Template{}, err
	}
	faces, err := m.Det.DetectStill(img)
	if err != nil {
		return models.Template{}, err
	}
	if len(faces) == 0 {
		return models.Template{}, models.ErrNoFace
	}
	best := slices.MaxFunc(faces, func(a, b models.Face) int { return int(a.W*a.H - b.W*b.H) })
	return m.Emb.EmbedFace(img, best)
}

// loadPairs reads master.csv, or forms every pair of photos across the
// identity sub-folders of dir.
func loadPairs(dir string) ([]evalPair, error) {
	if f, err := os.Open(filepath.Join(dir, "master.csv")); err == nil {
		defer f.Close()
		r := csv.NewReader(f)
		r.TrimLeadingSpace = true
		var pairs []evalPair
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("master.csv: %w", err)
			}
			if len(rec) < 3 {
				return nil, fmt.Errorf("master.csv line %d: want file1,file2,Yes/No", line)
			}
			label := strings.ToLower(strings.TrimSpace(rec[2]))
			if line == 1 && label != "yes" && label != "no" {
				continue // header
			}
			if label != "yes" && label != "no" {
				return nil, fmt.Errorf("master.csv line %d: label %q is not Yes or No", line, rec[2])
			}
			pairs = append(pairs, evalPair{A: strings.TrimSpace(rec[0]), B: strings.TrimSpace(rec[1]), Same: label == "yes"})
		}
		if len(pairs) == 0 {
			return nil, errors.New("master.csv has no pairs")
		}
		return pairs, nil
	}
	people, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type photo struct{ who, rel string }
	var photos []photo
	for _, p := range people {
		if !p.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, p.Name()))
		for _, f := range files {
			switch strings.ToLower(filepath.Ext(f.Name())) {
			case ".jpg", ".jpeg", ".png", ".webp":
				photos = append(photos, photo{p.Name(), filepath.Join(p.Name(), f.Name())})
			}
		}
	}
	if len(photos) < 2 {
		return nil, fmt.Errorf("%s has neither master.csv nor identity sub-folders with photos", dir)
	}
	var pairs []evalPair
	for i := range photos {
		for j := i + 1; j < len(photos); j++ {
			pairs = append(pairs, evalPair{A: photos[i].rel, B: photos[j].rel, Same: photos[i].who == photos[j].who})
		}
	}
	return pairs, nil
}

type evalSummary struct {
	Pairs, Genuine, Impostor, Unusable int
	AUC, EER, EERThreshold             float64
	FNMRAt, ThresholdAt                map[string]float64
	MinGenuine, MaxImpostor            float64
	Separates                          bool
	Chosen                             float64 // the threshold this data suggests
	ChosenRule                         string
	DefaultThreshold                   float64
	FalseMatches, FalseNonMatches      int // at the default threshold
}

func summarise(r models.ROC, pairs []evalPair) evalSummary {
	s := evalSummary{Pairs: len(pairs), Genuine: r.Genuine, Impostor: r.Impostor, AUC: r.AUC, EER: r.EER, EERThreshold: r.EERThreshold,
		FNMRAt: map[string]float64{}, ThresholdAt: map[string]float64{}, MinGenuine: r.MinGenuine, MaxImpostor: r.MaxImpostor,
		Separates: r.Separates(), DefaultThreshold: models.DefaultMatchThreshold}
	for k, v := range r.FNMRAt {
		s.FNMRAt[fmt.Sprintf("%g", k)] = v
		s.ThresholdAt[fmt.Sprintf("%g", k)] = r.ThresholdAt[k]
	}
	if s.Separates {
		s.Chosen, s.ChosenRule = (r.MinGenuine+r.MaxImpostor)/2, "midpoint of the gap between the lowest same-person and the highest different-person score"
	} else if t, ok := r.ThresholdAt[1e-2]; ok {
		s.Chosen, s.ChosenRule = t, "lowest threshold with FMR ≤ 1e-2"
	} else {
		s.Chosen, s.ChosenRule = r.EERThreshold, "equal error rate"
	}
	for _, p := range pairs {
		switch {
		case p.Error != "":
			s.Unusable++
		case p.Same && !p.Match:
			s.FalseNonMatches++
		case !p.Same && p.Match:
			s.FalseMatches++
		}
	}
	return s
}

func printPairs(w io.Writer, pairs []evalPair) {
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

func printSummary(w io.Writer, dir string, s evalSummary) {
	fmt.Fprintf(w, "\nSummary for %s\n", dir)
	fmt.Fprintf(w, "  pairs %d: %d same-person, %d different-person, %d unusable\n", s.Pairs, s.Genuine, s.Impostor, s.Unusable)
	fmt.Fprintf(w, "  ROC AUC            %.4f\n", s.AUC)
	fmt.Fprintf(w, "  EER                %.4f at threshold %.3f\n", s.EER, s.EERThreshold)
	for _, t := range []string{"0.01", "0.001"} {
		if v, ok := s.FNMRAt[t]; ok {
			fmt.Fprintf(w, "  FNMR at FMR %-6s %.4f (threshold %.3f)\n", t, v, s.ThresholdAt[t])
		} else {
			fmt.Fprintf(w, "  FNMR at FMR %-6s n/a: %d different-person pairs cannot resolve it\n", t, s.Impostor)
		}
	}
	fmt.Fprintf(w, "  same-person scores ≥ %.3f; different-person scores ≤ %.3f; separable: %v\n", s.MinGenuine, s.MaxImpostor, s.Separates)
	fmt.Fprintf(w, "  threshold chosen   %.3f (%s)\n", s.Chosen, s.ChosenRule)
	fmt.Fprintf(w, "  kiosk threshold    %.3f: %d false matches, %d false non-matches\n", s.DefaultThreshold, s.FalseMatches, s.FalseNonMatches)
}
