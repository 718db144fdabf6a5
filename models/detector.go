package models

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"gocv.io/x/gocv"
)

// Image is packed 8-bit BGR pixels, Width*3 bytes per row: the layout of
// capture.Frame, so a frame converts without copying.
type Image struct {
	Width, Height int
	Pix           []byte
}

// ErrBadImage means the pixels or the encoded image are unusable.
var ErrBadImage = errors.New("bad image")

func (im Image) check() error {
	if im.Width <= 0 || im.Height <= 0 || len(im.Pix) != im.Width*im.Height*3 {
		return fmt.Errorf("%w: %dx%d with %d bytes of BGR", ErrBadImage, im.Width, im.Height, len(im.Pix))
	}
	return nil
}

// Point is a position in image pixels.
type Point struct{ X, Y float32 }

// Face is one detection, in the coordinates of the image given to Detect.
type Face struct {
	X, Y, W, H float32 // box
	// Landmarks: right eye, left eye, nose tip, right and left mouth
	// corners (right/left as the subject sees them).
	Landmarks [5]Point
	Score     float32
}

// Rect is the box rounded to whole pixels.
func (f Face) Rect() image.Rectangle {
	return image.Rect(int(math.Round(float64(f.X))), int(math.Round(float64(f.Y))),
		int(math.Round(float64(f.X+f.W))), int(math.Round(float64(f.Y+f.H))))
}

// DetectorOptions configures NewDetector. The zero value suits a kiosk
// camera: frames scaled to 320 px, which keeps close-up faces under YuNet's
// largest 256 px anchor, and a 0.7 score floor.
type DetectorOptions struct {
	// InputSize is the longest side, in pixels, frames are scaled down to
	// before detection (never up). Default 320.
	InputSize int
	// ScoreThreshold drops weaker detections. Default 0.7.
	ScoreThreshold float32
	// NMSThreshold is the IoU above which overlapping boxes merge. Default 0.3.
	NMSThreshold float32
	// TopK caps the faces returned, best first. Default 20.
	TopK int
}

func (o *DetectorOptions) defaults() {
	if o.InputSize <= 0 {
		o.InputSize = 320
	}
	if o.ScoreThreshold <= 0 {
		o.ScoreThreshold = 0.7
	}
	if o.NMSThreshold <= 0 {
		o.NMSThreshold = 0.3
	}
	if o.TopK <= 0 {
		o.TopK = 20
	}
}

// Detector runs YuNet (face_detection_yunet_2022mar) through OpenCV's DNN
// module and decodes its prior boxes in Go, matching OpenCV 4.6's
// FaceDetectorYN. It reuses its Mats between calls, so one Detector serves
// one goroutine at a time (calls are serialised by a mutex). Close frees the
// network; the Detector must not be used afterwards.
type Detector struct {
	o   DetectorOptions
	mu  sync.Mutex
	net gocv.Net
	// closeNet runs the close-up pass (Detect): the same model, as a
	// network of its own (see detectNet).
	closeNet gocv.Net
	// per-call scratch, allocated once
	resized, padded, blob gocv.Mat
	priors                map[image.Point][]prior // by padded input size
	closed                bool
}

type prior struct{ cx, cy, sx, sy float32 }

// LoadDetector reads the YuNet model from dir, checks its pinned sha256 on
// the very bytes it loads, and builds a Detector.
func LoadDetector(dir string, o DetectorOptions) (*Detector, error) {
	b, err := ReadVerified(dir, YuNet)
	if err != nil {
		return nil, err
	}
	return NewDetector(b, o)
}

// ReadVerified reads a manifest model from dir and checks its hash on the
// bytes returned, so what is loaded is what was verified.
func ReadVerified(dir, file string) ([]byte, error) {
	e, ok := Lookup(file)
	if !ok {
		return nil, fmt.Errorf("model %s is not in the manifest", file)
	}
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w (run 'kiosk models fetch' or 'make setup')", file, err)
	}
	if got := sha256Hex(b); got != e.SHA256 {
		return nil, &ChecksumError{File: file, Where: p, Want: e.SHA256, Got: got}
	}
	return b, nil
}

// NewDetector builds a detector from the model's bytes. The bytes must be
// the verified YuNet model: OpenCV aborts the process on some malformed
// ONNX files, so never pass unverified input here.
func NewDetector(model []byte, o DetectorOptions) (*Detector, error) {
	o.defaults()
	if len(model) == 0 {
		return nil, fmt.Errorf("face detector model is empty")
	}
	net, err := readNet(model)
	if err != nil {
		return nil, err
	}
	closeNet, err := readNet(model)
	if err != nil {
		net.Close()
		return nil, err
	}
	return &Detector{o: o, net: net, closeNet: closeNet, resized: gocv.NewMat(), padded: gocv.NewMat(), blob: gocv.NewMat()}, nil
}

// readNet builds one YuNet network from the verified model bytes.
func readNet(model []byte) (gocv.Net, error) {
	net, err := gocv.ReadNetFromONNXBytes(model)
	if err != nil {
		return net, fmt.Errorf("loading face detector: %w", err)
	}
	if net.Empty() {
		net.Close()
		return net, fmt.Errorf("loading face detector: OpenCV returned an empty network")
	}
	return net, nil
}

// Close frees the network and scratch Mats.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.resized.Close()
	d.padded.Close()
	d.blob.Close()
	d.closeNet.Close()
	return d.net.Close()
}

// Options returns the detector's effective options.
func (d *Detector) Options() DetectorOptions { return d.o }

// Detect finds faces in img, best score first.
func (d *Detector) Detect(img Image) ([]Face, error) {
	if err := img.check(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("face detector is closed")
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()

	scale := min(1, float64(d.o.InputSize)/float64(max(img.Width, img.Height)))
	faces, err := d.detectNet(&d.net, src, img.Width, img.Height, scale)
	if err != nil || len(faces) == 0 {
		return faces, err
	}
	// YuNet's largest anchor is 256 px: a face much above 200 px in its
	// input gets drifting landmarks or a misplaced box (a close visitor,
	// or a narrow frame whose long side is not its width). Look again at
	// half the scale.
	big := 0.0
	for _, f := range faces {
		big = max(big, float64(f.H)*scale)
	}
	if big <= bigFace {
		return faces, nil
	}
	again, err := d.detectNet(&d.closeNet, src, img.Width, img.Height, scale/2)
	if err != nil || len(again) == 0 {
		return faces, nil
	}
	return mergeCloseUp(faces, again, d.o.NMSThreshold), nil
}

// mergeCloseUp is the close-up pass's faces plus the first pass's other
// faces, best first. A small face beside a close one (a photo held up next
// to the visitor) must still be seen. A first-pass box centred inside a
// close-up one is that face misplaced, even when it overlaps too little for
// the NMS threshold (a box of half the width inside it has an IoU of
// 0.25): keeping it would make one close visitor look like two people.
func mergeCloseUp(first, again []Face, nms float32) []Face {
	out := slices.Clone(again)
	for _, f := range first {
		if !slices.ContainsFunc(again, func(g Face) bool { return iouOf(f, g) > nms || centredIn(f, g) }) {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Face) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// bigFace is a face height in the detector's input, pixels, above which a
// frame is detected again at half the scale (see Detect): the face is then
// 100–160 px, well inside YuNet's anchors.
const bigFace = 200

// detectNet runs YuNet (net) on src scaled by scale and returns the faces
// in src's coordinates, best first. The close-up pass has a network of its
// own: OpenCV's DNN rebuilds its layers whenever the input
// shape changes, which alternating 320- and 160-px inputs on one network
// made cost more than both passes (30 ms against 13 for one pass).
func (d *Detector) detectNet(net *gocv.Net, src gocv.Mat, w, h int, scale float64) ([]Face, error) {
	rw := max(1, int(math.Round(float64(w)*scale)))
	rh := max(1, int(math.Round(float64(h)*scale)))
	in := src
	if rw != w || rh != h {
		gocv.Resize(src, &d.resized, image.Pt(rw, rh), 0, 0, gocv.InterpolationArea)
		in = d.resized
	}
	// Pad right and bottom to a multiple of 64 so every feature map, down
	// to stride 64, has whole cells and the network's outputs line up with
	// the priors.
	pw, ph := (rw+63)/64*64, (rh+63)/64*64
	gocv.CopyMakeBorder(in, &d.padded, 0, ph-rh, 0, pw-rw, gocv.BorderConstant, colorBlack)
	blob := gocv.BlobFromImage(d.padded, 1, image.Pt(pw, ph), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	net.SetInput(blob, "")
	outs := net.ForwardLayers([]string{"loc", "conf", "iou"})
	defer func() {
		for _, m := range outs {
			m.Close()
		}
	}()
	if len(outs) != 3 {
		return nil, fmt.Errorf("face detector returned %d outputs; want 3 (is this the 2022mar YuNet?)", len(outs))
	}
	loc, err1 := outs[0].DataPtrFloat32()
	conf, err2 := outs[1].DataPtrFloat32()
	iou, err3 := outs[2].DataPtrFloat32()
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("reading face detector outputs: %w", err)
	}
	priors := d.priorsFor(pw, ph)
	n := len(priors)
	if len(loc) != n*14 || len(conf) != n*2 || len(iou) != n {
		return nil, fmt.Errorf("face detector output sizes %d/%d/%d do not match %d priors", len(loc), len(conf), len(iou), n)
	}
	faces := decode(priors, loc, conf, iou, float32(pw), float32(ph), d.o.ScoreThreshold)
	faces = nms(faces, d.o.NMSThreshold, d.o.TopK)
	faces = slices.DeleteFunc(faces, func(f Face) bool { return !plausible(in, f) })
	inv := float32(1 / scale)
	for i := range faces {
		f := &faces[i]
		f.X, f.Y, f.W, f.H = f.X*inv, f.Y*inv, f.W*inv, f.H*inv
		for j := range f.Landmarks {
			f.Landmarks[j].X *= inv
			f.Landmarks[j].Y *= inv
		}
	}
	return faces, nil
}

// priorsFor returns YuNet's anchors for a padded input of w×h, computed
// once per size (a frame and its close-up pass use two).
func (d *Detector) priorsFor(w, h int) []prior {
	k := image.Pt(w, h)
	if p, ok := d.priors[k]; ok {
		return p
	}
	if d.priors == nil || len(d.priors) > 8 {
		d.priors = map[image.Point][]prior{}
	}
	p := makePriors(w, h)
	d.priors[k] = p
	return p
}

// minFaceContrast is the least grey-level spread (standard deviation, in
// the detector's input) a real face box shows. YuNet answers a flat frame
// (a covered lens, a black or white screen) with a frame-sized "face" of
// score ~0.8; faces in the shared photos show 25 or more.
const minFaceContrast = 6

// plausible rejects detections a real face cannot produce: boxes mostly
// outside the frame, and boxes with no texture.
func plausible(in gocv.Mat, f Face) bool {
	bounds := image.Rect(0, 0, in.Cols(), in.Rows())
	r := f.Rect().Intersect(bounds)
	if r.Dx() < 2 || r.Dy() < 2 || float32(r.Dx()*r.Dy()) < 0.5*f.W*f.H {
		return false
	}
	roi := in.Region(r)
	defer roi.Close()
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	gocv.MeanStdDev(roi, &mean, &std)
	spread := 0.0
	for i := 0; i < std.Rows(); i++ {
		spread = max(spread, std.GetDoubleAt(i, 0))
	}
	return spread >= minFaceContrast
}

// DetectStill is Detect for photos rather than frames: when nothing is
// found, it tries again with the photo shrunk into a wider grey canvas,
// because tight crops (ID photos, face thumbnails) lack the context YuNet
// needs.
func (d *Detector) DetectStill(img Image) ([]Face, error) {
	faces, err := d.Detect(img)
	if err != nil || len(faces) > 0 {
		return faces, err
	}
	padX, padY := img.Width/2, img.Height/2
	w, h := img.Width+2*padX, img.Height+2*padY
	canvas := Image{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	for i := range canvas.Pix {
		canvas.Pix[i] = 128
	}
	for y := 0; y < img.Height; y++ {
		copy(canvas.Pix[((y+padY)*w+padX)*3:], img.Pix[y*img.Width*3:(y+1)*img.Width*3])
	}
	faces, err = d.Detect(canvas)
	for i := range faces {
		f := &faces[i]
		f.X -= float32(padX)
		f.Y -= float32(padY)
		for j := range f.Landmarks {
			f.Landmarks[j].X -= float32(padX)
			f.Landmarks[j].Y -= float32(padY)
		}
	}
	return faces, err
}

// makePriors lays out YuNet's anchors for a padded input of w×h, as
// OpenCV 4.6 does: feature maps at strides 8, 16, 32 and 64 with 3, 2, 2
// and 3 square anchors per cell, in normalised coordinates.
func makePriors(w, h int) []prior {
	minSizes := [][]float32{{10, 16, 24}, {32, 48}, {64, 96}, {128, 192, 256}}
	steps := []int{8, 16, 32, 64}
	// Feature map sizes follow the network's halvings from the input.
	fw, fh := (w+1)/2/2, (h+1)/2/2
	var out []prior
	for i, step := range steps {
		fw, fh = fw/2, fh/2
		for y := 0; y < fh; y++ {
			for x := 0; x < fw; x++ {
				for _, ms := range minSizes[i] {
					out = append(out, prior{
						cx: (float32(x) + 0.5) * float32(step) / float32(w),
						cy: (float32(y) + 0.5) * float32(step) / float32(h),
						sx: ms / float32(w),
						sy: ms / float32(h),
					})
				}
			}
		}
	}
	return out
}

// decode turns raw outputs into faces above the score floor. OpenCV 4.6
// uses variance 0.1 for the centre and the width but 0.2 for the height.
func decode(priors []prior, loc, conf, iou []float32, w, h, floor float32) []Face {
	const v0, v1 = 0.1, 0.2
	var faces []Face
	for i, p := range priors {
		cls := conf[i*2+1]
		io := min(max(iou[i], 0), 1)
		score := float32(math.Sqrt(float64(max(cls, 0) * io)))
		if score < floor {
			continue
		}
		l := loc[i*14 : i*14+14]
		cx := (p.cx + l[0]*v0*p.sx) * w
		cy := (p.cy + l[1]*v0*p.sy) * h
		bw := p.sx * float32(math.Exp(float64(l[2]*v0))) * w
		bh := p.sy * float32(math.Exp(float64(l[3]*v1))) * h
		f := Face{X: cx - bw/2, Y: cy - bh/2, W: bw, H: bh, Score: score}
		for j := 0; j < 5; j++ {
			f.Landmarks[j] = Point{
				X: (p.cx + l[4+2*j]*v0*p.sx) * w,
				Y: (p.cy + l[5+2*j]*v0*p.sy) * h,
			}
		}
		faces = append(faces, f)
	}
	return faces
}

// nms keeps the best-scoring box of each overlapping group.
func nms(faces []Face, thresh float32, topK int) []Face {
	slices.SortFunc(faces, func(a, b Face) int { return cmp.Compare(b.Score, a.Score) })
	var keep []Face
	for _, f := range faces {
		ok := true
		for _, k := range keep {
			if iouOf(f, k) > thresh {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, f)
			if len(keep) == topK {
				break
			}
		}
	}
	return keep
}

// centredIn reports whether a's centre lies inside b's box.
func centredIn(a, b Face) bool {
	cx, cy := a.X+a.W/2, a.Y+a.H/2
	return cx >= b.X && cx <= b.X+b.W && cy >= b.Y && cy <= b.Y+b.H
}

func iouOf(a, b Face) float32 {
	x1, y1 := max(a.X, b.X), max(a.Y, b.Y)
	x2, y2 := min(a.X+a.W, b.X+b.W), min(a.Y+a.H, b.Y+b.H)
	if x2 <= x1 || y2 <= y1 {
		return 0
	}
	inter := (x2 - x1) * (y2 - y1)
	return inter / (a.W*a.H + b.W*b.H - inter)
}
