package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"kiosk/eval"
	"kiosk/models"
)

func TestMatchCommand(t *testing.T) {
	vars := baseVars(t)
	ids := sharedData(t, "faces/identities")
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"amy/amy1.png", "amy/amy4.png", true},
		{"amy/amy1.png", "stuart/stuart1.png", false},
	} {
		out, errs, code := kiosk(t, vars, "match", "--json", filepath.Join(ids, tc.a), filepath.Join(ids, tc.b))
		if code != exitOK {
			t.Fatalf("match %s %s: exit %d: %s", tc.a, tc.b, code, errs)
		}
		var d models.Decision
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("match --json: %v: %q", err, out)
		}
		if d.Match != tc.same || d.Threshold != models.DefaultMatchThreshold {
			t.Errorf("match %s %s = %+v; want match=%v at the default threshold", tc.a, tc.b, d, tc.same)
		}
	}
	scene := filepath.Join(sharedData(t, "faces/scenes"), "bbt1.jpg")
	if _, errs, code := kiosk(t, vars, "match", scene, filepath.Join(ids, "amy/amy1.png")); code != exitBadInput || !strings.Contains(errs, "more than one face") {
		t.Errorf("match with a group photo: exit %d, %q; want 2 and 'more than one face'", code, errs)
	}
}

// TestEvalFacesSeparatesIdentities is the accuracy acceptance on the shared
// identity set, and a privacy check: the run's output and logs carry no
// template values.
func TestEvalFacesSeparatesIdentities(t *testing.T) {
	vars := baseVars(t)
	vars["KIOSK_LOG_LEVEL"] = "debug"
	dir := sharedData(t, "faces/identities")
	out, logs, code := kiosk(t, vars, "eval", "faces", "--json", dir)
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
	for _, p := range rep.Pairs {
		if (p.Score >= s.Chosen) != p.Same {
			t.Errorf("chosen threshold %.3f misclassifies %s~%s (%.3f)", s.Chosen, p.A, p.B, p.Score)
		}
	}
	if s.FalseMatches != 0 {
		t.Errorf("kiosk threshold gives %d false matches; want 0", s.FalseMatches)
	}
	if s.RandomAUC < 0.3 || s.RandomAUC > 0.7 {
		t.Errorf("random-score baseline AUC %.3f; want it beside the result, near 0.5", s.RandomAUC)
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
