package models

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// DefaultPADThreshold is the passive anti-spoof score at or above which a
// face counts as live for fusion: the shared printed-photo and screen-replay
// samples score ≤ 0.02, the live sample 0.88, and 61 of 62 bona-fide
// photographs ≥ 0.95 (docs/matching.md).
const DefaultPADThreshold = 0.5

// Sentinel errors for the states a check-in acts on.
var (
	ErrNoFace     = errors.New("no face found")
	ErrManyFaces  = errors.New("more than one face")
	ErrLowQuality = errors.New("no frame passed the quality gate")
)

// Decision is a 1:1 verification result: the score, the outcome its
// model's bands give it, and the bands. Match is true only for an
// auto-pass (OutcomeMatch); a referred comparison is not a match until a
// member of staff says so.
type Decision struct {
	Score   float32 `json:"score"`
	Outcome Outcome `json:"decision"`
	Match   bool    `json:"match"`
	// Threshold is the pass edge; FailEdge the fail edge.
	Threshold float32 `json:"threshold"`
	FailEdge  float32 `json:"fail_edge"`
}

// Matcher ties detection, quality, alignment, embedding and the anti-spoof
// score together. Its models are owned by the caller, who closes them.
// A Matcher is safe for concurrent use as far as its models are (each
// serialises its own calls); set Bands before sharing it.
type Matcher struct {
	Det     *Detector
	Emb     *Embedder
	PAD     *PAD // optional; nil skips the anti-spoof score
	Quality QualityThresholds
	// ReferenceGate is the reference photo gate of FitReference
	// (DefaultReferenceGate when zero).
	ReferenceGate ReferenceThresholds
	// Bands sort scores into match, refer and no match. NewMatcher takes
	// them from the embedding model's manifest calibration; an operator may
	// move them within Calibration's bounds (check with Calibration.Check).
	Bands Bands
}

// NewMatcher uses the default quality gate and the embedding model's
// bands (none, so every comparison is referred, for a model without a
// calibration).
func NewMatcher(det *Detector, emb *Embedder, pad *PAD) *Matcher {
	m := &Matcher{Det: det, Emb: emb, PAD: pad, Quality: DefaultQuality}
	m.Bands = m.Calibration().Bands
	return m
}

// Calibration is the embedding model's: its default bands and the bounds
// an operator may move them within.
func (m *Matcher) Calibration() Calibration {
	if m.Emb == nil {
		return Calibration{}
	}
	return m.Emb.Calibration()
}

// Decide sorts a score with the matcher's bands.
func (m *Matcher) Decide(score float32) Decision { return m.Bands.Decide(score) }

// Reference computes the template of a reference photo (an ID photo or an
// enrolment picture). It must show exactly one face.
func (m *Matcher) Reference(img Image) (Template, Face, error) {
	faces, err := m.Det.DetectStill(img)
	if err != nil {
		return Template{}, Face{}, err
	}
	switch len(faces) {
	case 0:
		return Template{}, Face{}, fmt.Errorf("reference photo: %w", ErrNoFace)
	case 1:
	default:
		return Template{}, Face{}, fmt.Errorf("reference photo: %w (%d)", ErrManyFaces, len(faces))
	}
	t, err := m.Emb.EmbedFace(img, faces[0])
	return t, faces[0], err
}

// Candidate is a frame that passed the quality gate, with its face.
type Candidate struct {
	Index   int
	Face    Face
	Quality Quality
}

// BestFrame runs the gate over live frames and returns the best usable one.
// When none passes, the error wraps ErrLowQuality and the returned quality
// carries the prompt of the last frame, for the UI.
func (m *Matcher) BestFrame(frames []Image) (Candidate, error) {
	best := Candidate{Index: -1}
	var last Quality
	for i, img := range frames {
		faces, err := m.Det.Detect(img)
		if err != nil {
			return Candidate{}, fmt.Errorf("frame %d: %w", i, err)
		}
		q, err := AssessQuality(img, faces, m.Quality)
		if err != nil {
			return Candidate{}, fmt.Errorf("frame %d: %w", i, err)
		}
		last = q
		if q.OK() && (best.Index < 0 || q.Score > best.Quality.Score) {
			best = Candidate{Index: i, Face: faces[0], Quality: q}
		}
	}
	if best.Index < 0 {
		return Candidate{Quality: last}, fmt.Errorf("%w: %s", ErrLowQuality, last.Prompt)
	}
	return best, nil
}

// Verification is a 1:1 check of live frames against a reference.
type Verification struct {
	Decision
	Frame    int     `json:"frame"`     // index of the frame used
	PADScore float32 `json:"pad_score"` // -1 when no PAD model is set
	Quality  Quality `json:"quality"`
}

// Verify picks the best live frame and compares it with ref.
func (m *Matcher) Verify(ref Template, frames []Image) (Verification, error) {
	c, err := m.BestFrame(frames)
	if err != nil {
		return Verification{Frame: -1, PADScore: -1, Quality: c.Quality}, err
	}
	live, err := m.Emb.EmbedFace(frames[c.Index], c.Face)
	if err != nil {
		return Verification{}, err
	}
	defer live.Wipe()
	v := Verification{Decision: m.Decide(ref.Similarity(live)), Frame: c.Index, PADScore: -1, Quality: c.Quality}
	if m.PAD != nil {
		if v.PADScore, err = m.PAD.Score(frames[c.Index], c.Face); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Gallery holds enrolled templates for 1:N search, packed into one slice so
// a search is a single pass over memory. All its templates come from one
// embedding model (the first added sets it). Not safe for concurrent Add
// and Search; guard it, or build it once and then only search.
type Gallery struct {
	ids   []string
	vecs  []float32
	dim   int
	model ModelTag
}

// Add enrols a template under an id (a record id, never a name). A
// template from another model than the gallery's is refused with
// ErrOtherModel.
func (g *Gallery) Add(id string, t Template) error {
	if !t.Valid() {
		return fmt.Errorf("enrolling %s: %w", id, ErrBadTemplate)
	}
	if len(g.ids) > 0 && (t.Dim() != g.dim || (t.model != 0 && g.model != 0 && t.model != g.model)) {
		return fmt.Errorf("enrolling %s: %w", id, ErrOtherModel)
	}
	if len(g.ids) == 0 {
		g.dim, g.model = t.Dim(), t.model
	} else if g.model == 0 {
		g.model = t.model
	}
	g.ids = append(g.ids, id)
	g.vecs = append(g.vecs, t.v...)
	return nil
}

// With returns a new gallery holding g's templates and t under id, leaving
// g untouched, so searches of g may run while an enrolment builds the next.
func (g *Gallery) With(id string, t Template) (*Gallery, error) {
	n := &Gallery{ids: slices.Clone(g.ids), vecs: slices.Clone(g.vecs), dim: g.dim, model: g.model}
	return n, n.Add(id, t)
}

// Without returns a new gallery holding g's templates except id's.
func (g *Gallery) Without(id string) *Gallery {
	n := &Gallery{dim: g.dim, model: g.model}
	for i, have := range g.ids {
		if have != id {
			n.ids = append(n.ids, have)
			n.vecs = append(n.vecs, g.vecs[i*g.dim:(i+1)*g.dim]...)
		}
	}
	return n
}

// Len is the number of enrolled templates.
func (g *Gallery) Len() int { return len(g.ids) }

// Hit is one search result.
type Hit struct {
	ID    string  `json:"id"`
	Score float32 `json:"score"`
}

// Search returns the k best-scoring enrolled ids, best first. A probe from
// another model finds nothing.
func (g *Gallery) Search(t Template, k int) []Hit {
	if !t.Valid() || k <= 0 || t.Dim() != g.dim || (t.model != 0 && g.model != 0 && t.model != g.model) {
		return nil
	}
	hits := make([]Hit, 0, k+1)
	for i, id := range g.ids {
		s := dot(t.v, g.vecs[i*g.dim:(i+1)*g.dim])
		if len(hits) == k && s <= hits[k-1].Score {
			continue
		}
		hits = append(hits, Hit{ID: id, Score: s})
		slices.SortFunc(hits, func(a, b Hit) int { return cmp.Compare(b.Score, a.Score) })
		if len(hits) > k {
			hits = hits[:k]
		}
	}
	return hits
}

// Identify returns the best enrolled match at or above threshold, if any.
// For a check-in, pass the pass edge and decide the best hit's score with
// the bands, so a near miss is referred rather than failed.
func (g *Gallery) Identify(t Template, threshold float32) (Hit, bool) {
	h := g.Search(t, 1)
	if len(h) == 0 || h[0].Score < threshold {
		return Hit{}, false
	}
	return h[0], true
}
