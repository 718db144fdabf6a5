package models

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	"gocv.io/x/gocv"
)

// Embedder computes face templates with an embedding model fed as its
// manifest recipe says: the face aligned to the recipe's template at its
// input size, normalised and channel-ordered as the model was trained, and
// the output L2-normalised. The default, fr_feature.onnx, takes a 112×112
// ArcFace crop, RGB, (x − 127) / 128. (OpenCV's FaceRecognizerSF.feature
// feeds raw 0–255 pixels, which collapses fr_feature's accuracy, so it is
// not used; that recipe is SFace's, and the manifest says so per model.)
// Calls are serialised; Close frees the network.
type Embedder struct {
	mu      sync.Mutex
	net     gocv.Net
	aligned gocv.Mat
	closed  bool

	file   string
	recipe Recipe
	tag    ModelTag
	points [5]Point // the alignment template at the recipe's input size
}

// FeatureModel and LivenessModel are the manifest names of the default
// embedding model and the presentation-attack model.
const (
	FeatureModel  = "fr_feature.onnx"
	LivenessModel = "fr_liveness.onnx"
)

// LoadEmbedder reads and verifies the default embedding model,
// fr_feature.onnx, from dir.
func LoadEmbedder(dir string) (*Embedder, error) { return LoadFaceEmbedder(dir, FeatureModel) }

// LoadFaceEmbedder reads and verifies the manifest's embedding model file
// from dir and feeds it with its manifest recipe: this is how a deployment
// that has a stronger licensed model swaps it in by configuration (the
// file must be pinned in the manifest with role=embedder).
func LoadFaceEmbedder(dir, file string) (*Embedder, error) {
	e, ok := Lookup(file)
	if !ok {
		return nil, fmt.Errorf("face model %s is not in the manifest (embedding models: %v)", file, Embedders())
	}
	if e.Recipe.Role != RoleEmbedder {
		return nil, fmt.Errorf("model %s is a %s, not a face embedding model (embedding models: %v)", file, firstNonEmptyRole(e.Recipe.Role), Embedders())
	}
	b, err := ReadVerified(dir, file)
	if err != nil {
		return nil, err
	}
	return NewEmbedder(b, file, e.Recipe)
}

// Embedders lists the manifest's embedding models, the default first.
func Embedders() []string {
	out := []string{FeatureModel}
	for _, e := range Manifest() {
		if e.Recipe.Role == RoleEmbedder && e.File != FeatureModel {
			out = append(out, e.File)
		}
	}
	return out
}

func firstNonEmptyRole(r Role) string {
	if r == "" {
		return "model without a recipe"
	}
	return string(r)
}

// NewEmbedder builds an embedder from a model's bytes and its recipe. The
// bytes must be verified against the manifest first: OpenCV aborts the
// process on some malformed ONNX files. name is for messages only.
func NewEmbedder(model []byte, name string, r Recipe) (*Embedder, error) {
	if r.Role != RoleEmbedder || r.Dim == 0 || r.Input == 0 || r.Scale == 0 || r.Align != AlignArcFace || (r.Colour != "rgb" && r.Colour != "bgr") {
		return nil, fmt.Errorf("face model %s: incomplete embedder recipe %q", name, r.String())
	}
	if len(model) == 0 {
		return nil, fmt.Errorf("face model %s is empty", name)
	}
	net, err := gocv.ReadNetFromONNXBytes(model)
	if err != nil || net.Empty() {
		if err == nil {
			net.Close()
		}
		return nil, fmt.Errorf("loading face model %s: %v", name, err)
	}
	e := &Embedder{net: net, aligned: gocv.NewMat(), file: name, recipe: r}
	e.tag = tagFor(sha256Hex(model), r)
	k := float32(r.Input) / AlignedSize
	for i, p := range arcFaceTemplate {
		e.points[i] = Point{X: p.X * k, Y: p.Y * k}
	}
	return e, nil
}

// tagFor ties a template to the model file and the recipe it was fed
// with: changing either makes old templates incomparable.
func tagFor(modelSHA256 string, r Recipe) ModelTag {
	return tagOfHex(sha256Hex([]byte(modelSHA256 + " " + r.String())))
}

// Model is the embedding model's manifest file name.
func (e *Embedder) Model() string { return e.file }

// Recipe is how the model is fed.
func (e *Embedder) Recipe() Recipe { return e.recipe }

// Tag is the ModelTag its templates carry.
func (e *Embedder) Tag() ModelTag { return e.tag }

// Calibration is the model's score calibration from the manifest; the zero
// Calibration (uncalibrated: every comparison referred) when it has none.
func (e *Embedder) Calibration() Calibration {
	if e.recipe.Calibration == nil {
		return Calibration{}
	}
	return *e.recipe.Calibration
}

// Close frees the network.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.aligned.Close()
	return e.net.Close()
}

// EmbedFace aligns the detected face in img and returns its template.
func (e *Embedder) EmbedFace(img Image, f Face) (Template, error) {
	if err := img.check(); err != nil {
		return Template{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Template{}, errors.New("face embedder is closed")
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return Template{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()
	if err := alignMatTo(src, &e.aligned, f, e.points, e.recipe.Input); err != nil {
		return Template{}, err
	}
	return e.embedMat(e.aligned)
}

// Embed returns the template of a crop already aligned to the recipe's
// template at its input size (112×112 for the default model).
func (e *Embedder) Embed(aligned Image) (Template, error) {
	if err := aligned.check(); err != nil {
		return Template{}, err
	}
	if n := e.recipe.Input; aligned.Width != n || aligned.Height != n {
		return Template{}, fmt.Errorf("%w: aligned crop is %dx%d; want %dx%d", ErrBadImage, aligned.Width, aligned.Height, n, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Template{}, errors.New("face embedder is closed")
	}
	m, err := gocv.NewMatFromBytes(aligned.Height, aligned.Width, gocv.MatTypeCV8UC3, aligned.Pix)
	if err != nil {
		return Template{}, err
	}
	defer m.Close()
	return e.embedMat(m)
}

func (e *Embedder) embedMat(m gocv.Mat) (Template, error) {
	r := e.recipe
	mean := gocv.NewScalar(r.Mean, r.Mean, r.Mean, 0)
	blob := gocv.BlobFromImage(m, r.Scale, image.Pt(r.Input, r.Input), mean, r.Colour == "rgb", false)
	defer blob.Close()
	e.net.SetInput(blob, "")
	out := e.net.Forward("")
	defer out.Close()
	v, err := out.DataPtrFloat32()
	if err != nil {
		return Template{}, fmt.Errorf("reading embedding: %w", err)
	}
	if len(v) != r.Dim {
		return Template{}, fmt.Errorf("face model %s returned %d values; its recipe says dim=%d", e.file, len(v), r.Dim)
	}
	// Forward's output shares the network's buffer: copy before the next call.
	return newTemplate(append([]float32(nil), v...), e.tag)
}

// PAD scores presentation attacks with fr_liveness.onnx, a passive
// three-class model (index 0 = live) on the face box scaled ×2.7 about its
// centre, 128×128, raw RGB 0–255, NCHW. Known weakness: heavily retouched
// studio portraits score low, like prints. Calls are serialised.
type PAD struct {
	mu     sync.Mutex
	net    gocv.Net
	closed bool
}

// PADCropScale is how far the face box is widened for the PAD crop.
const PADCropScale = 2.7

// LoadPAD reads and verifies fr_liveness.onnx from dir.
func LoadPAD(dir string) (*PAD, error) {
	b, err := ReadVerified(dir, LivenessModel)
	if err != nil {
		return nil, err
	}
	net, err := gocv.ReadNetFromONNXBytes(b)
	if err != nil || net.Empty() {
		return nil, fmt.Errorf("loading anti-spoof model: %v", err)
	}
	return &PAD{net: net}, nil
}

// Close frees the network.
func (p *PAD) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.net.Close()
}

// Score returns the probability that the face is live, in [0, 1].
func (p *PAD) Score(img Image, f Face) (float32, error) {
	if err := img.check(); err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errors.New("anti-spoof model is closed")
	}
	r := padBox(f, img.Width, img.Height)
	if r.Dx() < 8 || r.Dy() < 8 {
		return 0, fmt.Errorf("face box %v too small for the anti-spoof crop", r)
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()
	crop := src.Region(r)
	defer crop.Close()
	blob := gocv.BlobFromImage(crop, 1, image.Pt(128, 128), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	p.net.SetInput(blob, "")
	out := p.net.Forward("")
	defer out.Close()
	v, err := out.DataPtrFloat32()
	if err != nil || len(v) != 3 {
		return 0, fmt.Errorf("anti-spoof output has %d values; want 3 (%v)", len(v), err)
	}
	return softmax3(v)[0], nil
}

// padBox is the face box scaled about its centre and clamped to the image.
func padBox(f Face, w, h int) image.Rectangle {
	cx, cy := f.X+f.W/2, f.Y+f.H/2
	hw, hh := f.W*PADCropScale/2, f.H*PADCropScale/2
	r := image.Rect(int(cx-hw), int(cy-hh), int(cx+hw), int(cy+hh))
	return r.Intersect(image.Rect(0, 0, w, h))
}

func softmax3(v []float32) [3]float32 {
	m := max(v[0], v[1], v[2])
	var e [3]float64
	var s float64
	for i := range e {
		e[i] = math.Exp(float64(v[i] - m))
		s += e[i]
	}
	return [3]float32{float32(e[0] / s), float32(e[1] / s), float32(e[2] / s)}
}
