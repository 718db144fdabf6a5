package models

import (
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// bandAngle is the direction the band's text runs in the input image.
func bandAngle(b band, quarter, flip bool) (float64, int) {
	ux, uy := b.lines[0].ux, b.lines[0].uy
	if quarter {
		// g is the input turned 90° clockwise: a direction (x, y) in g
		// is (y, −x) in the input.
		ux, uy = uy, -ux
	}
	if flip {
		ux, uy = -ux, -uy
	}
	a := math.Mod(math.Atan2(uy, ux)*180/math.Pi+360, 360)
	return a, int(math.Round(a/90)) % 4 * 90
}

// lineCropHeight is the height of a line crop given to Tesseract, margins
// included: the size of the lines the model was trained on.
const lineCropHeight = 56

// cropLine cuts one line out of g along its rectangle, straightens it,
// scales it to lineCropHeight, turns it 180° when flip, and binarises it
// (dark text on white). It also measures the straightened line's sharpness,
// at that fixed scale so the figure does not depend on the zone's size. It
// returns nil for a degenerate line.
func cropLine(g gocv.Mat, l textLine, flip bool) (pix []byte, w, h int, sharp float64) {
	mx, my := 0.3*l.height, 0.25*l.height
	k := lineCropHeight / (l.height + 2*my)
	w = int(math.Round((l.length + 2*mx) * k))
	if w < 16 || w > 8000 || math.IsNaN(k) || math.IsInf(k, 0) {
		return nil, 0, 0, 0
	}
	h = lineCropHeight
	c := l.corners(mx, my)
	src := gocv.NewPoint2fVectorFromPoints(c[:])
	defer src.Close()
	dst := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{{X: 0, Y: 0}, {X: float32(w), Y: 0}, {X: float32(w), Y: float32(h)}, {X: 0, Y: float32(h)}})
	defer dst.Close()
	m := gocv.GetPerspectiveTransform2f(src, dst)
	defer m.Close()
	if m.Empty() {
		return nil, 0, 0, 0
	}
	line := gocv.NewMat()
	defer line.Close()
	gocv.WarpPerspectiveWithParams(g, &line, m, image.Pt(w, h), gocv.InterpolationCubic, gocv.BorderReplicate, colorBlack)
	if line.Empty() {
		return nil, 0, 0, 0
	}
	sharp = sharpness(line)
	if flip {
		gocv.Rotate(line, &line, gocv.Rotate180Clockwise)
	}
	gocv.Threshold(line, &line, 0, 255, gocv.ThresholdBinary|gocv.ThresholdOtsu)
	out := gocv.NewMat()
	defer out.Close()
	const pad = 6
	gocv.CopyMakeBorder(line, &out, pad, pad, pad, pad, gocv.BorderConstant, colorWhite)
	return out.ToBytes(), out.Cols(), out.Rows(), sharp
}

// bandCorners maps the band's outline back to the input image: upright
// zone order, undoing the quarter turn.
func bandCorners(g gocv.Mat, b band, quarter, flip bool) [4]image.Point {
	top, bot := b.lines[0].corners(0, 0), b.lines[len(b.lines)-1].corners(0, 0)
	c := [4]gocv.Point2f{top[0], top[1], bot[2], bot[3]}
	if flip {
		c = [4]gocv.Point2f{c[2], c[3], c[0], c[1]}
	}
	var out [4]image.Point
	for i, p := range c {
		x, y := float64(p.X), float64(p.Y)
		if quarter {
			// g is the input turned 90° clockwise: (x, y) in g is
			// (y, H−1−x) in the input, where H is g's width.
			x, y = y, float64(g.Cols()-1)-x
		}
		out[i] = image.Pt(int(math.Round(x)), int(math.Round(y)))
	}
	return out
}

var colorWhite = color.RGBA{255, 255, 255, 0}
