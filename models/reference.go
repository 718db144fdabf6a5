package models

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"

	"gocv.io/x/gocv"
)

// ReferenceProblem is why a reference photo (an ID photo, an enrolment
// picture, an API upload) or a card portrait is not fit to match against.
// It is a code, not a sentence: String gives a stable identifier for logs,
// JSON and the API, and the UI's catalogue words it for people.
//
// The gate exists because a poor reference drags a genuine visitor's score
// down into the refer or fail band, whoever the visitor is; refusing it up
// front, with the reason, lets the visitor or operator supply a better one
// (docs/matching.md measures how many of the weakest same-person scores on
// the labelled sets involve a photo this gate refuses).
type ReferenceProblem uint8

const (
	ReferenceNoFace       ReferenceProblem = iota + 1 // no face found
	ReferenceSeveralFaces                             // more than one face
	ReferenceFaceTooSmall                             // too few pixels between the eyes
	ReferenceFaceCutOff                               // part of the face lies outside the picture
	ReferenceTurned                                   // head turned sideways (yaw)
	ReferenceTilted                                   // head tilted to one shoulder (roll)
	ReferenceUpDown                                   // looking up or down (pitch)
	ReferenceTooDark                                  // face underexposed
	ReferenceTooBright                                // face overexposed
	ReferenceBlurry                                   // face not sharp
	ReferenceEyesHidden                               // an eye is covered (dark glasses, hair, a hand) or out of the picture
)

var referenceCodes = [...]string{
	ReferenceNoFace:       "no_face",
	ReferenceSeveralFaces: "several_faces",
	ReferenceFaceTooSmall: "face_too_small",
	ReferenceFaceCutOff:   "face_cut_off",
	ReferenceTurned:       "turned_away",
	ReferenceTilted:       "head_tilted",
	ReferenceUpDown:       "looking_up_or_down",
	ReferenceTooDark:      "too_dark",
	ReferenceTooBright:    "too_bright",
	ReferenceBlurry:       "blurry",
	ReferenceEyesHidden:   "eyes_not_visible",
}

// ReferenceProblems lists every problem code, in the gate's order.
func ReferenceProblems() []ReferenceProblem {
	out := make([]ReferenceProblem, 0, len(referenceCodes)-1)
	for p := ReferenceNoFace; int(p) < len(referenceCodes); p++ {
		out = append(out, p)
	}
	return out
}

// String is the stable code ("blurry", "turned_away", …).
func (p ReferenceProblem) String() string {
	if p > 0 && int(p) < len(referenceCodes) {
		return referenceCodes[p]
	}
	return fmt.Sprintf("reference_problem_%d", uint8(p))
}

// MarshalText writes the code.
func (p ReferenceProblem) MarshalText() ([]byte, error) {
	if p == 0 || int(p) >= len(referenceCodes) {
		return nil, fmt.Errorf("models: unknown reference problem %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText reads a code.
func (p *ReferenceProblem) UnmarshalText(b []byte) error {
	for q := ReferenceNoFace; int(q) < len(referenceCodes); q++ {
		if referenceCodes[q] == string(b) {
			*p = q
			return nil
		}
	}
	return fmt.Errorf("unknown reference problem %q", string(b))
}

// ReferenceThresholds are every limit of the reference gate.
// DefaultReferenceGate documents where each comes from.
type ReferenceThresholds struct {
	MinEyeDistPx  float64    // pixels between the eye landmarks
	MaxOutside    float64    // share of the face box outside the picture
	MaxYaw        float64    // |nose offset from the eye midpoint| / eye distance
	MaxRollDeg    float64    // eye-line angle, degrees
	PitchRange    [2]float64 // nose between the eyes (0) and the mouth (1)
	MinEyeDetail  float64    // grey-level spread in each eye region of the aligned face
	MinBrightness float64    // mean grey of the face, 0–255
	MaxBrightness float64
	MinSharpness  float64 // variance of the Laplacian of the face at 112 px
}

// DefaultReferenceGate is stricter than the live gate on yaw, because a
// reference is taken once and should be frontal (ICAO portraits are), and
// looser on size and position, because photos are cropped any way. The
// measurements of every shared photo are in docs/matching.md.
//
//   - MinEyeDistPx 24: the aligned crop puts the eyes 35 px apart; below
//     24 the crop is upsampled by more than 1.5× and carries no detail.
//   - MaxOutside 0.15: a face box more than 15 % outside the picture has
//     lost a cheek or the chin (the tight TV stills of the shared set sit
//     at 0–13 % when the whole face shows).
//   - MaxYaw 0.25 (roughly 15°): a frontal portrait; the live gate allows
//     0.35 because the kiosk picks its best frame from many.
//   - MaxRollDeg 20 and pitch 0.35–0.75, the live gate's limits widened
//     at the top: alignment undoes roll, and the frontal colour portraits
//     of the shared pairs set reach a pitch proxy of 0.71.
//   - exposure 50–215 and sharpness 40: the live gate's exposure limits;
//     sharpness lower than its 60, because print and scan soften a
//     portrait that is still usable (the shared photos score 63 or more,
//     a σ=3 blurred copy of a still under 10).
//   - MinEyeDetail 12: the standard deviation of grey levels in the core of
//     each eye (iris and whites) in the aligned face; the shared photos
//     show 16.8 or more, an eye under a dark lens 0. Judged only in a
//     well-exposed, sharp face, which is when it means something.
var DefaultReferenceGate = ReferenceThresholds{
	MinEyeDistPx:  24,
	MaxOutside:    0.15,
	MaxYaw:        0.25,
	MaxRollDeg:    20,
	PitchRange:    [2]float64{0.35, 0.75},
	MinEyeDetail:  12,
	MinBrightness: 50,
	MaxBrightness: 215,
	MinSharpness:  40,
}

// ReferenceCheck is the gate's verdict on one reference, with every
// measurement (none of them biometric) so refusals can be counted by
// reason and logged.
type ReferenceCheck struct {
	// Problems are every failed check, coarsest first; empty when fit.
	Problems   []ReferenceProblem `json:"problems,omitempty"`
	Faces      int                `json:"faces"`
	EyeDistPx  float64            `json:"eye_dist_px"`
	Outside    float64            `json:"outside"`
	Yaw        float64            `json:"yaw"`
	RollDeg    float64            `json:"roll_deg"`
	Pitch      float64            `json:"pitch"`
	EyeDetail  [2]float64         `json:"eye_detail"`
	Brightness float64            `json:"brightness"`
	Sharpness  float64            `json:"sharpness"`
}

// OK reports whether the reference is fit to match against.
func (c ReferenceCheck) OK() bool { return len(c.Problems) == 0 }

// Problem is the first problem (the one to tell a visitor about), or 0.
func (c ReferenceCheck) Problem() ReferenceProblem {
	if len(c.Problems) == 0 {
		return 0
	}
	return c.Problems[0]
}

// Has reports whether p is among the problems.
func (c ReferenceCheck) Has(p ReferenceProblem) bool {
	for _, q := range c.Problems {
		if q == p {
			return true
		}
	}
	return false
}

// ErrUnfitReference is what a refused reference's error matches (with
// errors.Is); errors.As gives the *ReferenceError with its codes.
var ErrUnfitReference = errors.New("reference not fit to match against")

// ReferenceError refuses a reference, with every problem found.
type ReferenceError struct {
	Check ReferenceCheck
}

func (e *ReferenceError) Error() string {
	codes := make([]string, len(e.Check.Problems))
	for i, p := range e.Check.Problems {
		codes[i] = p.String()
	}
	return fmt.Sprintf("%v: %s", ErrUnfitReference, strings.Join(codes, ", "))
}

// Is matches ErrUnfitReference, and ErrNoFace or ErrManyFaces when those
// are the problem, so callers written before the gate keep working.
func (e *ReferenceError) Is(target error) bool {
	switch target {
	case ErrUnfitReference:
		return true
	case ErrNoFace:
		return e.Check.Problem() == ReferenceNoFace
	case ErrManyFaces:
		return e.Check.Problem() == ReferenceSeveralFaces
	}
	return false
}

// AssessReference runs the reference gate over a photo and its detections
// (from DetectStill). With no face or several faces it stops there; for one
// face it runs every check, so a refusal lists all its reasons.
func AssessReference(img Image, faces []Face, th ReferenceThresholds) (ReferenceCheck, error) {
	c := ReferenceCheck{Faces: len(faces)}
	if err := img.check(); err != nil {
		return c, err
	}
	switch len(faces) {
	case 0:
		c.Problems = []ReferenceProblem{ReferenceNoFace}
		return c, nil
	case 1:
	default:
		c.Problems = []ReferenceProblem{ReferenceSeveralFaces}
		return c, nil
	}
	f := faces[0]
	add := func(p ReferenceProblem) { c.Problems = append(c.Problems, p) }
	l := f.Landmarks
	c.EyeDistPx = math.Hypot(float64(l[1].X-l[0].X), float64(l[1].Y-l[0].Y))
	c.Outside = outsideShare(f, img.Width, img.Height)
	c.Yaw, c.RollDeg, c.Pitch = poseFromLandmarks(l)
	if c.EyeDistPx < th.MinEyeDistPx {
		add(ReferenceFaceTooSmall)
	}
	if c.Outside > th.MaxOutside {
		add(ReferenceFaceCutOff)
	}
	if !(math.Abs(c.Yaw) <= th.MaxYaw) {
		add(ReferenceTurned)
	}
	if !(math.Abs(c.RollDeg) <= th.MaxRollDeg) {
		add(ReferenceTilted)
	}
	if !(c.Pitch >= th.PitchRange[0] && c.Pitch <= th.PitchRange[1]) {
		add(ReferenceUpDown)
	}
	var err error
	exposed := true
	if r := f.Rect().Intersect(image.Rect(0, 0, img.Width, img.Height)); r.Dx() >= 4 && r.Dy() >= 4 {
		if c.Brightness, c.Sharpness, err = faceExposureAndSharpness(img, f); err != nil {
			return c, err
		}
		switch {
		case c.Brightness < th.MinBrightness:
			add(ReferenceTooDark)
			exposed = false
		case c.Brightness > th.MaxBrightness:
			add(ReferenceTooBright)
			exposed = false
		}
	}
	sharp := c.Sharpness >= th.MinSharpness
	if !sharp {
		add(ReferenceBlurry)
	}
	// Eye detail means something only in a well-exposed, sharp face: a
	// dark, washed-out or blurred photo flattens every eye.
	if c.EyeDetail, err = eyeDetail(img, f); err != nil {
		return c, err
	}
	if !eyesInside(l, img.Width, img.Height) || (exposed && sharp && !(min(c.EyeDetail[0], c.EyeDetail[1]) >= th.MinEyeDetail)) {
		add(ReferenceEyesHidden)
	}
	return c, nil
}

// outsideShare is the share of the face box that lies outside the picture.
func outsideShare(f Face, w, h int) float64 {
	area := float64(f.W) * float64(f.H)
	if area <= 0 {
		return 1
	}
	x0, y0 := max(float64(f.X), 0), max(float64(f.Y), 0)
	x1, y1 := min(float64(f.X+f.W), float64(w)), min(float64(f.Y+f.H), float64(h))
	if x1 <= x0 || y1 <= y0 {
		return 1
	}
	return 1 - (x1-x0)*(y1-y0)/area
}

func eyesInside(l [5]Point, w, h int) bool {
	for _, p := range l[:2] {
		if p.X < 0 || p.Y < 0 || p.X >= float32(w) || p.Y >= float32(h) {
			return false
		}
	}
	return true
}

// eyeRegion is each eye's core in the 112-px aligned face: centred on the
// template's eye point, 14×8 px, the iris and the white either side of it
// (the eyes sit 35 px apart there). A lens or a hand over the eye covers
// all of it; its edges, which carry contrast of their own, fall outside.
func eyeRegion(i int) image.Rectangle {
	p := arcFaceTemplate[i]
	x, y := int(math.Round(float64(p.X))), int(math.Round(float64(p.Y)))
	return image.Rect(x-7, y-4, x+7, y+4)
}

// eyeDetail measures the grey-level spread in each eye region of the face
// aligned as the embedder sees it, so it does not depend on the photo's
// size or the head's roll. Pixels the alignment pulled from outside the
// picture are black and count as hidden.
func eyeDetail(img Image, f Face) ([2]float64, error) {
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return [2]float64{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()
	aligned := gocv.NewMat()
	defer aligned.Close()
	if err := alignMat(src, &aligned, f); err != nil {
		return [2]float64{}, err
	}
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(aligned, &grey, gocv.ColorBGRToGray)
	var out [2]float64
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	for i := range out {
		roi := grey.Region(eyeRegion(i))
		gocv.MeanStdDev(roi, &mean, &std)
		roi.Close()
		out[i] = std.GetDoubleAt(0, 0)
	}
	return out, nil
}

// FitReference is Reference behind the reference gate (m.ReferenceGate, or
// DefaultReferenceGate when zero): it returns the template and its face
// only for a photo fit to match against, and otherwise a *ReferenceError
// listing every problem with the measurements (it matches
// ErrUnfitReference, and ErrNoFace or ErrManyFaces when those are the
// problem).
func (m *Matcher) FitReference(img Image) (Template, Face, error) {
	faces, err := m.Det.DetectStill(img)
	if err != nil {
		return Template{}, Face{}, err
	}
	if err := m.CheckReference(img, faces); err != nil {
		return Template{}, Face{}, err
	}
	t, err := m.Emb.EmbedFace(img, faces[0])
	return t, faces[0], err
}

// CheckReference runs the reference gate over faces already detected in
// img: nil when the picture is fit to match against, a *ReferenceError
// otherwise.
func (m *Matcher) CheckReference(img Image, faces []Face) error {
	c, err := AssessReference(img, faces, m.Gate())
	if err != nil {
		return err
	}
	if !c.OK() {
		return &ReferenceError{Check: c}
	}
	return nil
}

// Gate is the reference gate FitReference applies: m.ReferenceGate, or
// DefaultReferenceGate when that is zero.
func (m *Matcher) Gate() ReferenceThresholds {
	if m.ReferenceGate == (ReferenceThresholds{}) {
		return DefaultReferenceGate
	}
	return m.ReferenceGate
}
