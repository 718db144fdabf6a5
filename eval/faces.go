package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kiosk/models"
)

// Pair is one labelled comparison of two photos, with its score once
// ScorePairs has run.
type Pair struct {
	A     string  `json:"a"`
	B     string  `json:"b"`
	Same  bool    `json:"same"`
	Score float64 `json:"score"`
	Match bool    `json:"match"` // at the threshold ScorePairs was given
	Error string  `json:"error,omitempty"`
}

// LoadPairs reads dir/master.csv (file1,file2,Yes/No), or forms every pair
// of photos across dir's identity sub-folders (one folder per person).
func LoadPairs(dir string) ([]Pair, error) {
	if f, err := os.Open(filepath.Join(dir, "master.csv")); err == nil {
		defer f.Close()
		return readMaster(f)
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
	var pairs []Pair
	for i := range photos {
		for j := i + 1; j < len(photos); j++ {
			pairs = append(pairs, Pair{A: photos[i].rel, B: photos[j].rel, Same: photos[i].who == photos[j].who})
		}
	}
	return pairs, nil
}

func readMaster(r io.Reader) ([]Pair, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	var pairs []Pair
	for line := 1; ; line++ {
		rec, err := cr.Read()
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
		a, b := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if !filepath.IsLocal(a) || !filepath.IsLocal(b) {
			return nil, fmt.Errorf("master.csv line %d: %q or %q is not a file inside the folder", line, rec[0], rec[1])
		}
		pairs = append(pairs, Pair{A: a, B: b, Same: label == "yes"})
	}
	if len(pairs) == 0 {
		return nil, errors.New("master.csv has no pairs")
	}
	return pairs, nil
}

// ScorePairs embeds each photo once with the kiosk's models and scores
// every pair at threshold. A photo without a usable face marks its pairs
// with Error and is logged (by file name, never pixels); it returns the
// number of photos embedded and of photos unusable.
func ScorePairs(m *models.Matcher, dir string, pairs []Pair, threshold float32, log *slog.Logger) (embedded, unusable int) {
	templates := map[string]models.Template{}
	failures := map[string]error{}
	defer func() {
		for _, t := range templates {
			t.Wipe()
		}
	}()
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
	for i := range pairs {
		p := &pairs[i]
		ta, errA := embed(p.A)
		tb, errB := embed(p.B)
		if err := errors.Join(errA, errB); err != nil {
			p.Error = err.Error()
			continue
		}
		p.Score = float64(ta.Similarity(tb))
		p.Match = p.Score >= float64(threshold)
	}
	return len(templates), len(failures)
}

// embedLargestFace embeds the most prominent face of a photo: evaluation
// sets include group shots, where the labelled person is the main subject.
func embedLargestFace(m *models.Matcher, path string) (models.Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return models.Template{}, err
	}
	img, err := models.DecodeImage(data)
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

// FacesSummary is a verification experiment's accuracy, beside what a
// random score achieves on the same pairs.
type FacesSummary struct {
	Pairs, Genuine, Impostor, Unusable int
	AUC, EER, EERThreshold             float64
	FNMRAt, ThresholdAt                map[string]float64
	MinGenuine, MaxImpostor            float64
	Separates                          bool
	Chosen                             float64 // the threshold this data suggests
	ChosenRule                         string
	Threshold                          float64 // the kiosk's, at which the pairs were matched
	FalseMatches, FalseNonMatches      int     // at Threshold
	// RandomAUC and RandomEER are the baseline: a score drawn at random
	// (seeded, so the figure repeats) for the same labelled pairs.
	RandomAUC, RandomEER float64
}

// SummarisePairs computes the ROC of the scored pairs and the random-score
// baseline. threshold is the one ScorePairs matched at.
func SummarisePairs(pairs []Pair, threshold float32) FacesSummary {
	var scored, random []models.ScoredPair
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range pairs {
		if p.Error != "" {
			continue
		}
		scored = append(scored, models.ScoredPair{Score: p.Score, Same: p.Same})
		random = append(random, models.ScoredPair{Score: rng.Float64(), Same: p.Same})
	}
	r := models.ComputeROC(scored, 1e-2, 1e-3)
	base := models.ComputeROC(random)
	s := FacesSummary{Pairs: len(pairs), Genuine: r.Genuine, Impostor: r.Impostor, AUC: r.AUC, EER: r.EER, EERThreshold: r.EERThreshold,
		FNMRAt: map[string]float64{}, ThresholdAt: map[string]float64{}, MinGenuine: r.MinGenuine, MaxImpostor: r.MaxImpostor,
		Separates: r.Separates(), Threshold: float64(threshold), RandomAUC: base.AUC, RandomEER: base.EER}
	for k, v := range r.FNMRAt {
		s.FNMRAt[fmt.Sprintf("%g", k)] = v
		s.ThresholdAt[fmt.Sprintf("%g", k)] = r.ThresholdAt[k]
	}
	switch t, ok := r.ThresholdAt[1e-2]; {
	case s.Separates:
		s.Chosen, s.ChosenRule = (r.MinGenuine+r.MaxImpostor)/2, "midpoint of the gap between the lowest same-person and the highest different-person score"
	case ok:
		s.Chosen, s.ChosenRule = t, "lowest threshold with FMR ≤ 1e-2"
	default:
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
