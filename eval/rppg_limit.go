package eval

import (
	"context"
	"math"
	"os"
	"path/filepath"

	"kiosk/capture"
	"kiosk/liveness"
)

// LimitRow is the detection-limit test at one injected amplitude.
type LimitRow struct {
	// Amplitude is the injected pulse's peak relative change of green
	// (0.005 = 0.5 %; a forehead under office light shows roughly 0.2–2 %).
	Amplitude float64 `json:"amplitude"`
	// N subjects estimated; MAE against the injected rates; Within3 how
	// many within 3 bpm of them.
	N       int     `json:"n"`
	MAE     float64 `json:"mae_bpm"`
	Within3 int     `json:"within_3_bpm"`
}

// DetectionLimit measures what pulse these patch videos could carry: it
// adds to every crop's colour a pulse of known rate (the generator's beat
// shape, 3 % heart-rate variability; green at the amplitude, red and blue
// weaker as in skin) on top of whatever the crop holds, runs the same
// estimation as EvalRPPG, and scores the estimates against the injected
// rates. Rates are chosen far from each subject's truth (truth + 25 bpm,
// wrapped into 55–115), so the recording's own pulse cannot help. The
// smallest amplitude recovered is the crops' detection limit: a real pulse
// below it is lost in their noise, compression and exposure flicker.
func DetectionLimit(ctx context.Context, dir string, o PatchOptions, amplitudes []float64) ([]LimitRow, error) {
	truths, err := readRPPGTruth(filepath.Join(dir, "ground_truth.csv"))
	if err != nil {
		return nil, err
	}
	type subject struct {
		samples []liveness.Sample
		fps     float64
		notch   []float64
		rate    float64
	}
	var subs []subject
	for _, tr := range truths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var files []string
		for _, p := range PatchNames {
			f := filepath.Join(dir, tr.country, tr.video+"_"+p+".avi")
			if _, err := os.Stat(f); err == nil {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			continue
		}
		ss, fps, err := readPatchSamples(ctx, files)
		if err != nil {
			return nil, err
		}
		sub := subject{samples: ss, fps: fps, rate: 55 + math.Mod(tr.bpm+25-55, 60)}
		if o.KeyframeNotch {
			sub.notch = capture.KeyframeRates(files, fps)
		}
		subs = append(subs, sub)
	}
	var out []LimitRow
	for _, a := range amplitudes {
		row := LimitRow{Amplitude: a}
		for _, sub := range subs {
			ss := injectPulse(sub.samples, sub.rate, a)
			r, err := estimateSamples(PulseReport{FPS: sub.fps, Interference: sub.notch}, ss, o)
			if err != nil {
				continue
			}
			e := math.Abs(r.BPM - sub.rate)
			row.MAE = (row.MAE*float64(row.N) + e) / float64(row.N+1)
			row.N++
			if e <= 3 {
				row.Within3++
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// injectPulse returns a copy of the samples with a pulse at bpm (mean
// rate) added to every patch, relative to the patch's own level.
func injectPulse(ss []liveness.Sample, bpm, amp float64) []liveness.Sample {
	out := make([]liveness.Sample, len(ss))
	var beats float64
	for i, s := range ss {
		if i > 0 {
			dt := s.Time.Sub(ss[i-1].Time).Seconds()
			t := s.Time.Sub(ss[0].Time).Seconds()
			beats += bpm / 60 * (1 + 0.03*math.Sin(2*math.Pi*0.1*t)) * dt
		}
		p := capture.PulseWave(beats) * amp
		c := s
		c.Patches = make(map[string]liveness.RGB, len(s.Patches))
		for k, v := range s.Patches {
			c.Patches[k] = liveness.RGB{R: v.R * (1 + 0.43*p), G: v.G * (1 + p), B: v.B * (1 + 0.69*p)}
		}
		out[i] = c
	}
	return out
}
