package liveness

import (
	"fmt"
	"math"
	"time"
)

// Verdict is the outcome of the liveness check.
type Verdict string

const (
	Live    Verdict = "live"
	NotLive Verdict = "not_live"
	Retry   Verdict = "retry" // not enough evidence yet: keep capturing, or ask the visitor again
	// Refer: the pulse says live, but the anti-spoof model is unsure (its
	// score between Thresholds.PADFailEdge and MinPAD). Never a pass: a
	// member of staff looks at the visitor. A score that close to the
	// model's edge is doubt, not evidence of an attack, and dim light or a
	// retouched photo's look puts real people there.
	Refer Verdict = "refer"
)

// Thresholds holds every limit of the fusion, in one place.
type Thresholds struct {
	// MinPulseCoherence is the least pulse coherence (Result.PulseCoherence:
	// each skin patch against the rest of the face, at the heart rate and
	// its harmonic). It replaced a broadband coherence (0.25) and an
	// agreement of the patches' own estimates (0.45), which turned away
	// live faces whose heart rate was right. Set on 66 live videos whose
	// window opened (the PhysRecorder clip in both forms and 6 reframings
	// of each; generated clips at 12, 15, 24 and 30 fps, steady, swaying,
	// MJPEG, dim, dark skin) and 36 attack videos (still photos, prints
	// wobbling in a hand, flicker): attacks reached 0.51 at the decision
	// times measured (a print at 12 fps), live videos with the right heart
	// rate 0.41 at least (very dark skin at 12 fps); still photos on the
	// trace generator 0.42. By 8 s it turned away 5 of the 66 (3 by the
	// anti-spoof score in dim light, which now sends them to staff), the
	// old pair 18. On a held-out set (20 live, 12 attack clips, new seeds)
	// it turned away 3 (2 by the anti-spoof score in dim light, now sent to
	// staff) and accepted no attack (at most 0.48).
	// The margin over the attacks is thin (0.04): docs/liveness.md has the
	// tables.
	MinPulseCoherence float64
	// MinPatches is the fewest skin patches a live verdict may rest on.
	// MinPulseCoherence was measured over 5 patches (the trace generator)
	// and 14 (the kiosk's grid); over two or three, noise and shared
	// movement reach it by chance far more often, so a face showing that
	// little skin is asked again, never passed.
	MinPatches int
	// MinPAD is the passive anti-spoof score a live verdict needs: the
	// model's own edge (printed and screen samples ≤ 0.02, live 0.88; see
	// docs/matching.md). Below it but at least PADFailEdge the score is
	// doubt: with a pulse the visitor goes to staff (Refer), never through.
	MinPAD float64
	// PADFailEdge is the anti-spoof score below which the face is a
	// presentation attack at once ("not live"). It sits between the
	// attack samples (0.000 print, 0.018 screen) and the lowest real face
	// measured (0.16, a retouched studio portrait); generated dim faces
	// score 0.45–0.6. Only two attack samples support it, which is why the
	// band above it leads to a person, not a pass: set too low, it costs
	// staff time, not security.
	PADFailEdge float64
	// MinChallenge is the least correlation between the screen's colour
	// sequence and the face's reflected chroma. Measured through the whole
	// check-in on generated face clips (12 colours × 250 ms, 40 runs each,
	// a fresh random sequence per run): a face lit by the screen 0.90–0.98,
	// a replay that is not −0.37–0.37. At 0.5 about one replay in 25 passed
	// with 6 colours; 0.7 sits between the two sets with margin on both sides.
	MinChallenge float64
	// GiveUpAfter is how long to keep collecting before a missing pulse
	// becomes "not live" rather than "retry".
	GiveUpAfter time.Duration
}

// DefaultThresholds are the kiosk's settings; docs/liveness.md explains them.
var DefaultThresholds = Thresholds{
	MinPulseCoherence: 0.55,
	MinPatches:        5,
	MinPAD:            0.5,
	PADFailEdge:       0.1,
	MinChallenge:      0.7,
	GiveUpAfter:       8 * time.Second,
}

// Signal is one input to the decision with its value and verdict.
type Signal struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Pass      bool    `json:"pass"`
	Used      bool    `json:"used"` // false when the signal was absent
	// FailEdge is, for a signal with a doubt band (the anti-spoof score),
	// the value below which it fails outright; between it and Threshold the
	// signal is unsure. 0 for the others.
	FailEdge float64 `json:"fail_edge,omitempty"`
}

// Decision is the explained outcome: every signal's value, and one reason.
type Decision struct {
	Verdict Verdict  `json:"verdict"`
	Reason  string   `json:"reason"`
	Signals []Signal `json:"signals"`
	RPPG    Result   `json:"rppg"`
}

// Inputs are the signals to fuse. PAD is the passive anti-spoof score in
// [0, 1], or NaN when no PAD model ran. Challenge is nil when no screen-light
// challenge was shown.
type Inputs struct {
	RPPG      Result
	PAD       float64
	Challenge *ChallengeResult
	// Final marks the last decision of a window (it has reached
	// GiveUpAfter, or the screen-light challenge has been shown): a pulse
	// still missing is then "not live" and a score still in doubt goes to
	// staff, rather than "retry". A window whose pulse span reaches
	// GiveUpAfter is final too.
	Final bool
}

// Decide fuses the signals. Order matters: an attack signal wins over a
// missing one, so a photo is "not live" at once rather than "retry".
func Decide(in Inputs, th Thresholds) Decision {
	r := in.RPPG
	d := Decision{RPPG: r}
	padUsed := !math.IsNaN(in.PAD) && in.PAD >= 0
	d.Signals = []Signal{
		{Name: "pad", Value: in.PAD, Threshold: th.MinPAD, FailEdge: th.PADFailEdge, Pass: padUsed && in.PAD >= th.MinPAD, Used: padUsed},
		{Name: "rppg_pulse_coherence", Value: r.PulseCoherence, Threshold: th.MinPulseCoherence, Pass: r.Enough && r.PulseCoherence >= th.MinPulseCoherence, Used: r.Enough},
		{Name: "rppg_global", Value: r.ReferenceSNR, Threshold: GlobalSNR, Pass: r.Enough && !r.Global, Used: r.Enough},
	}
	if in.Challenge != nil {
		d.Signals = append(d.Signals, Signal{Name: "challenge", Value: in.Challenge.Correlation, Threshold: th.MinChallenge,
			Pass: in.Challenge.Correlation >= th.MinChallenge, Used: true})
	}
	final := in.Final || r.Span >= th.GiveUpAfter
	set := func(v Verdict, reason string, args ...any) Decision {
		d.Verdict, d.Reason = v, fmt.Sprintf(reason, args...)
		return d
	}
	if padUsed && in.PAD < th.PADFailEdge {
		return set(NotLive, "the face looks like a photo or a screen (anti-spoof score %.2f < %.2f)", in.PAD, th.PADFailEdge)
	}
	padDoubt := padUsed && in.PAD < th.MinPAD
	if in.Challenge != nil && in.Challenge.Correlation < th.MinChallenge {
		return set(NotLive, "the face did not reflect the screen's colour sequence (correlation %.2f < %.2f)", in.Challenge.Correlation, th.MinChallenge)
	}
	if !r.Enough {
		return set(Retry, "%s", r.Reason)
	}
	if r.Global {
		return set(NotLive, "the colour change on the face also lights the background (%.1f dB at %.0f bpm): flicker or a screen, not a pulse", r.ReferenceSNR, r.BPM)
	}
	if len(r.Patches) < th.MinPatches {
		return set(Retry, "too little skin to judge a pulse: %d patches of the %d needed", len(r.Patches), th.MinPatches)
	}
	if !(r.PulseCoherence >= th.MinPulseCoherence) { // NaN fails too
		if !final {
			return set(Retry, "no clear pulse yet (pulse coherence %.2f after %.1f s)", r.PulseCoherence, r.Span.Seconds())
		}
		return set(NotLive, "no pulse in the skin after %.1f s (pulse coherence %.2f < %.2f)",
			r.Span.Seconds(), r.PulseCoherence, th.MinPulseCoherence)
	}
	if padDoubt {
		if !final {
			return set(Retry, "pulse of %.0f bpm found, but the anti-spoof model is unsure (score %.2f < %.2f): collecting more", r.BPM, in.PAD, th.MinPAD)
		}
		return set(Refer, "pulse of %.0f bpm found in %d skin patches, but the anti-spoof model is unsure (score %.2f, between %.2f and %.2f): a member of staff must check",
			r.BPM, len(r.Patches), in.PAD, th.PADFailEdge, th.MinPAD)
	}
	how := "rPPG"
	if padUsed {
		how += " and anti-spoof"
	}
	if in.Challenge != nil {
		how += " and the screen-light challenge"
	}
	return set(Live, "pulse of %.0f bpm found in %d skin patches; %s agree", r.BPM, len(r.Patches), how)
}
