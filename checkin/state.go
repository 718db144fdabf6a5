package checkin

import (
	"fmt"
	"image"
	"image/color"
	"time"
)

// Stage is where a check-in is. The flow moves
// idle → reference → capturing → liveness → deciding → result → idle,
// with cancel and time-outs returning to idle, and repeated failures
// diverting to a locked-out cool-down.
type Stage int

const (
	StageIdle      Stage = iota // waiting for a visitor to tap
	StageReference              // choosing the reference: ID photo, ID card or enrolled person
	StageCapturing              // looking for one good face, prompting until there is one
	StageLiveness               // collecting the pulse window, with progress
	StageDeciding               // matching the live face against the reference
	StageResult                 // pass or fail on screen, then back to idle
	StageLockedOut              // too many failures in a short time: cool-down
)

var stageNames = [...]string{"idle", "reference", "capturing", "liveness", "deciding", "result", "locked_out"}

func (s Stage) String() string {
	if int(s) >= 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// MarshalText gives the stage's name in JSON.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome is what the visitor is told: pass or fail, nothing more.
type Outcome int

const (
	OutcomeNone Outcome = iota
	OutcomePass
	OutcomeFail
)

func (o Outcome) String() string {
	switch o {
	case OutcomePass:
		return "pass"
	case OutcomeFail:
		return "fail"
	}
	return "none"
}

// MarshalText gives the outcome's name in JSON.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Reason is why a check-in failed, as a code for metrics, logs and the
// sealed record. Visitors never see it with a score.
type Reason string

const (
	ReasonNone      Reason = ""
	ReasonNotLive   Reason = "not_live"     // no pulse, or an anti-spoof signal failed
	ReasonNoMatch   Reason = "no_match"     // live, but not the person on the reference
	ReasonTimeout   Reason = "timeout"      // no usable face in time
	ReasonCancelled Reason = "cancelled"    // the visitor or the operator cancelled
	ReasonError     Reason = "error"        // a model or the store failed; see the log
	ReasonNotEnroll Reason = "not_enrolled" // 1:N: nobody enrolled matched
)

// ReferenceKind says where the reference face came from.
type ReferenceKind int

const (
	ReferenceNone     ReferenceKind = iota
	ReferencePhoto                  // an ID photo from a file, a USB stick or the API
	ReferenceCard                   // the portrait on an ID card held up to the camera
	ReferenceEnrolled               // 1:N search over enrolled people
)

func (k ReferenceKind) String() string {
	switch k {
	case ReferencePhoto:
		return "photo"
	case ReferenceCard:
		return "card"
	case ReferenceEnrolled:
		return "enrolled"
	}
	return "none"
}

// MarshalText gives the kind's name in JSON.
func (k ReferenceKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Snapshot is everything a screen needs to draw the flow. It holds no
// pixels, no template and no score, so it may be logged and sent to any
// screen.
type Snapshot struct {
	Stage Stage `json:"stage"`
	// Prompt is the one instruction for the visitor right now.
	Prompt string `json:"prompt"`
	// Progress is how far the liveness window is, 0–1.
	Progress float64 `json:"progress"`
	// Face is the tracked face's box in frame pixels (empty when none), for
	// the preview overlay.
	Face image.Rectangle `json:"-"`
	// Reference is the kind of reference in use.
	Reference ReferenceKind `json:"reference"`
	// Card is true while the reference screen waits for an ID card held up
	// to the camera (ExpectCard).
	Card bool `json:"card,omitempty"`
	// Outcome and Reason are set in StageResult.
	Outcome Outcome `json:"outcome"`
	Reason  Reason  `json:"reason,omitempty"`
	// Message is the visitor-facing sentence for a result or a lock-out.
	Message string `json:"message,omitempty"`
	// Flashing is true while the screen-light challenge wants the screen
	// filled with Flash.
	Flashing bool        `json:"flashing,omitempty"`
	Flash    color.NRGBA `json:"-"`
	// Until is when the result screen or the lock-out ends.
	Until time.Time `json:"until,omitzero"`
	// CheckIn numbers the check-in shown (0 before the first).
	CheckIn uint64 `json:"checkin"`
	// Version increases on every stage change, so screens can tell a new
	// check-in's result from the previous one's.
	Version uint64 `json:"version"`
}

// Visitor-facing sentences: short, one instruction, no jargon, no scores.
const (
	PromptTap        = "Tap to check in"
	PromptReference  = "Show us your ID photo"
	PromptCardHold   = "Hold your ID card's photo up to the camera"
	PromptCardLive   = "That looks like you, not your card: hold the card's photo up to the camera"
	PromptCardOne    = "Only the card, please: one face at a time"
	PromptCardAway   = "Thank you. Now put the card away and look at the camera"
	PromptKeepStill  = "Hold still: checking…"
	PromptFlash      = "Keep looking at the screen while it changes colour"
	MessagePass      = "You're checked in. Welcome!"
	MessageFail      = "We couldn't check you in. Please ask a member of staff."
	MessageTimeout   = "We couldn't see your face clearly. Please try again."
	MessageLockedOut = "Check-in is paused after several failed attempts. Please try again at %s or ask a member of staff."
)
