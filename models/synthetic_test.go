package models

import (
	"bytes"
	"context"
	"image"
	"testing"

	"kiosk/capture"
)

// The generated demo source must be something the detector really sees:
// the no-camera demo and the UI screenshot test depend on it.
func TestDetectFindsTheGeneratedFace(t *testing.T) {
	d := newTestDetector(t)
	src := capture.NewSynthetic(capture.SyntheticOptions{Frames: 30, Seed: 1})
	defer src.Close()
	hits := 0
	for i := 0; i < 30; i++ {
		f, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		faces, err := d.Detect(Image{Width: f.Width, Height: f.Height, Pix: f.Pix})
		f.Release()
		if err != nil {
			t.Fatal(err)
		}
		if len(faces) == 1 {
			c := faces[0]
			cx, cy := c.X+c.W/2, c.Y+c.H/2
			if cx > 220 && cx < 420 && cy > 140 && cy < 340 {
				hits++
			}
		}
		if i == 0 {
			t.Logf("frame 1 faces: %+v", faces)
		}
	}
	if hits < 27 {
		t.Errorf("one centred face in %d of 30 generated frames; want ≥ 27", hits)
	}
}

// opaque hides an image's concrete type, forcing FromImage's generic path.
type opaque struct{ image.Image }

// TestFromImageRGBAFastPath: the *image.RGBA fast path gives the same BGR
// bytes as the generic path, for a sub-image with offset bounds too.
func TestFromImageRGBAFastPath(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 37, 23))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*31 + i/7)
	}
	for _, src := range []*image.RGBA{img, img.SubImage(image.Rect(5, 3, 30, 20)).(*image.RGBA)} {
		fast, slow := FromImage(src), FromImage(opaque{src})
		if fast.Width != slow.Width || fast.Height != slow.Height || !bytes.Equal(fast.Pix, slow.Pix) {
			t.Errorf("FromImage(%v): the fast path differs from the generic one", src.Bounds())
		}
	}
}
