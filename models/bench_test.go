package models

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"kiosk/capture"
)

// benchFrame is a 640×480 generated camera frame with one face.
func benchFrame(b *testing.B) Image {
	src := capture.NewSynthetic(capture.SyntheticOptions{Seed: 7})
	f, err := src.Read(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return Image{Width: f.Width, Height: f.Height, Pix: f.Pix}
}

// BenchmarkFramePath is the per-frame path of the preview: YuNet at 320 px
// on a 640×480 frame, then the box drawn onto the frame.
func BenchmarkFramePath(b *testing.B) {
	d := newTestDetector(b)
	img := benchFrame(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		faces, err := d.Detect(img)
		if err != nil || len(faces) != 1 {
			b.Fatalf("Detect = %d faces, %v", len(faces), err)
		}
		Annotate(img, faces)
	}
}

// BenchmarkDetect640 runs YuNet at the full 640 px, for the ratio against
// the 320 px default.
func BenchmarkDetect640(b *testing.B) {
	d, err := LoadDetector(modelDir(b), DetectorOptions{InputSize: 640})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	img := benchFrame(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Detect(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAlignEmbed is align + embed of one detected face.
func BenchmarkAlignEmbed(b *testing.B) {
	m := newTestMatcher(b)
	img := benchFrame(b)
	faces, _ := m.Det.Detect(img)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Emb.EmbedFace(img, faces[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPADScore is the passive anti-spoof score of one face.
func BenchmarkPADScore(b *testing.B) {
	m := newTestMatcher(b)
	img := benchFrame(b)
	faces, _ := m.Det.Detect(img)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.PAD.Score(img, faces[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch10k is a 1:N search over 10,000 enrolled templates.
func BenchmarkSearch10k(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	var g Gallery
	for i := 0; i < 10000; i++ {
		g.Add(fmt.Sprint(i), randomTemplate(r))
	}
	probe := randomTemplate(r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		g.Search(probe, 5)
	}
}

// BenchmarkDetectCloseUp is detection on a frame whose face is over 200 px
// at the detector's input (a close visitor, a portrait frame): the second,
// smaller pass Detect makes for it is included. Compare with
// BenchmarkDetectCloseUpSmallFace, one pass on the same frame size.
func BenchmarkDetectCloseUp(b *testing.B) {
	d := newTestDetector(b)
	img := closeUp(b, d, 0.95)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Detect(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectCloseUpSmallFace is one pass on a 320×352 frame whose
// face is 0.5 of its height.
func BenchmarkDetectCloseUpSmallFace(b *testing.B) {
	d := newTestDetector(b)
	img := closeUp(b, d, 0.5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Detect(img); err != nil {
			b.Fatal(err)
		}
	}
}
