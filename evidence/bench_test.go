package evidence

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkBuildSign: build, canonicalise, sign (software P-256 key behind
// crypto.Signer) and self-verify one report with the default chain window.
func BenchmarkBuildSign(b *testing.B) {
	f := newFixture(b, newKey(b), Options{})
	s := newChain("bench", 200).snapshot(t0.Add(-60e9))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.b.Build(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify: every check of one served envelope with its earlier report.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, newKey(b), Options{})
	c := newChain("bench", 200)
	prev, err := f.v.Open([]byte(f.build(b, c.snapshot(t0.Add(-60e9))).JWS))
	if err != nil {
		b.Fatal(err)
	}
	c.add()
	data := mustJSON(b, f.build(b, c.snapshot(t0.Add(-30e9))))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.v.Verify(data, prev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerCached: GET /api/retention served from the cached
// signature (the state does not change).
func BenchmarkHandlerCached(b *testing.B) {
	f := newFixture(b, newKey(b), Options{})
	s := newChain("bench", 200).snapshot(t0.Add(-60e9))
	h := NewHandler(f.b, func(context.Context) (Snapshot, error) { return s, nil }, HandlerOptions{Now: f.clock.Now})
	req := httptest.NewRequest(http.MethodGet, "/api/retention", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
	if h.Signatures() != 1 {
		b.Fatalf("%d signatures; want 1", h.Signatures())
	}
}
