package models

import (
	"fmt"
	"image"
	"math"
)

// RGB is a mean colour, 0–255 per channel.
type RGB struct{ R, G, B float64 }

// Patch is the mean colour of the skin pixels in one facial region.
type Patch struct {
	Name   string `json:"name"`
	Mean   RGB    `json:"-"` // skin colour is biometric-adjacent: not for logs
	Pixels int    `json:"pixels"`
}

// PatchSet is one frame's input to rPPG: skin patches, a non-skin
// reference region beside the face (to tell a pulse from flicker that
// lights everything), and the face's position and size (to measure motion).
type PatchSet struct {
	Patches    []Patch
	Background Patch
	Centre     Point
	Size       float64 // eye distance in pixels
}

// Names of the patches, in PatchSet order.
const (
	PatchForehead   = "forehead"
	PatchLeftCheek  = "left_cheek" // on the image's left
	PatchRightCheek = "right_cheek"
	PatchNose       = "nose"
	PatchChin       = "chin"
)

// minSkinPixels is the fewest skin pixels a patch needs to count.
const minSkinPixels = 12

// SkinPatches measures the mean colour of skin in five regions placed from
// the landmarks (forehead, both cheeks, nose bridge, chin) and a 3×3 grid
// over the lower face, each sized relative to the eye distance, plus a
// background strip beside the face.
// Pixels outside a YCbCr skin range are ignored, so hair, eyebrows and
// glasses do not leak into the trace. Pure Go over the BGR buffer: about a
// thousand pixels per patch at kiosk distances.
func SkinPatches(img Image, f Face) PatchSet {
	l := f.Landmarks
	re, le, nose := l[0], l[1], l[2]
	mouth := Point{X: (l[3].X + l[4].X) / 2, Y: (l[3].Y + l[4].Y) / 2}
	ux, uy := float64(le.X-re.X), float64(le.Y-re.Y)
	d := math.Hypot(ux, uy)
	ps := PatchSet{Size: d, Centre: Point{X: f.X + f.W/2, Y: f.Y + f.H/2}}
	if d < 4 || img.check() != nil {
		return ps
	}
	ux, uy = ux/d, uy/d
	vx, vy := -uy, ux // points down the face
	mid := Point{X: (re.X + le.X) / 2, Y: (re.Y + le.Y) / 2}
	at := func(p Point, du, dv float64) Point {
		return Point{X: p.X + float32(du*d*ux+dv*d*vx), Y: p.Y + float32(du*d*uy+dv*d*vy)}
	}
	lerp := func(a, b Point, t float32) Point { return Point{X: a.X + t*(b.X-a.X), Y: a.Y + t*(b.Y-a.Y)} }
	regions := []struct {
		name   string
		centre Point
		w, h   float64 // in eye distances
	}{
		{PatchForehead, at(mid, 0, -0.55), 0.9, 0.35},
		{PatchLeftCheek, at(lerp(re, l[3], 0.55), -0.15, 0), 0.35, 0.35},
		{PatchRightCheek, at(lerp(le, l[4], 0.55), 0.15, 0), 0.35, 0.35},
		{PatchNose, lerp(mid, nose, 0.5), 0.2, 0.25},
		{PatchChin, at(mouth, 0, 0.35), 0.4, 0.2},
	}
	// A 3×3 grid over the lower face (eye line to below the mouth, about
	// two eye distances wide): larger areas average away sensor and
	// compression noise, which small landmark patches cannot.
	for gy := 0; gy < 3; gy++ {
		for gx := 0; gx < 3; gx++ {
			c := at(mid, (float64(gx)-1)*0.62, 0.35+float64(gy)*0.42)
			regions = append(regions, struct {
				name   string
				centre Point
				w, h   float64
			}{fmt.Sprintf("grid_%d_%d", gy, gx), c, 0.6, 0.4})
		}
	}
	for _, r := range regions {
		x0, y0 := float64(r.centre.X)-r.w*d/2, float64(r.centre.Y)-r.h*d/2
		mean, n := meanSkinCoverage(img, x0, y0, x0+r.w*d, y0+r.h*d)
		ps.Patches = append(ps.Patches, Patch{Name: r.name, Mean: mean, Pixels: n})
	}
	// Background: a strip beside the face box, on whichever side has room.
	box := f.Rect()
	stripW := max(8, box.Dx()/3)
	left := image.Rect(box.Min.X-stripW-box.Dx()/4, box.Min.Y, box.Min.X-box.Dx()/4, box.Max.Y)
	right := image.Rect(box.Max.X+box.Dx()/4, box.Min.Y, box.Max.X+box.Dx()/4+stripW, box.Max.Y)
	bl, nl := meanColour(img, left, false)
	br, nr := meanColour(img, right, false)
	if nr > nl {
		bl, nl = br, nr
	}
	ps.Background = Patch{Name: "background", Mean: bl, Pixels: nl}
	return ps
}

// Usable reports whether the patch has enough skin to carry a signal.
func (p Patch) Usable() bool { return p.Pixels >= minSkinPixels }

// meanSkinCoverage averages the skin pixels of the real-valued rectangle
// [x0,x1)×[y0,y1), weighting edge pixels by the fraction of them inside it.
// Without the weights a patch snaps a whole pixel row at a time as the face
// moves, a step in the trace that no pulse makes.
func meanSkinCoverage(img Image, x0, y0, x1, y1 float64) (RGB, int) {
	x0, y0 = math.Max(x0, 0), math.Max(y0, 0)
	x1, y1 = math.Min(x1, float64(img.Width)), math.Min(y1, float64(img.Height))
	var sr, sg, sb, sw float64
	n := 0
	for y := int(math.Floor(y0)); float64(y) < y1; y++ {
		wy := math.Min(float64(y+1), y1) - math.Max(float64(y), y0)
		row := img.Pix[y*img.Width*3:]
		for x := int(math.Floor(x0)); float64(x) < x1; x++ {
			wx := math.Min(float64(x+1), x1) - math.Max(float64(x), x0)
			b, g, r := row[x*3], row[x*3+1], row[x*3+2]
			if wx <= 0 || wy <= 0 || !IsSkin(r, g, b) {
				continue
			}
			w := wx * wy
			sr += w * float64(r)
			sg += w * float64(g)
			sb += w * float64(b)
			sw += w
			n++
		}
	}
	if sw == 0 {
		return RGB{}, 0
	}
	return RGB{R: sr / sw, G: sg / sw, B: sb / sw}, n
}

// meanColour averages the pixels of r (clipped to the image); with skin set,
// only skin-coloured ones.
func meanColour(img Image, r image.Rectangle, skin bool) (RGB, int) {
	r = r.Intersect(image.Rect(0, 0, img.Width, img.Height))
	var sr, sg, sb float64
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Width*3:]
		for x := r.Min.X; x < r.Max.X; x++ {
			b, g, rr := row[x*3], row[x*3+1], row[x*3+2]
			if skin && !IsSkin(rr, g, b) {
				continue
			}
			sr += float64(rr)
			sg += float64(g)
			sb += float64(b)
			n++
		}
	}
	if n == 0 {
		return RGB{}, 0
	}
	return RGB{R: sr / float64(n), G: sg / float64(n), B: sb / float64(n)}, n
}

// IsSkin is a YCbCr box rule for skin tones, accepting grey pixels of mid
// brightness so greyscale video still yields patches. It is deliberately
// wide: it must hold across skin tones, and rPPG only needs it to keep out
// hair, eyes, lips and background.
func IsSkin(r, g, b uint8) bool {
	R, G, B := float64(r), float64(g), float64(b)
	y := 0.299*R + 0.587*G + 0.114*B
	if r == g && g == b {
		return y > 40 && y < 240
	}
	cb := 128 - 0.168736*R - 0.331264*G + 0.5*B
	cr := 128 + 0.5*R - 0.418688*G - 0.081312*B
	return y > 25 && cb >= 77 && cb <= 135 && cr >= 131 && cr <= 180
}

// LandmarkSmoother damps detector jitter, so skin patches stay on the same
// skin from frame to frame: a patch that wanders a pixel over a cheek's
// shading changes colour more than the pulse does. It follows real head
// movement with an exponential moving average and starts afresh after a
// jump of more than half an eye distance (a new face, or the tracker lost
// it). Not safe for concurrent use; one per tracked face.
type LandmarkSmoother struct {
	// Alpha is the weight of the newest landmarks, 0–1; 0 means 0.6. Set
	// on generated clips with head motion: 0.25 lags enough for patches to
	// slide over facial texture in step with the motion, 1 (no smoothing)
	// keeps the jitter.
	Alpha float32
	have  bool
	l     [5]Point
}

// Smooth returns f with smoothed landmarks.
func (s *LandmarkSmoother) Smooth(f Face) Face {
	a := s.Alpha
	if a <= 0 || a > 1 {
		a = 0.6
	}
	eye := math.Hypot(float64(f.Landmarks[1].X-f.Landmarks[0].X), float64(f.Landmarks[1].Y-f.Landmarks[0].Y))
	if s.have {
		dx := float64(f.Landmarks[2].X - s.l[2].X)
		dy := float64(f.Landmarks[2].Y - s.l[2].Y)
		if math.Hypot(dx, dy) > eye/2 {
			s.have = false
		}
	}
	if !s.have {
		s.l, s.have = f.Landmarks, true
		return f
	}
	for i := range s.l {
		s.l[i].X += a * (f.Landmarks[i].X - s.l[i].X)
		s.l[i].Y += a * (f.Landmarks[i].Y - s.l[i].Y)
	}
	f.Landmarks = s.l
	return f
}

// Reset forgets the track.
func (s *LandmarkSmoother) Reset() { s.have = false }
