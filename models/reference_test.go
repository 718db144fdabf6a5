package models

import (
	"encoding/json"
	"errors"
	"image"
	"math"
	"path/filepath"
	"regexp"
	"testing"

	"gocv.io/x/gocv"
)

// coverEyes paints a dark disc over each eye, as dark glasses do.
func coverEyes(t testing.TB, d *Detector, img Image) Image {
	t.Helper()
	faces, err := d.DetectStill(img)
	if err != nil || len(faces) != 1 {
		t.Fatalf("DetectStill = %d faces, %v; want 1", len(faces), err)
	}
	l := faces[0].Landmarks
	r := 0.3 * math.Hypot(float64(l[1].X-l[0].X), float64(l[1].Y-l[0].Y))
	out := Image{Width: img.Width, Height: img.Height, Pix: append([]byte(nil), img.Pix...)}
	for y := 0; y < img.Height; y++ {
		for x := 0; x < img.Width; x++ {
			for _, e := range l[:2] {
				if math.Hypot(float64(x)-float64(e.X), float64(y)-float64(e.Y)) <= r {
					copy(out.Pix[(y*img.Width+x)*3:][:3], []byte{12, 10, 10})
				}
			}
		}
	}
	return out
}

func crop(img Image, r image.Rectangle) Image {
	out := Image{Width: r.Dx(), Height: r.Dy(), Pix: make([]byte, 0, r.Dx()*r.Dy()*3)}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		out.Pix = append(out.Pix, img.Pix[(y*img.Width+r.Min.X)*3:(y*img.Width+r.Max.X)*3]...)
	}
	return out
}

// TestReferenceGate triggers each reason with a transformed real photo, and
// passes the photos themselves.
func TestReferenceGate(t *testing.T) {
	d := newTestDetector(t)
	ids := dataDir(t, "faces/identities")
	portrait := decodeFile(t, filepath.Join(dataDir(t, "faces/pairs"), "img20.jpg"))
	amy := decodeFile(t, filepath.Join(ids, "amy/amy1.png"))
	raj := decodeFile(t, filepath.Join(ids, "raj/raj1.png"))
	rotate := func(img Image, deg float64) Image {
		return transform(t, img, func(s gocv.Mat, dst *gocv.Mat) {
			m := gocv.GetRotationMatrix2D(image.Pt(img.Width/2, img.Height/2), deg, 1)
			defer m.Close()
			gocv.WarpAffineWithParams(s, dst, m, image.Pt(img.Width, img.Height), gocv.InterpolationLinear, gocv.BorderReplicate, colorBlack)
		})
	}
	blur := func(img Image, sigma float64) Image {
		return transform(t, img, func(s gocv.Mat, dst *gocv.Mat) {
			gocv.GaussianBlur(s, dst, image.Pt(0, 0), sigma, sigma, gocv.BorderDefault)
		})
	}
	twoPeople := place(t, amy, 400, 200, 20, 25, 1)
	copyInto := place(t, raj, 400, 200, 230, 25, 1)
	for y := 25; y < 175; y++ {
		copy(twoPeople.Pix[(y*400+230)*3:(y*400+380)*3], copyInto.Pix[(y*400+230)*3:(y*400+380)*3])
	}
	for _, tc := range []struct {
		name string
		img  Image
		want ReferenceProblem // 0: fit
	}{
		{"colour portrait", portrait, 0},
		{"tight TV still", amy, 0},
		{"blank", Image{Width: 200, Height: 200, Pix: make([]byte, 200*200*3)}, ReferenceNoFace},
		{"two people", twoPeople, ReferenceSeveralFaces},
		{"tiny", place(t, portrait, 640, 480, 300, 200, 0.12), ReferenceFaceTooSmall},
		{"half the face cropped away", crop(amy, image.Rect(0, 0, 95, 150)), ReferenceFaceCutOff},
		{"turned away (a real still)", decodeFile(t, filepath.Join(ids, "stuart/stuart5.png")), ReferenceTurned},
		{"rotated 35°", rotate(portrait, 35), ReferenceTilted},
		{"dark glasses", coverEyes(t, d, portrait), ReferenceEyesHidden},
		{"darkened", scalePixels(portrait, 0.2), ReferenceTooDark},
		{"overexposed", scalePixels(portrait, 2.8), ReferenceTooBright},
		{"blurred", blur(portrait, 10), ReferenceBlurry},
		{"blurred still", blur(amy, 3), ReferenceBlurry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faces, err := d.DetectStill(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			c, err := AssessReference(tc.img, faces, DefaultReferenceGate)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %+v", tc.name, c)
			if tc.want == 0 && !c.OK() {
				t.Errorf("AssessReference(%s) refused it: %v; want fit", tc.name, c.Problems)
			}
			if tc.want != 0 && !c.Has(tc.want) {
				t.Errorf("AssessReference(%s) = %v; want %s among the problems", tc.name, c.Problems, tc.want)
			}
		})
	}
}

func TestFitReference(t *testing.T) {
	m := newTestMatcher(t)
	portrait := decodeFile(t, filepath.Join(dataDir(t, "faces/pairs"), "img20.jpg"))
	tp, face, err := m.FitReference(portrait)
	if err != nil || !tp.Valid() || face.Rect().Empty() {
		t.Fatalf("FitReference(portrait) = %v, %+v, %v; want a template and its face", tp, face, err)
	}
	tp.Wipe()
	_, _, err = m.FitReference(scalePixels(portrait, 0.2))
	var re *ReferenceError
	if !errors.Is(err, ErrUnfitReference) || !errors.As(err, &re) || re.Check.Problem() != ReferenceTooDark || re.Check.OK() {
		t.Errorf("FitReference(dark) = %v; want a ReferenceError for too_dark", err)
	}
	if _, _, err := m.FitReference(Image{Width: 64, Height: 64, Pix: make([]byte, 64*64*3)}); !errors.Is(err, ErrNoFace) || !errors.Is(err, ErrUnfitReference) {
		t.Errorf("FitReference(blank) = %v; want ErrNoFace and ErrUnfitReference", err)
	}
}

// TestReferenceProblemCodes: every problem has a distinct code that reads
// as an identifier, never as a sentence for a visitor, and survives JSON.
func TestReferenceProblemCodes(t *testing.T) {
	code := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[string]bool{}
	for _, p := range ReferenceProblems() {
		s := p.String()
		if !code.MatchString(s) || seen[s] {
			t.Errorf("ReferenceProblem(%d) = %q: want a distinct snake_case code", p, s)
		}
		seen[s] = true
		b, err := json.Marshal(p)
		var back ReferenceProblem
		if err != nil || json.Unmarshal(b, &back) != nil || back != p {
			t.Errorf("JSON round trip of %s: %s, %v, %v", s, b, err, back)
		}
	}
	if len(seen) != 11 {
		t.Errorf("%d problem codes; want 11", len(seen))
	}
	var p ReferenceProblem
	if err := p.UnmarshalText([]byte("Photo too blurry")); err == nil {
		t.Error("UnmarshalText accepted prose")
	}
	if _, err := ReferenceProblem(0).MarshalText(); err == nil {
		t.Error("MarshalText(0) succeeded; want an error")
	}
}
