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
	// (a live or refer verdict, an anti-spoof score below its fail edge, or
	// the give-up time);
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
	// Judgements are the window's decisions at every decision time, in
	// order, up to the kiosk's final one, and beyond it while
	// AnalyzeOptions.WatchUntil asks.
	Judgements []Judgement `json:"judgements,omitempty"`
}

// Judgement is the window's decision at one of its decision times.
type Judgement struct {
	// Age is the window's age at the decision, in seconds.
	Age float64 `json:"age_s"`
	// From and Frame are the 0-based indices of the video frames that
	// opened the window and that was judged: the window's samples span
	// them (a pulse reference is measured over the same frames).
	From  int `json:"from_frame"`
	Frame int `json:"frame"`
	// Final is true where the kiosk would have ended the window.
	Final bool `json:"final"`
	Judged
}

// Judged is what the window decided at one decision time: the verdict
// and the signals it rested on. Judgement (one analysis) and LivenessPoint
// (one row of an evaluation) both carry it.
type Judged struct {
	Verdict   liveness.Verdict `json:"verdict"`
	Reason    string           `json:"reason"`
	BPM       Num              `json:"bpm"`
	SNR       Num              `json:"snr_db"`
	Coherence Num              `json:"coherence"`
	Agreement Num              `json:"agreement"`
	// PulseCoherence is the decision's pulse test (liveness.Thresholds).
	PulseCoherence Num `json:"pulse_coherence"`
	// PAD is the anti-spoof score the decision used (NaN without one).
	PAD Num `json:"pad"`
}

// Detector finds faces in a frame; *models.Detector is the real one.
type Detector interface {
	Detect(img models.Image) ([]models.Face, error)
}

var _ Detector = (*models.Detector)(nil)

// AnalyzeOptions configures AnalyzeVideo.
type AnalyzeOptions struct {
	// Matcher supplies the detector, the anti-spoof model (PAD may be nil)
	// and the quality gate, as in the kiosk.
	Matcher *models.Matcher
	// Detector, when set, replaces the matcher's detector (a cache of its
	// answers, for tools that replay the same videos many times).
	Detector Detector
	// Seconds stops the video after this much of it (0: until the window
	// decides or the video ends), and judges as the kiosk would at that
	// moment.
	Seconds float64
	// Window sets the liveness window's options (the kiosk's if zero).
	Window checkin.WindowOptions
	// FrameTimes, when set, are the frames' capture times in seconds on
	// any clock (a recorder's log): frame i reaches the window at the
	// first frame's time plus FrameTimes[i] − FrameTimes[0], as a camera's
	// timestamps would, jitter and all, instead of at i/fps. The video
	// must not have more frames than it lists.
	FrameTimes []float64
	// WatchUntil keeps the window going after the kiosk's final decision
	// until a decision time at which it is at least this old, recording
	// each decision time's judgement (the heart rate and verdict at 8 s of
	// a clip the kiosk passed at 5 s).
	// The kiosk's own verdict (Decision, Final) is unchanged by it.
	WatchUntil time.Duration
	// OnSample, when set, sees every sample the window took, with the
	// index of its frame: the skin traces a tool may study (they are
	// biometric-adjacent: keep them in memory or a git-ignored cache).
	OnSample func(frame int, s liveness.Sample)
}

// ErrNoFrames means the video decoded no frame.
var ErrNoFrames = errors.New("no frames decoded")

// AnalyzeVideo runs a face video through the check-in's liveness path:
// detection and the quality gate on every frame, the window opening after
// three good frames, skin patches, sampled anti-spoof scores, and the
// decision times of checkin.Window. It stops where the kiosk would have
// stopped (or, with WatchUntil, at the first decision time that old), or
// at Seconds, or at the end of the video.
func AnalyzeVideo(ctx context.Context, path string, o AnalyzeOptions) (Analysis, error) {
	a := Analysis{File: path, Quality: map[string]int{}}
	if o.Matcher == nil || (o.Matcher.Det == nil && o.Detector == nil) {
		return a, errors.New("eval.AnalyzeVideo: a matcher with a detector is required")
	}
	det := o.Detector
	if det == nil {
		det = o.Matcher.Det
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
	decided, watching := false, false
	st := &analyzeState{}
	for !decided || watching {
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
		if o.FrameTimes != nil {
			if a.Frames >= len(o.FrameTimes) {
				fr.Release()
				return a, fmt.Errorf("%s: frame %d has no capture time (the frame times list %d frames)", path, a.Frames, len(o.FrameTimes))
			}
			fr.Time = first.Add(time.Duration((o.FrameTimes[a.Frames] - o.FrameTimes[0]) * float64(time.Second)))
		}
		if o.Seconds > 0 && fr.Time.Sub(first).Seconds() >= o.Seconds {
			fr.Release()
			break
		}
		st.index = a.Frames
		a.Frames++
		last = fr.Time
		st.onSample = o.OnSample
		final, err := analyzeFrame(&a, st, w, det, o.Matcher.Quality, fr, decided)
		fr.Release()
		if err != nil {
			return a, err
		}
		decided = decided || final
		watching = decided && o.WatchUntil > 0 && w.Open() &&
			(len(a.Judgements) == 0 || a.Judgements[len(a.Judgements)-1].Age < o.WatchUntil.Seconds())
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

// analyzeState is what AnalyzeVideo tracks across frames besides the
// window: the index of the frame in hand and of the one that opened the
// window.
type analyzeState struct {
	index, opened int
	onSample      func(int, liveness.Sample)
}

// analyzeFrame feeds one frame to the window as the flow does, records a
// judgement at each decision time, and reports whether the window reached
// a final decision. After the kiosk's decision (decided), it only records.
func analyzeFrame(a *Analysis, st *analyzeState, w *checkin.Window, det Detector, gate models.QualityThresholds, fr *capture.Frame, decided bool) (bool, error) {
	img := models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix}
	faces, err := det.Detect(img)
	if err != nil {
		return false, fmt.Errorf("frame %d: %w", fr.Seq, err)
	}
	q, err := models.AssessQuality(img, faces, gate)
	if err != nil {
		return false, fmt.Errorf("frame %d: %w", fr.Seq, err)
	}
	if len(faces) == 1 {
		a.FaceFrames++
	}
	obs, sample := w.Observe(fr, img, faces, q)
	if st.onSample != nil && (obs == checkin.Opened || obs == checkin.Added) {
		st.onSample(st.index, sample)
	}
	switch obs {
	case checkin.Gating, checkin.Lost, checkin.Crowd:
		a.Quality[q.Prompt.String()]++
		return false, nil
	case checkin.Missing:
		return false, nil
	}
	if obs == checkin.Opened {
		st.opened = st.index
	}
	a.Opened = true
	d, due, final := w.Judge(fr.Time)
	if !due {
		return false, nil
	}
	a.Judgements = append(a.Judgements, Judgement{Age: w.Age(fr.Time).Seconds(), From: st.opened, Frame: st.index, Final: final && !decided,
		Judged: Judged{Verdict: d.Verdict, Reason: d.Reason, BPM: Num(d.RPPG.BPM), SNR: Num(d.RPPG.SNR), Coherence: Num(d.RPPG.Coherence),
			Agreement: Num(d.RPPG.Agreement), PulseCoherence: Num(d.RPPG.PulseCoherence), PAD: Num(w.PAD())}})
	if !final || decided {
		return false, nil
	}
	a.Decision, a.Final, a.DecidedAfter = d, true, w.Age(fr.Time).Seconds()
	return true, nil
}
