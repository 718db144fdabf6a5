package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/liveness"
	"kiosk/models"
)

// Analysis is the kiosk's liveness verdict on one face video, reached the
// way the check-in reaches it. It holds no pixels and no template.
type Analysis struct {
	File       string  `json:"file"`
	Frames     int     `json:"frames"` // frames read
	FPS        float64 `json:"fps"`
	Seconds    float64 `json:"seconds"`     // video time read
	FaceFrames int     `json:"face_frames"` // frames with exactly one face
	// Opened is false when no three frames in a row passed the quality
	// gate: the kiosk would never have started the pulse window.
	Opened bool `json:"opened"`
	// Final is true when the kiosk would have ended the window by itself
	// (a live verdict, a failed anti-spoof score, or the give-up time);
	// false when the video (or --seconds) ended first and Decision is the
	// verdict the window gave at that moment.
	Final bool `json:"final"`
	// DecidedAfter is the window's age, in seconds, at Decision.
	DecidedAfter float64           `json:"decided_after_s"`
	BPM          float64           `json:"bpm"`
	Decision     liveness.Decision `json:"decision"`
	// Quality counts the quality gate's prompts over the frames read while
	// the window was closed (why it did not open).
	Quality map[string]int `json:"quality,omitempty"`
}

// AnalyzeOptions configures AnalyzeVideo.
type AnalyzeOptions struct {
	// Matcher supplies the detector, the anti-spoof model (PAD may be nil)
	// and the quality gate, as in the kiosk.
	Matcher *models.Matcher
	// Seconds stops the video after this much of it (0: until the window
	// decides or the video ends), and judges as the kiosk would at that
	// moment.
	Seconds float64
	// Window sets the liveness window's options (the kiosk's if zero).
	Window checkin.WindowOptions
}

// ErrNoFrames means the video decoded no frame.
var ErrNoFrames = errors.New("no frames decoded")

// AnalyzeVideo runs a face video through the check-in's liveness path:
// detection and the quality gate on every frame, the window opening after
// three good frames, skin patches, sampled anti-spoof scores, and the
// decision times of checkin.Window. It stops where the kiosk would have
// stopped, or at Seconds, or at the end of the video.
func AnalyzeVideo(ctx context.Context, path string, o AnalyzeOptions) (Analysis, error) {
	a := Analysis{File: path, Quality: map[string]int{}}
	if o.Matcher == nil || o.Matcher.Det == nil {
		return a, errors.New("eval.AnalyzeVideo: a matcher with a detector is required")
	}
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		return a, err
	}
	defer src.Close()
	a.FPS = src.FPS()
	wo := o.Window
	if wo.PAD == nil && o.Matcher.PAD != nil {
		wo.PAD = o.Matcher.PAD
	}
	w := checkin.NewWindow(wo)
	defer w.Reset()
	var first, last time.Time
	decided := false
	for !decided {
		fr, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return a, err
		}
		if a.Frames == 0 {
			first = fr.Time
		}
		if o.Seconds > 0 && fr.Time.Sub(first).Seconds() >= o.Seconds {
			fr.Release()
			break
		}
		a.Frames++
		last = fr.Time
		decided, err = analyzeFrame(&a, w, o.Matcher, fr)
		fr.Release()
		if err != nil {
			return a, err
		}
	}
	if a.Frames == 0 {
		return a, ErrNoFrames
	}
	a.Seconds = float64(a.Frames) / a.FPS
	if !decided && w.Open() {
		a.Decision = w.Decide(nil)
		a.DecidedAfter = w.Age(last).Seconds()
	}
	a.BPM = a.Decision.RPPG.BPM
	if len(a.Quality) == 0 {
		a.Quality = nil
	}
	return a, nil
}

// analyzeFrame feeds one frame to the window as the flow does, and reports
// whether the window reached a final decision.
func analyzeFrame(a *Analysis, w *checkin.Window, m *models.Matcher, fr *capture.Frame) (bool, error) {
	img := models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix}
	faces, err := m.Det.Detect(img)
	if err != nil {
		return false, fmt.Errorf("frame %d: %w", fr.Seq, err)
	}
	q, err := models.AssessQuality(img, faces, m.Quality)
	if err != nil {
		return false, fmt.Errorf("frame %d: %w", fr.Seq, err)
	}
	if len(faces) == 1 {
		a.FaceFrames++
	}
	obs, _ := w.Observe(fr, img, faces, q)
	switch obs {
	case checkin.Gating, checkin.Lost, checkin.Crowd:
		a.Quality[q.Prompt.String()]++
		return false, nil
	case checkin.Missing:
		return false, nil
	}
	a.Opened = true
	d, due, final := w.Judge(fr.Time)
	if !due || !final {
		return false, nil
	}
	a.Decision, a.Final, a.DecidedAfter = d, true, w.Age(fr.Time).Seconds()
	return true, nil
}
