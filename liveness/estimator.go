// Package liveness reads the pulse from skin colour (remote
// photoplethysmography) and fuses it with other signals into one explained
// liveness decision. It is pure Go: frames never reach it, only the mean
// colours of skin patches and of a background region, with timestamps.
//
// Start with NewEstimator: Add a Sample per frame, call Estimate for the
// running heart-rate estimate, then Decide with the anti-spoof score.
package liveness

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// RGB is a mean colour, 0–255 per channel.
type RGB struct{ R, G, B float64 }

// A channel mean outside minLevel…maxLevel is not a measurement (a patch
// averaging a thousandth of a grey level, or a million, is a bug or an
// attack), and is treated like a missing patch. The floor also keeps the
// per-channel normalisation (dividing by the mean) far from overflow.
const (
	minLevel = 1e-3
	maxLevel = 1e6
)

func (c RGB) valid() bool {
	for _, v := range []float64{c.R, c.G, c.B} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < minLevel || v > maxLevel {
			return false
		}
	}
	return true
}

// Sample is one frame's measurements.
type Sample struct {
	Time time.Time
	// Patches holds the mean skin colour per named region; a missing or
	// invalid entry (zero, NaN, Inf) means the region was not visible.
	Patches map[string]RGB
	// Reference is the mean colour of a non-skin region beside the face.
	Reference RGB
	// Motion is how far the face moved since the previous frame, in eye
	// distances; negative means unknown.
	Motion float64
	// Pose is where the patches were cut in this frame; zero means
	// unknown. It lets the estimator remove what follows the face's
	// movement from the traces (Options.KeepMotion).
	Pose Pose
}

// Pose is where a frame's skin patches hang from, in pixels: the eye
// midpoint (X, Y) and the eye distance (Size) of the smoothed landmarks
// the patches were placed by, and the detector's own eye midpoint's
// offset from that point (DX, DY): the tracking error, since the smoother
// lags a moving face and damps the detector's jitter. A patch that lags
// the face slides over it, and its colour changes with that offset and
// with the face's position in the light, not with the pulse.
type Pose struct {
	X, Y, Size float64
	DX, DY     float64
}

func (p Pose) valid() bool {
	for _, v := range []float64{p.X, p.Y, p.Size, p.DX, p.DY} {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxLevel {
			return false
		}
	}
	return p.Size > 0
}

// Options configures NewEstimator. The zero value suits a kiosk camera.
type Options struct {
	// Window is the longest span analysed; default 10 s.
	Window time.Duration
	// MinWindow is the least span that gives an estimate; default 4 s.
	MinWindow time.Duration
	// Rate is the uniform resampling rate in Hz; default 30.
	Rate float64
	// Method is POS (default) or CHROM.
	Method Method
	// Fusion chooses how patch spectra combine; see Fusion.
	Fusion Fusion
	// MaxMotion is the face's mean speed, in eye distances per second,
	// above which a window is rejected ("hold still"); default 1.5, about
	// the former 0.05 eye distances per frame at 30 fps (that limit
	// measured the raw box centre per frame, this one the smoothed eye
	// midpoint over 0.2 s steps: docs/liveness.md). Per second, not per
	// frame, so a camera at 12 fps is held to the same movement as one at
	// 30: per frame, the same sway measured 2.5 times larger at 12 fps.
	MaxMotion float64
	// Interference lists fundamentals, in Hz, of known periodic
	// interference in the traces, such as a recorded video's keyframe
	// rate (frame rate / GOP length: 1.25 Hz for the common GOP of 12 at
	// 15 fps). Their harmonics (2×, 3×, … within the band) are removed
	// from every spectrum, ±InterferenceWidth Hz, before the peak search
	// and the SNR. The fundamental itself is kept: it may coincide with a
	// real heart rate, and stripped of its harmonics the artefact loses
	// the harmonic support a pulse has. Values below 0.5 Hz (whose
	// harmonics would blanket the band), NaN and Inf are ignored. A live
	// camera has none; leave it empty.
	Interference []float64
	// RegressIntensity removes, before the projection, the part of each
	// patch's log colour that follows the scene's log brightness (the
	// mean over the patches), with a gain fitted per channel over the
	// window. POS and CHROM assume a brightness change scales R, G and B
	// alike; a dark, black-clipped or gamma-encoded recording breaks that,
	// and exposure flicker of tens of percent then leaks into the
	// chrominance far above a 1 % pulse. Meant for recorded video (the
	// shared patch clips); the live kiosk leaves it off.
	RegressIntensity bool
	// KeepMotion leaves in the traces what follows the face's movement.
	// By default each patch's pulse signal is regressed, over the window,
	// on the band-passed pose signals (position, size, tracking offset;
	// Sample.Pose) and only the residual is used, so a patch sliding over
	// the face as it moves, or a print wobbling in a hand, does not pass
	// for a pulse. Samples without a pose leave the traces as they are.
	KeepMotion bool
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.MinWindow <= 0 {
		o.MinWindow = 4 * time.Second
	}
	if o.MinWindow > o.Window {
		o.MinWindow = o.Window
	}
	if o.Rate <= 0 {
		o.Rate = 30
	}
	if o.MaxMotion <= 0 {
		o.MaxMotion = 1.5
	}
}

// Fusion is how the patches' signals combine.
type Fusion int

const (
	// Ensemble fuses both coherently and by spectral sum and keeps the
	// heart rate with the higher pulse coherence (Result.PulseCoherence):
	// the one the skin agrees on. It is the default, the kiosk's. Over the
	// 68 live videos of docs/liveness.md it called a face live at a heart
	// rate more than 3 bpm off twice (by 3.3 and 4.0, at 5 s), Adaptive
	// three times (up to 3.9 bpm; once 51 bpm for 72.5 before the motion
	// regression took its final form). With fewer than ensembleMinPatches
	// patches it is Adaptive.
	Ensemble Fusion = iota
	// Adaptive fuses coherently when the patches' pulses measurably move
	// together (coherence ≥ AdaptiveCoherence), and by spectral sum when
	// they do not (dim light, heavy compression), where a coherent sum
	// would mostly add noise. kiosk pulse and eval rppg use it.
	Adaptive
	// Coherent sums the patches' unit-variance pulse signals, weighted by
	// SNR: best when the pulse reaches every patch in phase and the
	// patches are clean.
	Coherent
	// SpectralSum sums the patches' normalised spectra, weighted by SNR.
	SpectralSum
	// GeometricMean multiplies the normalised spectra (geometric mean), so
	// only a peak present in every patch survives.
	GeometricMean
)

func (f Fusion) String() string {
	switch f {
	case Coherent:
		return "coherent"
	case SpectralSum:
		return "spectral"
	case GeometricMean:
		return "geometric"
	case Adaptive:
		return "adaptive"
	}
	return "ensemble"
}

// InterferenceWidth is the half-width, in Hz, of the notch around each
// harmonic of an Options.Interference fundamental (±3.6 bpm).
const InterferenceWidth = 0.06

// spectrum is welch with the configured interference removed.
func (e *Estimator) spectrum(x []float64, fs float64) spectrum {
	s := welch(x, fs, int(8*fs), 2048)
	for _, f0 := range e.o.Interference {
		if !(f0 >= 0.5) || math.IsInf(f0, 0) {
			continue
		}
		for h := 2.0; h*f0 <= BandHi+InterferenceWidth; h++ {
			s.notch(h*f0, InterferenceWidth)
		}
	}
	return s
}

// ensembleMinPatches is the fewest patches Ensemble chooses between
// fusions with. Choosing the better of two heart rates by the pulse
// coherence raises what noise scores on it; over the kiosk's 14 patches
// attacks stayed at 0.42 at most, but over 5 (the trace generator) a
// flickering photo and a wobbling print reached 0.5, the threshold then.
const ensembleMinPatches = 8

// AdaptiveCoherence is the coherence from which Adaptive fuses coherently.
const AdaptiveCoherence = 0.35

// Band is the plausible heart-rate band, 42–240 bpm.
const (
	BandLo = 0.7
	BandHi = 4.0
)

// snrWidth is the half-width of the SNR signal band around the peak: de
// Haan's ±0.1 Hz, widened for short windows to the Hann main lobe's
// half-width (about 1.2/T Hz for a T-second window), so a clean 5 s pulse
// is not scored as noise.
func snrWidth(span time.Duration) float64 { return math.Max(0.1, 1.2/span.Seconds()) }

// maxSamples bounds memory whatever the caller feeds.
const maxSamples = 4096

// Estimator keeps the recent samples and estimates the heart rate from
// them. It is not safe for concurrent use; one check-in owns one Estimator.
type Estimator struct {
	o       Options
	samples []Sample
}

// NewEstimator returns an empty estimator.
func NewEstimator(o Options) *Estimator {
	o.defaults()
	return &Estimator{o: o}
}

// Reset forgets every sample (a new visitor, or the face was lost).
func (e *Estimator) Reset() { e.samples = e.samples[:0] }

// Add records one frame. Samples must come in time order; an older or
// zero-time sample is ignored. Samples older than the window are dropped.
func (e *Estimator) Add(s Sample) {
	if s.Time.IsZero() {
		return
	}
	if n := len(e.samples); n > 0 && !s.Time.After(e.samples[n-1].Time) {
		return
	}
	e.samples = append(e.samples, s)
	cut := 0
	last := s.Time
	for cut < len(e.samples) && last.Sub(e.samples[cut].Time) > e.o.Window {
		cut++
	}
	if len(e.samples)-cut > maxSamples {
		cut = len(e.samples) - maxSamples
	}
	if cut > 0 {
		e.samples = append(e.samples[:0], e.samples[cut:]...)
	}
}

// PatchResult is one region's own estimate.
type PatchResult struct {
	Name string  `json:"name"`
	BPM  float64 `json:"bpm"`
	SNR  float64 `json:"snr_db"`
}

// Result is the estimate over the current window.
type Result struct {
	// Enough is false when the window is too short, too gappy or too
	// shaky to judge; Reason says which.
	Enough  bool          `json:"enough"`
	Reason  string        `json:"reason,omitempty"`
	Span    time.Duration `json:"span_ns"`
	Frames  int           `json:"frames"`
	BPM     float64       `json:"bpm"`
	SNR     float64       `json:"snr_db"`
	Patches []PatchResult `json:"patches"`
	// Agreement is the fraction of usable patches whose own estimate is
	// within 6 bpm of the fused one.
	Agreement float64 `json:"agreement"`
	// Coherence is the mean pairwise correlation of the patches' pulse
	// signals: a heartbeat reaches every patch in phase, while sensor noise
	// in separate patches is independent. Near 0 for a photo.
	Coherence float64 `json:"coherence"`
	// PulseCoherence is how well each patch follows the rest of the face
	// at the pulse: the mean, over the patches, of the correlation between
	// a patch's pulse signal and the sum of all the others, both kept only
	// within the bands around the heart rate and its first harmonic. It is
	// the decision's pulse test (Thresholds.MinPulseCoherence): a heartbeat
	// reaches all the skin, so every patch follows the others at its rate,
	// while a photo's patches share nothing there. Narrow bands keep the
	// broadband noise of small, dark or compressed patches out of it, and
	// the sum of the others is a cleaner reference than any single patch,
	// which is why it holds where the broadband Coherence falls to 0.1–0.2
	// on dark skin, dim light or MJPEG with the right heart rate.
	PulseCoherence float64 `json:"pulse_coherence"`
	// ReferenceSNR is the background's spectral SNR at the pulse frequency:
	// high means the "pulse" lights the whole scene (flicker, a screen).
	ReferenceSNR float64 `json:"reference_snr_db"`
	Global       bool    `json:"global"`
	// Motion is the face's mean speed over the window, in eye distances
	// per second.
	Motion float64 `json:"motion"`
	Method string  `json:"method"`
	Fusion string  `json:"fusion"`
}

// Progress is how far the window is towards MinWindow, 0–1, for the UI.
func (e *Estimator) Progress() float64 {
	if len(e.samples) < 2 {
		return 0
	}
	span := e.samples[len(e.samples)-1].Time.Sub(e.samples[0].Time)
	return math.Min(1, float64(span)/float64(e.o.MinWindow))
}

// Estimate analyses the current window. It never panics on bad input: NaN,
// Inf, constant or absurd values yield a result with Enough false.
func (e *Estimator) Estimate() Result {
	r := Result{Frames: len(e.samples), Method: e.o.Method.String(), SNR: math.Inf(-1), ReferenceSNR: math.Inf(-1)}
	if len(e.samples) < 2 {
		r.Reason = "not enough signal: too few frames"
		return r
	}
	t0 := e.samples[0].Time
	r.Span = e.samples[len(e.samples)-1].Time.Sub(t0)
	if r.Span < e.o.MinWindow {
		r.Reason = fmt.Sprintf("not enough signal: %.1f s of %.1f s", r.Span.Seconds(), e.o.MinWindow.Seconds())
		return r
	}
	r.Motion = e.speed()
	if r.Motion > e.o.MaxMotion {
		r.Reason = fmt.Sprintf("too much movement: %.2f eye distances per second", r.Motion)
		return r
	}
	fs := e.o.Rate
	n := int(r.Span.Seconds()*fs) + 1
	names := e.patchNames()
	type rgbTrace struct {
		name    string
		r, g, b []float64
	}
	var traces []rgbTrace
	for _, name := range names {
		r_, g_, b_, ok := e.trace(func(s Sample) (RGB, bool) { c, ok := s.Patches[name]; return c, ok && c.valid() }, t0, fs, n)
		if ok {
			traces = append(traces, rgbTrace{name, r_, g_, b_})
		}
	}
	if e.o.RegressIntensity && len(traces) > 0 {
		// The scene's log brightness: mean over the patches, so one
		// patch's own noise or pulse hardly enters the regressor.
		scene := make([]float64, n)
		for _, t := range traces {
			for i := range scene {
				scene[i] += logLevel(t.r[i]+t.g[i]+t.b[i]) / float64(len(traces))
			}
		}
		for i := range traces {
			t := &traces[i]
			t.r, t.g, t.b = regressIntensity(t.r, scene), regressIntensity(t.g, scene), regressIntensity(t.b, scene)
		}
	}
	motion := e.motionRegressors(t0, fs, n)
	var usable []traced
	raw := make([][]float64, len(traces))
	for i, t := range traces {
		raw[i] = e.pulse(t.r, t.g, t.b, fs)
	}
	if motion != nil {
		raw = regressMotion(raw, motion)
	}
	for i, t := range traces {
		usable = append(usable, traced{t.name, raw[i], e.spectrum(raw[i], fs)})
	}
	if len(usable) == 0 {
		r.Reason = "not enough signal: no skin patch was visible for most of the window"
		return r
	}
	var corr float64
	pairs := 0
	for i := range usable {
		for j := i + 1; j < len(usable); j++ {
			corr += correlation(usable[i].pulse, usable[j].pulse)
			pairs++
		}
	}
	if pairs > 0 {
		r.Coherence = corr / float64(pairs)
	}
	// Each patch's own estimate, for agreement and the explanation.
	width := snrWidth(r.Span)
	weights := make([]float64, len(usable))
	for i := range usable {
		u := &usable[i]
		hz, ok := u.spec.harmonicPeak(BandLo, BandHi)
		snr := math.Inf(-1)
		if ok {
			snr = u.spec.snr(hz, width, BandLo, BandHi)
		}
		r.Patches = append(r.Patches, PatchResult{Name: u.name, BPM: hz * 60, SNR: snr})
		weights[i] = snrWeight(snr)
	}
	pulses := raw // each usable patch's pulse signal, in order
	fuse := func(fusion Fusion) (spectrum, float64, bool) {
		fused := e.fuse(fusion, usable, weights, n, fs)
		hz, ok := fused.harmonicPeak(BandLo, BandHi)
		return fused, hz, ok
	}
	var fused spectrum
	var hz float64
	ok := false
	fusion := e.o.Fusion
	if fusion == Ensemble && len(usable) < ensembleMinPatches {
		fusion = Adaptive
	}
	switch fusion {
	case Ensemble:
		// Each fusion proposes a heart rate; the one the skin agrees on
		// most (the highest pulse coherence) wins. The coherent sum is
		// best when the patches are clean, the spectral sum when a few
		// patches carry a strong artefact of their own (a shadow's edge, a
		// lens reflection), which the SNR weights of a coherent sum favour.
		best := math.Inf(-1)
		for _, f := range []Fusion{Coherent, SpectralSum} {
			s, h, good := fuse(f)
			if !good {
				continue
			}
			if pc := pulseCoherence(pulses, fs, h, width); pc > best {
				best, fused, hz, ok, r.Fusion, r.PulseCoherence = pc, s, h, true, "ensemble:"+f.String(), pc
			}
		}
	case Adaptive:
		fusion = SpectralSum
		if r.Coherence >= AdaptiveCoherence {
			fusion = Coherent
		}
		fallthrough
	default:
		r.Fusion = fusion.String()
		fused, hz, ok = fuse(fusion)
	}
	if !ok {
		r.Reason = "not enough signal: the skin traces are flat"
		return r
	}
	r.BPM = hz * 60
	r.SNR = fused.snr(hz, width, BandLo, BandHi)
	agree := 0
	for _, p := range r.Patches {
		if math.Abs(p.BPM-r.BPM) <= 6 {
			agree++
		}
	}
	r.Agreement = float64(agree) / float64(len(r.Patches))
	if fusion != Ensemble {
		r.PulseCoherence = pulseCoherence(pulses, fs, hz, width)
	}

	// The background: does it carry the same periodicity as the skin?
	rr, rg, rb, ok := e.trace(func(s Sample) (RGB, bool) { return s.Reference, s.Reference.valid() }, t0, fs, n)
	if ok {
		// Both a chromatic projection and plain brightness, so white and
		// coloured flicker both show.
		ref := e.spectrum(e.pulse(rr, rg, rb, fs), fs).normalised(BandLo, BandHi)
		lum := make([]float64, n)
		for i := range lum {
			lum[i] = (rr[i] + rg[i] + rb[i]) / 3
		}
		lumSpec := e.spectrum(bandpass(detrend(lum, fs, 0.5), fs, BandLo, BandHi), fs)
		r.ReferenceSNR = math.Max(ref.snr(hz, width, BandLo, BandHi), lumSpec.snr(hz, width, BandLo, BandHi))
		if rh, ok := lumSpec.peak(BandLo, BandHi); ok && math.Abs(rh-hz) <= width && r.ReferenceSNR >= GlobalSNR {
			r.Global = true
		}
		if rh, ok := ref.peak(BandLo, BandHi); ok && math.Abs(rh-hz) <= width && r.ReferenceSNR >= GlobalSNR {
			r.Global = true
		}
	}
	r.Enough = true
	return r
}

// fuse combines the patches' pulse signals into one spectrum (Coherent,
// SpectralSum or GeometricMean).
func (e *Estimator) fuse(fusion Fusion, usable []traced, weights []float64, n int, fs float64) spectrum {
	if fusion == Coherent {
		// Fuse coherently: the pulse reaches every patch within a few tens of
		// milliseconds, so an SNR-weighted sum of unit-variance pulse signals
		// adds the pulse and averages the noise away. (Summing spectra instead
		// only averages noise power, which leaves short windows biased.)
		fusedPulse := make([]float64, n)
		ref := usable[argmax(weights)].pulse
		for i, u := range usable {
			_, sd := meanStd(u.pulse)
			if sd == 0 {
				continue
			}
			sign := 1.0
			if correlation(u.pulse, ref) < 0 {
				sign = -1
			}
			for k, v := range u.pulse {
				fusedPulse[k] += sign * weights[i] * v / sd
			}
		}
		return e.spectrum(fusedPulse, fs)
	}
	fused := spectrum{df: usable[0].spec.df, p: make([]float64, len(usable[0].spec.p))}
	for k := range fused.p {
		if fusion == GeometricMean {
			fused.p[k] = 1
		}
	}
	for i, u := range usable {
		norm := u.spec.normalised(BandLo, BandHi)
		for k := range fused.p {
			if fusion == GeometricMean {
				fused.p[k] *= math.Pow(norm.p[k]+1e-12, 1/float64(len(usable)))
			} else {
				fused.p[k] += weights[i] * norm.p[k]
			}
		}
	}
	return fused
}

// pulseCoherence is Result.PulseCoherence of the patches' pulse signals
// at f0 Hz: each signal is cut to f0 ± width and 2·f0 ± 2·width and
// scaled to unit variance, without flipping any sign (POS gives every
// patch the same polarity of pulse, so a patch in antiphase is noise), and
// correlated with the sum of the others.
func pulseCoherence(pulses [][]float64, fs, f0, width float64) float64 {
	if len(pulses) < 2 {
		return 0
	}
	z := make([][]float64, len(pulses))
	n := len(pulses[0])
	sum := make([]float64, n)
	for i, p := range pulses {
		b := bandsAround(p, fs, f0, width)
		_, sd := meanStd(b)
		if sd == 0 {
			continue
		}
		for k := range b {
			b[k] /= sd
			sum[k] += b[k]
		}
		z[i] = b
	}
	var c float64
	rest := make([]float64, n)
	for _, b := range z {
		if b == nil {
			continue
		}
		for k := range rest {
			rest[k] = sum[k] - b[k]
		}
		c += correlation(b, rest)
	}
	return c / float64(len(pulses))
}

// traced is one patch's pulse signal and its spectrum.
type traced struct {
	name  string
	pulse []float64
	spec  spectrum
}

// GlobalSNR is the background SNR at the pulse frequency (dB) from which
// the signal counts as lighting the whole scene rather than the skin.
const GlobalSNR = 6.0

// snrWeight is a patch's fusion weight, its SNR as a power ratio, kept
// within −20…+30 dB: a patch with no noise at all (+Inf dB, a few frames
// of a clean tone) must not turn the fused spectrum into Inf·0 = NaN.
func snrWeight(snr float64) float64 {
	if math.IsNaN(snr) {
		snr = -20
	}
	return math.Pow(10, math.Max(-20, math.Min(snr, 30))/10)
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func (e *Estimator) patchNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range e.samples {
		for n := range s.Patches {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

// speedStep is the interval, in seconds, over which the face's speed is
// measured from its poses: long enough that the detector's frame-to-frame
// jitter does not count as movement however high the frame rate, short
// enough to see a sway.
const speedStep = 0.2

// speed is the face's mean speed over the window in eye distances per
// second: from the poses, the distance the patches' anchor travelled over
// each speedStep; without poses, from the samples' per-frame movement
// over the time between frames. 0 when unknown.
func (e *Estimator) speed() float64 {
	var ts, xs, ys, sizes []float64
	for _, s := range e.samples {
		if s.Pose.valid() {
			ts, xs, ys, sizes = append(ts, s.Time.Sub(e.samples[0].Time).Seconds()), append(xs, s.Pose.X), append(ys, s.Pose.Y), append(sizes, s.Pose.Size)
		}
	}
	if len(ts) >= 2 && float64(len(ts)) >= 0.8*float64(len(e.samples)) && ts[len(ts)-1] >= 2*speedStep {
		steps := int(ts[len(ts)-1] / speedStep)
		x := resampleLinear(ts, xs, 0, speedStep, steps+1)
		y := resampleLinear(ts, ys, 0, speedStep, steps+1)
		sz := resampleLinear(ts, sizes, 0, speedStep, steps+1)
		var d float64
		for i := 1; i <= steps; i++ {
			d += math.Hypot(x[i]-x[i-1], y[i]-y[i-1]) / ((sz[i] + sz[i-1]) / 2)
		}
		return d / (float64(steps) * speedStep)
	}
	var dist, dur float64
	for i := 1; i < len(e.samples); i++ {
		m := e.samples[i].Motion
		if m >= 0 && !math.IsNaN(m) && !math.IsInf(m, 0) {
			dist += m
			dur += e.samples[i].Time.Sub(e.samples[i-1].Time).Seconds()
		}
	}
	if dur <= 0 {
		return 0
	}
	return dist / dur
}

// motionRegressors returns the window's pose signals on the uniform grid,
// in eye distances, detrended and band-passed as the pulse is: the
// position (x, y), the size, and the tracking offset (dx, dy). It returns
// nil when motion is to be kept, or fewer than 80 % of the samples have
// a pose, or the face did not move at all.
func (e *Estimator) motionRegressors(t0 time.Time, fs float64, n int) *motionSignals {
	if e.o.KeepMotion {
		return nil
	}
	var ts []float64
	var cols [5][]float64
	var sizes []float64
	for _, s := range e.samples {
		if !s.Pose.valid() {
			continue
		}
		ts = append(ts, s.Time.Sub(t0).Seconds())
		for k, v := range []float64{s.Pose.X, s.Pose.Y, s.Pose.Size, s.Pose.DX, s.Pose.DY} {
			cols[k] = append(cols[k], v)
		}
		sizes = append(sizes, s.Pose.Size)
	}
	if len(ts) < 2 || float64(len(ts)) < 0.8*float64(len(e.samples)) {
		return nil
	}
	slices.Sort(sizes)
	unit := sizes[len(sizes)/2]
	var out motionSignals
	for k, c := range cols {
		x := resampleLinear(ts, c, 0, 1/fs, n)
		for i := range x {
			x[i] /= unit
		}
		x = bandpass(detrend(x, fs, 0.5), fs, BandLo, BandHi)
		if _, sd := meanStd(x); sd <= 1e-9 {
			continue
		}
		if k < 3 {
			out.place = append(out.place, x)
		} else {
			out.track = append(out.track, x)
		}
	}
	if len(out.place) == 0 && len(out.track) == 0 {
		return nil
	}
	return &out
}

// motionSignals are the window's band-passed pose signals: where the face
// is (position and size) and how far the patches lag it (the tracking
// offset).
type motionSignals struct {
	place, track [][]float64
}

// regressMotion removes from each patch's pulse signal what follows the
// face's movement, two ways. What follows the tracking offset (a patch
// lagging the face slides over its texture) is fitted on the patch's
// whole signal and removed: nothing physiological moves with the tracker's
// lag. What follows the face's position and size (shading as the head
// moves in the light) is fitted only on what sets the patch apart from the
// others (each signal at unit variance, less the mean of them all) and
// removed: a pulse reaches all the skin alike and cancels from that
// difference, so a position signal that happens to share the pulse's rate
// cannot take the pulse with it. (Fitted on the whole signal, the
// detector's steps as a head drifted slowly at 15 fps made a 0.86 Hz
// component in the position that took a 51 bpm pulse away, leaving 64.)
func regressMotion(pulses [][]float64, m *motionSignals) [][]float64 {
	out := make([][]float64, len(pulses))
	for i, p := range pulses {
		out[i] = p
		if len(m.track) > 0 {
			out[i] = regressOut(p, m.track)
		}
	}
	if len(m.place) == 0 || len(out) < 2 {
		return out
	}
	n := len(out[0])
	sds := make([]float64, len(out))
	mean := make([]float64, n)
	for i, p := range out {
		_, sds[i] = meanStd(p)
		if sds[i] == 0 {
			continue
		}
		for t, v := range p {
			mean[t] += v / sds[i] / float64(len(out))
		}
	}
	dev := make([]float64, n)
	for i, p := range out {
		if sds[i] == 0 {
			continue
		}
		for t, v := range p {
			dev[t] = v/sds[i] - mean[t]
		}
		beta, ok := fitLinear(dev, m.place)
		if !ok {
			continue
		}
		q := slices.Clone(p)
		for j, x := range m.place {
			for t := range q {
				q[t] -= sds[i] * beta[j] * x[t]
			}
		}
		out[i] = q
	}
	return out
}

// regressOut returns y less its least-squares fit on the regressors.
func regressOut(y []float64, xs [][]float64) []float64 {
	beta, ok := fitLinear(y, xs)
	if !ok {
		return y
	}
	out := slices.Clone(y)
	for j, x := range xs {
		for t := range out {
			out[t] -= beta[j] * x[t]
		}
	}
	return out
}

// fitLinear is the least-squares fit of y on the regressors (each of y's
// length), solved by the normal equations with a touch of ridge so nearly
// collinear regressors stay well posed.
func fitLinear(y []float64, xs [][]float64) ([]float64, bool) {
	k := len(xs)
	a := make([][]float64, k)
	b := make([]float64, k)
	for i := range xs {
		a[i] = make([]float64, k+1)
		for j := range xs {
			var s float64
			for t := range y {
				s += xs[i][t] * xs[j][t]
			}
			a[i][j] = s
		}
		for t := range y {
			b[i] += xs[i][t] * y[t]
		}
	}
	for i := range a {
		a[i][i] *= 1 + 1e-6
		a[i][i] += 1e-12
		a[i][k] = b[i]
	}
	return solve(a)
}

// solve solves the augmented k×(k+1) system by Gaussian elimination with
// partial pivoting; ok is false when it is singular.
func solve(a [][]float64) ([]float64, bool) {
	k := len(a)
	for c := 0; c < k; c++ {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-300 {
			return nil, false
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < k; r++ {
			f := a[r][c] / a[c][c]
			for j := c; j <= k; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	x := make([]float64, k)
	for r := k - 1; r >= 0; r-- {
		s := a[r][k]
		for j := r + 1; j < k; j++ {
			s -= a[r][j] * x[j]
		}
		x[r] = s / a[r][r]
		if math.IsNaN(x[r]) || math.IsInf(x[r], 0) {
			return nil, false
		}
	}
	return x, true
}

// trace resamples one region's colour onto the uniform grid. It fails
// when fewer than 80 % of the frames had the region.
func (e *Estimator) trace(get func(Sample) (RGB, bool), t0 time.Time, fs float64, n int) (r, g, b []float64, ok bool) {
	var ts, rs, gs, bs []float64
	for _, s := range e.samples {
		c, ok := get(s)
		if !ok {
			continue
		}
		ts = append(ts, s.Time.Sub(t0).Seconds())
		rs, gs, bs = append(rs, c.R), append(gs, c.G), append(bs, c.B)
	}
	if len(ts) < 2 || float64(len(ts)) < 0.8*float64(len(e.samples)) {
		return nil, nil, nil, false
	}
	return resampleLinear(ts, rs, 0, 1/fs, n), resampleLinear(ts, gs, 0, 1/fs, n), resampleLinear(ts, bs, 0, 1/fs, n), true
}

// pulse projects, detrends and band-passes one region's traces.
func (e *Estimator) pulse(r, g, b []float64, fs float64) []float64 {
	var p []float64
	if e.o.Method == CHROM {
		p = chrom(r, g, b, fs, BandLo, BandHi)
	} else {
		p = pos(r, g, b, fs)
	}
	return bandpass(detrend(p, fs, 0.5), fs, BandLo, BandHi)
}
