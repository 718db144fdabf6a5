package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"kiosk/capture"
	"kiosk/liveness"
	"kiosk/models"
)

func init() {
	register(command{name: "analyze", summary: "liveness on a face video: heart rate, SNR, anti-spoof, the decision and its reasons", run: runAnalyze})
}

// analysis is the whole liveness pipeline's verdict on one video. It holds
// no pixels and no biometric template, only measurements.
type analysis struct {
	File       string            `json:"file"`
	Frames     int               `json:"frames"`
	FPS        float64           `json:"fps"`
	Seconds    float64           `json:"seconds"`
	FaceFrames int               `json:"face_frames"`
	BPM        float64           `json:"bpm"`
	SNR        float64           `json:"snr_db"`
	PAD        float64           `json:"pad_score"`
	Decision   liveness.Decision `json:"decision"`
}

// analyzeVideo runs detection, skin patches, rPPG and the anti-spoof score
// over the first maxSeconds of a video (all of it when 0), then decides.
func analyzeVideo(ctx context.Context, path, modelsDir string, maxSeconds float64) (analysis, error) {
	a := analysis{File: path}
	det, err := models.LoadDetector(modelsDir, models.DetectorOptions{})
	if err != nil {
		return a, err
	}
	defer det.Close()
	pad, err := models.LoadPAD(modelsDir)
	if err != nil {
		return a, err
	}
	defer pad.Close()
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		return a, err
	}
	defer src.Close()
	a.FPS = src.FPS()
	est := liveness.NewEstimator(liveness.Options{})
	var pads []float64
	var prev models.Point
	havePrev := false
	var smooth models.LandmarkSmoother
	for {
		f, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return a, err
		}
		a.Frames++
		if maxSeconds > 0 && float64(a.Frames) > maxSeconds*a.FPS {
			f.Release()
			break
		}
		img := models.Image{Width: f.Width, Height: f.Height, Pix: f.Pix}
		faces, err := det.Detect(img)
		if err != nil || len(faces) != 1 {
			f.Release()
			havePrev = false
			smooth.Reset()
			continue
		}
		a.FaceFrames++
		face := faces[0]
		ps := models.SkinPatches(img, smooth.Smooth(face))
		s := liveness.Sample{Time: f.Time, Patches: map[string]liveness.RGB{}, Motion: -1}
		for _, p := range ps.Patches {
			if p.Usable() {
				s.Patches[p.Name] = liveness.RGB(p.Mean)
			}
		}
		if ps.Background.Usable() {
			s.Reference = liveness.RGB(ps.Background.Mean)
		}
		if havePrev && ps.Size > 0 {
			s.Motion = math.Hypot(float64(ps.Centre.X-prev.X), float64(ps.Centre.Y-prev.Y)) / ps.Size
		}
		prev, havePrev = ps.Centre, true
		est.Add(s)
		if a.FaceFrames%10 == 1 { // the PAD score changes slowly; sample it
			if sc, err := pad.Score(img, face); err == nil {
				pads = append(pads, float64(sc))
			}
		}
		f.Release()
	}
	if a.Frames == 0 {
		return a, errors.New("no frames decoded")
	}
	a.Seconds = float64(min(a.Frames, int(math.Max(maxSeconds*a.FPS, float64(a.Frames))))) / a.FPS
	r := est.Estimate()
	a.PAD = math.NaN()
	if len(pads) > 0 {
		slices.Sort(pads)
		a.PAD = pads[len(pads)/2]
	}
	a.BPM, a.SNR = r.BPM, r.SNR
	a.Decision = liveness.Decide(liveness.Inputs{RPPG: r, PAD: a.PAD}, liveness.DefaultThresholds)
	return a, nil
}

func runAnalyze(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "analyze", "analyze [--json] [--seconds N] VIDEO\n\nExit status 0 when analysed (whatever the verdict), 2 for an unreadable video.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	seconds := fs.Float64("seconds", 0, "analyse only the first N seconds (0 = all)")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	a, err := analyzeVideo(ctx, fs.Arg(0), cfg.modelsDir, *seconds)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonSafe(a)); err != nil {
			fmt.Fprintf(e.stderr, "kiosk analyze: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s: %d frames at %.0f fps, a face in %d\n", a.File, a.Frames, a.FPS, a.FaceFrames)
	fmt.Fprintf(e.stdout, "verdict: %s: %s\n", a.Decision.Verdict, a.Decision.Reason)
	for _, s := range a.Decision.Signals {
		state := "fail"
		if !s.Used {
			state = "absent"
		} else if s.Pass {
			state = "pass"
		}
		fmt.Fprintf(e.stdout, "  %-15s %8.3f (threshold %.2f) %s\n", s.Name, s.Value, s.Threshold, state)
	}
	fmt.Fprintf(e.stdout, "  heart rate %.1f bpm, SNR %.1f dB, coherence %.2f, agreement %.2f\n", a.BPM, a.SNR, a.Decision.RPPG.Coherence, a.Decision.RPPG.Agreement)
	return exitOK
}

// jsonSafe replaces the NaN and ±Inf JSON cannot hold with a marker value
// by round-tripping through a generic map.
func jsonSafe(v any) any {
	b, err := json.Marshal(sanitize(v))
	if err != nil {
		return v
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}
