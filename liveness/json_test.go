package liveness

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// same reports whether two floats are equal, NaN matching NaN.
func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// TestDecisionJSONWithNaNAndInf: a live decision with no background patch
// (reference SNR −Inf) and no anti-spoof model (PAD NaN) marshals, with
// null in place of the non-finite values, and reads back as it was.
func TestDecisionJSONWithNaNAndInf(t *testing.T) {
	r := Result{Enough: true, Span: 5 * time.Second, Frames: 150, BPM: 72, SNR: 9.5, Agreement: 0.9, Coherence: 0.6,
		ReferenceSNR: math.Inf(-1), Motion: math.NaN(), Method: "POS", Fusion: "coherent",
		Patches: []PatchResult{{Name: "forehead", BPM: 72, SNR: 8}, {Name: "cheek", BPM: math.NaN(), SNR: math.Inf(-1)}}}
	ch := ChallengeResult{Correlation: math.Inf(-1), Lag: 33 * time.Millisecond, Samples: 3}
	d := Decide(Inputs{RPPG: r, PAD: math.NaN(), Challenge: &ch}, DefaultThresholds)

	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("Marshal(decision with NaN and -Inf) = %v; want it encoded", err)
	}
	for _, want := range []string{`"reference_snr_db":null`, `"motion":null`, `"value":null`, `"snr_db":null`, `"bpm":72`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var got Decision
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal(%s) = %v", b, err)
	}
	if got.Verdict != d.Verdict || got.Reason != d.Reason || len(got.Signals) != len(d.Signals) {
		t.Fatalf("read back %+v; want %+v", got, d)
	}
	for i, s := range d.Signals {
		g := got.Signals[i]
		// A signal's null value reads back as NaN: no value, whatever
		// non-finite value it was.
		if g.Name != s.Name || g.Pass != s.Pass || g.Used != s.Used || !same(g.Threshold, s.Threshold) ||
			!(same(g.Value, s.Value) || (math.IsNaN(g.Value) && math.IsInf(s.Value, 0))) {
			t.Errorf("signal %d read back %+v; want %+v", i, g, s)
		}
	}
	gr, wr := got.RPPG, d.RPPG
	if gr.Enough != wr.Enough || gr.Span != wr.Span || gr.Frames != wr.Frames || gr.Method != wr.Method || gr.Fusion != wr.Fusion ||
		!same(gr.BPM, wr.BPM) || !same(gr.SNR, wr.SNR) || !same(gr.Agreement, wr.Agreement) || !same(gr.Coherence, wr.Coherence) ||
		!same(gr.ReferenceSNR, wr.ReferenceSNR) || !same(gr.Motion, wr.Motion) || len(gr.Patches) != len(wr.Patches) {
		t.Fatalf("RPPG read back %+v; want %+v", gr, wr)
	}
	for i := range wr.Patches {
		if gr.Patches[i].Name != wr.Patches[i].Name || !same(gr.Patches[i].BPM, wr.Patches[i].BPM) || !same(gr.Patches[i].SNR, wr.Patches[i].SNR) {
			t.Errorf("patch %d read back %+v; want %+v", i, gr.Patches[i], wr.Patches[i])
		}
	}

	cb, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	var gc ChallengeResult
	if err := json.Unmarshal(cb, &gc); err != nil || gc != ch {
		t.Errorf("challenge %s read back %+v (%v); want %+v", cb, gc, err, ch)
	}
}

// TestResultJSONFields: each non-finite field is null, each finite one
// keeps its value exactly, and a missing key keeps the zero value.
func TestResultJSONFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   float64
		want string
	}{
		{"finite", 71.25, "71.25"},
		{"zero", 0, "0"},
		{"NaN", math.NaN(), "null"},
		{"+Inf", math.Inf(1), "null"},
		{"-Inf", math.Inf(-1), "null"},
		{"tiny", 5e-324, "5e-324"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(PatchResult{Name: "p", BPM: tc.in, SNR: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			want := `{"name":"p","bpm":` + tc.want + `,"snr_db":` + tc.want + `}`
			if string(b) != want {
				t.Errorf("Marshal(%v) = %s; want %s", tc.in, b, want)
			}
		})
	}
	var r Result
	if err := json.Unmarshal([]byte(`{"enough":true,"bpm":60}`), &r); err != nil || !r.Enough || r.BPM != 60 || r.SNR != 0 {
		t.Errorf("Unmarshal of a partial result = %+v, %v; want bpm 60 and the rest zero", r, err)
	}
}

// FuzzDecisionJSON: any bytes decode without a panic, and whatever
// decodes encodes again.
func FuzzDecisionJSON(f *testing.F) {
	d := Decide(Inputs{RPPG: Result{Enough: true, BPM: 70, ReferenceSNR: math.Inf(-1)}, PAD: math.NaN()}, DefaultThresholds)
	seed, _ := json.Marshal(d)
	f.Add(seed)
	f.Add([]byte(`{"rppg":{"bpm":null,"snr_db":"x"}}`))
	f.Add([]byte(`{"signals":[{"value":null,"threshold":1e400}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decision
		if json.Unmarshal(b, &d) != nil {
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("Marshal after Unmarshal(%q) = %v", b, err)
		}
	})
}
