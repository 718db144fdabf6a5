package models

import (
	"errors"
	"image"
	"math"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// transform applies an OpenCV operation to a copy of img.
func transform(t testing.TB, img Image, op func(src gocv.Mat, dst *gocv.Mat)) Image {
	t.Helper()
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	op(src, &dst)
	pix, err := dst.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	return Image{Width: dst.Cols(), Height: dst.Rows(), Pix: append([]byte(nil), pix...)}
}

// place puts img into a grey canvas of w×h at (x, y), scaled by s.
func place(t testing.TB, img Image, w, h, x, y int, s float64) Image {
	t.Helper()
	small := transform(t, img, func(src gocv.Mat, dst *gocv.Mat) {
		gocv.Resize(src, dst, image.Pt(int(float64(img.Width)*s), int(float64(img.Height)*s)), 0, 0, gocv.InterpolationArea)
	})
	out := Image{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	for i := range out.Pix {
		out.Pix[i] = 120
	}
	for yy := 0; yy < small.Height && y+yy < h; yy++ {
		for xx := 0; xx < small.Width && x+xx < w; xx++ {
			copy(out.Pix[((y+yy)*w+x+xx)*3:][:3], small.Pix[(yy*small.Width+xx)*3:][:3])
		}
	}
	return out
}

func scalePixels(img Image, k float64) Image {
	out := Image{Width: img.Width, Height: img.Height, Pix: make([]byte, len(img.Pix))}
	for i, v := range img.Pix {
		out.Pix[i] = uint8(math.Min(255, float64(v)*k))
	}
	return out
}

func TestQualityGatePrompts(t *testing.T) {
	d := newTestDetector(t)
	live := decodeFile(t, filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))              // 480×640 portrait, one face
	person := decodeFile(t, filepath.Join(dataDir(t, "faces/identities"), "amy/amy1.png")) // 150×150 crop
	other := decodeFile(t, filepath.Join(dataDir(t, "faces/identities"), "raj/raj1.png"))
	twoPeople := place(t, person, 640, 480, 60, 150, 1.3)
	twoPeople = func() Image {
		o := place(t, other, 640, 480, 380, 150, 1.3)
		for y := 150; y < 150+195; y++ {
			copy(twoPeople.Pix[(y*640+380)*3:(y*640+380+195)*3], o.Pix[(y*640+380)*3:(y*640+380+195)*3])
		}
		return twoPeople
	}()
	for _, tc := range []struct {
		name string
		img  Image
		want Prompt
	}{
		{"live photo", live, PromptOK},
		{"blank", Image{Width: 320, Height: 240, Pix: make([]byte, 320*240*3)}, PromptNoFace},
		{"two faces", twoPeople, PromptOnePerson},
		{"far away", place(t, live, 1280, 960, 560, 380, 0.3), PromptComeCloser},
		{"off centre", place(t, live, 1280, 960, 0, 0, 1), PromptCentre},
		{"rotated 40°", transform(t, live, func(s gocv.Mat, d *gocv.Mat) {
			m := gocv.GetRotationMatrix2D(image.Pt(live.Width/2, live.Height/2), 40, 1)
			defer m.Close()
			gocv.WarpAffineWithParams(s, d, m, image.Pt(live.Width, live.Height), gocv.InterpolationLinear, gocv.BorderReplicate, colorBlack)
		}), PromptLookAtCamera},
		{"darkened", scalePixels(live, 0.25), PromptMoreLight},
		{"overexposed", scalePixels(live, 2.6), PromptLessLight},
		{"blurred", transform(t, live, func(s gocv.Mat, d *gocv.Mat) {
			gocv.GaussianBlur(s, d, image.Pt(0, 0), 7, 7, gocv.BorderDefault)
		}), PromptHoldStill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faces, err := d.Detect(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			q, err := AssessQuality(tc.img, faces, DefaultQuality)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %+v", tc.name, q)
			if q.Prompt != tc.want {
				t.Errorf("AssessQuality(%s) prompt = %q; want %q", tc.name, q.Prompt, tc.want)
			}
		})
	}
}

func TestPromptsAreShortSentences(t *testing.T) {
	for p := PromptOK; p <= PromptHoldStill; p++ {
		s := p.String()
		if len(s) == 0 || len(s) > 48 {
			t.Errorf("Prompt(%d) = %q: want a short sentence", int(p), s)
		}
	}
}

func TestReferenceNeedsExactlyOneFace(t *testing.T) {
	m := newTestMatcher(t)
	blank := Image{Width: 200, Height: 200, Pix: make([]byte, 200*200*3)}
	if _, _, err := m.Reference(blank); !errors.Is(err, ErrNoFace) {
		t.Errorf("Reference(blank) = %v; want ErrNoFace", err)
	}
	scene := decodeFile(t, filepath.Join(dataDir(t, "faces/scenes"), "bbt1.jpg"))
	if _, _, err := m.Reference(scene); !errors.Is(err, ErrManyFaces) {
		t.Errorf("Reference(group photo) = %v; want ErrManyFaces", err)
	}
}
