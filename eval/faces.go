package eval

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
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
	A    string `json:"a"`
	B    string `json:"b"`
	Same bool   `json:"same"`
	// Score and Decision are the cosine similarity and its outcome at the
	// bands ScorePairs was given; Match is true only for an auto-pass.
	Score    float64        `json:"score"`
	Decision models.Outcome `json:"decision,omitempty"`
	Match    bool           `json:"match"`
	// Unfit is set when the reference gate refuses A or B.
	Unfit bool   `json:"unfit_reference,omitempty"`
	Error string `json:"error,omitempty"`
}

// Identity is who a photo shows, as far as the folder says: the identity
// sub-folder of a photo in an identity set, the file name itself in a
// master.csv set (whose photos carry no names). groups.csv maps these.
func Identity(photo string) string {
	if dir, _, ok := strings.Cut(filepath.ToSlash(photo), "/"); ok {
		return dir
	}
	return photo
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

// Scoring is what ScorePairs did beside the scores.
type Scoring struct {
	Embedded, Unusable int
	// Gate is the reference gate's verdict on every photo that has a face
	// (by its name in the pairs): what FitReference would say of it as a
	// reference. Measurements only, nothing biometric.
	Gate map[string]models.ReferenceCheck
}

// ScorePairs embeds each photo once with the kiosk's models, runs the
// reference gate over it, and scores every pair at bands. A photo without
// a usable face marks its pairs with Error and is logged (by file name,
// never pixels). Photos the gate refuses are still scored, so the effect
// of refusing them can be measured (SummariseGate).
func ScorePairs(m *models.Matcher, dir string, pairs []Pair, bands models.Bands, log *slog.Logger) Scoring {
	templates := map[string]models.Template{}
	failures := map[string]error{}
	sc := Scoring{Gate: map[string]models.ReferenceCheck{}}
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
		t, check, err := embedLargestFace(m, filepath.Join(dir, name))
		if err != nil {
			failures[name] = err
			log.Warn("photo not usable", "file", name, "err", err)
			return t, err
		}
		templates[name] = t
		sc.Gate[name] = check
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
		d := bands.Decide(float32(p.Score))
		p.Decision, p.Match = d.Outcome, d.Match
		p.Unfit = !sc.Gate[p.A].OK() || !sc.Gate[p.B].OK()
	}
	sc.Embedded, sc.Unusable = len(templates), len(failures)
	return sc
}

// embedLargestFace embeds the most prominent face of a photo (evaluation
// sets include group shots, where the labelled person is the main
// subject) and runs the reference gate over the photo as it is.
func embedLargestFace(m *models.Matcher, path string) (models.Template, models.ReferenceCheck, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return models.Template{}, models.ReferenceCheck{}, err
	}
	img, err := models.DecodeImage(data)
	if err != nil {
		return models.Template{}, models.ReferenceCheck{}, err
	}
	faces, err := m.Det.DetectStill(img)
	if err != nil {
		return models.Template{}, models.ReferenceCheck{}, err
	}
	if len(faces) == 0 {
		return models.Template{}, models.ReferenceCheck{}, models.ErrNoFace
	}
	check, err := models.AssessReference(img, faces, m.Gate())
	if err != nil {
		return models.Template{}, check, err
	}
	best := slices.MaxFunc(faces, func(a, b models.Face) int { return cmp.Compare(a.W*a.H, b.W*b.H) })
	t, err := m.Emb.EmbedFace(img, best)
	return t, check, err
}

// FacesSummary is a verification experiment's accuracy, beside what a
// random score achieves on the same pairs.
type FacesSummary struct {
	Pairs, Genuine, Impostor, Unusable int
	AUC, EER, EERThreshold             float64
	FNMRAt, ThresholdAt                map[string]float64
	MinGenuine, MaxImpostor            float64
	Separates                          bool
	Chosen                             float64 // the single threshold this data suggests
	ChosenRule                         string
	// Bands are the kiosk's, at which the pairs were decided.
	Bands models.Bands
	// Outcomes counts match / refer / no match for same-person and
	// different-person pairs at Bands; RandomOutcomes does the same for
	// the scores shuffled across the pairs (seeded): a score that ignores
	// who is who but has the same spread, the baseline of those rates.
	Outcomes, RandomOutcomes OutcomeRates
	// FalseMatches is the number of different-person pairs auto-passed:
	// the figure that must be 0.
	FalseMatches int
	// RandomAUC and RandomEER are the baseline: a score drawn at random
	// (seeded, so the figure repeats) for the same labelled pairs.
	RandomAUC, RandomEER float64
	// Groups is the same per group when groups.csv maps identities to
	// groups (SummariseGroups); Gate the reference gate (SummariseGate).
	Groups []GroupSummary `json:",omitempty"`
	Gate   *GateSummary   `json:",omitempty"`
}

// OutcomeCounts counts the three outcomes over some pairs.
type OutcomeCounts struct {
	Pairs, Match, Refer, NoMatch int
}

// Add counts one outcome.
func (c *OutcomeCounts) Add(o models.Outcome) {
	c.Pairs++
	switch o {
	case models.OutcomeMatch:
		c.Match++
	case models.OutcomeRefer:
		c.Refer++
	default:
		c.NoMatch++
	}
}

// Rates are the three shares (NaN with no pairs).
func (c OutcomeCounts) Rates() (match, refer, noMatch float64) {
	n := float64(c.Pairs)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	return float64(c.Match) / n, float64(c.Refer) / n, float64(c.NoMatch) / n
}

// OutcomeRates splits the outcomes by the truth.
type OutcomeRates struct {
	Same, Different OutcomeCounts
}

// SummarisePairs computes the ROC of the scored pairs, the three-outcome
// rates at bands, and the random-score baselines of both.
func SummarisePairs(pairs []Pair, bands models.Bands) FacesSummary {
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
		Separates: r.Separates(), Bands: bands, RandomAUC: base.AUC, RandomEER: base.EER}
	if r.Genuine == 0 || r.Impostor == 0 {
		// One kind of pair only: nothing separates, and the bounds stay 0
		// rather than ±Inf, which JSON cannot carry.
		s.MinGenuine, s.MaxImpostor, s.Separates = 0, 0, false
	}
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
	s.Unusable = len(pairs) - len(scored)
	s.Outcomes, s.RandomOutcomes = outcomeRates(scored, bands)
	s.FalseMatches = s.Outcomes.Different.Match
	return s
}

// outcomeRates counts the outcomes of scored pairs at bands, and of the
// same scores shuffled across the pairs (seeded).
func outcomeRates(scored []models.ScoredPair, bands models.Bands) (real, random OutcomeRates) {
	shuffled := shuffledScores(scored)
	for i, p := range scored {
		real.add(p.Same, bands.Outcome(float32(p.Score)))
		random.add(p.Same, bands.Outcome(float32(shuffled[i])))
	}
	return real, random
}

// shuffledScores is the scores of scored in a seeded random order: the
// baseline of a score that ignores who is who but keeps the spread.
func shuffledScores(scored []models.ScoredPair) []float64 {
	out := make([]float64, len(scored))
	for i, p := range scored {
		out[i] = p.Score
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (r *OutcomeRates) add(same bool, o models.Outcome) {
	if same {
		r.Same.Add(o)
	} else {
		r.Different.Add(o)
	}
}

// SuggestBands applies the derivation in docs/matching.md to one labelled
// set: the pass edge above the highest different-person score by a margin
// of half the different-person scores' standard deviation (rounded up to
// 0.01), the fail edge that margin below the 1st percentile of the
// same-person scores (rounded down), and never above the pass edge less
// the margin. A model without a calibration in the manifest gets its
// first bands this way, from a consented set of its deployment's people;
// bands from one small set are a start, not a guarantee. ok is false
// without both kinds of pair.
func SuggestBands(pairs []Pair) (b models.Bands, margin float64, ok bool) {
	var gen, imp []float64
	for _, p := range pairs {
		if p.Error != "" || math.IsNaN(p.Score) {
			continue
		}
		if p.Same {
			gen = append(gen, p.Score)
		} else {
			imp = append(imp, p.Score)
		}
	}
	if len(gen) == 0 || len(imp) < 2 {
		return models.Bands{}, 0, false
	}
	slices.Sort(gen)
	var mean, sq float64
	for _, v := range imp {
		mean += v
	}
	mean /= float64(len(imp))
	for _, v := range imp {
		sq += (v - mean) * (v - mean)
	}
	margin = math.Sqrt(sq/float64(len(imp)-1)) / 2
	pass := math.Ceil((slices.Max(imp)+margin)*100) / 100
	p01 := gen[len(gen)/100]
	fail := math.Floor(min(p01-margin, pass-margin)*100) / 100
	pass, fail = min(pass, 1), max(fail, -1)
	return models.Bands{Fail: float32(fail), Pass: float32(pass)}, margin, true
}
