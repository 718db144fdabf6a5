package models

import (
	"os"
	"path/filepath"
	"testing"
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
