package api

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"kiosk/internal/testclock"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kiosk/checkin"
	"kiosk/liveness"
	"kiosk/models"
)

// fakeClock is a settable clock for the limits and the lock-out.
type fakeClock = testclock.Clock

func newClock() *fakeClock { return testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) }

// fakeFlow is a CheckIns whose answers the test sets. It remembers the
// last photo, name and document it was given.
type fakeFlow struct {
	mu       sync.Mutex
	err      error // SubmitPhoto's error
	next     uint64
	results  map[uint64]checkin.Result
	snap     checkin.Snapshot
	block    time.Duration // Wait blocks this long before answering
	pending  bool          // check-ins never finish
	photo    []byte
	name     string
	document string
	consent  checkin.Consent
	submits  int
}

func newFakeFlow() *fakeFlow { return &fakeFlow{results: map[uint64]checkin.Result{}} }

func (f *fakeFlow) SubmitPhoto(photo []byte, name, document string, consent checkin.Consent) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits++
	f.photo, f.name, f.document, f.consent = bytes.Clone(photo), name, document, consent
	if f.err != nil {
		return 0, f.err
	}
	if consent.Notice != checkin.DefaultNotice().Version() {
		return 0, checkin.ErrWrongNotice
	}
	if _, err := checkin.ReadPhoto(photo); err != nil {
		return 0, err
	}
	f.next++
	if !f.pending {
		f.results[f.next] = checkin.Result{CheckIn: f.next, Outcome: checkin.OutcomePass, Reason: checkin.ReasonNone,
			Liveness: liveness.Decision{Verdict: liveness.Live}, Match: &models.Decision{Score: 0.9, Threshold: 0.38, Match: true}}
	}
	return f.next, nil
}

func (f *fakeFlow) Wait(ctx context.Context, n uint64) (checkin.Result, error) {
	f.mu.Lock()
	r, ok := f.results[n]
	cur, block := f.next, f.block
	f.mu.Unlock()
	if n == 0 || n > cur {
		return checkin.Result{}, checkin.ErrUnknownCheckIn
	}
	if block > 0 {
		select {
		case <-time.After(block):
			return r, nil
		case <-ctx.Done():
			return checkin.Result{}, ctx.Err()
		}
	}
	if !ok {
		<-ctx.Done()
		return checkin.Result{}, ctx.Err()
	}
	return r, nil
}

func (f *fakeFlow) Snapshot() checkin.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

// testPhoto is a small valid PNG with no face in it.
func testPhoto(t testing.TB) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// form builds a multipart body from parts: name → content; names starting
// with "file:" become file parts.
func form(t testing.TB, parts ...[2]string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		if len(p[0]) > 5 && p[0][:5] == "file:" {
			w, _ := mw.CreateFormFile(p[0][5:], "photo.png")
			w.Write([]byte(p[1]))
		} else {
			mw.WriteField(p[0], p[1])
		}
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// serve sends one request straight to h from addr and returns the recorder.
// withConsent adds the visitor's consent to the built-in notice, in
// German, to a POST /v1/checkins target that does not name its own
// consent= (the refusal tests do, with a bad or empty value).
func withConsent(method, target string) string {
	if method != http.MethodPost || !strings.HasPrefix(target, "/v1/checkins") || strings.Contains(target, "consent=") {
		return target
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + "consent=" + checkin.DefaultNotice().Version() + "&language=de"
}

func serve(h http.Handler, method, target, addr, token, ctype string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, withConsent(method, target), bytes.NewReader(body))
	r.RemoteAddr = addr
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
