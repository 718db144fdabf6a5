package models

import (
	"cmp"
	"image"
	"math"
	"slices"

	"gocv.io/x/gocv"
)

// Locating the machine-readable zone: the zone is two or three lines of
// equal length, parallel, evenly spaced, in a monospaced font full of
// vertical strokes. Morphology on horizontal gradients turns each text line
// into one long blob; lines are then grouped into bands that have the
// zone's geometry. The OCR and the check digits decide which band, if any,
// is the zone.

// textLine is one line-like blob, a rotated rectangle in source pixels.
type textLine struct {
	id     int     // index among the blobs of one image, for caching reads
	cx, cy float64 // centre
	ux, uy float64 // unit vector along the line, pointing right (ux ≥ 0)
	length float64 // along u
	height float64 // across u
}

// corners are the rectangle's corners, grown by mx along the line and my
// across it: top-left, top-right, bottom-right, bottom-left as the image
// shows them (y down).
func (l textLine) corners(mx, my float64) [4]gocv.Point2f {
	hx, hy := l.length/2+mx, l.height/2+my
	// v is u turned 90° clockwise on screen: it points down the page.
	vx, vy := -l.uy, l.ux
	pt := func(a, b float64) gocv.Point2f {
		return gocv.Point2f{X: float32(l.cx + a*l.ux + b*vx), Y: float32(l.cy + a*l.uy + b*vy)}
	}
	return [4]gocv.Point2f{pt(-hx, -hy), pt(hx, -hy), pt(hx, hy), pt(-hx, hy)}
}

func (l textLine) scaled(k float64) textLine {
	l.cx, l.cy, l.length, l.height = l.cx*k, l.cy*k, l.length*k, l.height*k
	return l
}

// angle is the line's direction in degrees, in (−90, 90].
func (l textLine) angle() float64 { return math.Atan2(l.uy, l.ux) * 180 / math.Pi }

// lineFromPoints fits a rotated rectangle to a blob's outline by principal
// components: the major axis is the line's direction.
func lineFromPoints(pts []image.Point) (textLine, bool) {
	n := float64(len(pts))
	if len(pts) < 8 {
		return textLine{}, false
	}
	var mx, my float64
	for _, p := range pts {
		mx += float64(p.X)
		my += float64(p.Y)
	}
	mx, my = mx/n, my/n
	var sxx, syy, sxy float64
	for _, p := range pts {
		dx, dy := float64(p.X)-mx, float64(p.Y)-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	theta := 0.5 * math.Atan2(2*sxy, sxx-syy)
	ux, uy := math.Cos(theta), math.Sin(theta)
	if ux < 0 {
		ux, uy = -ux, -uy
	}
	vx, vy := -uy, ux
	a0, a1, b0, b1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		dx, dy := float64(p.X)-mx, float64(p.Y)-my
		a, b := dx*ux+dy*uy, dx*vx+dy*vy
		a0, a1, b0, b1 = min(a0, a), max(a1, a), min(b0, b), max(b1, b)
	}
	ca, cb := (a0+a1)/2, (b0+b1)/2
	return textLine{
		cx: mx + ca*ux + cb*vx, cy: my + ca*uy + cb*vy,
		ux: ux, uy: uy,
		length: a1 - a0 + 1, height: b1 - b0 + 1,
	}, true
}

// locateOptions are the locator's tunables.
type locateOptions struct {
	workSize int     // longest side of the working image
	maxScale float64 // the most the image may be enlarged to reach it
	// kernel scales the morphology kernels: 1 suits a zone that fills a
	// fifth of the picture or more; 0.5 on a picture enlarged twice finds
	// zones half that size.
	kernel float64
}

// The locator's two passes: ordinary zones, then small ones.
var locatePasses = []locateOptions{
	{workSize: 1000, maxScale: 1, kernel: 1},
	{workSize: 2000, maxScale: 2, kernel: 0.5},
}

// findTextLines returns the line-like blobs of an 8-bit grey image, in the
// image's own pixels. The work happens on a copy scaled to workSize. When
// the text is tilted, the copy is turned upright and searched again: the
// horizontal kernels then join characters without bridging lines.
func findTextLines(gray gocv.Mat, o locateOptions) []textLine {
	w, h := gray.Cols(), gray.Rows()
	if gray.Empty() || w < 16 || h < 16 {
		return nil
	}
	s := min(max(o.maxScale, 1), float64(o.workSize)/float64(max(w, h)))
	ww, wh := max(16, int(math.Round(float64(w)*s))), max(16, int(math.Round(float64(h)*s)))
	work := gocv.NewMat()
	defer work.Close()
	switch {
	case s < 1:
		gocv.Resize(gray, &work, image.Pt(ww, wh), 0, 0, gocv.InterpolationArea)
	case s > 1:
		gocv.Resize(gray, &work, image.Pt(ww, wh), 0, 0, gocv.InterpolationLinear)
	default:
		gray.CopyTo(&work)
	}
	side := float64(max(ww, wh)) * o.kernel
	lines := textBlobs(work, side)
	if a := dominantAngle(lines); math.Abs(a) > 1.5 {
		lines = deskewedBlobs(work, side, a)
	}
	out := lines[:0]
	for _, l := range lines {
		if l.length < side/10 {
			continue
		}
		l = l.scaled(1 / s)
		l.id = len(out)
		out = append(out, l)
	}
	return out
}

// dominantAngle is the length-weighted median direction of the longest
// blobs, in degrees.
func dominantAngle(lines []textLine) float64 {
	if len(lines) == 0 {
		return 0
	}
	ls := slices.Clone(lines)
	slices.SortFunc(ls, func(a, b textLine) int { return cmp.Compare(b.length, a.length) })
	ls = ls[:min(len(ls), 6)]
	slices.SortFunc(ls, func(a, b textLine) int { return cmp.Compare(a.angle(), b.angle()) })
	total := 0.0
	for _, l := range ls {
		total += l.length
	}
	acc := 0.0
	for _, l := range ls {
		acc += l.length
		if acc >= total/2 {
			return l.angle()
		}
	}
	return ls[len(ls)-1].angle()
}

// deskewedBlobs turns work by −deg about its centre onto a canvas that
// holds all of it, finds the blobs there, and maps them back.
func deskewedBlobs(work gocv.Mat, side, deg float64) []textLine {
	th := deg * math.Pi / 180
	c, sn := math.Cos(th), math.Sin(th)
	w, h := float64(work.Cols()), float64(work.Rows())
	cw := math.Abs(w*c) + math.Abs(h*sn)
	ch := math.Abs(w*sn) + math.Abs(h*c)
	// Forward map p' = A(p − centre) + centre', A = R(−θ).
	a11, a12, a21, a22 := c, sn, -sn, c
	bx := cw/2 - (a11*w/2 + a12*h/2)
	by := ch/2 - (a21*w/2 + a22*h/2)
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	for i, v := range []float64{a11, a12, bx, a21, a22, by} {
		m.SetDoubleAt(i/3, i%3, v)
	}
	turned := gocv.NewMat()
	defer turned.Close()
	gocv.WarpAffineWithParams(work, &turned, m, image.Pt(int(math.Ceil(cw)), int(math.Ceil(ch))), gocv.InterpolationLinear, gocv.BorderReplicate, colorBlack)
	if turned.Empty() {
		return nil
	}
	lines := textBlobs(turned, side)
	for i, l := range lines {
		// Inverse: p = Aᵀ(p' − b); directions turn back by +θ.
		x, y := l.cx-bx, l.cy-by
		l.cx, l.cy = a11*x+a21*y, a12*x+a22*y
		l.ux, l.uy = a11*l.ux+a21*l.uy, a12*l.ux+a22*l.uy
		if l.ux < 0 {
			l.ux, l.uy = -l.ux, -l.uy
		}
		lines[i] = l
	}
	return lines
}

// textBlobs is the morphology: dark glyphs (blackhat), their vertical
// strokes (horizontal gradient), joined along the line (closing), kept
// where strong (Otsu), as rotated rectangles in work's pixels. side sets
// the kernels' scale.
func textBlobs(work gocv.Mat, side float64) []textLine {
	// Kernels scale with the working image: a zone that fills a fifth of
	// the picture or more has characters 6–30 px apart in it.
	kw := max(9, int(side/40)) | 1
	kh := max(5, int(side/110)) | 1
	rect := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(kw, kh))
	defer rect.Close()
	blurred := gocv.NewMat()
	defer blurred.Close()
	gocv.GaussianBlur(work, &blurred, image.Pt(3, 3), 0, 0, gocv.BorderDefault)
	blackhat := gocv.NewMat()
	defer blackhat.Close()
	gocv.MorphologyEx(blurred, &blackhat, gocv.MorphBlackhat, rect)

	grad := gocv.NewMat()
	defer grad.Close()
	gocv.Scharr(blackhat, &grad, gocv.MatTypeCV32F, 1, 0, 1, 0, gocv.BorderDefault)
	// Scharr's gain is up to 16× a step: scale before saturating to 8 bits.
	gocv.ConvertScaleAbs(grad, &grad, 1.0/16, 0)
	gocv.Normalize(grad, &grad, 0, 255, gocv.NormMinMax)

	// Join a line's characters (gaps under a character's width) but not
	// two lines (gaps of most of a line's height).
	join := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(max(9, int(side/40))|1, 3))
	defer join.Close()
	gocv.MorphologyEx(grad, &grad, gocv.MorphClose, join)
	bin := gocv.NewMat()
	defer bin.Close()
	gocv.Threshold(grad, &bin, 0, 255, gocv.ThresholdBinary|gocv.ThresholdOtsu)
	cut := gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3))
	defer cut.Close()
	gocv.MorphologyEx(bin, &bin, gocv.MorphOpen, cut)
	contours := gocv.FindContours(bin, gocv.RetrievalExternal, gocv.ChainApproxNone)
	defer contours.Close()
	var out []textLine
	for i := 0; i < contours.Size(); i++ {
		l, ok := lineFromPoints(contours.At(i).ToPoints())
		if !ok || l.height < 3 || l.length < 7*l.height {
			continue
		}
		out = append(out, l)
	}
	return out
}

// band is a candidate zone: its lines, top to bottom.
type band struct {
	lines []textLine
	score float64
}

// lineHeight is the median height of the band's lines, in source pixels.
func (b band) lineHeight() float64 {
	hs := make([]float64, len(b.lines))
	for i, l := range b.lines {
		hs[i] = l.height
	}
	slices.Sort(hs)
	return hs[len(hs)/2]
}

// groupBands finds runs of two or three consecutive lines with the
// geometry of a zone: parallel, the same length, aligned at both ends, and
// evenly spaced by one to three line heights. Bands come best first.
func groupBands(lines []textLine) []band {
	// Sort down the page, measured across the dominant direction.
	slices.SortFunc(lines, func(a, b textLine) int { return cmp.Compare(a.cy, b.cy) })
	fits := func(a, b textLine) bool {
		if math.Abs(a.angle()-b.angle()) > 4 {
			return false
		}
		if r := a.length / b.length; r < 0.85 || r > 1/0.85 {
			return false
		}
		// Offset of b's centre in a's frame.
		dx, dy := b.cx-a.cx, b.cy-a.cy
		along := dx*a.ux + dy*a.uy
		across := -dx*a.uy + dy*a.ux
		h := (a.height + b.height) / 2
		return math.Abs(along) < 0.08*a.length && across > 1.1*h && across < 3.2*h
	}
	var out []band
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			if !fits(lines[i], lines[j]) {
				continue
			}
			two := band{lines: []textLine{lines[i], lines[j]}}
			two.score = lines[i].length + lines[j].length
			out = append(out, two)
			for k := j + 1; k < len(lines); k++ {
				if !fits(lines[j], lines[k]) {
					continue
				}
				s1 := lines[j].cy - lines[i].cy
				s2 := lines[k].cy - lines[j].cy
				if r := s1 / s2; r < 0.75 || r > 1/0.75 {
					continue
				}
				three := band{lines: []textLine{lines[i], lines[j], lines[k]}}
				three.score = (lines[i].length + lines[j].length + lines[k].length) * 1.02
				out = append(out, three)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b band) int { return cmp.Compare(b.score, a.score) })
	return out
}
