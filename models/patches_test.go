package models

import (
	"context"
	"math"
	"testing"

	"kiosk/capture"
)

// On a generated clip with a known pulse, the skin patches must carry it
// and the background must not.
func TestSkinPatchesCarryThePulse(t *testing.T) {
	d := newTestDetector(t)
	const fps, bpm = 30.0, 75.0
	src := capture.NewSynthetic(capture.SyntheticOptions{FPS: fps, PulseBPM: bpm, PulseAmplitude: 0.01, Noise: -1, Motion: -1, Frames: 240})
	var skin, bg []float64
	for {
		f, err := src.Read(context.Background())
		if err != nil {
			break
		}
		img := Image{Width: f.Width, Height: f.Height, Pix: f.Pix}
		faces, err := d.Detect(img)
		if err != nil || len(faces) != 1 {
			t.Fatalf("frame %d: %d faces, %v", f.Seq, len(faces), err)
		}
		ps := SkinPatches(img, faces[0])
		if len(ps.Patches) != 14 {
			t.Fatalf("got %d patches; want 5 landmark patches and 9 grid cells", len(ps.Patches))
		}
		var g float64
		n := 0
		for _, p := range ps.Patches {
			if p.Usable() {
				g += p.Mean.G
				n++
			}
		}
		if n < 4 {
			t.Fatalf("frame %d: only %d usable patches: %+v", f.Seq, n, ps.Patches)
		}
		if !ps.Background.Usable() {
			t.Fatalf("frame %d: no background pixels", f.Seq)
		}
		skin = append(skin, g/float64(n))
		bg = append(bg, ps.Background.Mean.G)
		f.Release()
	}
	ps, pb := powerAt(skin, bpm/60, fps), powerAt(bg, bpm/60, fps)
	if ps < 100*pb || ps == 0 {
		t.Errorf("pulse power: skin %.3g, background %.3g; want skin ≫ background", ps, pb)
	}
}

// powerAt is the DFT power of the mean-removed series at hz.
func powerAt(x []float64, hz, fps float64) float64 {
	var mean float64
	for _, v := range x {
		mean += v / float64(len(x))
	}
	var re, im float64
	for i, v := range x {
		a := 2 * math.Pi * hz * float64(i) / fps
		re += (v - mean) * math.Cos(a)
		im += (v - mean) * math.Sin(a)
	}
	return re*re + im*im
}

func TestIsSkinAcrossTones(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r, g, b uint8
		want    bool
	}{
		{"light", 233, 190, 160, true},
		{"medium", 198, 134, 66, true},
		{"dark", 96, 60, 40, true},
		{"very dark", 60, 38, 28, true},
		{"grey mid", 128, 128, 128, true},
		{"blue wall", 60, 90, 200, false},
		{"green plant", 40, 160, 50, false},
		{"black hair", 10, 8, 8, false},
	} {
		if got := IsSkin(tc.r, tc.g, tc.b); got != tc.want {
			t.Errorf("IsSkin(%s %d,%d,%d) = %v; want %v", tc.name, tc.r, tc.g, tc.b, got, tc.want)
		}
	}
}
