package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kiosk/eval"
	"kiosk/models"
)

// TestMatchCommand: kiosk match --json prints the decision beside the
// score, with "match": true only for an auto-pass, and says which photos
// the reference gate would refuse.
func TestMatchCommand(t *testing.T) {
	vars := baseVars(t)
	ids := sharedData(t, "faces/identities")
	for _, tc := range []struct {
		a, b  string
		want  models.Outcome
		unfit bool
	}{
		{"amy/amy1.png", "amy/amy4.png", models.OutcomeMatch, false},
		{"leonard/leonard1.png", "leonard/leonard5.png", models.OutcomeRefer, false}, // 0.46: same person, not sure
		{"stuart/stuart1.png", "stuart/stuart5.png", models.OutcomeRefer, true},      // 0.36, and stuart5 is turned and cut off
		{"amy/amy1.png", "stuart/stuart1.png", models.OutcomeNoMatch, false},
	} {
		out, errs, code := kiosk(t, vars, "match", "--json", filepath.Join(ids, tc.a), filepath.Join(ids, tc.b))
		if code != exitOK {
			t.Fatalf("match %s %s: exit %d: %s", tc.a, tc.b, code, errs)
		}
		var raw map[string]any
		var rep matchReport
		if err := json.Unmarshal([]byte(out), &raw); err != nil || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("match --json: %v: %q", err, out)
		}
		if raw["decision"] != string(tc.want) || raw["match"] != (tc.want == models.OutcomeMatch) || raw["score"] == nil {
			t.Errorf("match %s %s = %s; want \"decision\": %q beside the score, match only for an auto-pass", tc.a, tc.b, out, tc.want)
		}
		if rep.Threshold != models.DefaultPassEdge || rep.FailEdge != models.DefaultFailEdge || rep.Model != models.FeatureModel || !rep.Calibrated {
			t.Errorf("match %s %s = %+v; want the default model's bands", tc.a, tc.b, rep)
		}
		if unfit := !rep.References[0].Fit || !rep.References[1].Fit; unfit != tc.unfit {
			t.Errorf("match %s %s: references %+v; want unfit=%v", tc.a, tc.b, rep.References, tc.unfit)
		}
	}
	a, b := filepath.Join(ids, "amy/amy1.png"), filepath.Join(ids, "amy/amy4.png")
	if out, _, code := kiosk(t, vars, "match", "--bands", "0.2,0.99", a, b); code != exitOK || !strings.Contains(out, "refer to staff") {
		t.Errorf("match --bands 0.2,0.99: exit %d, %q; want a referral", code, out)
	}
	for _, bad := range []string{"0.6,0.5", "x", "0.2,NaN"} {
		if _, errs, code := kiosk(t, vars, "match", "--bands", bad, a, b); code != exitBadInput || !strings.Contains(errs, "--bands") {
			t.Errorf("match --bands %s: exit %d, %q; want 2 and what is wrong", bad, code, errs)
		}
	}
	if _, errs, code := kiosk(t, vars, "match", "--face-model", "face_recognition_sface_2021dec.onnx", a, b); code != exitFailure || !strings.Contains(errs, "models fetch") {
		t.Errorf("match with a model not in the cache: exit %d, %q; want 1 and how to get it", code, errs)
	}
	scene := filepath.Join(sharedData(t, "faces/scenes"), "bbt1.jpg")
	if _, errs, code := kiosk(t, vars, "match", scene, filepath.Join(ids, "amy/amy1.png")); code != exitBadInput || !strings.Contains(errs, "more than one face") {
		t.Errorf("match with a group photo: exit %d, %q; want 2 and 'more than one face'", code, errs)
	}
}

// TestEvalFacesSeparatesIdentities is the accuracy acceptance on the shared
// identity set (no different-person pair auto-passed, the outcome rates
// and the gate's refusals reported, a group table from groups.csv), and a
// privacy check: the run's output and logs carry no template values.
func TestEvalFacesSeparatesIdentities(t *testing.T) {
	vars := baseVars(t)
	vars["KIOSK_LOG_LEVEL"] = "debug"
	dir := sharedData(t, "faces/identities")
	groups := filepath.Join(t.TempDir(), "groups.csv")
	if err := os.WriteFile(groups, []byte("identity,group\namy,a\nbernadette,a\npenny,a\nhoward,b\nleonard,b\nraj,b\nsheldon,b\nstuart,b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, logs, code := kiosk(t, vars, "eval", "faces", "--json", "--groups", groups, dir)
	if code != exitOK {
		t.Fatalf("eval faces: exit %d: %s", code, logs)
	}
	var rep struct {
		Summary eval.FacesSummary
		Pairs   []eval.Pair
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if s.Pairs != 780 || s.Genuine != 80 || s.Unusable != 0 {
		t.Fatalf("summary = %+v; want 780 pairs, 80 genuine, none unusable", s)
	}
	if s.AUC < 0.999 || !s.Separates {
		t.Errorf("AUC %.4f, separable %v; want ≥ 0.999 and separable", s.AUC, s.Separates)
	}
	o := s.Outcomes
	if s.FalseMatches != 0 || o.Different.Match != 0 || o.Same.Pairs != 80 || o.Same.Match < 60 || o.Same.NoMatch > 2 {
		t.Errorf("outcomes %+v; want no different-person auto-pass, most same-person pairs passed, at most 2 failed", o)
	}
	if r := s.RandomOutcomes; r.Different.Match == 0 || r.Same.Match >= o.Same.Match {
		t.Errorf("shuffled-score baseline %+v; want it to auto-pass strangers and fewer same-person pairs", r)
	}
	if s.RandomAUC < 0.3 || s.RandomAUC > 0.7 {
		t.Errorf("random-score baseline AUC %.3f; want it beside the result, near 0.5", s.RandomAUC)
	}
	if g := s.Gate; g == nil || g.Photos != 40 || g.Refused < 1 || g.WeakestUnfit*g.Same <= g.SameUnfit*g.Weakest {
		t.Errorf("gate %+v; want refusals, over-represented among the weakest same-person pairs", g)
	}
	if len(s.Groups) != 3 || s.Groups[0].Group != "a" || s.Groups[1].Group != "b" || s.Groups[2].Group != eval.GroupMixed {
		t.Errorf("groups %+v; want a, b and the pairs across them", s.Groups)
	}
	for _, p := range rep.Pairs {
		if (p.Score >= s.Chosen) != p.Same {
			t.Errorf("chosen threshold %.3f misclassifies %s~%s (%.3f)", s.Chosen, p.A, p.B, p.Score)
		}
		if p.Decision == "" || p.Match != (p.Decision == models.OutcomeMatch) {
			t.Errorf("pair %s~%s: decision %q, match %v", p.A, p.B, p.Decision, p.Match)
		}
	}

	// No template value may appear in stdout or the logs.
	m, closeModels, err := faceModels(vars["KIOSK_MODELS_DIR"], models.FeatureModel)
	if err != nil {
		t.Fatal(err)
	}
	defer closeModels()
	tp, err := readReference(m, filepath.Join(dir, "amy/amy1.png"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tp.AppendBinary(nil)
	parsed, _ := models.ParseTemplate(raw)
	if parsed.Similarity(tp) < 0.999 {
		t.Fatal("template round trip failed")
	}
	for i := 1; i+4 <= 1+4*8; i += 4 {
		if strings.Contains(out+logs, string(raw[i:i+4])) {
			t.Errorf("output contains template bytes %x", raw[i:i+4])
		}
	}
	for _, needle := range templateDecimals(raw) {
		if strings.Contains(out+logs, needle) {
			t.Errorf("output contains template value %s", needle)
		}
	}

	// The text report prints the outcome table with its baseline, the
	// groups and the gate.
	text, _, code := kiosk(t, vars, "eval", "faces", "--summary", "--groups", groups, dir)
	for _, want := range []string{"AUTO-PASS", "BASELINE (pass / refer / fail)", "By group", "Reference gate: ", "stuart/stuart5.png: face_cut_off", "bands this set suggests"} {
		if code != exitOK || !strings.Contains(text, want) {
			t.Errorf("eval faces --summary lacks %q (exit %d):\n%s", want, code, text)
		}
	}
	if _, errs, code := kiosk(t, vars, "eval", "faces", "--groups", filepath.Join(t.TempDir(), "none.csv"), dir); code != exitBadInput || !strings.Contains(errs, "none.csv") {
		t.Errorf("eval faces with a missing groups file: exit %d, %q; want 2 naming the file", code, errs)
	}
}

// templateDecimals prints the first template values as a log would.
func templateDecimals(raw []byte) []string {
	var out []string
	for i := 0; i < 4; i++ {
		b := raw[1+4*i : 5+4*i]
		v := float32frombytes(b)
		out = append(out, fmt.Sprintf("%.6f", v), fmt.Sprint(v))
	}
	return out
}

func float32frombytes(b []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func TestEvalFusionCommand(t *testing.T) {
	vars := baseVars(t)
	dir := sharedData(t, "faces/identities")
	out, errs, code := kiosk(t, vars, "eval", "fusion", "--json", "--limit", "4", "--frames", "6", "--picks", "2", dir)
	if code != exitOK {
		t.Fatalf("eval fusion: exit %d: %s", code, errs)
	}
	var rep struct{ Report eval.FusionReport }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Report.Clips != 4 || len(rep.Report.Rows) != 5 {
		t.Fatalf("eval fusion --json = %+v, %v; want 4 clips and 5 rows", rep, err)
	}
	if _, errs, code := kiosk(t, vars, "eval", "fusion", "--picks", "9", "--frames", "3", dir); code != exitBadInput || !strings.Contains(errs, "--picks") {
		t.Errorf("eval fusion with more picks than frames: exit %d, %q; want 2", code, errs)
	}
}
