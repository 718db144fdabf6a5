package checkin

import (
	"fmt"
	"image"
	"image/color"
	"time"

	"kiosk/models"
)

// Stage is where a check-in is. The flow moves
// idle → consent → reference → capturing → liveness → deciding → result → idle,
// with a decline, cancel and time-outs returning to idle, and repeated
// failures diverting to a locked-out cool-down.
type Stage int

const (
	StageIdle      Stage = iota // waiting for a visitor to tap
	StageConsent                // the privacy notice: agree or decline; no frame is analysed
	StageReference              // choosing the reference: ID photo, ID card or enrolled person
	StageCapturing              // looking for one good face, prompting until there is one
	StageLiveness               // collecting the pulse window, with progress
	StageDeciding               // matching the live face against the reference
	StageResult                 // pass or fail on screen, then back to idle
	StageLockedOut              // too many failures in a short time: cool-down
)

var stageNames = [...]string{"idle", "consent", "reference", "capturing", "liveness", "deciding", "result", "locked_out"}

func (s Stage) String() string {
	if int(s) >= 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// MarshalText gives the stage's name in JSON.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome is what the visitor is told: pass, fail, or see a member of
// staff, nothing more.
type Outcome int

const (
	OutcomeNone Outcome = iota
	OutcomePass
	OutcomeFail
	// OutcomeRefer: the kiosk is not sure, and a member of staff decides:
	// the face match was neither clearly the same person nor clearly not
	// (models.OutcomeRefer, ReasonUncertain), or the pulse was live but
	// the anti-spoof model unsure (liveness.Refer, ReasonUncertainLive).
	// Staff compare the faces on the operator console and confirm or
	// refuse; the kiosk never guesses. It is not a failure: it does not
	// count towards the lock-out.
	OutcomeRefer
)

func (o Outcome) String() string {
	switch o {
	case OutcomePass:
		return "pass"
	case OutcomeFail:
		return "fail"
	case OutcomeRefer:
		return "refer"
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
	ReasonDeclined  Reason = "declined"     // the visitor said no to the privacy notice
	ReasonExpired   Reason = "document_expired"
	// ReasonNoDocument: the operator requires a readable machine-readable
	// zone and none was read.
	ReasonNoDocument Reason = "no_document"
	// ReasonUncertain: the face match fell between the model's bands;
	// the outcome is OutcomeRefer.
	ReasonUncertain Reason = "uncertain_match"
	// ReasonUncertainLive: the pulse was live but the anti-spoof model
	// was unsure (liveness.Refer), and the face matched or nearly did;
	// the outcome is OutcomeRefer.
	ReasonUncertainLive Reason = "uncertain_liveness"
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

// Prompt is the one instruction or message for the visitor, as a code.
// The flow and the models speak only in codes; the UI's catalogue says
// each in the visitor's language, with its parameters taken from the
// snapshot (Until for the lock-out). Nothing parses a prompt's text.
type Prompt string

// The visitor prompts. The quality gate's come from models.Prompt through
// QualityPrompt.
const (
	PromptTap         Prompt = "tap"          // idle: tap to check in
	PromptConsent     Prompt = "consent"      // the privacy notice: agree or not
	PromptReference   Prompt = "reference"    // show your ID photo
	PromptCardHold    Prompt = "card_hold"    // hold the ID card's photo up to the camera
	PromptCardLive    Prompt = "card_live"    // that looks like you, not the card
	PromptCardOne     Prompt = "card_one"     // only the card: one face
	PromptCardAway    Prompt = "card_away"    // thank you; put the card away and look at the camera
	PromptCardTurn    Prompt = "card_turn"    // now show the side with the lines of letters and numbers
	PromptCardCloser  Prompt = "card_closer"  // the zone's letters are too small: closer
	PromptCardStill   Prompt = "card_still"   // the zone is blurred or misread: hold still
	PromptCardTilt    Prompt = "card_tilt"    // reflections: tilt the card
	PromptCardReading Prompt = "card_reading" // reading the zone: keep holding
	PromptPassNamed   Prompt = "pass_named"   // checked in, welcome by name (the name is not in the snapshot)
	PromptExpired     Prompt = "expired"      // the document has expired: see staff
	PromptNoDocument  Prompt = "no_document"  // the document could not be read: see staff
	PromptKeepStill   Prompt = "keep_still"   // hold still: checking
	PromptFlash       Prompt = "flash"        // keep looking while the screen changes colour
	PromptChecking    Prompt = "checking"     // deciding
	PromptPass        Prompt = "pass"         // checked in
	PromptFail        Prompt = "fail"         // could not check in: see staff
	PromptTimeout     Prompt = "timeout"      // we could not see your face clearly: try again
	PromptLockedOut   Prompt = "locked_out"   // paused after failures until Until
	PromptSeeStaff    Prompt = "see_staff"    // referred: please see a member of staff (not a failure)

	// What the reference gate found wrong with an ID card's portrait
	// (models.ReferenceProblem), asked of the visitor holding the card.
	PromptRefSmall  Prompt = "ref_small"  // the portrait is too small: hold the card closer
	PromptRefWhole  Prompt = "ref_whole"  // part of the portrait is out of view
	PromptRefTurned Prompt = "ref_turned" // the face in the photo is turned or tilted
	PromptRefLight  Prompt = "ref_light"  // the photo is too dark or shines: tilt the card
	PromptRefBlurry Prompt = "ref_blurry" // the photo is too blurry: hold the card still
	PromptRefEyes   Prompt = "ref_eyes"   // the eyes in the photo cannot be seen

	PromptNoFace       Prompt = "no_face"
	PromptOnePerson    Prompt = "one_person"
	PromptComeCloser   Prompt = "come_closer"
	PromptMoveBack     Prompt = "move_back"
	PromptCentre       Prompt = "centre"
	PromptLookAtCamera Prompt = "look_at_camera"
	PromptMoreLight    Prompt = "more_light"
	PromptLessLight    Prompt = "less_light"
	PromptHoldStill    Prompt = "hold_still"
)

// Prompts lists every prompt, for catalogue completeness tests.
var Prompts = []Prompt{PromptTap, PromptConsent, PromptReference, PromptCardHold, PromptCardLive, PromptCardOne, PromptCardAway,
	PromptCardTurn, PromptCardCloser, PromptCardStill, PromptCardTilt, PromptCardReading, PromptPassNamed, PromptExpired, PromptNoDocument,
	PromptKeepStill, PromptFlash, PromptChecking, PromptPass, PromptFail, PromptTimeout, PromptLockedOut, PromptSeeStaff,
	PromptRefSmall, PromptRefWhole, PromptRefTurned, PromptRefLight, PromptRefBlurry, PromptRefEyes,
	PromptNoFace, PromptOnePerson, PromptComeCloser, PromptMoveBack, PromptCentre, PromptLookAtCamera, PromptMoreLight,
	PromptLessLight, PromptHoldStill}

// QualityPrompt is the visitor prompt for the quality gate's verdict.
func QualityPrompt(p models.Prompt) Prompt {
	switch p {
	case models.PromptOK, models.PromptHoldStill:
		return PromptHoldStill
	case models.PromptNoFace:
		return PromptNoFace
	case models.PromptOnePerson:
		return PromptOnePerson
	case models.PromptComeCloser:
		return PromptComeCloser
	case models.PromptMoveBack:
		return PromptMoveBack
	case models.PromptCentre:
		return PromptCentre
	case models.PromptLookAtCamera:
		return PromptLookAtCamera
	case models.PromptMoreLight:
		return PromptMoreLight
	case models.PromptLessLight:
		return PromptLessLight
	}
	return PromptNoFace
}

// ReferencePrompt is what to ask of a visitor whose ID card portrait the
// reference gate refused, for its first problem.
func ReferencePrompt(p models.ReferenceProblem) Prompt {
	switch p {
	case models.ReferenceFaceTooSmall:
		return PromptRefSmall
	case models.ReferenceFaceCutOff:
		return PromptRefWhole
	case models.ReferenceTurned, models.ReferenceTilted, models.ReferenceUpDown:
		return PromptRefTurned
	case models.ReferenceTooDark, models.ReferenceTooBright:
		return PromptRefLight
	case models.ReferenceBlurry:
		return PromptRefBlurry
	case models.ReferenceEyesHidden:
		return PromptRefEyes
	case models.ReferenceSeveralFaces:
		return PromptCardOne
	}
	return PromptCardHold
}

// ResultPrompt is the message for a finished check-in: pass, fail or see
// staff in words, never the reason code or a score (a time-out gets its
// own, since the visitor can fix it).
func ResultPrompt(o Outcome, r Reason) Prompt {
	switch {
	case o == OutcomePass:
		return PromptPass
	case o == OutcomeRefer:
		return PromptSeeStaff
	case r == ReasonTimeout:
		return PromptTimeout
	case r == ReasonExpired:
		return PromptExpired
	case r == ReasonNoDocument:
		return PromptNoDocument
	}
	return PromptFail
}

// Snapshot is everything a screen needs to draw the flow. It holds no
// pixels, no template and no score, so it may be logged and sent to any
// screen.
type Snapshot struct {
	Stage Stage `json:"stage"`
	// Prompt is the one instruction or message for the visitor right now.
	Prompt Prompt `json:"prompt"`
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
