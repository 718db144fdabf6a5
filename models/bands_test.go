package models

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestBandsOutcome(t *testing.T) {
	b := Bands{Fail: 0.25, Pass: 0.53}
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name  string
		bands Bands
		score float32
		want  Outcome
	}{
		{"well above", b, 0.9, OutcomeMatch},
		{"at the pass edge", b, 0.53, OutcomeMatch},
		{"just below the pass edge", b, 0.5299, OutcomeRefer},
		{"a look-alike", b, 0.48, OutcomeRefer},
		{"at the fail edge", b, 0.25, OutcomeRefer},
		{"just below the fail edge", b, 0.2499, OutcomeNoMatch},
		{"negative", b, -0.4, OutcomeNoMatch},
		{"NaN score", b, nan, OutcomeNoMatch},
		{"uncalibrated (zero) bands refer", Bands{}, 0.99, OutcomeRefer},
		{"inverted bands refer", Bands{Fail: 0.6, Pass: 0.4}, 0.99, OutcomeRefer},
		{"NaN edge refers", Bands{Fail: 0.2, Pass: nan}, 0.99, OutcomeRefer},
		{"pass edge above 1 is not a calibration", Bands{Fail: 0.2, Pass: 1.5}, 0.99, OutcomeRefer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.bands.Decide(tc.score)
			if d.Outcome != tc.want || d.Match != (tc.want == OutcomeMatch) || tc.bands.Outcome(tc.score) != tc.want {
				t.Errorf("%v.Decide(%v) = %+v; want %s with Match only for an auto-pass", tc.bands, tc.score, d, tc.want)
			}
		})
	}
}

// TestDecisionJSON: the decision travels as "decision" beside "score", and
// "match" is true only for an auto-pass.
func TestDecisionJSON(t *testing.T) {
	for _, tc := range []struct {
		score float32
		want  string
		match bool
	}{{0.8, "match", true}, {0.4, "refer", false}, {0.1, "no_match", false}} {
		b, err := json.Marshal(DefaultBands.Decide(tc.score))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.Unmarshal(b, &got)
		if got["decision"] != tc.want || got["match"] != tc.match || got["score"] == nil || got["threshold"] == nil {
			t.Errorf("Decide(%v) as JSON = %s; want decision %q, match %v, score and threshold", tc.score, b, tc.want, tc.match)
		}
		var back Decision
		if err := json.Unmarshal(b, &back); err != nil || back.Outcome != Outcome(tc.want) {
			t.Errorf("round trip of %s = %+v, %v", b, back, err)
		}
	}
	var d Decision
	if err := json.Unmarshal([]byte(`{"score":0.9,"decision":"pass"}`), &d); err == nil {
		t.Error(`Unmarshal("decision":"pass") succeeded; want an unknown-outcome error`)
	}
	if err := json.Unmarshal([]byte(`{"score":0.9,"match":true}`), &d); err != nil || d.Outcome != "" {
		t.Errorf("a record from before the outcomes = %+v, %v; want it read with an empty outcome", d, err)
	}
}

func TestCalibrationCheck(t *testing.T) {
	c := DefaultCalibration
	for _, tc := range []struct {
		name string
		b    Bands
		edge string // "" for valid
	}{
		{"defaults", DefaultBands, ""},
		{"strictest", Bands{Fail: MaxFailEdge, Pass: MaxPassEdge}, ""},
		{"loosest", Bands{Fail: MinFailEdge, Pass: MinPassEdge}, ""},
		{"pass edge at a look-alike's score", Bands{Fail: 0.25, Pass: 0.48}, "pass"},
		{"pass edge at the old threshold", Bands{Fail: 0.25, Pass: 0.38}, "pass"},
		{"pass edge above the bounds", Bands{Fail: 0.25, Pass: 0.95}, "pass"},
		{"fail edge closing the refer band", Bands{Fail: 0.5, Pass: 0.5}, "fail"},
		{"negative fail edge", Bands{Fail: -0.1, Pass: 0.6}, "fail"},
		{"NaN", Bands{Fail: 0.25, Pass: float32(math.NaN())}, "pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(tc.b)
			var be *BandsError
			switch {
			case tc.edge == "" && err != nil:
				t.Errorf("Check(%v) = %v; want ok", tc.b, err)
			case tc.edge != "" && (!errors.As(err, &be) || be.Edge != tc.edge):
				t.Errorf("Check(%v) = %v; want a %s-edge BandsError", tc.b, err, tc.edge)
			}
		})
	}
	if err := (Calibration{}).Check(DefaultBands); err == nil || !strings.Contains(err.Error(), "no calibration") {
		t.Errorf("an uncalibrated model's Check = %v; want it to say there is no calibration", err)
	}
}

// TestDefaultCalibrationIsTheManifests: the exported constants the
// settings validate against are fr_feature.onnx's manifest calibration,
// and NewMatcher starts from it.
func TestDefaultCalibrationIsTheManifests(t *testing.T) {
	e := mustLookup(t, FeatureModel)
	if e.Recipe.Calibration == nil || *e.Recipe.Calibration != DefaultCalibration {
		t.Fatalf("manifest calibration of %s = %+v; want %+v", FeatureModel, e.Recipe.Calibration, DefaultCalibration)
	}
	if DefaultMatchThreshold != DefaultPassEdge || MaxFailEdge >= MinPassEdge {
		t.Error("the pass edge, the old threshold name and the refer band's bounds disagree")
	}
	m := newTestMatcher(t)
	if m.Bands != DefaultBands || m.Calibration() != DefaultCalibration {
		t.Errorf("NewMatcher bands %v, calibration %+v; want the manifest's", m.Bands, m.Calibration())
	}
}
