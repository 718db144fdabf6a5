package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"strings"
	"testing"
	"time"

	"kiosk/mrz"
)

var (
	td1Lines = []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}
	td2Lines = []string{"I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"}
	td3Lines = []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}
)

// renderOrSkip renders a document, skipping when the OCR-B font is not
// installed (it comes from Debian's fonts-ocr-b, which setup installs).
func renderOrSkip(t testing.TB, o DocumentOptions) *image.RGBA {
	t.Helper()
	img, err := RenderDocument(o)
	if errors.Is(err, ErrNoOCRBFont) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatalf("RenderDocument: %v", err)
	}
	return img
}

func TestRenderDocumentSizes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		w, h  int // millimetres × 4 px/mm
	}{
		{"TD1 card", td1Lines, 342, 216},
		{"TD2 card", td2Lines, 420, 296},
		{"TD3 passport page", td3Lines, 500, 352},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := renderOrSkip(t, DocumentOptions{Lines: tc.lines, PxPerMM: 4})
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("size = %v; want %dx%d", b.Size(), tc.w, tc.h)
			}
			if a := img.RGBAAt(0, 0).A; a != 0 {
				t.Errorf("corner alpha = %d; want 0 (rounded card)", a)
			}
		})
	}
}

// TestRenderDocumentInksEveryCharacter: each character cell of the zone
// holds ink. It caught OCR-B's 8 and < rendering as nothing, which
// x/image's CFF reader does silently.
func TestRenderDocumentInksEveryCharacter(t *testing.T) {
	lines := []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "456789<<<<<<<<<<<<<<<<<<<<<<<<", "8<8<8<8<8<8<8<8<8<8<8<8<8<8<8<"}
	const k = 10.0
	img := renderOrSkip(t, DocumentOptions{Lines: lines, PxPerMM: k})
	pitch := 2.54 * k
	x0 := (85.6*k - pitch*30) / 2
	for i, l := range lines {
		base := (53.98 - 4 - 4.3*float64(len(lines)-1-i)) * k
		for j := range l {
			cell := image.Rect(int(x0+pitch*float64(j))+1, int(base-2.4*k), int(x0+pitch*float64(j+1))-1, int(base)+1)
			dark := 255
			for y := cell.Min.Y; y < cell.Max.Y; y++ {
				for x := cell.Min.X; x < cell.Max.X; x++ {
					dark = min(dark, int(img.RGBAAt(x, y).G))
				}
			}
			if dark > 100 {
				t.Errorf("line %d character %d (%q): no ink in its cell (darkest %d)", i+1, j+1, l[j], dark)
			}
		}
	}
}

func TestRenderDocumentDeterministic(t *testing.T) {
	a := renderOrSkip(t, DocumentOptions{Lines: td2Lines, PxPerMM: 3, Seed: 5})
	b := renderOrSkip(t, DocumentOptions{Lines: td2Lines, PxPerMM: 3, Seed: 5})
	c := renderOrSkip(t, DocumentOptions{Lines: td2Lines, PxPerMM: 3, Seed: 6})
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("two renders with the same options differ")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("renders with different seeds are identical")
	}
}

func TestRenderDocumentRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"no lines", nil},
		{"ragged", []string{td3Lines[0], td3Lines[1][:40]}},
		{"not a zone size", []string{"P<UTO", "L8989"}},
		{"lower case", []string{"p<utoeriksson<<anna<maria<<<<<<<<<<<<<<<<<<<", td3Lines[1]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := RenderDocument(DocumentOptions{Lines: tc.lines, OCRBFont: []byte("unused")}); err == nil {
				t.Errorf("RenderDocument(%q) succeeded", tc.lines)
			}
		})
	}
}

func TestHomographyMapsCorners(t *testing.T) {
	from := rectCorners(100, 60)
	to := [4][2]float64{{10, 20}, {200, 5}, {220, 150}, {0, 130}}
	h := homography(from, to)
	for i := range from {
		x, y := h.apply(from[i][0], from[i][1])
		if math.Hypot(x-to[i][0], y-to[i][1]) > 1e-6 {
			t.Errorf("corner %d maps to (%.3f, %.3f); want %v", i, x, y, to[i])
		}
	}
}

func TestPhotographPlacesTheDocument(t *testing.T) {
	doc := renderOrSkip(t, DocumentOptions{Lines: td3Lines, PxPerMM: 4})
	img, quad, err := Photograph(doc, PhotoOptions{Width: 400, Height: 300, Fill: 0.5, Noise: -1})
	if err != nil {
		t.Fatal(err)
	}
	if w := quad[1][0] - quad[0][0]; math.Abs(w-200) > 1 {
		t.Errorf("document width in the picture = %.1f; want 200 (Fill 0.5 of 400)", w)
	}
	// Centre of the picture: the document's pale print, not the desk.
	if c := img.RGBAAt(200, 150); c.B < 180 {
		t.Errorf("centre pixel %v; want the document", c)
	}
	if c := img.RGBAAt(5, 5); c.B > 150 {
		t.Errorf("corner pixel %v; want the desk", c)
	}
	again, _, _ := Photograph(doc, PhotoOptions{Width: 400, Height: 300, Fill: 0.5, Noise: -1})
	if !bytes.Equal(img.Pix, again.Pix) {
		t.Error("Photograph is not deterministic")
	}
	turned, tq, _ := Photograph(doc, PhotoOptions{Width: 400, Height: 300, Fill: 0.5, Rotate: 180, Noise: -1})
	if tq[0][0] < tq[1][0] || tq[0][1] < tq[2][1] {
		t.Errorf("upside-down quad %v: its top-left should be bottom right", tq)
	}
	if bytes.Equal(img.Pix, turned.Pix) {
		t.Error("rotation changed nothing")
	}
	glare, _, _ := Photograph(doc, PhotoOptions{Width: 400, Height: 300, Fill: 0.5, Noise: -1, Glare: 1, GlareX: 0.5, GlareY: 0.5})
	if c := glare.RGBAAt(200, 150); c.R < 250 || c.G < 250 || c.B < 250 {
		t.Errorf("glare centre %v; want white", c)
	}
}

func TestDocumentClip(t *testing.T) {
	doc := renderOrSkip(t, DocumentOptions{Lines: td1Lines, PxPerMM: 4})
	c, err := NewDocumentClip(DocumentClipOptions{
		Scene:    SyntheticOptions{Width: 160, Height: 120, Frames: 40},
		Document: doc, Start: 5, Enter: 5, Hold: 20, Leave: 5, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var held, before []float64
	for i := 1; ; i++ {
		f, err := c.Read(context.Background())
		if err != nil {
			break
		}
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has Seq %d", i, f.Seq)
		}
		// The card fills the lower middle while held: bright print over
		// the darker scene.
		sum := 0.0
		for y := 70; y < 100; y++ {
			for x := 50; x < 110; x++ {
				sum += float64(f.Pix[(y*f.Width+x)*3+1])
			}
		}
		mean := sum / (30 * 60)
		switch {
		case c.Held(f.Seq):
			held = append(held, mean)
		case i <= 5:
			before = append(before, mean)
		}
		f.Release()
	}
	if len(held) != 20 || len(before) != 5 {
		t.Fatalf("%d held and %d early frames; want 20 and 5", len(held), len(before))
	}
	for i, m := range held {
		if m < before[0]+30 {
			t.Errorf("held frame %d: mean %.0f, not brighter than the scene's %.0f", i, m, before[0])
		}
	}
	if _, err := NewDocumentClip(DocumentClipOptions{}); err == nil {
		t.Error("NewDocumentClip without a document succeeded")
	}
}

func TestGenerateDocument(t *testing.T) {
	a, err := GenerateDocument(7, nil)
	if errors.Is(err, ErrNoOCRBFont) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := mrz.Parse(a.Lines, mrz.Options{Now: func() time.Time { return renderEpoch }})
	if !r.Valid || r.Format != a.Format {
		t.Errorf("generated zone %q parses as %v, %v; want a valid %v", a.Lines, r.Format, r.Err, a.Format)
	}
	if b := a.Image.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Errorf("picture %v; want 1280x720", b)
	}
	again, _ := GenerateDocument(7, nil)
	if !bytes.Equal(a.Image.Pix, again.Image.Pix) || strings.Join(a.Lines, "") != strings.Join(again.Lines, "") {
		t.Error("GenerateDocument(7) differs between calls")
	}
	if other, _ := GenerateDocument(8, nil); strings.Join(a.Lines, "") == strings.Join(other.Lines, "") {
		t.Error("seeds 7 and 8 made the same zone")
	}
}
