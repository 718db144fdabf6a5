package models

import (
	"errors"
	"fmt"
	"math"
)

// Fusion is how several live templates of one visitor become the one that
// is compared with the reference. One frame carries that frame's noise,
// blur, compression and expression; several frames spread over the
// liveness window average some of it away. docs/matching.md measures the
// methods on generated clips of the shared identities (kiosk eval fusion).
type Fusion string

const (
	// FuseMean averages the L2-normalised templates and normalises the
	// sum: the usual template-fusion rule for cosine-scored embeddings.
	FuseMean Fusion = "mean"
	// FuseMedoid keeps the template most similar to all the others: a
	// single real frame, the one least disturbed by a bad moment.
	FuseMedoid Fusion = "medoid"
)

// ErrNoTemplates means there was nothing to fuse.
var ErrNoTemplates = errors.New("no templates to fuse")

// FuseTemplates fuses templates of one face from one model into one. It
// is a pure function: the inputs are neither changed nor kept. Templates
// from different models are refused (ErrOtherModel), invalid ones
// (ErrBadTemplate).
func FuseTemplates(ts []Template, how Fusion) (Template, error) {
	if len(ts) == 0 {
		return Template{}, ErrNoTemplates
	}
	for i, t := range ts {
		if !t.Valid() {
			return Template{}, fmt.Errorf("fusing template %d: %w", i, ErrBadTemplate)
		}
		if !t.Compatible(ts[0]) {
			return Template{}, fmt.Errorf("fusing template %d: %w", i, ErrOtherModel)
		}
	}
	tag := ts[0].model
	for _, t := range ts {
		if tag == 0 {
			tag = t.model
		}
	}
	switch how {
	case FuseMean:
		sum := make([]float64, ts[0].Dim())
		for _, t := range ts {
			for i, x := range t.v {
				sum[i] += float64(x)
			}
		}
		v := make([]float32, len(sum))
		for i, x := range sum {
			v[i] = float32(x)
		}
		out, err := newTemplate(v, tag)
		clear(v)
		if err != nil {
			// Opposite templates can cancel out: no usable mean.
			return Template{}, fmt.Errorf("fusing %d templates: %w", len(ts), err)
		}
		return out, nil
	case FuseMedoid:
		best, bestSum := 0, math.Inf(-1)
		for i, t := range ts {
			var s float64
			for j, u := range ts {
				if i != j {
					s += float64(dot(t.v, u.v))
				}
			}
			if s > bestSum {
				best, bestSum = i, s
			}
		}
		return Template{v: append([]float32(nil), ts[best].v...), model: tag}, nil
	}
	return Template{}, fmt.Errorf("unknown template fusion %q (want %q or %q)", how, FuseMean, FuseMedoid)
}

// AlignmentResidual is how far a face's five landmarks sit from the
// alignment template after the best similarity transform: the root mean
// square distance, in pixels of the 112-px aligned crop. A frontal,
// neutral face fits the template closely; a turned head, a grimace or a
// misplaced landmark does not. It ranks frames for "best-aligned".
func AlignmentResidual(f Face) float64 {
	s := EstimateSimilarity(f.Landmarks, arcFaceTemplate)
	var sum float64
	for i, p := range f.Landmarks {
		q := s.Apply(p)
		dx, dy := float64(q.X-arcFaceTemplate[i].X), float64(q.Y-arcFaceTemplate[i].Y)
		sum += dx*dx + dy*dy
	}
	return math.Sqrt(sum / 5)
}

// BestAligned is the index of the face with the smallest alignment
// residual, or -1 for none.
func BestAligned(faces []Face) int {
	best, bestR := -1, math.Inf(1)
	for i, f := range faces {
		if r := AlignmentResidual(f); r < bestR {
			best, bestR = i, r
		}
	}
	return best
}

// PickSpread chooses up to k frames spread over a sequence: it cuts the
// sequence into k equal runs and takes the best-scoring usable frame of
// each (scores[i] is frame i's quality score; NaN, or ≤ 0, marks an
// unusable frame). Runs without a usable frame give nothing, so fewer than
// k indices may come back, in order. Spreading the picks over the liveness
// window keeps them from being k near-copies of one moment.
func PickSpread(scores []float64, k int) []int {
	n := len(scores)
	if k <= 0 || n == 0 {
		return nil
	}
	k = min(k, n)
	var out []int
	for r := 0; r < k; r++ {
		lo, hi := r*n/k, (r+1)*n/k
		best := -1
		for i := lo; i < hi; i++ {
			if s := scores[i]; s > 0 && (best < 0 || s > scores[best]) {
				best = i
			}
		}
		if best >= 0 {
			out = append(out, best)
		}
	}
	return out
}

// EmbedFused embeds each live frame's face and fuses the templates: the
// live template of a check-in from the frames the window kept (pick them
// with PickSpread). imgs[i] shows faces[i]. FuseMean is the measured
// choice (docs/matching.md). The per-frame templates are wiped.
func (m *Matcher) EmbedFused(imgs []Image, faces []Face, how Fusion) (Template, error) {
	if len(imgs) != len(faces) {
		return Template{}, fmt.Errorf("embedding %d frames with %d faces", len(imgs), len(faces))
	}
	ts := make([]Template, 0, len(imgs))
	defer func() {
		for _, t := range ts {
			t.Wipe()
		}
	}()
	for i := range imgs {
		t, err := m.Emb.EmbedFace(imgs[i], faces[i])
		if err != nil {
			return Template{}, fmt.Errorf("frame %d: %w", i, err)
		}
		ts = append(ts, t)
	}
	return FuseTemplates(ts, how)
}
