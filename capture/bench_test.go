package capture

import (
	"context"
	"image"
	"testing"
)

func BenchmarkSyntheticFrame(b *testing.B) {
	src := NewSynthetic(SyntheticOptions{PulseBPM: 72})
	b.ReportAllocs()
	for b.Loop() {
		f, err := src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
}

// BenchmarkYCbCr422ToBGR is the camera conversion for a 640×480 4:2:2
// frame, the format V4L2 webcams deliver most.
func BenchmarkYCbCr422ToBGR(b *testing.B) {
	img := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio422)
	dst := make([]byte, 640*480*3)
	b.ReportAllocs()
	for b.Loop() {
		ImageToBGR(dst, img)
	}
}

func BenchmarkFrameToRGBA(b *testing.B) {
	src := NewSynthetic(SyntheticOptions{})
	f, _ := src.Read(context.Background())
	dst := f.RGBA(nil)
	b.ReportAllocs()
	for b.Loop() {
		dst = f.RGBA(dst)
	}
}
