package checkin

import (
	"math"
	"slices"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
	"kiosk/models"
)

// WindowOptions configures NewWindow. The zero value is the kiosk's.
type WindowOptions struct {
	// Liveness configures the rPPG estimator; MinWindow defaults to
	// DefaultLivenessWindow, the first decision time.
	Liveness liveness.Options
	// Thresholds are the fusion's limits (liveness.DefaultThresholds if
	// zero); GiveUpAfter is the last decision time.
	Thresholds liveness.Thresholds
	// PAD scores frames for the passive anti-spoof signal; nil leaves it
	// out of the decision.
	PAD PADScorer
	// LostFace is how long the face may be missing before the window
	// starts again from the quality gate (1 s).
	LostFace time.Duration
}

func (o *WindowOptions) defaults() {
	if o.Liveness.MinWindow <= 0 {
		o.Liveness.MinWindow = DefaultLivenessWindow
	}
	if o.Thresholds == (liveness.Thresholds{}) {
		o.Thresholds = liveness.DefaultThresholds
	}
	if o.LostFace <= 0 {
		o.LostFace = time.Second
	}
}

// DecisionTimes are the window's first and last decision times (its
// MinWindow and its thresholds' GiveUpAfter, after defaults): what an
// evaluation must judge at to judge as this window does.
func (o WindowOptions) DecisionTimes() (first, last time.Duration) {
	o.defaults()
	return o.Liveness.MinWindow, o.Thresholds.GiveUpAfter
}

// PADScorer is the passive anti-spoof model as the window needs it;
// *models.PAD is the real one.
type PADScorer interface {
	Score(img models.Image, f models.Face) (float32, error)
}

var _ PADScorer = (*models.PAD)(nil)

// Observation is what one frame did to the window.
type Observation int

const (
	// Gating: the window is not open; the frame did not pass the quality
	// gate, or not enough frames in a row have yet.
	Gating Observation = iota
	// Opened: this frame completed goodFrames good frames in a row and
	// opened the window (it is its first sample).
	Opened
	// Added: the frame's face was added to the open window.
	Added
	// Missing: no face in this frame; the window stays open for LostFace.
	Missing
	// Lost: the face has been missing for LostFace; the window was reset.
	Lost
	// Crowd: several faces; the window was reset, since the second face
	// may be the attack (a phone held beside the visitor).
	Crowd
)

// Window is one check-in's liveness evidence: the frames of one tracked
// face from the moment it passed the quality gate, as skin-patch colour
// traces, sampled anti-spoof scores and the best frame for matching, judged
// at the kiosk's decision times. The check-in flow and `kiosk analyze` (and
// every liveness evaluation) share it, so what is measured offline is what
// the kiosk decides. Every time it sees is a frame's capture time: a busy
// machine can slow a window down but not change its verdict.
//
// Not safe for concurrent use. Best's frame belongs to the window until
// the next Reset.
type Window struct {
	o   WindowOptions
	est *liveness.Estimator

	good     int // consecutive good frames while gating
	open     bool
	opened   time.Time // capture time of the first sample
	lastFace time.Time
	nextEval time.Time
	smooth   models.LandmarkSmoother
	pads     []float64
	// padLow is the lowest anti-spoof median a decision time has judged
	// (NaN before the first); see PAD.
	padLow    float64
	faceFrame int
	// kept is the best quality-passed frame of each second of the window
	// (index: whole seconds since it opened), for matching: the best of
	// them, or several spread over the window to fuse (Picks).
	kept []keptFrame
}

// keptFrame is one frame the window keeps for matching.
type keptFrame struct {
	fr    *capture.Frame
	face  models.Face
	score float64 // the quality gate's score
}

// keptSlots caps the frames kept: one per second of a window that lasts
// at most GiveUpAfter (8 s) plus a challenge.
const keptSlots = 12

// goodFrames is how many consecutive frames must pass the gate before the
// liveness window opens: one lucky frame of a passer-by is not a visitor.
const goodFrames = 3

// padEvery is how often the anti-spoof model runs during the window: its
// score changes slowly, and every frame would double the frame cost.
const padEvery = 8

// evalEvery is how often an open window is judged after its first
// decision time.
const evalEvery = 500 * time.Millisecond

// NewWindow returns an empty window, gating.
func NewWindow(o WindowOptions) *Window {
	o.defaults()
	w := &Window{o: o, est: liveness.NewEstimator(o.Liveness)}
	w.Reset()
	return w
}

// Reset forgets everything and wipes the kept frame: the window gates
// again.
func (w *Window) Reset() {
	w.est.Reset()
	w.smooth.Reset()
	w.good, w.open = 0, false
	w.pads = w.pads[:0]
	w.padLow = math.NaN()
	w.faceFrame = 0
	for i := range w.kept {
		if w.kept[i].fr != nil {
			clear(w.kept[i].fr.Pix)
		}
		w.kept[i] = keptFrame{}
	}
	w.kept = w.kept[:0]
}

// Open reports whether the window is collecting.
func (w *Window) Open() bool { return w.open }

// LastFace is the capture time of the last frame with the face.
func (w *Window) LastFace() time.Time { return w.lastFace }

// Observe feeds one frame with its detections and quality verdict. The
// sample is the frame's skin colours when it was added (Opened, Added).
func (w *Window) Observe(fr *capture.Frame, img models.Image, faces []models.Face, q models.Quality) (Observation, liveness.Sample) {
	if !w.open {
		if !q.OK() {
			w.good = 0
			return Gating, liveness.Sample{}
		}
		if w.good++; w.good < goodFrames {
			return Gating, liveness.Sample{}
		}
		w.open, w.opened, w.nextEval = true, fr.Time, fr.Time
		w.lastFace = fr.Time
		return Opened, w.add(fr, img, faces[0], q)
	}
	switch len(faces) {
	case 0:
		if fr.Time.Sub(w.lastFace) >= w.o.LostFace {
			w.Reset()
			return Lost, liveness.Sample{}
		}
		return Missing, liveness.Sample{}
	case 1:
		w.lastFace = fr.Time
		return Added, w.add(fr, img, faces[0], q)
	default:
		w.Reset()
		return Crowd, liveness.Sample{}
	}
}

// add puts one frame's skin patches into the estimator, samples the
// anti-spoof score, and keeps the best-quality frame for matching.
func (w *Window) add(fr *capture.Frame, img models.Image, face models.Face, q models.Quality) liveness.Sample {
	smooth := w.smooth.Smooth(face)
	ps := models.SkinPatches(img, smooth)
	s := liveness.Sample{Time: fr.Time, Patches: make(map[string]liveness.RGB, len(ps.Patches)), Motion: -1}
	if ps.Size > 0 {
		at, raw := eyeMidpoint(smooth), eyeMidpoint(face)
		s.Pose = liveness.Pose{X: at.X, Y: at.Y, Size: ps.Size, DX: raw.X - at.X, DY: raw.Y - at.Y}
	}
	for _, p := range ps.Patches {
		if p.Usable() {
			s.Patches[p.Name] = liveness.RGB(p.Mean)
		}
	}
	if ps.Background.Usable() {
		s.Reference = liveness.RGB(ps.Background.Mean)
	}
	w.est.Add(s)
	if w.faceFrame%padEvery == 0 && w.o.PAD != nil {
		if sc, err := w.o.PAD.Score(img, face); err == nil {
			w.pads = append(w.pads, float64(sc))
		}
	}
	w.faceFrame++
	if q.OK() {
		w.keep(fr, face, q.Score)
	}
	return s
}

// keep holds fr in its second's slot if it is that second's best so far.
func (w *Window) keep(fr *capture.Frame, face models.Face, score float64) {
	slot := min(int(fr.Time.Sub(w.opened)/time.Second), keptSlots-1)
	for len(w.kept) <= slot {
		w.kept = append(w.kept, keptFrame{})
	}
	k := &w.kept[slot]
	if k.fr != nil && score <= k.score {
		return
	}
	if k.fr == nil {
		k.fr = fr.Clone()
	} else {
		k.fr.Width, k.fr.Height, k.fr.Seq, k.fr.Time = fr.Width, fr.Height, fr.Seq, fr.Time
		k.fr.Pix = append(k.fr.Pix[:0], fr.Pix...)
	}
	k.face, k.score = face, score
}

// eyeMidpoint is the point midway between a face's eyes, in pixels.
func eyeMidpoint(f models.Face) struct{ X, Y float64 } {
	l := f.Landmarks
	return struct{ X, Y float64 }{float64(l[0].X+l[1].X) / 2, float64(l[0].Y+l[1].Y) / 2}
}

// Progress is how far the window is towards its first decision, 0–1.
func (w *Window) Progress() float64 {
	if !w.open {
		return 0
	}
	return w.est.Progress()
}

// Age is how long the window has been open at capture time t.
func (w *Window) Age(t time.Time) time.Duration {
	if !w.open {
		return 0
	}
	return t.Sub(w.opened)
}

// Judge applies the kiosk's decision times at capture time t: the first
// decision once the window spans its MinWindow (5 s), then one every
// 0.5 s. due is false between decision times. final is true when the
// decision ends the window (decisive: a live or refer verdict, an
// anti-spoof score below the fail edge) or the window reaches GiveUpAfter
// (8 s), after which a missing or global pulse is not live. Before that
// such a pulse is judged again on a longer window: on 5 s windows a slow
// live pulse sometimes leaks over the background limit, while a flicker or
// a screen stays global however long it is watched (docs/checkin.md).
func (w *Window) Judge(t time.Time) (d liveness.Decision, due, final bool) {
	if w.Progress() < 1 || t.Before(w.nextEval) {
		return liveness.Decision{}, false, false
	}
	w.nextEval = t.Add(evalEvery)
	final = w.Age(t) >= w.o.Thresholds.GiveUpAfter
	pad := w.PAD()
	w.padLow = pad
	d = liveness.Decide(liveness.Inputs{RPPG: w.est.Estimate(), PAD: pad, Final: final}, w.o.Thresholds)
	return d, true, final || decisive(d)
}

// Decide fuses the window as it stands, with the screen-light challenge's
// result when one was shown. It is what the kiosk would say now, whatever
// the decision times: `kiosk analyze --seconds N` uses it at N s.
func (w *Window) Decide(challenge *liveness.ChallengeResult) liveness.Decision {
	return w.DecideWith(w.est.Estimate(), challenge)
}

// DecideWith fuses a pulse result measured earlier (the window's when the
// challenge began) with the window's anti-spoof score and the challenge.
// With a challenge the decision is final: the window has ended.
func (w *Window) DecideWith(r liveness.Result, challenge *liveness.ChallengeResult) liveness.Decision {
	return liveness.Decide(liveness.Inputs{RPPG: r, PAD: w.PAD(), Challenge: challenge, Final: challenge != nil}, w.o.Thresholds)
}

// PAD is the anti-spoof score the window's decisions use: the median of
// the sampled scores, or the lowest median an earlier decision time
// judged when that is lower; NaN when none. A score between the edges
// keeps the window open (more samples may settle it), and taking the
// lowest means the wait can settle it down, to "not live", or leave it in
// doubt, to staff, but never up to a pass: a window that passes is one
// whose median cleared the pass edge at every decision time, as when any
// score below it ended the window.
func (w *Window) PAD() float64 {
	if len(w.pads) == 0 {
		return w.padLow
	}
	s := slices.Clone(w.pads)
	slices.Sort(s)
	m := s[len(s)/2]
	if w.padLow < m { // false while padLow is NaN
		return w.padLow
	}
	return m
}

// Best returns the best-quality frame of the window and its face (the
// record's face crop); ok is false when no frame passed the gate. The
// frame stays the window's: do not keep it past the next Reset.
func (w *Window) Best() (fr *capture.Frame, face models.Face, ok bool) {
	best := -1
	for i, k := range w.kept {
		if k.fr != nil && (best < 0 || k.score > w.kept[best].score) {
			best = i
		}
	}
	if best < 0 {
		return nil, models.Face{}, false
	}
	return w.kept[best].fr, w.kept[best].face, true
}

// LivePicks is how many frames spread over the window are fused into the
// live template (docs/matching.md: the mean of 3–5 spread frames beat the
// single best frame on the shared sets).
const LivePicks = 5

// Picks returns up to k quality-passed frames spread over the window (the
// best of each of k equal runs of its seconds, models.PickSpread) with
// their faces, in time order. They stay the window's until the next Reset.
func (w *Window) Picks(k int) ([]*capture.Frame, []models.Face) {
	scores := make([]float64, len(w.kept))
	for i, kf := range w.kept {
		if kf.fr != nil {
			scores[i] = max(kf.score, math.SmallestNonzeroFloat64)
		}
	}
	var frames []*capture.Frame
	var faces []models.Face
	for _, i := range models.PickSpread(scores, k) {
		frames, faces = append(frames, w.kept[i].fr), append(faces, w.kept[i].face)
	}
	return frames, faces
}

// decisive reports whether a liveness decision ends the window before
// GiveUpAfter: a pass, a referral, or an anti-spoof score below the fail
// edge. (A score between the edges is doubt: the window goes on, since
// more samples of the score may settle it.)
func decisive(d liveness.Decision) bool {
	if d.Verdict == liveness.Live || d.Verdict == liveness.Refer {
		return true
	}
	for _, s := range d.Signals {
		if s.Name == "pad" && s.Used && s.Value < s.FailEdge {
			return true
		}
	}
	return false
}
