package checkin

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"kiosk/liveness"
	"kiosk/models"
)

// TestRecordKeepsLivenessWithNaNAndInf: a live decision with no background
// patch (reference SNR −Inf) and no anti-spoof score (NaN) is written
// whole into the sealed record through the real store, and reads back
// with every detail, the non-finite values as they were.
func TestRecordKeepsLivenessWithNaNAndInf(t *testing.T) {
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	f, err := NewFlow(Options{Matcher: testMatcher(t), Records: st, Now: clk.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rppg := liveness.Result{Enough: true, Span: 5 * time.Second, Frames: 150, BPM: 72, SNR: 7.5, Agreement: 0.86, Coherence: 0.41, PulseCoherence: 0.78,
		ReferenceSNR: math.Inf(-1), Method: "POS", Fusion: "coherent", Patches: []liveness.PatchResult{
			{Name: "forehead", BPM: 72, SNR: 6}, {Name: "left_cheek", BPM: 72, SNR: 5}, {Name: "right_cheek", BPM: 73, SNR: 5},
			{Name: "nose", BPM: 71, SNR: 3}, {Name: "chin", BPM: math.NaN(), SNR: math.Inf(-1)}}}
	d := liveness.Decide(liveness.Inputs{RPPG: rppg, PAD: math.NaN()}, liveness.DefaultThresholds)
	if d.Verdict != liveness.Live {
		t.Fatalf("fixture decision is %s (%s); want live", d.Verdict, d.Reason)
	}
	md := models.DefaultBands.Decide(0.71)
	r := Result{Outcome: OutcomePass, Liveness: d, Match: &md}
	f.mu.Lock()
	f.store(context.Background(), &r, nil)
	f.mu.Unlock()
	if !r.Stored {
		t.Fatal("the record was not stored")
	}

	c, err := st.Get(context.Background(), r.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Wipe()
	if len(c.Liveness) == 0 {
		t.Fatal("the sealed record has no liveness details")
	}
	var got liveness.Decision
	if err := json.Unmarshal(c.Liveness, &got); err != nil {
		t.Fatalf("liveness details %s: %v", c.Liveness, err)
	}
	if got.Verdict != liveness.Live || got.Reason != d.Reason || len(got.Signals) != len(d.Signals) {
		t.Errorf("read back %s %q with %d signals; want %s %q with %d", got.Verdict, got.Reason, len(got.Signals), d.Verdict, d.Reason, len(d.Signals))
	}
	if !math.IsInf(got.RPPG.ReferenceSNR, -1) || got.RPPG.BPM != 72 || got.RPPG.Coherence != 0.41 || got.RPPG.PulseCoherence != 0.78 || len(got.RPPG.Patches) != 5 ||
		!math.IsNaN(got.RPPG.Patches[4].BPM) || !math.IsInf(got.RPPG.Patches[4].SNR, -1) {
		t.Errorf("pulse read back %+v; want reference SNR -Inf, 72 bpm, coherence 0.41, pulse coherence 0.78, five patches, the chin's NaN and -Inf", got.RPPG)
	}
	for _, s := range got.Signals {
		if s.Name == "pad" && (s.Used || !math.IsNaN(s.Value)) {
			t.Errorf("pad signal read back %+v; want unused with a NaN value", s)
		}
	}
	var gm models.Decision
	if err := json.Unmarshal(c.Match, &gm); err != nil || gm.Score != md.Score {
		t.Errorf("match details %s (%v); want score %.2f", c.Match, err, md.Score)
	}
}
