package evidence

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSigner counts Sign calls, as the TPM would be charged for them.
type countingSigner struct {
	crypto.Signer
	n atomic.Int64
}

func (c *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, d, o)
}

type handlerFixture struct {
	clock  *fakeClock
	signer *countingSigner
	chain  *chain
	held   int64
	fail   error
	h      *Handler
	v      *Verifier
	mu     sync.Mutex
}

func newHandlerFixture(tb testing.TB) *handlerFixture {
	tb.Helper()
	key := newKey(tb)
	hf := &handlerFixture{clock: newClock(t0), signer: &countingSigner{Signer: signerOnly{key}}, chain: newChain("h", 2), held: 5}
	b, err := NewBuilder(hf.signer, Options{Now: hf.clock.Now, TPMKind: TPMHardware})
	if err != nil {
		tb.Fatal(err)
	}
	hf.h = NewHandler(b, func(context.Context) (Snapshot, error) {
		hf.mu.Lock()
		defer hf.mu.Unlock()
		if hf.fail != nil {
			return Snapshot{}, hf.fail
		}
		s := hf.chain.snapshot(t0.Add(-time.Minute))
		s.RecordsHeld = hf.held
		return s, nil
	}, HandlerOptions{Now: hf.clock.Now})
	hf.v, err = NewVerifier(&key.PublicKey, VerifyOptions{Now: hf.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return hf
}

func (hf *handlerFixture) get(tb testing.TB, method, accept string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, "/api/retention", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	hf.h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesVerifiableReport(t *testing.T) {
	hf := newHandlerFixture(t)
	cases := []struct {
		accept, contentType string
	}{
		{"", "application/json"},
		{"application/json", "application/json"},
		{"application/jose", "application/jose"},
	}
	for _, tc := range cases {
		rec := hf.get(t, http.MethodGet, tc.accept)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tc.contentType {
			t.Fatalf("GET (Accept %q) = %d %q; want 200 %q", tc.accept, rec.Code, rec.Header().Get("Content-Type"), tc.contentType)
		}
		if res, err := hf.v.Verify(rec.Body.Bytes(), nil); err != nil || res.Report.RecordsHeld != 5 {
			t.Errorf("Verify(GET body, Accept %q) = %v; want a valid report of 5 records", tc.accept, err)
		}
	}
	if rec := hf.get(t, http.MethodHead, ""); rec.Code != http.StatusOK {
		t.Errorf("HEAD = %d; want 200", rec.Code)
	}
}

func TestHandlerErrors(t *testing.T) {
	hf := newHandlerFixture(t)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := hf.get(t, m, "")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" || !isJSONError(rec.Body.Bytes()) {
			t.Errorf("%s = %d %q %s; want 405, Allow and a JSON error", m, rec.Code, rec.Header().Get("Allow"), rec.Body)
		}
	}
	hf.fail = errors.New("database is locked")
	rec := hf.get(t, http.MethodGet, "")
	if rec.Code != http.StatusServiceUnavailable || !isJSONError(rec.Body.Bytes()) || strings.Contains(rec.Body.String(), "locked") {
		t.Errorf("GET with a failing snapshot = %d %s; want 503 and a JSON error without the cause", rec.Code, rec.Body)
	}
	hf.fail = nil
	if rec := hf.get(t, http.MethodGet, ""); rec.Code != http.StatusOK {
		t.Errorf("GET after the snapshot recovered = %d; want 200", rec.Code)
	}
}

func isJSONError(b []byte) bool {
	var e struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(b, &e) == nil && e.Error != ""
}

// TestHandlerCachesSignature: one signature serves every request until a
// purge run lands, the count changes, or MaxCacheAge passes; the oldest
// age alone changing does not re-sign.
func TestHandlerCachesSignature(t *testing.T) {
	hf := newHandlerFixture(t)
	steps := []struct {
		name  string
		do    func()
		signs int64
	}{
		{"first request", func() {}, 1},
		{"same state, 30 s later", func() { hf.clock.Add(30 * time.Second) }, 1},
		{"a purge run landed", func() { hf.chain.add() }, 2},
		{"a record was added", func() { hf.held++ }, 3},
		{"cache aged out", func() { hf.clock.Add(DefaultMaxCacheAge) }, 4},
		{"clock set back", func() { hf.clock.Add(-time.Hour) }, 5},
	}
	for _, st := range steps {
		st.do()
		for range 50 {
			if rec := hf.get(t, http.MethodGet, ""); rec.Code != http.StatusOK {
				t.Fatalf("%s: GET = %d", st.name, rec.Code)
			}
		}
		if got := hf.signer.n.Load(); got != st.signs || hf.h.Signatures() != st.signs {
			t.Errorf("%s: %d signatures (handler counts %d); want %d", st.name, got, hf.h.Signatures(), st.signs)
		}
	}
}

// TestHandlerConcurrent: concurrent requests on a new state share one
// signature (run with -race).
func TestHandlerConcurrent(t *testing.T) {
	hf := newHandlerFixture(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				req := httptest.NewRequest(http.MethodGet, "/api/retention", nil)
				rec := httptest.NewRecorder()
				hf.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Errorf("GET = %d", rec.Code)
				}
			}
		})
	}
	wg.Wait()
	if n := hf.signer.n.Load(); n != 1 {
		t.Errorf("320 concurrent GETs made %d signatures; want 1", n)
	}
}

// TestBuilderDoesNotPrintKey: a Builder holding a bare private key prints
// only its key id, whatever the verb.
func TestBuilderDoesNotPrintKey(t *testing.T) {
	key := newKey(t)
	b, err := NewBuilder(key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, dhex := new(big.Int).SetBytes(raw).String(), hex.EncodeToString(raw)
	if !strings.Contains(fmt.Sprintf("%v", key), d) {
		t.Fatal("the bare key does not print its scalar in decimal; this test would prove nothing")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, b)
		if strings.Contains(out, d) || strings.Contains(out, dhex) || !strings.Contains(out, b.KeyID()) {
			t.Errorf("Sprintf(%q, builder) = %q; want only the key id", verb, out)
		}
	}
}

// TestFetchAndWriteText: a report fetched from a served handler verifies,
// and the text output names every check and the verdict.
func TestFetchAndWriteText(t *testing.T) {
	hf := newHandlerFixture(t)
	srv := httptest.NewServer(hf.h)
	t.Cleanup(srv.Close)
	data, err := Fetch(context.Background(), srv.Client(), srv.URL+"/api/retention")
	if err != nil {
		t.Fatal(err)
	}
	res, err := hf.v.Verify(data, nil)
	if err != nil {
		t.Fatalf("Verify(fetched) = %v", err)
	}
	var out strings.Builder
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASS  signature", "PASS  retention", "SKIP  chain", "verdict: PASS (7 checks: 6 passed, 0 warned, 0 failed, 1 skipped)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("WriteText() =\n%s\nwant a line with %q", out.String(), want)
		}
	}
	hf.clock.Add(time.Hour)
	res, _ = hf.v.Verify(data, nil)
	out.Reset()
	_ = res.WriteText(&out)
	if !strings.Contains(out.String(), "FAIL  freshness") || !strings.Contains(out.String(), "verdict: FAIL") {
		t.Errorf("WriteText(stale) =\n%s\nwant a failed freshness line and a FAIL verdict", out.String())
	}
	hf.fail = errors.New("down")
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/api/retention"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Fetch(failing kiosk) = %v; want an error naming 503", err)
	}
}
