package models

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// DefaultMatchThreshold is the cosine similarity at or above which two
// templates are taken to be the same person. It was chosen with
// `kiosk eval faces` on the shared identity set (8 people × 5 photos) and
// the 300 labelled pairs of master.csv: it sits above every different-person
// score seen there, with margin, so the measured FMR is 0 on both sets; see
// docs/matching.md for the table and what that does and does not show.
const DefaultMatchThreshold = 0.38

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

// Decision is a 1:1 verification result.
type Decision struct {
	Score     float32 `json:"score"`
	Threshold float32 `json:"threshold"`
	Match     bool    `json:"match"`
}

// Decide compares a similarity score with a threshold.
func Decide(score, threshold float32) Decision {
	return Decision{Score: score, Threshold: threshold, Match: score >= threshold}
}

// Matcher ties detection, quality, alignment, embedding and the anti-spoof
// score together. Its models are owned by the caller, who closes them.
// A Matcher is safe for concurrent use as far as its models are (each
// serialises its own calls).
type Matcher struct {
	Det       *Detector
	Emb       *Embedder
	PAD       *PAD // optional; nil skips the anti-spoof score
	Quality   QualityThresholds
	Threshold float32
}

// NewMatcher uses the default quality gate and threshold.
func NewMatcher(det *Detector, emb *Embedder, pad *PAD) *Matcher {
	return &Matcher{Det: det, Emb: emb, PAD: pad, Quality: DefaultQuality, Threshold: DefaultMatchThreshold}
}

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
	v := Verification{Decision: Decide(ref.Similarity(live), m.Threshold), Frame: c.Index, PADScore: -1, Quality: c.Quality}
	if m.PAD != nil {
		if v.PADScore, err = m.PAD.Score(frames[c.Index], c.Face); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Gallery holds enrolled templates for 1:N search, packed into one slice so
// a search is a single pass over memory. Not safe for concurrent Add and
// Search; guard it, or build it once and then only search.
type Gallery struct {
	ids  []string
	vecs []float32
}

// Add enrols a template under an id (a record id, never a name).
func (g *Gallery) Add(id string, t Template) error {
	if !t.Valid() {
		return fmt.Errorf("enrolling %s: %w", id, ErrBadTemplate)
	}
	g.ids = append(g.ids, id)
	g.vecs = append(g.vecs, t.v...)
	return nil
}

// With returns a new gallery holding g's templates and t under id, leaving
// g untouched, so searches of g may run while an enrolment builds the next.
func (g *Gallery) With(id string, t Template) (*Gallery, error) {
	n := &Gallery{ids: slices.Clone(g.ids), vecs: slices.Clone(g.vecs)}
	return n, n.Add(id, t)
}

// Without returns a new gallery holding g's templates except id's.
func (g *Gallery) Without(id string) *Gallery {
	n := &Gallery{}
	for i, have := range g.ids {
		if have != id {
			n.ids = append(n.ids, have)
			n.vecs = append(n.vecs, g.vecs[i*TemplateDim:(i+1)*TemplateDim]...)
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

// Search returns the k best-scoring enrolled ids, best first.
func (g *Gallery) Search(t Template, k int) []Hit {
	if !t.Valid() || k <= 0 {
		return nil
	}
	hits := make([]Hit, 0, k+1)
	for i, id := range g.ids {
		s := dot(t.v, g.vecs[i*TemplateDim:(i+1)*TemplateDim])
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
func (g *Gallery) Identify(t Template, threshold float32) (Hit, bool) {
	h := g.Search(t, 1)
	if len(h) == 0 || h[0].Score < threshold {
		return Hit{}, false
	}
	return h[0], true
}
