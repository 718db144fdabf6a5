package models

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// Prompt is the one instruction the UI shows a visitor when a frame is not
// good enough; PromptOK means the frame may be used.
type Prompt int

const (
	PromptOK Prompt = iota
	PromptNoFace
	PromptOnePerson
	PromptComeCloser
	PromptMoveBack
	PromptCentre
	PromptLookAtCamera
	PromptMoreLight
	PromptLessLight
	PromptHoldStill
)

// promptCode names each prompt for logs and evaluations. What a visitor
// reads is the catalogue's (package catalogue, by way of checkin's prompt
// codes), in their language: no sentence lives here.
var promptCode = map[Prompt]string{
	PromptOK:           "ok",
	PromptNoFace:       "no_face",
	PromptOnePerson:    "one_person",
	PromptComeCloser:   "come_closer",
	PromptMoveBack:     "move_back",
	PromptCentre:       "centre",
	PromptLookAtCamera: "look_at_camera",
	PromptMoreLight:    "more_light",
	PromptLessLight:    "less_light",
	PromptHoldStill:    "hold_still",
}

// String is the prompt's stable code ("come_closer").
func (p Prompt) String() string {
	if s, ok := promptCode[p]; ok {
		return s
	}
	return fmt.Sprintf("prompt(%d)", int(p))
}

// QualityThresholds are every limit of the quality gate, in one place.
// DefaultQuality documents where each number comes from.
type QualityThresholds struct {
	MinFacePx      float64 // face box height, frame pixels: below → come closer
	MaxFaceFrac    float64 // face box height / frame height: above → move back
	MaxCentreShift float64 // face centre offset / frame size, each axis: above → centre
	MaxYaw         float64 // |nose offset from the eye midpoint| / eye distance
	MaxRollDeg     float64 // eye-line angle, degrees
	PitchRange     [2]float64
	MinBrightness  float64 // mean grey of the face, 0–255
	MaxBrightness  float64
	MinSharpness   float64 // variance of the Laplacian of the face at 112 px
}

// DefaultQuality is the kiosk's gate. Face size: ArcFace crops are 112 px,
// and below ~80 px of face the embedding degrades. Pose limits keep the
// nose within a third of the eye distance of the midpoint (about ±20° yaw)
// and the eye line within 20°. Exposure and sharpness limits were set on
// the shared identity photos and their darkened and blurred copies (see
// models/quality_test.go), with margin on both sides.
var DefaultQuality = QualityThresholds{
	MinFacePx:      80,
	MaxFaceFrac:    0.85,
	MaxCentreShift: 0.25,
	MaxYaw:         0.35,
	MaxRollDeg:     20,
	PitchRange:     [2]float64{0.25, 0.75},
	MinBrightness:  50,
	MaxBrightness:  215,
	MinSharpness:   60,
}

// Quality is the gate's verdict on one frame, with every measurement so
// the reason can be logged (these are not biometric data).
type Quality struct {
	Prompt     Prompt  `json:"prompt"`
	Faces      int     `json:"faces"`
	FacePx     float64 `json:"face_px"`
	Yaw        float64 `json:"yaw"`
	RollDeg    float64 `json:"roll_deg"`
	Pitch      float64 `json:"pitch"`
	Brightness float64 `json:"brightness"`
	Sharpness  float64 `json:"sharpness"`
	// Score ranks usable frames: larger, sharper and more frontal is better.
	Score float64 `json:"score"`
}

// OK reports whether the frame passed.
func (q Quality) OK() bool { return q.Prompt == PromptOK }

// AssessQuality checks one camera frame and its detections against th.
// Checks run from the coarsest to the finest, so the prompt names the
// first thing the visitor should fix.
func AssessQuality(img Image, faces []Face, th QualityThresholds) (Quality, error) {
	q := Quality{Faces: len(faces)}
	if err := img.check(); err != nil {
		return q, err
	}
	switch len(faces) {
	case 0:
		q.Prompt = PromptNoFace
		return q, nil
	case 1:
	default:
		q.Prompt = PromptOnePerson
		return q, nil
	}
	f := faces[0]
	q.FacePx = float64(f.H)
	q.Yaw, q.RollDeg, q.Pitch = poseFromLandmarks(f.Landmarks)
	w, h := float64(img.Width), float64(img.Height)
	cx, cy := float64(f.X+f.W/2), float64(f.Y+f.H/2)
	switch {
	case q.FacePx < th.MinFacePx:
		q.Prompt = PromptComeCloser
	case q.FacePx > th.MaxFaceFrac*h:
		q.Prompt = PromptMoveBack
	case math.Abs(cx-w/2) > th.MaxCentreShift*w || math.Abs(cy-h/2) > th.MaxCentreShift*h:
		q.Prompt = PromptCentre
	case math.Abs(q.Yaw) > th.MaxYaw || math.Abs(q.RollDeg) > th.MaxRollDeg || q.Pitch < th.PitchRange[0] || q.Pitch > th.PitchRange[1]:
		q.Prompt = PromptLookAtCamera
	}
	if q.Prompt != PromptOK {
		return q, nil
	}
	var err error
	q.Brightness, q.Sharpness, err = faceExposureAndSharpness(img, f)
	if err != nil {
		return q, err
	}
	switch {
	case q.Brightness < th.MinBrightness:
		q.Prompt = PromptMoreLight
	case q.Brightness > th.MaxBrightness:
		q.Prompt = PromptLessLight
	case q.Sharpness < th.MinSharpness:
		q.Prompt = PromptHoldStill
	}
	if q.Prompt == PromptOK {
		frontal := 1 - math.Min(1, math.Abs(q.Yaw)/th.MaxYaw)
		q.Score = math.Log1p(q.FacePx) + math.Log1p(q.Sharpness) + frontal
	}
	return q, nil
}

// poseFromLandmarks gives yaw, roll and pitch proxies from the five points:
// yaw is the nose's sideways offset from the eye midpoint over the eye
// distance, roll the eye line's angle, and pitch where the nose sits between
// the eyes (0) and the mouth (1).
func poseFromLandmarks(l [5]Point) (yaw, rollDeg, pitch float64) {
	ex := float64(l[1].X - l[0].X)
	ey := float64(l[1].Y - l[0].Y)
	d := math.Hypot(ex, ey)
	if d == 0 {
		return math.Inf(1), 0, 0
	}
	mx, my := float64(l[0].X+l[1].X)/2, float64(l[0].Y+l[1].Y)/2
	// Project the nose onto the eye axis and its normal.
	nx, ny := float64(l[2].X)-mx, float64(l[2].Y)-my
	yaw = (nx*ex + ny*ey) / (d * d)
	rollDeg = math.Atan2(ey, ex) * 180 / math.Pi
	mouthX, mouthY := float64(l[3].X+l[4].X)/2-mx, float64(l[3].Y+l[4].Y)/2-my
	down := (mouthX*-ey + mouthY*ex) / d
	if down <= 0 {
		return yaw, rollDeg, math.Inf(1)
	}
	pitch = ((nx*-ey + ny*ex) / d) / down
	return yaw, rollDeg, pitch
}

// faceExposureAndSharpness measures the face box at a fixed 112 px scale,
// so the numbers do not depend on how far away the visitor stands.
func faceExposureAndSharpness(img Image, f Face) (brightness, sharpness float64, err error) {
	r := f.Rect().Intersect(image.Rect(0, 0, img.Width, img.Height))
	if r.Dx() < 4 || r.Dy() < 4 {
		return 0, 0, fmt.Errorf("face box %v is outside the image", f.Rect())
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	roi := src.Region(r)
	defer roi.Close()
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(roi, &grey, gocv.ColorBGRToGray)
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(grey, &small, image.Pt(AlignedSize, AlignedSize), 0, 0, gocv.InterpolationArea)
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(small, &lap, gocv.MatTypeCV64F, 1, 1, 0, gocv.BorderDefault)
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	gocv.MeanStdDev(lap, &mean, &std)
	s := std.GetDoubleAt(0, 0)
	return small.Mean().Val1, s * s, nil
}
