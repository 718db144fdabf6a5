package eval

import (
	"strings"
	"testing"

	"kiosk/models"
)

func TestParseGroups(t *testing.T) {
	g, err := ParseGroups(strings.NewReader("identity,group\namy, A\n penny ,A\nraj,B\nraj,B\n"))
	if err != nil || len(g) != 3 || g["penny"] != "A" || g["raj"] != "B" {
		t.Fatalf("ParseGroups = %v, %v; want amy and penny in A, raj in B", g, err)
	}
	for _, tc := range []struct{ name, csv, want string }{
		{"empty", "", "no identities"},
		{"header only", "identity,group\n", "no identities"},
		{"three fields", "amy,A,x\n", "want identity,group"},
		{"one field", "amy\n", "want identity,group"},
		{"empty group", "amy,\n", "not a usable"},
		{"control character", "amy,\"A\x01\"\n", "not a usable"},
		{"reserved name", "amy,(across groups)\n", "not a usable"},
		{"two groups", "amy,A\namy,B\n", "in group"},
		{"bad quoting", "\"amy,A\n", "groups.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseGroups(strings.NewReader(tc.csv)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseGroups(%q) = %v; want an error containing %q", tc.csv, err, tc.want)
			}
		})
	}
}

func FuzzParseGroups(f *testing.F) {
	for _, s := range []string{"identity,group\namy,A\nraj,B\n", "amy,A\namy,B\n", "a,\"b\nc\"\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		g, err := ParseGroups(strings.NewReader(text))
		if err != nil {
			return
		}
		for id, grp := range g {
			if id == "" || grp == "" || grp == GroupMixed || grp == GroupUnmapped {
				t.Fatalf("accepted %q -> %q", id, grp)
			}
		}
	})
}

func TestIdentityAndGroupOf(t *testing.T) {
	g := Groups{"amy": "A", "penny": "A", "raj": "B", "img1.jpg": "B"}
	for _, tc := range []struct {
		a, b, want string
	}{
		{"amy/amy1.png", "amy/amy2.png", "A"},
		{"amy/amy1.png", "penny/penny1.png", "A"},
		{"amy/amy1.png", "raj/raj1.png", GroupMixed},
		{"amy/amy1.png", "howard/howard1.png", GroupUnmapped},
		{"img1.jpg", "raj/raj2.png", "B"}, // master.csv photos are their own identity
	} {
		if got := g.Of(Pair{A: tc.a, B: tc.b}); got != tc.want {
			t.Errorf("Of(%s, %s) = %q; want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestSummariseGroups: a group whose scores overlap shows it, beside a
// group that separates, each with its baseline; pseudo-groups come last.
func TestSummariseGroups(t *testing.T) {
	b := models.Bands{Fail: 0.25, Pass: 0.53}
	var pairs []Pair
	add := func(a, bb string, same bool, score float64) {
		pairs = append(pairs, Pair{A: a, B: bb, Same: same, Score: score})
	}
	add("p1/1.png", "p1/2.png", true, 0.8)
	add("p2/1.png", "p2/2.png", true, 0.7)
	add("p1/1.png", "p2/1.png", false, 0.1)
	add("q1/1.png", "q1/2.png", true, 0.2) // a weak same-person pair: fails
	add("q2/1.png", "q2/2.png", true, 0.4) // referred
	add("q1/1.png", "q2/1.png", false, 0.45)
	add("p1/1.png", "q1/1.png", false, 0.0)
	add("z/1.png", "z/2.png", true, 0.9)
	g := Groups{"p1": "P", "p2": "P", "q1": "Q", "q2": "Q"}
	got := SummariseGroups(pairs, g, b)
	if len(got) != 4 || got[0].Group != "P" || got[1].Group != "Q" || got[2].Group != GroupMixed || got[3].Group != GroupUnmapped {
		t.Fatalf("groups %+v; want P, Q, mixed, unmapped", got)
	}
	p, q := got[0], got[1]
	if !p.HasROC || p.AUC != 1 || !q.HasROC || q.AUC != 0 {
		t.Errorf("AUC P %v (%v), Q %v (%v); want 1 and 0 (its different-person pair outscores both same-person pairs)", p.AUC, p.HasROC, q.AUC, q.HasROC)
	}
	wantQ := OutcomeRates{Same: OutcomeCounts{Pairs: 2, Refer: 1, NoMatch: 1}, Different: OutcomeCounts{Pairs: 1, Refer: 1}}
	if q.Outcomes != wantQ {
		t.Errorf("Q outcomes %+v; want %+v", q.Outcomes, wantQ)
	}
	if got[2].HasROC || got[3].Genuine != 1 {
		t.Errorf("pseudo-groups %+v, %+v; want no ROC across groups and one unmapped pair", got[2], got[3])
	}
}

func TestSummariseGate(t *testing.T) {
	fit := models.ReferenceCheck{Faces: 1}
	blurry := models.ReferenceCheck{Faces: 1, Problems: []models.ReferenceProblem{models.ReferenceBlurry}}
	turned := models.ReferenceCheck{Faces: 1, Problems: []models.ReferenceProblem{models.ReferenceFaceCutOff, models.ReferenceTurned}}
	gate := map[string]models.ReferenceCheck{"a/1": fit, "a/2": blurry, "b/1": fit, "b/2": turned, "c/1": fit, "c/2": fit}
	var pairs []Pair
	for _, p := range []struct {
		a, b  string
		same  bool
		score float64
	}{
		{"a/1", "a/2", true, 0.30}, {"b/1", "b/2", true, 0.40}, {"c/1", "c/2", true, 0.90},
		{"a/1", "b/1", false, 0.1}, {"a/1", "c/1", false, 0.1},
	} {
		pairs = append(pairs, Pair{A: p.a, B: p.b, Same: p.same, Score: p.score, Match: p.score >= 0.53,
			Unfit: !gate[p.a].OK() || !gate[p.b].OK()})
	}
	pairs = append(pairs, Pair{A: "x", B: "y", Error: "no face"})
	s := SummariseGate(pairs, gate)
	if s.Photos != 6 || s.Refused != 2 || s.ByReason["blurry"] != 1 || s.ByReason["face_cut_off"] != 1 || s.AnyReason["turned_away"] != 1 {
		t.Errorf("gate summary %+v; want 2 of 6 refused: blurry, and face_cut_off (also turned_away)", s)
	}
	if s.Same != 3 || s.SameUnfit != 2 || s.Weakest != 1 || s.WeakestUnfit != 1 || s.NotPassed != 2 || s.NotPassUnfit != 2 {
		t.Errorf("weak-pair shares %+v; want 2 of 3 same-person pairs unfit, the weakest one, both not passed", s)
	}
	if len(s.Refusals) != 2 || s.Refusals[0].Photo != "a/2" {
		t.Errorf("refusals %+v; want a/2 then b/2", s.Refusals)
	}
}
