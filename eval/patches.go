package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
)

// PulseReport is the heart-rate estimate for one recording of skin
// patches.
type PulseReport struct {
	Files   []string `json:"files"`
	Frames  int      `json:"frames"`
	FPS     float64  `json:"fps"`
	Seconds float64  `json:"seconds"`
	// BPM is the SNR-weighted median of the estimates over sliding windows,
	// the figure to compare with a mean heart rate.
	BPM     float64 `json:"bpm"`
	Windows int     `json:"windows"`
	// SNR is the median over the windows, in dB.
	SNR float64 `json:"snr_db"`
	// Interference holds the keyframe rates (Hz) read from the files'
	// AVI indexes whose harmonics were removed from the spectra.
	Interference []float64 `json:"interference_hz,omitempty"`
	// Last is the final window's full result.
	Last liveness.Result `json:"last"`
	// WindowBPMs are the sliding windows' estimates, in order.
	WindowBPMs []float64 `json:"window_bpms,omitempty"`
}

// PatchOptions configures EstimatePatches.
type PatchOptions struct {
	Window time.Duration // analysis window; 10 s if zero
	Method liveness.Method
	Fusion liveness.Fusion
	// KeyframeNotch reads each file's keyframe interval (GOP) from its AVI
	// index and passes the keyframe rate to liveness.Options.Interference.
	KeyframeNotch bool
	// RegressIntensity sets liveness.Options.RegressIntensity.
	RegressIntensity bool
}

// estimateEvery is how often EstimatePatches re-estimates, in seconds.
const estimateEvery = 2

// EstimatePatches reads the files frame by frame in lockstep, each file's
// whole-frame mean colour standing for one skin patch (the files are
// crops of the same recording), and estimates the heart rate over sliding
// windows.
func EstimatePatches(ctx context.Context, files []string, o PatchOptions) (PulseReport, error) {
	rep := PulseReport{Files: files}
	if len(files) == 0 {
		return rep, errors.New("no patch files")
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	samples, fps, err := readPatchSamples(ctx, files)
	if err != nil {
		return rep, err
	}
	rep.FPS = fps
	if o.KeyframeNotch {
		rep.Interference = capture.KeyframeRates(files, rep.FPS)
	}
	return estimateSamples(rep, samples, o)
}

// readPatchSamples reads the files frame by frame in lockstep, each file's
// whole-frame mean colour one patch, until the shortest ends.
func readPatchSamples(ctx context.Context, files []string) ([]liveness.Sample, float64, error) {
	var srcs []*capture.File
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	start := time.Unix(0, 0)
	for _, f := range files {
		s, err := capture.OpenFile(f, capture.FileOptions{Start: start})
		if err != nil {
			return nil, 0, err
		}
		srcs = append(srcs, s)
	}
	var out []liveness.Sample
	for {
		s := liveness.Sample{Patches: map[string]liveness.RGB{}, Motion: -1}
		for i, src := range srcs {
			fr, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				return out, srcs[0].FPS(), nil
			}
			if err != nil {
				return nil, 0, err
			}
			if i == 0 {
				s.Time = fr.Time
			}
			s.Patches[filepath.Base(files[i])] = meanBGR(fr)
			fr.Release()
		}
		out = append(out, s)
	}
}

// estimateSamples runs the estimator over sliding windows of the samples
// (re-estimating every estimateEvery seconds) and fills rep.
func estimateSamples(rep PulseReport, samples []liveness.Sample, o PatchOptions) (PulseReport, error) {
	est := liveness.NewEstimator(liveness.Options{Window: o.Window, MinWindow: o.Window, Method: o.Method, Fusion: o.Fusion,
		Interference: rep.Interference, RegressIntensity: o.RegressIntensity})
	step := int(math.Max(1, estimateEvery*rep.FPS))
	var bpms, weights, snrs []float64
	for _, s := range samples {
		est.Add(s)
		rep.Frames++
		if rep.Frames%step == 0 {
			if r := est.Estimate(); r.Enough {
				bpms = append(bpms, r.BPM)
				weights = append(weights, math.Pow(10, math.Max(r.SNR, -20)/10))
				snrs = append(snrs, r.SNR)
			}
		}
	}
	rep.WindowBPMs = bpms
	if rep.Frames == 0 {
		return rep, errors.New("no frames decoded")
	}
	rep.Seconds = float64(rep.Frames) / rep.FPS
	rep.Last = est.Estimate()
	rep.Windows = len(bpms)
	if len(bpms) == 0 {
		return rep, fmt.Errorf("not enough signal: %.1f s of video, %s", rep.Seconds, rep.Last.Reason)
	}
	rep.BPM = weightedMedian(bpms, weights)
	slices.Sort(snrs)
	rep.SNR = snrs[len(snrs)/2]
	return rep, nil
}

// weightedMedian is the value below and above which half the weight lies:
// windows with a clear pulse count more than noisy stretches, and a few
// wild windows cannot move it. It is NaN for no values.
func weightedMedian(v, w []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	idx := make([]int, len(v))
	var total float64
	for i := range idx {
		idx[i] = i
		total += w[i]
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	var acc float64
	for _, i := range idx {
		acc += w[i]
		if acc >= total/2 {
			return v[i]
		}
	}
	return v[idx[len(idx)-1]]
}

// meanBGR is a BGR frame's mean colour.
func meanBGR(f *capture.Frame) liveness.RGB {
	var b, g, r float64
	for i := 0; i+2 < len(f.Pix); i += 3 {
		b += float64(f.Pix[i])
		g += float64(f.Pix[i+1])
		r += float64(f.Pix[i+2])
	}
	n := float64(len(f.Pix) / 3)
	return liveness.RGB{R: r / n, G: g / n, B: b / n}
}
