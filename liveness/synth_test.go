package liveness

import (
	"math"
	"math/rand/v2"
	"time"
)

// synth generates per-frame patch and background colours with known truth:
// a PPG-like pulse with heart-rate variability on the skin, sensor noise,
// illumination drift, head motion (shading that changes all channels and
// patch position jitter), timestamp jitter and dropped frames, and
// optionally flicker on the whole scene.
type synth struct {
	BPM       float64 // 0 = no pulse (a photo)
	FPS       float64
	Seconds   float64
	Amplitude float64 // relative pulse amplitude in green; default 0.005
	Noise     float64 // per-patch mean noise, grey levels; default 0.07 (σ≈2 per pixel over ~800 pixels)
	Motion    float64 // head motion strength, 0–1
	Jitter    float64 // timestamp jitter as a fraction of the frame period
	Drop      float64 // fraction of frames dropped
	FlickerHz float64 // whole-scene flicker frequency; colour-tinted
	FlickerA  float64
	Tone      RGB     // skin tone; default a medium tone
	HRV       float64 // relative heart-rate variability at 0.12 Hz; default 0.03, negative for none
	// GOP and GOPA model a recorded video's codec: every keyframe shifts
	// the red chroma by GOPA (relative to the skin colour) against the
	// frames between, the same in every patch, so an artefact appears at
	// FPS/GOP Hz with equally strong harmonics (seen on the shared patch
	// videos, GOP 12 at 15 fps).
	GOP  int
	GOPA float64
	// Wobble is a hand's unsteadiness, in eye distances: the face (a held
	// print, or a head) shakes at 1.3, 2.9 and 4.7 Hz, in the pulse band.
	// The patches follow it through a smoother that lags (as the kiosk's
	// landmark smoother does), so each slides over the face's texture: its
	// colour moves with the tracking error, by a gradient of its own. Every
	// sample carries the pose (position, size, tracking error).
	Wobble float64
	Seed   uint64
}

func (s synth) samples() []Sample {
	if s.Amplitude == 0 {
		s.Amplitude = 0.005
	}
	if s.Noise == 0 {
		s.Noise = 0.07
	}
	if s.HRV == 0 {
		s.HRV = 0.03
	}
	if s.HRV < 0 {
		s.HRV = 0
	}
	tone := s.Tone
	if tone == (RGB{}) {
		tone = RGB{R: 190, G: 135, B: 110}
	}
	rng := rand.New(rand.NewPCG(s.Seed, 99))
	names := []string{"forehead", "left_cheek", "right_cheek", "nose", "chin"}
	// Texture gradients, grey levels per eye distance of sliding, per patch
	// and channel (skin shading, freckles, the edge of an eyebrow).
	wr := rand.New(rand.NewPCG(s.Seed, 7))
	grad := map[string][2]RGB{}
	for _, p := range names {
		g := func() RGB { return RGB{R: wr.NormFloat64() * 12, G: wr.NormFloat64() * 10, B: wr.NormFloat64() * 9} }
		grad[p] = [2]RGB{g(), g()}
	}
	wph := [3]float64{wr.Float64() * 6.3, wr.Float64() * 6.3, wr.Float64() * 6.3}
	const eyePx = 60.0
	var smx, smy float64 // the smoother's position, eye distances
	gain := map[string]float64{"forehead": 1, "left_cheek": 1.2, "right_cheek": 1.1, "nose": 0.6, "chin": 0.7}
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var out []Sample
	phase := 0.0
	n := int(s.Seconds * s.FPS)
	dt := 1 / s.FPS
	for i := 0; i < n; i++ {
		t := float64(i) * dt
		bpm := s.BPM * (1 + s.HRV*math.Sin(2*math.Pi*0.12*t))
		phase += bpm / 60 * dt
		ppg := 0.0
		if s.BPM > 0 {
			ph := phase - math.Floor(phase)
			g := func(mu, sd float64) float64 { d := (ph - mu) / sd; return math.Exp(-d * d) }
			ppg = g(0.22, 0.09) + 0.45*g(0.5, 0.12) - 0.276
		}
		light := 1 + 0.04*math.Sin(2*math.Pi*t/17) // drift
		tint := RGB{R: 1, G: 1, B: 1}
		if s.FlickerA > 0 {
			f := s.FlickerA * math.Sin(2*math.Pi*s.FlickerHz*t)
			tint = RGB{R: 1 + 1.2*f, G: 1 + 0.7*f, B: 1 + 0.4*f} // a screen's tinted flicker
		}
		shade := 1 + s.Motion*0.03*math.Sin(2*math.Pi*0.35*t)*math.Sin(2*math.Pi*0.9*t)
		motion := s.Motion * 0.02 * (1 + math.Abs(math.Sin(2*math.Pi*0.9*t)))
		if i%int(s.FPS) == 0 && s.Motion > 0 {
			shade += s.Motion * 0.01 * rng.NormFloat64()
		}
		sm := Sample{Patches: map[string]RGB{}, Motion: motion}
		var slideX, slideY float64
		if s.Wobble > 0 {
			var wx, wy float64
			for k, f := range [3]float64{1.3, 2.9, 4.7} {
				wx += math.Sin(2*math.Pi*f*t+wph[k]) / 3
				wy += math.Sin(2*math.Pi*f*1.07*t+wph[k]+2) / 3
			}
			x, y := s.Wobble*wx, s.Wobble*wy
			if i == 0 {
				smx, smy = x, y
			}
			smx += 0.6 * (x - smx)
			smy += 0.6 * (y - smy)
			slideX, slideY = x-smx, y-smy
			sm.Pose = Pose{X: 320 + eyePx*smx, Y: 240 + eyePx*smy, Size: eyePx, DX: eyePx * slideX, DY: eyePx * slideY}
			sm.Motion = -1
			shade *= 1 + 0.03*wx // the print tilts towards the light
		}
		codec := 0.0
		if s.GOP > 0 {
			codec = -s.GOPA / float64(s.GOP-1)
			if i%s.GOP == 0 {
				codec = s.GOPA
			}
		}
		for _, p := range names {
			a := s.Amplitude * gain[p] * ppg
			k := light * shade
			gx, gy := grad[p][0], grad[p][1]
			sm.Patches[p] = RGB{
				R: tone.R*k*tint.R*(1+0.43*a+codec) + rng.NormFloat64()*s.Noise + gx.R*slideX + gy.R*slideY,
				G: tone.G*k*tint.G*(1+a) + rng.NormFloat64()*s.Noise + gx.G*slideX + gy.G*slideY,
				B: tone.B*k*tint.B*(1+0.69*a) + rng.NormFloat64()*s.Noise + gx.B*slideX + gy.B*slideY,
			}
		}
		sm.Reference = RGB{R: 150 * light * tint.R, G: 160 * light * tint.G, B: 170 * light * tint.B}
		sm.Reference.R += rng.NormFloat64() * s.Noise
		sm.Reference.G += rng.NormFloat64() * s.Noise
		sm.Reference.B += rng.NormFloat64() * s.Noise
		if s.Drop > 0 && rng.Float64() < s.Drop {
			continue
		}
		jit := 0.0
		if s.Jitter > 0 {
			jit = (rng.Float64()*2 - 1) * s.Jitter * dt
		}
		sm.Time = start.Add(time.Duration((t + jit) * float64(time.Second)))
		out = append(out, sm)
	}
	return out
}

// truth is the mean instantaneous heart rate over the clip, the figure an
// estimate over the whole clip should give.
func (s synth) truth() float64 {
	hrv := s.HRV
	if hrv == 0 {
		hrv = 0.03
	}
	if hrv < 0 {
		hrv = 0
	}
	var sum float64
	n := int(s.Seconds * s.FPS)
	for i := 0; i < n; i++ {
		t := float64(i) / s.FPS
		sum += s.BPM * (1 + hrv*math.Sin(2*math.Pi*0.12*t))
	}
	return sum / float64(n)
}

// run feeds samples to a fresh estimator and returns the last estimate.
func run(o Options, ss []Sample) Result {
	e := NewEstimator(o)
	for _, s := range ss {
		e.Add(s)
	}
	return e.Estimate()
}
