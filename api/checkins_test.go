package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kiosk/checkin"
	"kiosk/liveness"
	"kiosk/models"
	"kiosk/mrz"
)

// roomy limits keep the table clear of the limiter and the lock-out,
// which have their own tests.
var roomy = Limits{PerIP: Rate{1000, 1000}, PerToken: Rate{1000, 1000}, MaxFailures: 1000}

// TestBadRequests sends every kind of bad request to a real server on
// loopback: each gets the right 4xx (or 503) with a JSON error and code,
// and the server keeps serving (/healthz after each).
func TestBadRequests(t *testing.T) {
	flow := newFakeFlow()
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	other, _ := tokens.Add("other")
	clock := newClock()
	srv := httptest.NewServer(NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, Now: clock.Now, Logger: testLogger(t)}))
	defer srv.Close()

	photo := testPhoto(t)
	bigPhoto := append(bytes.Clone(photo), make([]byte, checkin.MaxPhotoBytes)...)
	formType, formBody := form(t, [2]string{"file:photo", string(photo)}, [2]string{"name", "Ada"}, [2]string{"document", "X123"})
	noPhotoType, noPhotoBody := form(t, [2]string{"name", "Ada"})
	extraType, extraBody := form(t, [2]string{"file:photo", string(photo)}, [2]string{"dob", "1990-01-01"})
	longType, longBody := form(t, [2]string{"file:photo", string(photo)}, [2]string{"name", strings.Repeat("a", 300)})
	twoType, twoBody := form(t, [2]string{"file:photo", string(photo)}, [2]string{"file:photo", string(photo)})
	bigFormType, bigFormBody := form(t, [2]string{"file:photo", string(bigPhoto)})
	// The first check-in (n=1) is started by the valid request below;
	// "other" must not see it.
	if code, b := do(t, srv.URL, "POST", "/v1/checkins", tok, "image/png", photo); code != http.StatusAccepted {
		t.Fatalf("POST /v1/checkins = %d %s; want 202", code, b)
	}

	for _, tc := range []struct {
		name          string
		method, path  string
		token, ctype  string
		body          []byte
		chunked       bool // send without Content-Length
		submitErr     error
		snap          checkin.Snapshot
		code          int
		errCode       string
		header, value string // a response header that must be set
	}{
		{name: "missing token", method: "POST", path: "/v1/checkins", ctype: "image/png", body: photo,
			code: 401, errCode: "unauthorized", header: "WWW-Authenticate", value: `Bearer realm="kiosk"`},
		{name: "bad token", method: "POST", path: "/v1/checkins", token: "not-a-token", ctype: "image/png", body: photo,
			code: 401, errCode: "unauthorized", header: "WWW-Authenticate", value: `Bearer realm="kiosk", error="invalid_token"`},
		{name: "token of another kiosk", method: "POST", path: "/v1/checkins", token: strings.Repeat("A", 43), ctype: "image/png", body: photo,
			code: 401, errCode: "unauthorized"},
		{name: "oversized token", method: "GET", path: "/v1/checkins/1", token: strings.Repeat("A", 4096), code: 401, errCode: "unauthorized"},
		{name: "wrong content type", method: "POST", path: "/v1/checkins", token: tok, ctype: "text/plain", body: photo,
			code: 415, errCode: "unsupported_media_type", header: "Accept-Post", value: acceptPost},
		{name: "json body", method: "POST", path: "/v1/checkins", token: tok, ctype: "application/json", body: []byte(`{"photo":"..."}`),
			code: 415, errCode: "unsupported_media_type"},
		{name: "no content type", method: "POST", path: "/v1/checkins", token: tok, body: photo, code: 415, errCode: "unsupported_media_type"},
		{name: "oversized body", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: bigPhoto,
			code: 413, errCode: "too_large"},
		{name: "oversized chunked body", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: bigPhoto, chunked: true,
			code: 413, errCode: "too_large"},
		{name: "oversized form photo", method: "POST", path: "/v1/checkins", token: tok, ctype: bigFormType, body: bigFormBody, chunked: true,
			code: 413, errCode: "too_large"},
		{name: "form without photo", method: "POST", path: "/v1/checkins", token: tok, ctype: noPhotoType, body: noPhotoBody,
			code: 400, errCode: "bad_request"},
		{name: "form with unknown field", method: "POST", path: "/v1/checkins", token: tok, ctype: extraType, body: extraBody,
			code: 400, errCode: "bad_request"},
		{name: "form with long name", method: "POST", path: "/v1/checkins", token: tok, ctype: longType, body: longBody,
			code: 400, errCode: "bad_request"},
		{name: "form with two photos", method: "POST", path: "/v1/checkins", token: tok, ctype: twoType, body: twoBody,
			code: 400, errCode: "bad_request"},
		{name: "form without boundary", method: "POST", path: "/v1/checkins", token: tok, ctype: "multipart/form-data", body: formBody,
			code: 400, errCode: "bad_request"},
		{name: "garbled form", method: "POST", path: "/v1/checkins", token: tok, ctype: formType, body: formBody[:40],
			code: 400, errCode: "bad_request"},
		{name: "bad wait", method: "POST", path: "/v1/checkins?wait=soon", token: tok, ctype: "image/png", body: photo,
			code: 400, errCode: "bad_request"},
		{name: "negative wait", method: "POST", path: "/v1/checkins?wait=-1s", token: tok, ctype: "image/png", body: photo,
			code: 400, errCode: "bad_request"},
		{name: "not an image", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/jpeg", body: []byte("GIF89a not a jpeg"),
			code: 422, errCode: "bad_photo"},
		{name: "truncated image", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: photo[:len(photo)/2],
			code: 422, errCode: "bad_photo"},
		{name: "empty body", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", code: 422, errCode: "bad_photo"},
		{name: "no face", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: photo,
			submitErr: fmt.Errorf("reference photo: %w", models.ErrNoFace), code: 422, errCode: "no_face"},
		{name: "several faces", method: "POST", path: "/v1/checkins", token: tok, ctype: formType, body: formBody,
			submitErr: fmt.Errorf("reference photo: %w (2)", models.ErrManyFaces), code: 422, errCode: "many_faces"},
		{name: "busy", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: photo,
			submitErr: checkin.ErrBusy, code: 409, errCode: "busy"},
		{name: "flow locked out", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: photo,
			submitErr: fmt.Errorf("%w until 09:02:00", checkin.ErrLockedOut), snap: checkin.Snapshot{Stage: checkin.StageLockedOut, Until: clock.Now().Add(90 * time.Second)},
			code: 423, errCode: "locked_out", header: "Retry-After", value: "90"},
		{name: "flow failure", method: "POST", path: "/v1/checkins", token: tok, ctype: "image/png", body: photo,
			submitErr: errors.New("embedder: onnx failed"), code: 500, errCode: "internal"},
		{name: "unknown check-in", method: "GET", path: "/v1/checkins/999", token: tok, code: 404, errCode: "unknown_checkin"},
		{name: "another token's check-in", method: "GET", path: "/v1/checkins/1", token: other, code: 404, errCode: "unknown_checkin"},
		{name: "check-in number not a number", method: "GET", path: "/v1/checkins/abc", token: tok, code: 400, errCode: "bad_request"},
		{name: "check-in number zero", method: "GET", path: "/v1/checkins/0", token: tok, code: 400, errCode: "bad_request"},
		{name: "GET the collection", method: "GET", path: "/v1/checkins", token: tok, code: 405, errCode: "method_not_allowed", header: "Allow", value: "POST"},
		{name: "DELETE a check-in", method: "DELETE", path: "/v1/checkins/1", token: tok, code: 405, errCode: "method_not_allowed"},
		{name: "unknown route", method: "GET", path: "/v1/nope", token: tok, code: 404, errCode: "not_found"},
		{name: "no consent", method: "POST", path: "/v1/checkins?consent=", token: tok, ctype: "image/png", body: photo, code: 400, errCode: "consent_required"},
		{name: "consent not a notice version", method: "POST", path: "/v1/checkins?consent=yes", token: tok, ctype: "image/png", body: photo, code: 400, errCode: "consent_required"},
		{name: "consent to another notice", method: "POST", path: "/v1/checkins?consent=" + strings.Repeat("a", 64), token: tok, ctype: "image/png", body: photo,
			code: 400, errCode: "wrong_notice"},
		{name: "consent in an unknown language", method: "POST", path: "/v1/checkins?consent=" + checkin.DefaultNotice().Version() + "&language=xx",
			token: tok, ctype: "image/png", body: photo, code: 400, errCode: "consent_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flow.mu.Lock()
			flow.err, flow.snap = tc.submitErr, tc.snap
			flow.mu.Unlock()
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(tc.method, srv.URL+withConsent(tc.method, tc.path), body)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.path, resp.StatusCode, b, tc.code)
			}
			var e map[string]string
			if err := json.Unmarshal(b, &e); err != nil || e["error"] == "" || e["code"] != tc.errCode {
				t.Errorf("%s %s: body %q; want a JSON error with code %q", tc.method, tc.path, b, tc.errCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type %q; want application/json", tc.method, tc.path, ct)
			}
			if tc.header != "" && resp.Header.Get(tc.header) != tc.value {
				t.Errorf("%s %s: %s = %q; want %q", tc.method, tc.path, tc.header, resp.Header.Get(tc.header), tc.value)
			}
			if code, b := do(t, srv.URL, "GET", "/healthz", "", "", nil); code != 200 {
				t.Fatalf("GET /healthz after %s = %d %s; want 200: the server must keep serving", tc.name, code, b)
			}
		})
	}
}

// TestCheckInResults covers the good paths: raw and form uploads, waiting,
// pending, and what a result may hold.
func TestCheckInResults(t *testing.T) {
	flow := newFakeFlow()
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	h := NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, MaxWait: 50 * time.Millisecond})
	photo := testPhoto(t)
	formType, formBody := form(t, [2]string{"file:photo", string(photo)}, [2]string{"name", "Ada Lovelace"}, [2]string{"document", "X1234567"})

	for _, tc := range []struct {
		name, target, ctype string
		body                []byte
		pending, scores     bool
		code                int
		status              string
	}{
		{"raw jpeg type, answer at once", "/v1/checkins", "image/jpeg", photo, false, false, 202, "pending"},
		{"raw png waits for the result", "/v1/checkins?wait=10s", "image/png", photo, false, false, 200, "done"},
		{"wait in bare seconds", "/v1/checkins?wait=5", "image/webp", photo, false, false, 200, "done"},
		{"form with name and document", "/v1/checkins?wait=1s", formType, formBody, false, false, 200, "done"},
		{"wait capped, still running", "/v1/checkins?wait=1h", "image/png", photo, true, false, 202, "pending"},
		{"scores only when exposed", "/v1/checkins?wait=1s", "image/png", photo, false, true, 200, "done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flow.mu.Lock()
			flow.pending = tc.pending
			flow.mu.Unlock()
			hh := h
			if tc.scores {
				hh = NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, ExposeScores: true})
			}
			start := time.Now()
			w := serve(hh, "POST", tc.target, "192.0.2.1:5000", tok, tc.ctype, tc.body)
			if w.Code != tc.code {
				t.Fatalf("POST %s = %d %s; want %d", tc.target, w.Code, w.Body, tc.code)
			}
			// It asked for an hour: anything near MaxWait (50 ms), even
			// on a loaded machine, shows the cap.
			if tc.pending && time.Since(start) > 30*time.Second {
				t.Errorf("POST %s took %s; want ?wait capped at MaxWait", tc.target, time.Since(start))
			}
			var got Response
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.status || got.CheckIn == 0 {
				t.Errorf("POST %s = %+v; want status %q and a check-in number", tc.target, got, tc.status)
			}
			if loc := w.Header().Get("Location"); loc != fmt.Sprintf("/v1/checkins/%d", got.CheckIn) {
				t.Errorf("POST %s: Location %q; want the check-in's URL", tc.target, loc)
			}
			if tc.status == "done" && (got.Outcome != "pass" || got.Liveness != "live") {
				t.Errorf("POST %s = %+v; want outcome pass, liveness live", tc.target, got)
			}
			if (got.Match != nil) != tc.scores {
				t.Errorf("POST %s: match = %+v; want it only with ExposeScores", tc.target, got.Match)
			}
			for _, personal := range []string{"Ada", "X1234567", "person_id", "record_id"} {
				if strings.Contains(w.Body.String(), personal) {
					t.Errorf("POST %s: response %s holds %q", tc.target, w.Body, personal)
				}
			}
		})
	}
	flow.mu.Lock()
	name, doc := flow.name, flow.document
	flow.mu.Unlock()
	if name != "" || doc != "" {
		// the last request was raw: no name
		t.Errorf("raw upload passed name %q, document %q; want none", name, doc)
	}
	w := serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, formType, formBody)
	flow.mu.Lock()
	name, doc = flow.name, flow.document
	flow.mu.Unlock()
	if w.Code/100 != 2 || name != "Ada Lovelace" || doc != "X1234567" {
		t.Errorf("form upload = %d, passed name %q document %q; want them handed to the flow", w.Code, name, doc)
	}
}

// TestWaitOutlivesServerTimeouts: a ?wait longer than the server's read
// and write time-outs still gets its answer (kiosk serve uses 10 s, a
// check-in takes longer).
func TestWaitOutlivesServerTimeouts(t *testing.T) {
	flow := newFakeFlow()
	flow.block = 600 * time.Millisecond
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	srv := httptest.NewUnstartedServer(NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	defer srv.Close()
	code, b := do(t, srv.URL, "POST", "/v1/checkins?wait=5s", tok, "image/png", testPhoto(t))
	if code != 200 || !strings.Contains(string(b), `"outcome":"pass"`) {
		t.Errorf("POST /v1/checkins?wait=5s = %d %s; want 200 with the result after the server time-outs", code, b)
	}
}

// TestNoTokens: without tokens the integration routes say how to make one.
func TestNoTokens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tokens TokenSource
	}{
		{"nil source", nil},
		{"empty set", &TokenSet{}},
		{"missing file", NewTokenFile(t.TempDir()+"/api-tokens", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(Options{CheckIns: newFakeFlow(), Tokens: tc.tokens})
			w := serve(h, "POST", "/v1/checkins", "192.0.2.1:1", "anything", "image/png", testPhoto(t))
			if w.Code != 503 || !strings.Contains(w.Body.String(), "kiosk api-token add") {
				t.Errorf("POST /v1/checkins = %d %s; want 503 naming 'kiosk api-token add'", w.Code, w.Body)
			}
		})
	}
}

// TestCheckInNeedsConsent: a POST without the visitor's consent is refused
// with 400 before anything is processed: the flow never sees the photo.
// With it, the flow gets the consent as sent.
func TestCheckInNeedsConsent(t *testing.T) {
	flow := newFakeFlow()
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	h := NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, Now: newClock().Now, Logger: testLogger(t)})
	photo := testPhoto(t)
	for _, target := range []string{"/v1/checkins?consent=", "/v1/checkins?wait=1s&consent=&language=de"} {
		w := serve(h, "POST", target, "192.0.2.1:5000", tok, "image/png", photo)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "consent_required") || !strings.Contains(w.Body.String(), "/api/notice") {
			t.Errorf("POST %s = %d %s; want 400 consent_required pointing at /api/notice", target, w.Code, w.Body)
		}
	}
	if flow.submits != 0 {
		t.Fatalf("the flow was handed %d photos without consent; want none", flow.submits)
	}
	w := serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, "image/png", photo)
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST with consent = %d %s; want 202", w.Code, w.Body)
	}
	if c := flow.consent; c.Notice != checkin.DefaultNotice().Version() || c.Language != checkin.German || c.Via != checkin.ConsentViaAPI || c.At.IsZero() {
		t.Errorf("the flow got consent %+v; want the notice's version, German, via the API, with a time", c)
	}
}

// TestNoticeRoutes: the notice is public as JSON (with the version POST
// must name and the kiosk's retention stated in every language) and as a
// page for a visitor's phone.
func TestNoticeRoutes(t *testing.T) {
	n := checkin.DefaultNotice()
	srv := httptest.NewServer(NewHandler(Options{Notice: n, NoticeRetention: func() time.Duration { return 24 * time.Hour }}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/notice")
	if err != nil {
		t.Fatal(err)
	}
	var got NoticeResponse
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || got.Version != n.Version() || got.RetentionSeconds != 86400 || len(got.Languages) != len(checkin.Languages) {
		t.Fatalf("GET /api/notice = %+v, %v; want version %s, 86400 s, every language", got, err, n.Version())
	}
	if b := got.Languages[checkin.Spanish].Body; !strings.Contains(b, "1 día") || strings.Contains(b, checkin.NoticeKeep) {
		t.Errorf("Spanish notice does not state the retention:\n%s", b)
	}
	resp, err = http.Get(srv.URL + "/privacy")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`lang="de"`, "Bevor wir beginnen", "/api/retention", n.Version(), "1 Tag"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("GET /privacy lacks %q", want)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /privacy Content-Type %q; want HTML", ct)
	}
}

// TestDocumentFieldsOnlyWhenAsked: the document's fields reach the token
// that started the check-in, and only when it asks (?fields=document);
// another token sees nothing of the check-in. A refused document maps to
// its own 422.
func TestDocumentFieldsOnlyWhenAsked(t *testing.T) {
	flow := newFakeFlow()
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	other, _ := tokens.Add("other")
	h := NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, Now: newClock().Now, Logger: testLogger(t)})
	w := serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, "image/png", testPhoto(t))
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	flow.mu.Lock()
	r := flow.results[1]
	r.Document = &checkin.Document{Format: "TD3", Fields: mrz.Fields{Surname: "QUARTERNIGHT", GivenNames: "ZEBULON", DocumentNumber: "Q7X4K2L9"}, Source: "photo", Agree: 2}
	flow.results[1] = r
	flow.mu.Unlock()
	plain := serve(h, "GET", "/v1/checkins/1", "192.0.2.1:5000", tok, "", nil)
	asked := serve(h, "GET", "/v1/checkins/1?fields=document", "192.0.2.1:5000", tok, "", nil)
	stranger := serve(h, "GET", "/v1/checkins/1?fields=document", "192.0.2.1:5000", other, "", nil)
	if strings.Contains(plain.Body.String(), "QUARTERNIGHT") {
		t.Errorf("GET without ?fields=document shows the name: %s", plain.Body)
	}
	if asked.Code != 200 || !strings.Contains(asked.Body.String(), `"document_number":"Q7X4K2L9"`) {
		t.Errorf("GET ?fields=document = %d %s; want the fields", asked.Code, asked.Body)
	}
	if stranger.Code != http.StatusNotFound || strings.Contains(stranger.Body.String(), "QUARTERNIGHT") {
		t.Errorf("another token's GET = %d %s; want 404 and nothing", stranger.Code, stranger.Body)
	}
	for _, tc := range []struct {
		err  error
		code string
	}{{checkin.ErrDocumentExpired, "document_expired"}, {checkin.ErrNoDocument, "no_document"}} {
		flow.mu.Lock()
		flow.err = tc.err
		flow.mu.Unlock()
		w := serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, "image/png", testPhoto(t))
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), tc.code) {
			t.Errorf("POST with %v = %d %s; want 422 %s", tc.err, w.Code, w.Body, tc.code)
		}
	}
}

// TestReferredCheckIn: a check-in the flow referred to staff is reported
// as outcome "refer" with reason uncertain_match (and, with scores
// exposed, the decision and both edges); a reference photo the gate
// refuses is a 422 naming the problems.
func TestReferredCheckIn(t *testing.T) {
	flow := newFakeFlow()
	tokens := &TokenSet{}
	tok, _ := tokens.Add("frontdesk")
	h := NewHandler(Options{CheckIns: flow, Tokens: tokens, Limits: roomy, Now: newClock().Now, Logger: testLogger(t), ExposeScores: true})
	w := serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, "image/png", testPhoto(t))
	if w.Code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	d := models.Bands{Fail: 0.25, Pass: 0.53}.Decide(0.41)
	flow.mu.Lock()
	flow.results[1] = checkin.Result{CheckIn: 1, Outcome: checkin.OutcomeRefer, Reason: checkin.ReasonUncertain,
		Liveness: liveness.Decision{Verdict: liveness.Live}, Match: &d}
	flow.mu.Unlock()
	got := serve(h, "GET", "/v1/checkins/1", "192.0.2.1:5000", tok, "", nil)
	for _, want := range []string{`"outcome":"refer"`, `"reason":"uncertain_match"`, `"decision":"refer"`, `"threshold":0.53`, `"fail_edge":0.25`} {
		if !strings.Contains(got.Body.String(), want) {
			t.Errorf("GET a referred check-in = %d %s; want %s", got.Code, got.Body, want)
		}
	}
	flow.mu.Lock()
	flow.err = fmt.Errorf("reference: %w", &models.ReferenceError{Check: models.ReferenceCheck{Faces: 1,
		Problems: []models.ReferenceProblem{models.ReferenceBlurry, models.ReferenceTurned}}})
	flow.mu.Unlock()
	w = serve(h, "POST", "/v1/checkins", "192.0.2.1:5000", tok, "image/png", testPhoto(t))
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `"code":"unfit_reference"`) ||
		!strings.Contains(w.Body.String(), "turned_away, blurry") && !strings.Contains(w.Body.String(), "blurry, turned_away") {
		t.Errorf("POST an unfit reference = %d %s; want 422 unfit_reference naming blurry and turned_away", w.Code, w.Body)
	}
}
