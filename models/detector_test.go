package models

import (
	"bytes"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

func TestDetectFindsFourFacesInGroupScene(t *testing.T) {
	d := newTestDetector(t)
	img := decodeFile(t, filepath.Join(dataDir(t, "faces/scenes"), "bbt1.jpg"))
	faces, err := d.DetectStill(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 4 {
		t.Fatalf("DetectStill(bbt1.jpg) found %d faces %v; want 4", len(faces), faces)
	}
	for _, f := range faces {
		// Landmarks must sit inside their box: a wrong prior decoding puts
		// them elsewhere even when the box count is right.
		for _, p := range f.Landmarks {
			if p.X < f.X || p.X > f.X+f.W || p.Y < f.Y || p.Y > f.Y+f.H {
				t.Errorf("landmark %v outside box %v", p, f.Rect())
			}
		}
		// Eyes above the mouth, right eye (subject's) on the image's left.
		if !(f.Landmarks[0].Y < f.Landmarks[3].Y && f.Landmarks[0].X < f.Landmarks[1].X) {
			t.Errorf("implausible landmark layout %v", f.Landmarks)
		}
	}
}

func TestDetectFindsExactlyOneFacePerIdentityPhoto(t *testing.T) {
	d := newTestDetector(t)
	root := dataDir(t, "faces/identities")
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.png"))
	if len(files) < 40 {
		t.Fatalf("found %d identity photos; want 40", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			faces, err := d.DetectStill(decodeFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if len(faces) != 1 {
				t.Errorf("DetectStill(%s) = %d faces; want 1", filepath.Base(f), len(faces))
			}
		})
	}
}

func TestDetectNoFaceInFaceFreeFrames(t *testing.T) {
	d := newTestDetector(t)
	fill := func(w, h int, f func(i int) byte) Image {
		img := Image{Width: w, Height: h, Pix: make([]byte, w*h*3)}
		for i := range img.Pix {
			img.Pix[i] = f(i)
		}
		return img
	}
	for _, tc := range []struct {
		name string
		img  Image
	}{
		// A covered lens or a blank screen: YuNet alone reports a
		// frame-sized face at score ~0.8 on these.
		{"black 640x480", fill(640, 480, func(int) byte { return 0 })},
		{"black 320x240", fill(320, 240, func(int) byte { return 0 })},
		{"white 640x480", fill(640, 480, func(int) byte { return 255 })},
		{"grey", fill(320, 240, func(int) byte { return 128 })},
		{"stripes", fill(320, 240, func(i int) byte { return byte(i % 7 * 30) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faces, err := d.Detect(tc.img)
			if err != nil || len(faces) != 0 {
				t.Fatalf("Detect(%s) = %v, %v; want no face", tc.name, faces, err)
			}
		})
	}
}

func TestDetectRejectsBadPixels(t *testing.T) {
	d := newTestDetector(t)
	for _, img := range []Image{{}, {Width: 10, Height: 10, Pix: make([]byte, 5)}, {Width: -1, Height: 3}} {
		if _, err := d.Detect(img); err == nil {
			t.Errorf("Detect(%dx%d, %d bytes) = nil error", img.Width, img.Height, len(img.Pix))
		}
	}
}

func TestDecodeImageErrors(t *testing.T) {
	jpg, err := os.ReadFile(filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	bomb := pngHeader(20000, 20000)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", []byte("hello, I am not an image")},
		{"truncated jpeg", jpg[:len(jpg)/2]},
		{"png bomb 20000x20000", bomb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeImage(tc.data); err == nil {
				t.Fatalf("DecodeImage(%s) = nil error; want ErrBadImage", tc.name)
			}
		})
	}
	if _, err := DecodeImage(jpg); err != nil {
		t.Fatalf("DecodeImage(image_T1.jpg) = %v; want success", err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add(pngHeader(20000, 20000))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data)
		if err == nil && len(img.Pix) != img.Width*img.Height*3 {
			t.Fatalf("decoded %dx%d with %d bytes", img.Width, img.Height, len(img.Pix))
		}
	})
}

// TestDetectCloseUpFace: YuNet's largest anchor is 256 px, and beyond it a
// face's landmarks drift or the face is missed (../shared/models/README.md).
// A visitor close to a narrow (portrait) frame makes one: here a 320×352
// cut of a real photo whose face is 0.95 of its height, about 300 px at
// the detector's 320-px input, which Detect looks at again at half the
// scale. The face must be found once, its landmarks within 15 % of the eye
// distance of those found on the same frame shrunk to half. Measured on
// this photo: one pass 12 %, the half-scale pass 11–13 % (YuNet's landmarks
// move by that much between nearby scales): the second pass guards against
// the documented failure, it does not sharpen this face. A small face
// beside a close one (a photo held up next to the visitor) is still
// reported, so the kiosk still says "one person at a time".
func TestDetectCloseUpFace(t *testing.T) {
	d := newTestDetector(t)
	fr := closeUp(t, d, 0.95)
	half := Image{Width: fr.Width / 2, Height: fr.Height / 2, Pix: make([]byte, fr.Width/2*fr.Height/2*3)}
	for y := 0; y < half.Height; y++ {
		for x := 0; x < half.Width; x++ {
			for c := 0; c < 3; c++ {
				var s int
				for _, o := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					s += int(fr.Pix[((2*y+o[1])*fr.Width+2*x+o[0])*3+c])
				}
				half.Pix[(y*half.Width+x)*3+c] = uint8(s / 4)
			}
		}
	}
	ref, err := d.Detect(half)
	if err != nil || len(ref) != 1 {
		t.Fatalf("Detect(half) = %d faces, %v; want 1", len(ref), err)
	}
	got, err := d.Detect(fr)
	if err != nil || len(got) != 1 {
		t.Fatalf("Detect(close-up) = %d faces, %v; want 1", len(got), err)
	}
	t.Logf("face %.0f px of %d (%.0f px in the detector's input)", got[0].H, fr.Height, got[0].H*320/float32(fr.Height))
	// The face returned is the close-up pass's own, not the first pass's.
	src, err := gocv.NewMatFromBytes(fr.Height, fr.Width, gocv.MatTypeCV8UC3, fr.Pix)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	scale := min(1, float64(d.o.InputSize)/float64(max(fr.Width, fr.Height)))
	pass2, err := d.detectNet(&d.closeNet, src, fr.Width, fr.Height, scale/2)
	if err != nil || len(pass2) != 1 || pass2[0].Rect() != got[0].Rect() {
		t.Fatalf("the close-up pass alone found %v (%v); Detect returned %v: want the close-up pass's face", pass2, err, got[0].Rect())
	}
	if got[0].H < 0.85*float32(fr.Height) {
		t.Fatalf("face %.0f px; the test needs a close-up of at least 0.85 of the frame", got[0].H)
	}
	eye := math.Hypot(float64(ref[0].Landmarks[1].X-ref[0].Landmarks[0].X), float64(ref[0].Landmarks[1].Y-ref[0].Landmarks[0].Y)) * 2
	for i, l := range got[0].Landmarks {
		r := ref[0].Landmarks[i]
		if off := math.Hypot(float64(l.X-2*r.X), float64(l.Y-2*r.Y)); off > 0.15*eye {
			t.Errorf("landmark %d at (%.0f, %.0f); at half size it is at (%.0f, %.0f): %.1f px apart, more than 15 %% of the %.0f-px eye distance",
				i, l.X, l.Y, 2*r.X, 2*r.Y, off, eye)
		}
	}
	// A second, small face (about 27 px) in a corner of a close-up (face
	// 0.7 of the frame, still over 200 px at the detector's input): only
	// the first pass can see it, the half-scale one cannot, so Detect must
	// keep it from the first.
	crowd := closeUp(t, d, 0.7)
	small := closeUp(t, d, 0.7)
	const k = 11 // the small face: the close-up shrunk 11 times
	for y := 0; y < small.Height/k; y++ {
		for x := 0; x < small.Width/k; x++ {
			for c := 0; c < 3; c++ {
				crowd.Pix[((4+y)*crowd.Width+4+x)*3+c] = small.Pix[((k*y)*small.Width+k*x)*3+c]
			}
		}
	}
	faces, err := d.Detect(crowd)
	if err != nil || len(faces) != 2 {
		t.Errorf("Detect(close-up with a small face beside it) = %d faces, %v; want 2", len(faces), err)
	}
}

// closeUp is a 320×352 cut of a real photo around its face, the face frac
// of its height: a visitor close to a portrait-shaped frame.
func closeUp(t testing.TB, d *Detector, frac float64) Image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir(t, "faces/pairs"), "img20.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	photo, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := d.DetectStill(photo)
	if err != nil || len(pf) != 1 {
		t.Fatalf("DetectStill(photo) = %d faces, %v", len(pf), err)
	}
	ch := float64(pf[0].H) / frac
	cw := ch * 320 / 352
	cx, cy := float64(pf[0].X+pf[0].W/2), float64(pf[0].Y+pf[0].H/2)
	crop := image.Rect(int(cx-cw/2), int(cy-ch/2), int(cx+cw/2), int(cy+ch/2)).Intersect(image.Rect(0, 0, photo.Width, photo.Height))
	src, err := gocv.NewMatFromBytes(photo.Height, photo.Width, gocv.MatTypeCV8UC3, photo.Pix)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	roi := src.Region(crop)
	defer roi.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	gocv.Resize(roi, &frame, image.Pt(320, 352), 0, 0, gocv.InterpolationArea)
	pix, err := frame.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	return Image{Width: 320, Height: 352, Pix: bytes.Clone(pix)}
}

// TestMergeCloseUp: the close-up pass's faces win; a first-pass face
// survives only when it is another face (a photo held beside the visitor),
// not the same face misplaced, whether it overlaps the close-up box a lot
// or sits inside it with too little overlap for the NMS threshold.
func TestMergeCloseUp(t *testing.T) {
	closeUp := Face{X: 100, Y: 50, W: 300, H: 360, Score: 0.9}
	for _, tc := range []struct {
		name  string
		first Face
		kept  bool
	}{
		{"the same face, overlapping", Face{X: 110, Y: 60, W: 290, H: 340, Score: 0.8}, false},
		{"the same face misplaced inside it (IoU 0.25)", Face{X: 175, Y: 140, W: 150, H: 180, Score: 0.7}, false},
		{"a photo held beside the visitor", Face{X: 450, Y: 100, W: 60, H: 70, Score: 0.6}, true},
		{"a photo overlapping the box's edge, centred outside it", Face{X: 380, Y: 60, W: 60, H: 70, Score: 0.6}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeCloseUp([]Face{tc.first}, []Face{closeUp}, 0.3)
			want := 1
			if tc.kept {
				want = 2
			}
			if len(got) != want || got[0] != closeUp {
				t.Errorf("merged %d faces, first %+v; want %d with the close-up face first", len(got), got[0], want)
			}
		})
	}
}
