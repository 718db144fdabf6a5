package eval

import (
	"context"
	"testing"

	"kiosk/models"
)

// TestEvalFusionSmall runs the fusion evaluation on a slice of the shared
// identities with short clips: every way of making the live template is
// reported against the single best frame, and no different-person
// comparison auto-passes.
func TestEvalFusionSmall(t *testing.T) {
	m := testMatcher(t)
	dir := dataPath(t, "faces/identities")
	rep, err := EvalFusion(context.Background(), m, dir, models.DefaultBands, FusionOptions{Frames: 12, Picks: 3, Limit: 6}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Clips != 6 || rep.Fused < 2 || len(rep.Rows) != 5 {
		t.Fatalf("report %+v; want 6 clips, at least 2 picks fused, 5 rows", rep)
	}
	for _, r := range rep.Rows {
		t.Logf("%-24s same %d mean %.3f min %.3f | different %d max %.3f | better/worse %d/%d", r.Method, r.Genuine, r.MeanGenuine, r.MinGenuine, r.Impostor, r.MaxImpostor, r.Better, r.Worse)
		// amy1–5 and bernadette1: 10 same-person and 5 different-person
		// pairs, each scored both ways.
		if r.Genuine != 20 || r.Impostor != 10 {
			t.Errorf("%s: %d same, %d different comparisons; want 20 and 10", r.Method, r.Genuine, r.Impostor)
		}
		if r.Outcomes.Different.Match != 0 {
			t.Errorf("%s auto-passed %d different-person comparisons", r.Method, r.Outcomes.Different.Match)
		}
		if r.Method == FusionSingle && (r.Better != 0 || r.Worse != 0) {
			t.Errorf("the baseline row compares with itself: %d/%d", r.Better, r.Worse)
		}
		if r.MinGenuine <= r.MaxImpostor {
			t.Errorf("%s: same-person min %.3f ≤ different max %.3f on an easy slice: the clips lost the face", r.Method, r.MinGenuine, r.MaxImpostor)
		}
	}
}
