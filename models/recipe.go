package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Role is what a manifest model is for.
type Role string

const (
	RoleDetector Role = "detector" // face boxes and landmarks
	RoleEmbedder Role = "embedder" // face templates for matching
	RolePAD      Role = "pad"      // passive presentation-attack score
	RoleOCR      Role = "ocr"      // machine-readable zone text
)

// Recipe is the manifest's seventh column: how to feed a model and, for a
// face embedder, how to read its scores. It is what lets a deployment swap
// in a stronger embedding model by configuration (LoadFaceEmbedder with
// the model's file name): the input size, pixel normalisation, colour
// order, alignment template and the score bands all travel with the
// pinned file, so a model is never fed another model's recipe nor judged
// by another model's thresholds.
//
// The text form is space-separated key=value pairs, for example
//
//	role=embedder dim=512 input=112 mean=127 scale=0.0078125 colour=rgb align=arcface bands=0.25,0.53 pass=0.5,0.9 fail=0,0.45
//
// Keys: role (detector, embedder, pad, ocr); optional=yes for a model the
// kiosk runs without (provisioning tries it, verification does not fail
// without it); for embedders dim (template length), input (side of the
// square aligned crop), mean and scale (the network sees (x − mean) ×
// scale per 0–255 channel value), colour (rgb or bgr: the order the
// network wants), align (arcface: the 5-point ArcFace template, scaled to
// the input side), and the calibration: bands=FAIL,PASS with the operator
// bounds pass=MIN,MAX and fail=MIN,MAX, all three or none. An embedder
// without them is uncalibrated: every comparison is referred to staff.
type Recipe struct {
	Role     Role `json:"role,omitempty"`
	Optional bool `json:"optional,omitempty"`

	Dim         int          `json:"dim,omitempty"`
	Input       int          `json:"input,omitempty"`
	Mean        float64      `json:"mean,omitempty"`
	Scale       float64      `json:"scale,omitempty"`
	Colour      string       `json:"colour,omitempty"` // "rgb" or "bgr"
	Align       string       `json:"align,omitempty"`  // "arcface"
	Calibration *Calibration `json:"calibration,omitempty"`
}

// AlignArcFace is the 5-point ArcFace alignment template.
const AlignArcFace = "arcface"

// Limits of the recipe's numbers, wide enough for any face model we know
// of and narrow enough that a typo is caught.
const (
	MinTemplateDim = 32
	MaxTemplateDim = 4096
	minInput       = 32
	maxInput       = 1024
)

// Calibrated reports whether the recipe carries score bands.
func (r Recipe) Calibrated() bool { return r.Calibration != nil }

// ParseRecipe reads the recipe column. Unknown keys, repeated keys,
// out-of-range numbers and inconsistent calibrations are errors: the
// manifest is compiled in, so a mistake must fail its tests, not a kiosk.
func ParseRecipe(s string) (Recipe, error) {
	var r Recipe
	seen := map[string]bool{}
	var bands, pass, fail *[2]float32
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return Recipe{}, fmt.Errorf("recipe item %q: want key=value", kv)
		}
		if seen[k] {
			return Recipe{}, fmt.Errorf("recipe key %q is repeated", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "role":
			switch Role(v) {
			case RoleDetector, RoleEmbedder, RolePAD, RoleOCR:
				r.Role = Role(v)
			default:
				err = fmt.Errorf("unknown role (want detector, embedder, pad or ocr)")
			}
		case "optional":
			switch v {
			case "yes":
				r.Optional = true
			case "no":
			default:
				err = fmt.Errorf("want yes or no")
			}
		case "dim":
			r.Dim, err = parseIntIn(v, MinTemplateDim, MaxTemplateDim)
		case "input":
			r.Input, err = parseIntIn(v, minInput, maxInput)
		case "mean":
			r.Mean, err = parseFloatIn(v, 0, 255)
		case "scale":
			r.Scale, err = parseFloatIn(v, 1e-6, 1000)
		case "colour":
			if v != "rgb" && v != "bgr" {
				err = fmt.Errorf("want rgb or bgr")
			}
			r.Colour = v
		case "align":
			if v != AlignArcFace {
				err = fmt.Errorf("unknown alignment template (want %s)", AlignArcFace)
			}
			r.Align = v
		case "bands":
			bands, err = parsePair(v)
		case "pass":
			pass, err = parsePair(v)
		case "fail":
			fail, err = parsePair(v)
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return Recipe{}, fmt.Errorf("recipe %s=%s: %w", k, v, err)
		}
	}
	if r.Role == "" {
		return Recipe{}, fmt.Errorf("recipe %q has no role=", s)
	}
	embedderKeys := []string{"dim", "input", "mean", "scale", "colour", "align"}
	if r.Role != RoleEmbedder {
		for _, k := range append(embedderKeys, "bands", "pass", "fail") {
			if seen[k] {
				return Recipe{}, fmt.Errorf("recipe key %s is only for role=embedder", k)
			}
		}
		return r, nil
	}
	for _, k := range embedderKeys {
		if !seen[k] {
			return Recipe{}, fmt.Errorf("embedder recipe has no %s=", k)
		}
	}
	switch n := btoi(bands != nil) + btoi(pass != nil) + btoi(fail != nil); n {
	case 0:
		return r, nil
	case 3:
	default:
		return Recipe{}, fmt.Errorf("embedder calibration needs bands=, pass= and fail= together")
	}
	c := Calibration{Bands: Bands{Fail: bands[0], Pass: bands[1]}, PassRange: *pass, FailRange: *fail}
	if err := c.validate(); err != nil {
		return Recipe{}, err
	}
	r.Calibration = &c
	return r, nil
}

// validate checks a calibration read from the manifest: ordered ranges, a
// refer band that operators cannot close (the fail range ends below the
// pass range), and default bands within the ranges.
func (c Calibration) validate() error {
	if c.PassRange[0] > c.PassRange[1] || c.FailRange[0] > c.FailRange[1] {
		return fmt.Errorf("calibration ranges pass=%v fail=%v: want MIN,MAX", c.PassRange, c.FailRange)
	}
	if c.FailRange[1] >= c.PassRange[0] {
		return fmt.Errorf("calibration: the fail range (to %g) must end below the pass range (from %g), so a refer band always remains", c.FailRange[1], c.PassRange[0])
	}
	if !c.Bands.Calibrated() {
		return fmt.Errorf("calibration bands=%g,%g: want FAIL ≤ PASS within [-1, 1]", c.Bands.Fail, c.Bands.Pass)
	}
	c2 := c
	if err := c2.Check(c.Bands); err != nil {
		return fmt.Errorf("calibration: the default %w", err)
	}
	return nil
}

// String is the canonical text form; ParseRecipe reads it back.
func (r Recipe) String() string {
	if r.Role == "" {
		return ""
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	f32 := func(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }
	parts := []string{"role=" + string(r.Role)}
	if r.Optional {
		parts = append(parts, "optional=yes")
	}
	if r.Role == RoleEmbedder {
		parts = append(parts, "dim="+strconv.Itoa(r.Dim), "input="+strconv.Itoa(r.Input), "mean="+f(r.Mean),
			"scale="+f(r.Scale), "colour="+r.Colour, "align="+r.Align)
		if c := r.Calibration; c != nil {
			parts = append(parts, "bands="+f32(c.Bands.Fail)+","+f32(c.Bands.Pass),
				"pass="+f32(c.PassRange[0])+","+f32(c.PassRange[1]), "fail="+f32(c.FailRange[0])+","+f32(c.FailRange[1]))
		}
	}
	return strings.Join(parts, " ")
}

func parseIntIn(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want a whole number in %d–%d", lo, hi)
	}
	return n, nil
}

func parseFloatIn(s string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		return 0, fmt.Errorf("want a number in %g–%g", lo, hi)
	}
	return v, nil
}

// parsePair reads "A,B", two numbers in [-1, 1] (cosine similarities).
func parsePair(s string) (*[2]float32, error) {
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return nil, fmt.Errorf("want two numbers A,B")
	}
	var out [2]float32
	for i, t := range []string{a, b} {
		v, err := strconv.ParseFloat(t, 32)
		if err != nil || math.IsNaN(v) || v < -1 || v > 1 {
			return nil, fmt.Errorf("%q: want a cosine similarity in [-1, 1]", t)
		}
		out[i] = float32(v)
	}
	return &out, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
