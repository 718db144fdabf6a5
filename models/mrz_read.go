package models

import (
	"strings"

	"gocv.io/x/gocv"

	"kiosk/mrz"
)

// read tries the picture as it is, then turned a quarter (a card held
// sideways) when nothing zone-like is found upright. At each turn the
// locator looks for zones of ordinary size, then for small ones.
func (r *MRZOCR) read(gray gocv.Mat) (MRZRead, error) {
	best := MRZRead{Reason: MRZReasonNoZone}
	turned := gocv.NewMat()
	defer turned.Close()
	for _, quarter := range []bool{false, true} {
		g := gray
		if quarter {
			gocv.Rotate(gray, &turned, gocv.Rotate90Clockwise)
			g = turned
		}
		for _, pass := range locatePasses {
			pass.workSize = pass.workSize * r.o.WorkSize / 1000
			bands := groupBands(findTextLines(g, pass))
			if len(bands) == 0 {
				continue
			}
			rd, ok := r.readBands(g, bands, quarter)
			if ok {
				return rd, nil
			}
			if better(rd, best) {
				best = rd
			}
			break // bands at this scale: a smaller scale finds smaller things
		}
		if best.Found || best.Reason == MRZReasonTooSmall {
			break // a zone upright that did not read: no need to turn
		}
	}
	switch {
	case best.Found:
		best.Reason = diagnose(gray, best.Corners, best.Sharpness, true)
	case best.LineHeight > 0 && best.Reason == MRZReasonNoZone:
		// Text lines that did not read as a zone: a reflection or blur
		// may be hiding the zone's characters.
		best.Reason = diagnose(gray, best.Corners, best.Sharpness, false)
		best.Found = best.Reason != MRZReasonNoZone
	}
	return best, &MRZError{Reason: best.Reason, Parse: best.Result.Err}
}

// better ranks failed reads: a zone whose layout was recognised, then any
// zone, then one too small to read, then text lines that read as no zone,
// then nothing.
func better(a, b MRZRead) bool {
	rank := func(x MRZRead) int {
		switch {
		case x.Found && x.Result.Format != mrz.FormatUnknown:
			return 4
		case x.Found:
			return 3
		case x.Reason == MRZReasonTooSmall:
			return 2
		case x.LineHeight > 0:
			return 1
		}
		return 0
	}
	return rank(a) > rank(b)
}

type lineKey struct {
	id   int
	flip bool
}

type lineText struct {
	text  string
	conf  float64
	sharp float64
}

// readBands reads the best candidate bands of g upright, then the same
// bands upside down, and stops at the first valid parse. Line reads are
// cached, so a band that shares lines with one already read costs nothing.
func (r *MRZOCR) readBands(g gocv.Mat, bands []band, quarter bool) (MRZRead, bool) {
	best := MRZRead{Reason: MRZReasonNoZone}
	cache := map[lineKey]lineText{}
	var tried []band
	for _, b := range bands {
		if len(tried) == r.o.MaxBands {
			break
		}
		if b.lineHeight() < r.o.MinLineHeight {
			if best.LineHeight == 0 {
				best.Reason = MRZReasonTooSmall
				best.LineHeight = b.lineHeight()
				best.Corners = bandCorners(g, b, quarter, false)
			}
			continue
		}
		tried = append(tried, b)
	}
	for _, flip := range []bool{false, true} {
		for _, b := range tried {
			rd := r.readBand(g, b, flip, cache)
			rd.Angle, rd.Rotation = bandAngle(b, quarter, flip)
			rd.Corners = bandCorners(g, b, quarter, flip)
			if rd.Result.Valid {
				return rd, true
			}
			if !zoneLike(rd.Lines) {
				rd.Found, rd.Reason = false, MRZReasonNoZone
			}
			if better(rd, best) {
				best = rd
			}
		}
	}
	return best, false
}

// zoneLike reports whether OCR text could be a zone misread: two or three
// lines of about a zone's length with fillers in them. Text lines of a
// document's printed fields are not; they mean no zone was found.
func zoneLike(lines []string) bool {
	if len(lines) < 2 || len(lines) > 3 {
		return false
	}
	for _, l := range lines {
		if len(l) < 26 || len(l) > 48 || !strings.Contains(l, "<") {
			return false
		}
	}
	return true
}

// readBand OCRs each line of b (upside down when flip, in reverse order)
// and parses the result.
func (r *MRZOCR) readBand(g gocv.Mat, b band, flip bool, cache map[lineKey]lineText) MRZRead {
	rd := MRZRead{Found: true, LineHeight: b.lineHeight(), Reason: MRZReasonNotValid}
	n := len(b.lines)
	for i := 0; i < n; i++ {
		l := b.lines[i]
		if flip {
			l = b.lines[n-1-i]
		}
		k := lineKey{l.id, flip}
		lt, ok := cache[k]
		if !ok {
			pix, w, h, sharp := cropLine(g, l, flip)
			lt.sharp = sharp
			if pix != nil {
				text, conf, err := r.ocr.read(pix, w, h)
				if err == nil {
					lt.text, lt.conf = text, conf
				}
			}
			cache[k] = lt
		}
		rd.Lines = append(rd.Lines, lt.text)
		rd.Confidence = append(rd.Confidence, lt.conf)
		rd.Sharpness += lt.sharp / float64(n)
	}
	rd.Result = mrz.Parse(rd.Lines, r.o.Parse)
	if rd.Result.Valid {
		rd.Reason = MRZReasonNone
	}
	return rd
}
