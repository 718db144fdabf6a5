package capture

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"kiosk/mrz"
)

// OCRBFontPath is where Debian's fonts-ocr-b package installs the OCR-B
// font that machine-readable zones are printed in.
const OCRBFontPath = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"

// ErrNoOCRBFont means the OCR-B font is not installed: apt-get install
// fonts-ocr-b, or give DocumentOptions.OCRBFont.
var ErrNoOCRBFont = errors.New("OCR-B font not found (apt-get install fonts-ocr-b)")

// DocumentOptions configures RenderDocument. Lines is required; the rest
// has working defaults.
type DocumentOptions struct {
	// Lines is the machine-readable zone. Their number and length pick
	// the document: 3×30 a TD1 card, 2×36 a TD2 card, 2×44 a TD3
	// passport page (MRV visas have the same sizes).
	Lines []string
	// Portrait is the holder's photo; nil draws a simple face.
	Portrait image.Image
	// PxPerMM is the render's resolution; default 12 (about 300 dpi).
	PxPerMM float64
	// OCRBFont is the OCR-B font file's contents; nil reads OCRBFontPath.
	OCRBFont []byte
	// Seed varies the background pattern and tint.
	Seed uint64
}

// renderEpoch resolves the century of printed dates, so a render does not
// depend on the day it is made.
var renderEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// docSize is a document's size in millimetres (ICAO 9303 part 3).
type docSize struct {
	w, h float64
	kind string
}

func sizeFor(lines []string) (docSize, error) {
	if len(lines) == 0 {
		return docSize{}, errors.New("document: no MRZ lines given")
	}
	n, w := len(lines), len(lines[0])
	for _, l := range lines {
		if len(l) != w {
			return docSize{}, fmt.Errorf("document: MRZ lines of different lengths (%d and %d)", w, len(l))
		}
		if strings.Trim(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") != "" {
			return docSize{}, fmt.Errorf("document: MRZ line %q holds characters outside A-Z, 0-9 and <", l)
		}
	}
	switch {
	case n == 3 && w == 30:
		return docSize{85.6, 53.98, "IDENTITY CARD"}, nil
	case n == 2 && w == 36:
		return docSize{105, 74, "IDENTITY CARD"}, nil
	case n == 2 && w == 44:
		return docSize{125, 88, "PASSPORT"}, nil
	}
	return docSize{}, fmt.Errorf("document: %d lines of %d characters is not a TD1, TD2 or TD3 zone", n, w)
}

// RenderDocument draws a specimen identity document, upright and flat:
// a tinted background with a fine guilloche, a header, the portrait,
// printed fields, and the machine-readable zone in OCR-B at the ICAO pitch
// (10 characters per inch, 2.54 mm). The corners outside the rounded card
// are transparent. It is deterministic for the same options.
func RenderDocument(o DocumentOptions) (*image.RGBA, error) {
	sz, err := sizeFor(o.Lines)
	if err != nil {
		return nil, err
	}
	if o.PxPerMM <= 0 {
		o.PxPerMM = 12
	}
	ocrb := o.OCRBFont
	if ocrb == nil {
		ocrb, err = os.ReadFile(OCRBFontPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoOCRBFont, err)
		}
	}
	k := o.PxPerMM
	W, H := int(math.Round(sz.w*k)), int(math.Round(sz.h*k))
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	rng := rand.New(rand.NewPCG(o.Seed, 0x646f63))
	paintBackground(img, k, rng)

	regular, err := face(goregular.TTF, 2.6*k)
	if err != nil {
		return nil, err
	}
	defer regular.Close()
	bold, err := face(gobold.TTF, 4.2*k)
	if err != nil {
		return nil, err
	}
	defer bold.Close()
	value, err := face(gobold.TTF, 3.0*k)
	if err != nil {
		return nil, err
	}
	defer value.Close()

	dark := image.NewUniform(color.RGBA{30, 35, 60, 255})
	label := image.NewUniform(color.RGBA{80, 90, 120, 255})
	drawText(img, bold, dark, 0.30*sz.w*k, 8*k, "UTOPIA")
	drawText(img, regular, label, 0.30*sz.w*k, 12.5*k, sz.kind+" / SPECIMEN")

	// Zone height: the lines at 4.3 mm pitch, the last baseline 4 mm up.
	n := len(o.Lines)
	mrzTop := sz.h - 4 - 4.3*float64(n) - 1.5
	// Portrait: left, from under the header to above the zone.
	py0, py1 := 14.0, mrzTop-2
	pw := (py1 - py0) * 0.78
	portrait := o.Portrait
	if portrait == nil {
		portrait = DrawFace(300, 380)
	}
	pr := image.Rect(int(5*k), int(py0*k), int((5+pw)*k), int(py1*k))
	xdraw.CatmullRom.Scale(img, pr, portrait, portrait.Bounds(), xdraw.Over, nil)

	// Printed fields from the zone, when it parses.
	fx := (5 + pw + 4) * k
	res := mrz.Parse(o.Lines, mrz.Options{Now: func() time.Time { return renderEpoch }})
	rows := [][2]string{{"Surname", res.Fields.Surname}, {"Given names", res.Fields.GivenNames},
		{"Document no.", res.Fields.DocumentNumber}, {"Date of birth", res.Fields.BirthDate.String()},
		{"Date of expiry", res.Fields.ExpiryDate.String()}}
	y := py0 + 3
	for _, r := range rows {
		if y+5 > mrzTop {
			break
		}
		drawText(img, regular, label, fx, y*k, r[0])
		if r[1] != "" {
			drawText(img, value, dark, fx, (y+3.6)*k, r[1])
		}
		y += 7.5
	}

	// The zone: a clear band, then OCR-B at 2.54 mm per character.
	clear := image.Rect(0, int(mrzTop*k), W, H)
	for yy := clear.Min.Y; yy < clear.Max.Y; yy++ {
		for xx := 0; xx < W; xx++ {
			i := img.PixOffset(xx, yy)
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = uint8(float64(img.Pix[i+c])*0.3 + 250*0.7)
			}
		}
	}
	if err := drawMRZ(img, ocrb, o.Lines, k, sz); err != nil {
		return nil, err
	}
	roundCorners(img, 3*k)
	return img, nil
}

func face(ttf []byte, px float64) (font.Face, error) {
	f, err := opentype.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("document: parsing font: %w", err)
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
}

func drawText(img *image.RGBA, f font.Face, src image.Image, x, y float64, s string) {
	d := font.Drawer{Dst: img, Src: src, Face: f, Dot: fixed.Point26_6{X: fixed.Int26_6(x * 64), Y: fixed.Int26_6(y * 64)}}
	d.DrawString(s)
}

// drawMRZ sets each character on the ICAO grid: 2.54 mm pitch, capitals
// 2.4 mm tall, lines 4.3 mm apart, centred across the document.
func drawMRZ(img *image.RGBA, ocrbFont []byte, lines []string, k float64, sz docSize) error {
	f, err := parseOCRB(ocrbFont)
	if err != nil {
		return err
	}
	em := 2.4 * k * f.upem / f.capHeight()
	ink := color.RGBA{20, 20, 24, 255}
	pitch := 2.54 * k
	n, w := len(lines), len(lines[0])
	x0 := (sz.w*k - pitch*float64(w)) / 2
	for i, l := range lines {
		base := (sz.h - 4 - 4.3*float64(n-1-i)) * k
		for j, r := range l {
			if err := f.draw(img, r, x0+pitch*float64(j), base, em, pitch, ink); err != nil {
				return err
			}
		}
	}
	return nil
}

// paintBackground fills a pale tint with a fine two-wave guilloche, the
// kind of security print that gives a zone locator false edges.
func paintBackground(img *image.RGBA, k float64, rng *rand.Rand) {
	b := img.Bounds()
	tint := [3]float64{215 + 25*rng.Float64(), 225 + 20*rng.Float64(), 235 + 15*rng.Float64()}
	ph := rng.Float64() * 2 * math.Pi
	// The terms that depend on one coordinate only, once per row and column.
	rowA, rowB := make([]float64, b.Dy()), make([]float64, b.Dy())
	for y := range rowA {
		Y := float64(y) / k
		rowA[y], rowB[y] = 3*math.Sin(Y*0.35+ph), Y*1.1
	}
	colA, colB := make([]float64, b.Dx()), make([]float64, b.Dx())
	for x := range colA {
		X := float64(x) / k
		colA[x], colB[x] = X*0.9, 2*math.Sin(X*0.21)
	}
	for y := 0; y < b.Dy(); y++ {
		shade := 10 * float64(y) / float64(b.Dy())
		for x := 0; x < b.Dx(); x++ {
			g := fastSin(colA[x]+rowA[y]) * fastSin(rowB[y]+colB[x])
			line := 0.0
			if math.Abs(g) < 0.06 {
				line = 35
			}
			i := img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = clamp8(tint[c] - shade - line)
			}
			img.Pix[i+3] = 255
		}
	}
}

// fastSin is a parabola approximation of sin, close enough for a pattern.
func fastSin(x float64) float64 {
	x -= 2 * math.Pi * math.Floor((x+math.Pi)/(2*math.Pi)) // into [−π, π)
	y := 4/math.Pi*x - 4/(math.Pi*math.Pi)*x*math.Abs(x)
	return 0.225*(y*math.Abs(y)-y) + y
}

// roundCorners makes the corners outside a radius-r arc transparent.
func roundCorners(img *image.RGBA, r float64) {
	b := img.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			cx := math.Max(math.Max(r-float64(x)-0.5, float64(x)+0.5-(float64(b.Dx())-r)), 0)
			cy := math.Max(math.Max(r-float64(y)-0.5, float64(y)+0.5-(float64(b.Dy())-r)), 0)
			if cx == 0 || cy == 0 {
				continue
			}
			a := math.Max(0, math.Min(1, r-math.Hypot(cx, cy)+0.5))
			i := img.PixOffset(x, y)
			for c := 0; c < 4; c++ {
				img.Pix[i+c] = uint8(float64(img.Pix[i+c]) * a) // premultiplied
			}
		}
	}
}
