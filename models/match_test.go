package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func referenceOf(t testing.TB, m *Matcher, path string) Template {
	t.Helper()
	tp, _, err := m.Reference(decodeFile(t, path))
	if err != nil {
		t.Fatalf("Reference(%s): %v", filepath.Base(path), err)
	}
	return tp
}

func TestMatchDecisionsOnNamedPairs(t *testing.T) {
	m := newTestMatcher(t)
	ids := dataDir(t, "faces/identities")
	pairs := dataDir(t, "faces/pairs")
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{filepath.Join(ids, "amy/amy1.png"), filepath.Join(ids, "amy/amy2.png"), true},
		{filepath.Join(ids, "penny/penny1.png"), filepath.Join(ids, "penny/penny4.png"), true},
		{filepath.Join(ids, "sheldon/sheldon2.png"), filepath.Join(ids, "sheldon/sheldon5.png"), true},
		{filepath.Join(pairs, "img20.jpg"), filepath.Join(pairs, "img21.jpg"), true},
		{filepath.Join(pairs, "img16.jpg"), filepath.Join(pairs, "img17.jpg"), true},
		{filepath.Join(ids, "amy/amy1.png"), filepath.Join(ids, "penny/penny1.png"), false},
		{filepath.Join(ids, "howard/howard1.png"), filepath.Join(ids, "raj/raj1.png"), false},
		{filepath.Join(ids, "leonard/leonard2.png"), filepath.Join(ids, "sheldon/sheldon2.png"), false},
		{filepath.Join(pairs, "img20.jpg"), filepath.Join(pairs, "img16.jpg"), false},
	} {
		name := fmt.Sprintf("%s~%s", filepath.Base(tc.a), filepath.Base(tc.b))
		t.Run(name, func(t *testing.T) {
			a, b := referenceOf(t, m, tc.a), referenceOf(t, m, tc.b)
			d := m.Decide(a.Similarity(b))
			want := OutcomeNoMatch
			if tc.same {
				want = OutcomeMatch
			}
			if d.Outcome != want || d.Match != tc.same {
				t.Errorf("Decide(%s) = %+v; want %s", name, d, want)
			}
		})
	}
}

func TestPADScoresSpoofsLowAndLiveHigh(t *testing.T) {
	m := newTestMatcher(t)
	dir := dataDir(t, "spoof")
	for _, tc := range []struct {
		file string
		live bool
	}{
		{"image_F1.jpg", false}, // printed photo
		{"image_F2.jpg", false}, // screen replay
		{"image_T1.jpg", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			img := decodeFile(t, filepath.Join(dir, tc.file))
			faces, err := m.Det.DetectStill(img)
			if err != nil || len(faces) != 1 {
				t.Fatalf("DetectStill: %d faces, %v", len(faces), err)
			}
			s, err := m.PAD.Score(img, faces[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := s >= DefaultPADThreshold; got != tc.live {
				t.Errorf("PAD.Score(%s) = %.3f; want live=%v at threshold %.2f", tc.file, s, tc.live, DefaultPADThreshold)
			}
			if tc.live && s < 0.8 || !tc.live && s > 0.1 {
				t.Errorf("PAD.Score(%s) = %.3f is too close to the threshold (want ≥0.8 live, ≤0.1 spoof)", tc.file, s)
			}
		})
	}
}

func TestVerifyPicksAUsableFrame(t *testing.T) {
	m := newTestMatcher(t)
	live := decodeFile(t, filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))
	ref := referenceOf(t, m, filepath.Join(dataDir(t, "spoof"), "image_T1.jpg"))
	blank := Image{Width: live.Width, Height: live.Height, Pix: make([]byte, len(live.Pix))}
	v, err := m.Verify(ref, []Image{blank, live, scalePixels(live, 0.2)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Frame != 1 || !v.Match || v.PADScore < DefaultPADThreshold {
		t.Errorf("Verify = %+v; want frame 1, a match and a live PAD score", v)
	}
	_, err = m.Verify(ref, []Image{blank, scalePixels(live, 0.2)})
	if !errors.Is(err, ErrLowQuality) {
		t.Errorf("Verify(no usable frame) = %v; want ErrLowQuality", err)
	}
}

func TestGalleryIdentifiesEnrolledPeople(t *testing.T) {
	m := newTestMatcher(t)
	ids := dataDir(t, "faces/identities")
	people := []string{"amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart"}
	var g Gallery
	for i, p := range people {
		if err := g.Add(fmt.Sprintf("rec-%d", i), referenceOf(t, m, filepath.Join(ids, p, p+"1.png"))); err != nil {
			t.Fatal(err)
		}
	}
	// Each probe's best hit is its own enrolment; at the bands it is a
	// match or (for the two weakest, 0.50 and 0.51) referred, and nobody
	// else's enrolment reaches the pass edge.
	for i, p := range people {
		probe := referenceOf(t, m, filepath.Join(ids, p, p+"3.png"))
		hits := g.Search(probe, 2)
		if len(hits) != 2 || hits[0].ID != fmt.Sprintf("rec-%d", i) {
			t.Errorf("Search(%s3) = %+v; want rec-%d first", p, hits, i)
			continue
		}
		if o := m.Bands.Outcome(hits[0].Score); o == OutcomeNoMatch {
			t.Errorf("Search(%s3): own enrolment scores %.3f, %s; want match or refer", p, hits[0].Score, o)
		}
		if o := m.Bands.Outcome(hits[1].Score); o == OutcomeMatch {
			t.Errorf("Search(%s3): %s scores %.3f, an auto-pass for someone else", p, hits[1].ID, hits[1].Score)
		}
		if hit, ok := g.Identify(probe, m.Bands.Pass); ok && hit.ID != fmt.Sprintf("rec-%d", i) {
			t.Errorf("Identify(%s3) = %+v; want rec-%d or nothing", p, hit, i)
		}
	}
	if err := g.Add("bad", Template{}); !errors.Is(err, ErrBadTemplate) {
		t.Errorf("Add(zero template) = %v; want ErrBadTemplate", err)
	}
}

// TestGalleryWithWithout: With and Without build new galleries and leave
// the one being searched untouched.
func TestGalleryWithWithout(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b, c := randomTemplate(r), randomTemplate(r), randomTemplate(r)
	g := &Gallery{}
	g.Add("a", a)
	g.Add("b", b)
	g2, err := g.With("c", c)
	if err != nil || g.Len() != 2 || g2.Len() != 3 {
		t.Fatalf("With: old %d, new %d, %v; want 2 and 3", g.Len(), g2.Len(), err)
	}
	g3 := g2.Without("b")
	if g3.Len() != 2 || g2.Len() != 3 {
		t.Fatalf("Without: old %d, new %d; want 3 and 2", g2.Len(), g3.Len())
	}
	for _, tc := range []struct {
		probe Template
		want  string
		found bool
	}{{a, "a", true}, {c, "c", true}, {b, "", false}} {
		hit, ok := g3.Identify(tc.probe, 0.9)
		if ok != tc.found || (ok && hit.ID != tc.want) {
			t.Errorf("Identify after Without(b) = %+v, %v; want %q, %v", hit, ok, tc.want, tc.found)
		}
	}
	if hit, ok := g2.Identify(b, 0.9); !ok || hit.ID != "b" {
		t.Errorf("the gallery Without was called on lost b: %+v, %v", hit, ok)
	}
}

func randomTemplate(r *rand.Rand) Template {
	v := make([]float32, TemplateDim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	t, _ := NewTemplate(v)
	return t
}

func TestTemplateNeverPrintsItsValues(t *testing.T) {
	tp := randomTemplate(rand.New(rand.NewPCG(1, 2)))
	first := fmt.Sprintf("%v", tp.v[0])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if s := fmt.Sprintf(verb, tp); strings.Contains(s, first) || !strings.Contains(s, "redacted") {
			t.Errorf("Sprintf(%s, template) = %q", verb, s)
		}
	}
	if s := fmt.Sprintf("%v", struct{ T Template }{tp}); strings.Contains(s, first) {
		t.Errorf("template inside a struct printed its values: %q", s)
	}
	if _, err := json.Marshal(tp); err == nil {
		t.Error("json.Marshal(template) succeeded; templates must never become JSON")
	}
}

func TestTemplateBinaryRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tp := randomTemplate(r)
	b, err := tp.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTemplate(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := back.Similarity(tp); math.Abs(float64(s)-1) > 1e-5 {
		t.Errorf("round trip similarity = %v; want 1", s)
	}
	for _, bad := range [][]byte{nil, b[:100], append(append([]byte{}, b...), 0), append([]byte{9}, b[1:]...)} {
		if _, err := ParseTemplate(bad); !errors.Is(err, ErrBadTemplate) {
			t.Errorf("ParseTemplate(%d bytes) = %v; want ErrBadTemplate", len(bad), err)
		}
	}
	nan := append([]byte{}, b...)
	copy(nan[1:5], []byte{0, 0, 0xc0, 0x7f})
	if _, err := ParseTemplate(nan); !errors.Is(err, ErrBadTemplate) {
		t.Errorf("ParseTemplate(NaN) = %v; want ErrBadTemplate", err)
	}
}

func FuzzParseTemplate(f *testing.F) {
	tp := randomTemplate(rand.New(rand.NewPCG(5, 6)))
	b, _ := tp.AppendBinary(nil)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{1})
	short := randomTemplateDim(rand.New(rand.NewPCG(7, 8)), 128)
	short.model = 9
	b2, _ := short.AppendBinary(nil)
	f.Add(b2)
	f.Add([]byte{templateV2, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		tp, err := ParseTemplate(data)
		if err != nil {
			return
		}
		if math.Abs(float64(tp.Similarity(tp))-1) > 1e-3 || tp.Dim() < MinTemplateDim || tp.Dim() > MaxTemplateDim {
			t.Fatalf("accepted a template of norm² %v and length %d", tp.Similarity(tp), tp.Dim())
		}
		again, err := tp.AppendBinary(nil)
		if back, err2 := ParseTemplate(again); err != nil || err2 != nil || back.Model() != tp.Model() || back.Similarity(tp) < 0.9999 {
			t.Fatalf("accepted template does not survive AppendBinary: %v, %v", err, err2)
		}
	})
}

func TestComputeROC(t *testing.T) {
	sp := func(same bool, scores ...float64) []ScoredPair {
		var out []ScoredPair
		for _, s := range scores {
			out = append(out, ScoredPair{Score: s, Same: same})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		pairs    []ScoredPair
		auc, eer float64
		sep      bool
	}{
		{"separated", append(sp(true, 0.8, 0.9), sp(false, 0.1, 0.2, 0.3)...), 1, 0, true},
		{"inverted", append(sp(true, 0.1, 0.2), sp(false, 0.8, 0.9)...), 0, 1, false},
		{"all tied", append(sp(true, 0.5, 0.5), sp(false, 0.5, 0.5)...), 0.5, 0.5, false},
		{"one overlap", append(sp(true, 0.4, 0.9), sp(false, 0.1, 0.5)...), 0.75, 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ComputeROC(tc.pairs, 0.5)
			if math.Abs(r.AUC-tc.auc) > 1e-9 || math.Abs(r.EER-tc.eer) > 1e-9 || r.Separates() != tc.sep {
				t.Errorf("ComputeROC = AUC %v EER %v sep %v; want %v %v %v", r.AUC, r.EER, r.Separates(), tc.auc, tc.eer, tc.sep)
			}
		})
	}
	// 100 impostors resolve FMR 1e-2 but not 1e-3.
	var many []ScoredPair
	for i := 0; i < 100; i++ {
		many = append(many, ScoredPair{Score: float64(i) / 1000})
	}
	many = append(many, ScoredPair{Score: 0.9, Same: true})
	r := ComputeROC(many, 1e-2, 1e-3)
	if _, ok := r.FNMRAt[1e-2]; !ok {
		t.Error("FNMR at 1e-2 missing with 100 impostors")
	}
	if _, ok := r.FNMRAt[1e-3]; ok {
		t.Error("FNMR at 1e-3 reported from 100 impostors")
	}
}
