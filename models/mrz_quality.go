package models

import (
	"image"

	"gocv.io/x/gocv"
)

// Thresholds of diagnose, set on generated documents (see the tests).
const (
	// glareFraction of the zone's pixels at full white means reflections
	// wash characters out.
	glareFraction = 0.04
	// minSharpness is the least ratio of the Laplacian's spread to the
	// grey levels' spread across the zone that still reads.
	minSharpness = 0.35
)

// diagnose says why a zone (or text lines where a zone may be) did not
// read: glare, blur (sharp is the lines' sharpness, 0 when unmeasured), or
// simply not valid (no zone, for text lines that did not read as one). Glare is measured around the band, a band's height
// above and below and half its length to each side: a reflection breaks
// the lines it covers, so the band found may be the part outside it.
func diagnose(gray gocv.Mat, corners [4]image.Point, sharp float64, zone bool) MRZReason {
	box := image.Rectangle{Min: corners[0], Max: corners[0]}
	for _, p := range corners[1:] {
		box = box.Union(image.Rectangle{Min: p, Max: p.Add(image.Pt(1, 1))})
	}
	frame := image.Rect(0, 0, gray.Cols(), gray.Rows())
	wide := image.Rect(box.Min.X-box.Dx()/2, box.Min.Y-box.Dy(), box.Max.X+box.Dx()/2, box.Max.Y+box.Dy()).Intersect(frame)
	box = box.Intersect(frame)
	none := MRZReasonNoZone
	if zone {
		none = MRZReasonNotValid
	}
	if box.Dx() < 8 || box.Dy() < 8 {
		return none
	}
	// White paper in a clean scan is saturated too: glare is a bright
	// spot, brighter around the zone than across the picture.
	if local := saturated(gray, wide); local > glareFraction && local > 3*saturated(gray, frame) {
		return MRZReasonGlare
	}
	if sharp > 0 && sharp < minSharpness {
		return MRZReasonBlurry
	}
	return none
}

// saturated is the fraction of pixels in r at full white.
func saturated(gray gocv.Mat, r image.Rectangle) float64 {
	if r.Empty() {
		return 0
	}
	roi := gray.Region(r)
	defer roi.Close()
	bright := gocv.NewMat()
	defer bright.Close()
	gocv.Threshold(roi, &bright, 249, 255, gocv.ThresholdBinary)
	return float64(gocv.CountNonZero(bright)) / float64(r.Dx()*r.Dy())
}

// sharpness is the standard deviation of the Laplacian over that of the
// grey levels: contrast-free, high for crisp glyph edges.
func sharpness(roi gocv.Mat) float64 {
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(roi, &lap, gocv.MatTypeCV32F, 3, 1, 0, gocv.BorderDefault)
	_, ls := meanStd(lap)
	_, gs := meanStd(roi)
	if gs < 1 {
		return 0
	}
	return ls / gs
}

func meanStd(m gocv.Mat) (mean, std float64) {
	mu, sd := gocv.NewMat(), gocv.NewMat()
	defer mu.Close()
	defer sd.Close()
	gocv.MeanStdDev(m, &mu, &sd)
	return mu.GetDoubleAt(0, 0), sd.GetDoubleAt(0, 0)
}
