package models

import (
	"fmt"
	"math"
)

// Outcome is what a 1:1 comparison decides. There are three, not two,
// because the embedding model is not equally sure of everyone
// (docs/matching.md): a score well above every different-person score seen
// passes, one well below the same-person scores fails, and the band between
// goes to a member of staff, who compares the faces. A look-alike is never
// auto-passed.
//
// The string values are stable codes for JSON, the API and the audit log;
// they are not sentences for visitors.
type Outcome string

const (
	// OutcomeNoMatch: the score is below the fail edge.
	OutcomeNoMatch Outcome = "no_match"
	// OutcomeRefer: the score is between the edges; a person decides.
	OutcomeRefer Outcome = "refer"
	// OutcomeMatch: the score is at or above the pass edge (auto-pass).
	OutcomeMatch Outcome = "match"
)

func (o Outcome) String() string { return string(o) }

// MarshalText refuses values that are not one of the three outcomes (the
// empty outcome, from records written before there were three, marshals
// as empty).
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.valid() && o != "" {
		return nil, fmt.Errorf("models: unknown match outcome %q", string(o))
	}
	return []byte(o), nil
}

// UnmarshalText accepts the three codes, and the empty string of a record
// that predates them.
func (o *Outcome) UnmarshalText(b []byte) error {
	v := Outcome(b)
	if !v.valid() && v != "" {
		return fmt.Errorf("match outcome %q: want %q, %q or %q", string(b), OutcomeMatch, OutcomeRefer, OutcomeNoMatch)
	}
	*o = v
	return nil
}

func (o Outcome) valid() bool { return o == OutcomeMatch || o == OutcomeRefer || o == OutcomeNoMatch }

// Bands are the two score edges of a model's calibration. A score at or
// above Pass is a match; below Fail, no match; between, refer to staff.
//
// The zero Bands mean "not calibrated": every comparison is referred to
// staff, never auto-passed, so a Matcher whose model has no calibration
// fails safe rather than open.
type Bands struct {
	Fail float32 `json:"fail"`
	Pass float32 `json:"pass"`
}

// The fr_feature.onnx calibration (the manifest's row for it carries the
// same numbers; a test keeps them equal). Derivation in docs/matching.md:
//
//   - DefaultPassEdge: the highest different-person score seen on any
//     labelled set we have is 0.48 (the issue-15 set of seven young
//     East-Asian women; 0.342 on the shared sets), plus a margin of 0.05,
//     about half the standard deviation (0.097) of the 962 different-person
//     scores on the shared sets.
//   - DefaultFailEdge: below every same-person score on the shared sets
//     (lowest 0.328; 1st percentile 0.330) by that margin and more, and
//     above 99.7 % of their different-person scores.
//
// The operator bounds keep a refer band at all times (MaxFailEdge <
// MinPassEdge) and never let the pass edge down to a different-person
// score we have seen (MinPassEdge > 0.48).
const (
	DefaultFailEdge = 0.25
	DefaultPassEdge = 0.53

	MinPassEdge = 0.50
	MaxPassEdge = 0.90
	MinFailEdge = 0.00
	MaxFailEdge = 0.45
)

// DefaultBands is the shipped calibration of fr_feature.onnx.
var DefaultBands = Bands{Fail: DefaultFailEdge, Pass: DefaultPassEdge}

// DefaultMatchThreshold is the pass edge of the default model, for the
// single-number --match-threshold flag and settings until they carry both
// edges.
const DefaultMatchThreshold = DefaultPassEdge

// Calibrated reports whether the bands hold a usable calibration: finite
// edges within [-1, 1] for Fail and (-1, 1] for Pass, Fail ≤ Pass, and not
// the zero value.
func (b Bands) Calibrated() bool {
	f, p := float64(b.Fail), float64(b.Pass)
	return b != (Bands{}) && !math.IsNaN(f) && !math.IsNaN(p) && f >= -1 && p <= 1 && p > -1 && f <= p
}

// Outcome sorts a score into its band. An uncalibrated Bands refers every
// finite score; a NaN score is no match.
func (b Bands) Outcome(score float32) Outcome {
	switch {
	case math.IsNaN(float64(score)):
		return OutcomeNoMatch
	case !b.Calibrated():
		return OutcomeRefer
	case score >= b.Pass:
		return OutcomeMatch
	case score >= b.Fail:
		return OutcomeRefer
	}
	return OutcomeNoMatch
}

// Decide turns a score into a Decision.
func (b Bands) Decide(score float32) Decision {
	o := b.Outcome(score)
	return Decision{Score: score, Outcome: o, Match: o == OutcomeMatch, Threshold: b.Pass, FailEdge: b.Fail}
}

func (b Bands) String() string {
	return fmt.Sprintf("fail < %.3f ≤ refer < %.3f ≤ match", b.Fail, b.Pass)
}

// Calibration is a model's bands and the bounds within which an operator
// may move them. It comes from the model's manifest row.
type Calibration struct {
	Bands     Bands      `json:"bands"`
	PassRange [2]float32 `json:"pass_range"`
	FailRange [2]float32 `json:"fail_range"`
}

// DefaultCalibration is fr_feature.onnx's.
var DefaultCalibration = Calibration{
	Bands:     DefaultBands,
	PassRange: [2]float32{MinPassEdge, MaxPassEdge},
	FailRange: [2]float32{MinFailEdge, MaxFailEdge},
}

// BandsError says which edge an operator setting put out of bounds.
type BandsError struct {
	Edge       string // "pass", "fail" or "order"
	Value      float32
	Min, Max   float32
	Calibrated bool // false: the model has no calibration to move
}

func (e *BandsError) Error() string {
	switch {
	case !e.Calibrated:
		return "this face model has no calibration: measure it with 'kiosk eval faces' on a consented set and add bands to its manifest row"
	case e.Edge == "order":
		return fmt.Sprintf("the fail edge %.2f must be below the pass edge %.2f", e.Value, e.Max)
	}
	return fmt.Sprintf("the %s edge %.2f is outside %.2f–%.2f for this face model (docs/matching.md)", e.Edge, e.Value, e.Min, e.Max)
}

// Check validates bands an operator wants against the model's bounds.
// Errors are *BandsError.
func (c Calibration) Check(b Bands) error {
	if !c.Bands.Calibrated() {
		return &BandsError{Edge: "pass", Value: b.Pass}
	}
	in := func(v float32, r [2]float32) bool { return v >= r[0] && v <= r[1] }
	switch {
	case !in(b.Pass, c.PassRange):
		return &BandsError{Edge: "pass", Value: b.Pass, Min: c.PassRange[0], Max: c.PassRange[1], Calibrated: true}
	case !in(b.Fail, c.FailRange):
		return &BandsError{Edge: "fail", Value: b.Fail, Min: c.FailRange[0], Max: c.FailRange[1], Calibrated: true}
	case b.Fail >= b.Pass:
		return &BandsError{Edge: "order", Value: b.Fail, Max: b.Pass, Calibrated: true}
	}
	return nil
}
