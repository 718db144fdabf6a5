package capture

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"golang.org/x/image/vector"
)

// ocrb draws OCR-B glyphs. Debian's OCR-B is a CFF font whose 8 and <
// use the flex1 operator, which golang.org/x/image/font/sfnt cannot draw
// (it fails on them silently); go-text's CFF interpreter can, so glyph
// outlines come from there and are filled with x/image/vector.
type ocrb struct {
	face *font.Face
	upem float64
}

func parseOCRB(b []byte) (*ocrb, error) {
	f, err := font.ParseTTF(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoOCRBFont, err)
	}
	return &ocrb{face: f, upem: float64(f.Upem())}, nil
}

// capHeight is the height of H in font units, for sizing by cap height.
func (o *ocrb) capHeight() float64 {
	gid, ok := o.face.NominalGlyph('H')
	if !ok {
		return 0.7 * o.upem
	}
	top := 0.0
	if g, ok := o.face.GlyphData(gid).(font.GlyphOutline); ok {
		for _, s := range g.Segments {
			for _, p := range s.ArgsSlice() {
				top = math.Max(top, float64(p.Y))
			}
		}
	}
	if top == 0 {
		return 0.7 * o.upem
	}
	return top
}

// draw fills glyph r with its cell's left edge at x, its baseline at y,
// scaled so the font's em is em pixels, centred in a cell of width cell.
func (o *ocrb) draw(dst *image.RGBA, r rune, x, y, em, cell float64, ink color.Color) error {
	gid, ok := o.face.NominalGlyph(r)
	if !ok {
		return fmt.Errorf("OCR-B font has no glyph for %q", r)
	}
	g, ok := o.face.GlyphData(gid).(font.GlyphOutline)
	if !ok {
		return fmt.Errorf("OCR-B glyph for %q is not an outline", r)
	}
	k := em / o.upem
	x += (cell - float64(o.face.HorizontalAdvance(gid))*k) / 2
	// Rasterise over the glyph's pixel box only.
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range g.Segments {
		for _, p := range s.ArgsSlice() {
			px, py := x+float64(p.X)*k, y-float64(p.Y)*k
			x0, y0, x1, y1 = math.Min(x0, px), math.Min(y0, py), math.Max(x1, px), math.Max(y1, py)
		}
	}
	if len(g.Segments) == 0 {
		return nil // a space
	}
	box := image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+1, int(math.Ceil(y1))+1)
	ras := vector.NewRasterizer(box.Dx(), box.Dy())
	ox, oy := float64(box.Min.X), float64(box.Min.Y)
	pt := func(p ot.SegmentPoint) (float32, float32) {
		return float32(x + float64(p.X)*k - ox), float32(y - float64(p.Y)*k - oy)
	}
	for _, s := range g.Segments {
		a := s.ArgsSlice()
		switch s.Op {
		case ot.SegmentOpMoveTo:
			ras.MoveTo(pt(a[0]))
		case ot.SegmentOpLineTo:
			ras.LineTo(pt(a[0]))
		case ot.SegmentOpQuadTo:
			bx, by := pt(a[0])
			cx, cy := pt(a[1])
			ras.QuadTo(bx, by, cx, cy)
		case ot.SegmentOpCubeTo:
			bx, by := pt(a[0])
			cx, cy := pt(a[1])
			dx, dy := pt(a[2])
			ras.CubeTo(bx, by, cx, cy, dx, dy)
		}
	}
	ras.ClosePath()
	ras.Draw(dst, box, image.NewUniform(ink), image.Point{})
	return nil
}
