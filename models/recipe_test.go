package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func TestTemplateModelsAndLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	short := randomTemplateDim(r, 128)
	short.model = 5
	b, err := short.AppendBinary(nil)
	if err != nil || len(b) != 7+4*128 || b[0] != templateV2 {
		t.Fatalf("AppendBinary(128-d, tagged) = %d bytes, version %d, %v; want version 2 with 519 bytes", len(b), b[0], err)
	}
	back, err := ParseTemplate(b)
	if err != nil || back.Model() != 5 || back.Dim() != 128 || math.Abs(float64(back.Similarity(short))-1) > 1e-5 {
		t.Fatalf("ParseTemplate(v2) = model %d, dim %d, %v", back.Model(), back.Dim(), err)
	}

	def := randomTemplate(r)
	def.model = featureTag()
	b, _ = def.AppendBinary(nil)
	if len(b) != 1+4*TemplateDim || b[0] != templateV1 {
		t.Errorf("the default model's template wrote version %d, %d bytes; want version 1 (readable by older kiosks)", b[0], len(b))
	}
	if back, _ := ParseTemplate(b); back.Model() != featureTag() {
		t.Errorf("a version-1 template parsed as model %x; want fr_feature's %x", back.Model(), featureTag())
	}

	other := Template{v: def.v, model: featureTag() + 1}
	if s := def.Similarity(other); s != -1 {
		t.Errorf("similarity across models = %v; want -1", s)
	}
	if s := def.Similarity(Template{v: def.v}); math.Abs(float64(s)-1) > 1e-5 {
		t.Errorf("similarity with an untagged copy = %v; want 1", s)
	}
	if s := def.Similarity(short); s != -1 {
		t.Errorf("similarity across lengths = %v; want -1", s)
	}

	var g Gallery
	if err := g.Add("a", def); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Template{short, other} {
		if err := g.Add("b", bad); !errors.Is(err, ErrOtherModel) {
			t.Errorf("Gallery.Add(other model) = %v; want ErrOtherModel", err)
		}
		if h := g.Search(bad, 1); h != nil {
			t.Errorf("Search with another model's probe = %v; want nothing", h)
		}
	}
	for _, bad := range [][]byte{
		{templateV2, 0, 0, 0, 0, 128, 0},                                  // 128 values promised, none given
		append([]byte{templateV2, 0, 0, 0, 0, 4, 0}, make([]byte, 16)...), // 4 values: too short a template
	} {
		if _, err := ParseTemplate(bad); !errors.Is(err, ErrBadTemplate) {
			t.Errorf("ParseTemplate(%d bytes) = %v; want ErrBadTemplate", len(bad), err)
		}
	}
}

// TestEmbedderRecipeSwitch loads the one embedding model we have through
// the manifest, and again under other recipes, to show the recipe is what
// feeds it: the manifest's recipe reproduces the default embedder; SFace's
// recipe (raw 0–255 pixels) collapses fr_feature's accuracy, as its model
// card warns; a swapped colour order changes the templates; templates
// made under different recipes never compare; and a model without a
// calibration refers every comparison.
func TestEmbedderRecipeSwitch(t *testing.T) {
	dir := modelDir(t)
	d := newTestDetector(t)
	ids := dataDir(t, "faces/pairs")
	photos := []string{"img20.jpg", "img21.jpg", "img16.jpg"} // colour: the same person twice, then another
	var imgs []Image
	var faces []Face
	for _, p := range photos {
		img := decodeFile(t, filepath.Join(ids, p))
		fs, err := d.DetectStill(img)
		if err != nil || len(fs) != 1 {
			t.Fatalf("%s: %d faces, %v", p, len(fs), err)
		}
		imgs, faces = append(imgs, img), append(faces, fs[0])
	}
	model, err := ReadVerified(dir, FeatureModel)
	if err != nil {
		t.Fatal(err)
	}
	manifest := mustLookup(t, FeatureModel).Recipe
	sface := mustLookup(t, "face_recognition_sface_2021dec.onnx").Recipe
	sface.Dim, sface.Optional = manifest.Dim, false // same output length, SFace's pixels
	bgr := manifest
	bgr.Colour, bgr.Calibration = "bgr", nil

	embed := func(r Recipe) []Template {
		t.Helper()
		e, err := NewEmbedder(model, "fr_feature.onnx under test", r)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		var out []Template
		for i := range imgs {
			tp, err := e.EmbedFace(imgs[i], faces[i])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tp)
		}
		return out
	}
	def, err := LoadEmbedder(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	want, _ := def.EmbedFace(imgs[0], faces[0])

	own, raw, swapped := embed(manifest), embed(sface), embed(bgr)
	if s := own[0].Similarity(want); s < 0.9999 || own[0].Model() != want.Model() || want.Model() != featureTag() {
		t.Errorf("the manifest recipe gives similarity %v to LoadEmbedder's template (tags %x, %x); want the same template", s, own[0].Model(), want.Model())
	}
	ownGap := own[0].Similarity(own[1]) - own[0].Similarity(own[2])
	rawGap := raw[0].Similarity(raw[1]) - raw[0].Similarity(raw[2])
	t.Logf("same-minus-different score: manifest recipe %.3f, SFace's recipe %.3f", ownGap, rawGap)
	if rawGap > ownGap/2 {
		t.Errorf("SFace's raw-pixel recipe kept fr_feature's separation (%.3f vs %.3f); want it collapsed", rawGap, ownGap)
	}
	if s := dot(own[0].v, swapped[0].v); s > 0.99 {
		t.Errorf("swapping the colour order left the template unchanged (cosine %.4f)", s)
	}
	if own[0].Similarity(raw[0]) != -1 || own[0].Similarity(swapped[0]) != -1 {
		t.Error("templates from different recipes were compared; want -1")
	}

	e, err := NewEmbedder(model, "uncalibrated", bgr)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if m := NewMatcher(d, e, nil); m.Bands.Calibrated() || m.Decide(0.99).Outcome != OutcomeRefer {
		t.Errorf("a model without a calibration decides %v; want refer", m.Decide(0.99))
	}

	for _, tc := range []struct{ file, want string }{
		{"face_recognition_sface_2021dec.onnx", "models fetch"},
		{YuNet, "not a face embedding model"},
		{"nope.onnx", "not in the manifest"},
	} {
		if _, err := LoadFaceEmbedder(t.TempDir(), tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadFaceEmbedder(%s) = %v; want an error saying %q", tc.file, err, tc.want)
		}
	}
	if _, err := NewEmbedder(model, "x", Recipe{Role: RoleEmbedder}); err == nil {
		t.Error("NewEmbedder accepted an incomplete recipe")
	}
	for _, ts := range [][]Template{own, raw, swapped} {
		for _, tp := range ts {
			tp.Wipe()
		}
	}
	want.Wipe()
}
