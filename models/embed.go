package models

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	"gocv.io/x/gocv"
)

// Embedder computes face templates with fr_feature.onnx: a 112×112 crop
// aligned to the ArcFace template, RGB, (x − 127) / 128, NCHW; the 512-d
// output is L2-normalised. (OpenCV's FaceRecognizerSF.feature feeds raw
// 0–255 pixels, which collapses this model's accuracy, so it is not used.)
// Calls are serialised; Close frees the network.
type Embedder struct {
	mu      sync.Mutex
	net     gocv.Net
	aligned gocv.Mat
	closed  bool
}

// FeatureModel and LivenessModel are the manifest names of the embedding
// and presentation-attack models.
const (
	FeatureModel  = "fr_feature.onnx"
	LivenessModel = "fr_liveness.onnx"
)

// LoadEmbedder reads and verifies fr_feature.onnx from dir.
func LoadEmbedder(dir string) (*Embedder, error) {
	b, err := ReadVerified(dir, FeatureModel)
	if err != nil {
		return nil, err
	}
	net, err := gocv.ReadNetFromONNXBytes(b)
	if err != nil || net.Empty() {
		return nil, fmt.Errorf("loading face embedder: %v", err)
	}
	return &Embedder{net: net, aligned: gocv.NewMat()}, nil
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
	if err := alignMat(src, &e.aligned, f); err != nil {
		return Template{}, err
	}
	return e.embedMat(e.aligned)
}

// Embed returns the template of an already aligned 112×112 crop.
func (e *Embedder) Embed(aligned Image) (Template, error) {
	if err := aligned.check(); err != nil {
		return Template{}, err
	}
	if aligned.Width != AlignedSize || aligned.Height != AlignedSize {
		return Template{}, fmt.Errorf("%w: aligned crop is %dx%d; want %dx%d", ErrBadImage, aligned.Width, aligned.Height, AlignedSize, AlignedSize)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m, err := gocv.NewMatFromBytes(AlignedSize, AlignedSize, gocv.MatTypeCV8UC3, aligned.Pix)
	if err != nil {
		return Template{}, err
	}
	defer m.Close()
	return e.embedMat(m)
}

func (e *Embedder) embedMat(m gocv.Mat) (Template, error) {
	blob := gocv.BlobFromImage(m, 1.0/128, image.Pt(AlignedSize, AlignedSize), gocv.NewScalar(127, 127, 127, 0), true, false)
	defer blob.Close()
	e.net.SetInput(blob, "")
	out := e.net.Forward("")
	defer out.Close()
	v, err := out.DataPtrFloat32()
	if err != nil {
		return Template{}, fmt.Errorf("reading embedding: %w", err)
	}
	// Forward's output shares the network's buffer: copy before the next call.
	return NewTemplate(append([]float32(nil), v...))
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
