package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

func TestFuseTemplates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a := randomTemplate(r)
	// b and c are a plus small noise; far is unrelated.
	near := func() Template {
		v := make([]float32, TemplateDim)
		for i := range v {
			v[i] = a.v[i] + 0.02*float32(r.NormFloat64())
		}
		t, _ := NewTemplate(v)
		return t
	}
	b, c, far := near(), near(), randomTemplate(r)

	mean, err := FuseTemplates([]Template{a, b, c}, FuseMean)
	if err != nil {
		t.Fatal(err)
	}
	if n := mean.Similarity(mean); math.Abs(float64(n)-1) > 1e-5 {
		t.Errorf("mean template has norm² %v; want 1", n)
	}
	if s := mean.Similarity(a); s < a.Similarity(b) {
		t.Errorf("mean~a = %v; want at least a~b (%v): the mean sits between its inputs", s, a.Similarity(b))
	}
	one, _ := FuseTemplates([]Template{a}, FuseMean)
	if s := one.Similarity(a); math.Abs(float64(s)-1) > 1e-5 {
		t.Errorf("mean of one template ~ itself = %v; want 1", s)
	}
	med, err := FuseTemplates([]Template{far, a, b, c}, FuseMedoid)
	if err != nil || med.Similarity(far) > 0.5 {
		t.Errorf("medoid with an outlier = %v (sim to the outlier %v); want one of the three close ones", err, med.Similarity(far))
	}
	// Pure: the inputs are not changed, and the result is not one of them.
	before := slices.Clone(a.v)
	out, _ := FuseTemplates([]Template{a, b}, FuseMedoid)
	out.Wipe()
	if !slices.Equal(before, a.v) {
		t.Error("FuseTemplates changed or shared an input")
	}

	other := Template{v: slices.Clone(b.v), model: 7}
	mine := Template{v: slices.Clone(a.v), model: 8}
	for _, tc := range []struct {
		name string
		ts   []Template
		how  Fusion
		want error
	}{
		{"none", nil, FuseMean, ErrNoTemplates},
		{"invalid", []Template{a, {}}, FuseMean, ErrBadTemplate},
		{"two models", []Template{mine, other}, FuseMean, ErrOtherModel},
		{"two lengths", []Template{a, randomTemplateDim(r, 128)}, FuseMedoid, ErrOtherModel},
	} {
		if _, err := FuseTemplates(tc.ts, tc.how); !errors.Is(err, tc.want) {
			t.Errorf("FuseTemplates(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
	if _, err := FuseTemplates([]Template{a}, "max"); err == nil {
		t.Error("an unknown fusion was accepted")
	}
	neg := Template{v: make([]float32, TemplateDim)}
	for i := range neg.v {
		neg.v[i] = -a.v[i]
	}
	if _, err := FuseTemplates([]Template{a, neg}, FuseMean); !errors.Is(err, ErrBadTemplate) {
		t.Errorf("mean of opposite templates = %v; want ErrBadTemplate (nothing left)", err)
	}
}

func TestPickSpread(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name   string
		scores []float64
		k      int
		want   []int
	}{
		{"best of each third", []float64{1, 3, 2, 5, 4, 1, 0, 2, 9}, 3, []int{1, 3, 8}},
		{"unusable run skipped", []float64{1, 2, 0, nan, 3, 1}, 3, []int{1, 4}},
		{"more picks than frames", []float64{1, 2}, 5, []int{0, 1}},
		{"all unusable", []float64{0, nan, -1}, 2, nil},
		{"none", nil, 3, nil},
		{"k zero", []float64{1}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PickSpread(tc.scores, tc.k); !slices.Equal(got, tc.want) {
				t.Errorf("PickSpread(%v, %d) = %v; want %v", tc.scores, tc.k, got, tc.want)
			}
		})
	}
}

func TestAlignmentResidual(t *testing.T) {
	exact := Face{Landmarks: arcFaceTemplate}
	// The template moved, scaled and rotated still fits exactly.
	s := Similarity{A: 2 * math.Cos(0.3), B: 2 * math.Sin(0.3), TX: 40, TY: -7}
	var moved Face
	for i, p := range arcFaceTemplate {
		moved.Landmarks[i] = s.Apply(p)
	}
	grimace := exact
	grimace.Landmarks[3].Y += 12
	turned := exact
	turned.Landmarks[2].X += 15
	if r := AlignmentResidual(exact); r > 1e-3 {
		t.Errorf("AlignmentResidual(template) = %v; want 0", r)
	}
	if r := AlignmentResidual(moved); r > 1e-3 {
		t.Errorf("AlignmentResidual(moved template) = %v; want 0", r)
	}
	if i := BestAligned([]Face{grimace, turned, moved}); i != 2 {
		t.Errorf("BestAligned = %d; want 2 (the undistorted face)", i)
	}
	if i := BestAligned(nil); i != -1 {
		t.Errorf("BestAligned(nil) = %d; want -1", i)
	}
}

func randomTemplateDim(r *rand.Rand, n int) Template {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	t, _ := NewTemplate(v)
	return t
}

func TestEmbedFused(t *testing.T) {
	m := newTestMatcher(t)
	live := decodeFile(t, filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))
	noisy := scalePixels(live, 0.9)
	var imgs []Image
	var faces []Face
	for _, img := range []Image{live, noisy} {
		fs, err := m.Det.Detect(img)
		if err != nil || len(fs) != 1 {
			t.Fatalf("Detect = %d faces, %v", len(fs), err)
		}
		imgs, faces = append(imgs, img), append(faces, fs[0])
	}
	ref := referenceOf(t, m, filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))
	fused, err := m.EmbedFused(imgs, faces, FuseMean)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Decide(ref.Similarity(fused)); d.Outcome != OutcomeMatch || fused.Model() != m.Emb.Tag() {
		t.Errorf("fused live template vs its own photo = %+v (model %x); want a match from the embedder's model", d, fused.Model())
	}
	if _, err := m.EmbedFused(imgs, faces[:1], FuseMean); err == nil {
		t.Error("EmbedFused with fewer faces than frames succeeded")
	}
	if _, err := m.EmbedFused(nil, nil, FuseMean); !errors.Is(err, ErrNoTemplates) {
		t.Errorf("EmbedFused(nothing) = %v; want ErrNoTemplates", err)
	}
}
