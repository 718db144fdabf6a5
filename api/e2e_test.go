package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/internal/safelog"
	"kiosk/models"
	"kiosk/store"
)

// sharedDir is ../shared beside the project.
func sharedDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "shared")
}

// sharedFile returns a file of ../shared/data, skipping when it is absent
// (it is evaluation data, not part of the project).
func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir(), "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s is missing (%v): the end-to-end check-in needs real face photos", p, err)
	}
	return p
}

// loadMatcher loads the real models from $KIOSK_MODELS_DIR or the shared
// models folder, skipping when neither has them.
func loadMatcher(t testing.TB) *models.Matcher {
	t.Helper()
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if d == "" {
			continue
		}
		det, err := models.LoadDetector(d, models.DetectorOptions{})
		if err != nil {
			continue
		}
		t.Cleanup(func() { det.Close() })
		emb, err := models.LoadEmbedder(d)
		if err != nil {
			t.Fatalf("LoadEmbedder(%s) = %v", d, err)
		}
		t.Cleanup(func() { emb.Close() })
		pad, err := models.LoadPAD(d)
		if err != nil {
			t.Fatalf("LoadPAD(%s) = %v", d, err)
		}
		t.Cleanup(func() { pad.Close() })
		return models.NewMatcher(det, emb, pad)
	}
	t.Skip("no verified models in $KIOSK_MODELS_DIR or ../shared/models: run make setup")
	return nil
}

// testLogger logs through t.Log, with the redacting hook.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{ReplaceAttr: safelog.ReplaceAttr}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestCheckInEndToEnd runs a real check-in: real models, a real sealed
// store, and a checkin.Loop over a generated camera clip of the face on
// image_T1.jpg with a 72 bpm pulse, processed frame by frame on the
// frames' own clock. Uploading that same photo passes;
// another person's photo fails with no_match. The server has the same
// read and write time-outs as kiosk serve, shorter than a check-in.
func TestCheckInEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end check-in takes about half a minute")
	}
	same := sharedFile(t, "spoof/image_T1.jpg")
	other := sharedFile(t, "faces/pairs/img1.jpg")
	m := loadMatcher(t)

	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{Keys: mk, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	metrics := NewMetrics()
	var mu sync.Mutex
	var results []checkin.Result
	clk := &checkin.FrameClock{}
	flow, err := checkin.NewFlow(checkin.Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t), OnResult: func(r checkin.Result) {
		metrics.ObserveCheckIn(r)
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}

	face := decodeFace(t, same)
	// Unpaced, on the frames' own clock: every frame is processed however
	// loaded the machine is, so the check-in runs on recorded time.
	src := &clockedSource{Source: capture.NewSynthetic(capture.SyntheticOptions{Face: face, PulseBPM: 72}), clk: clk,
		idle: func() bool { return flow.Snapshot().Stage == checkin.StageIdle }}
	loop := &checkin.Loop{Flow: flow, Source: src}
	ctx, cancel := context.WithCancel(context.Background())
	loopDone := make(chan error, 1)
	go func() {
		loopDone <- loop.Run(ctx, func(fr checkin.Frame) {
			fr.Frame.Release()
			metrics.ObserveCamera(loop.Stats())
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-loopDone; err != nil {
			t.Errorf("Loop.Run = %v; want nil", err)
		}
		src.Close()
	})

	tokens := &TokenSet{}
	tok, _ := tokens.Add("e2e")
	tok2, _ := tokens.Add("other-integration")
	srv := httptest.NewUnstartedServer(NewHandler(Options{CheckIns: flow, Tokens: tokens, Metrics: metrics, Logger: testLogger(t), ExposeScores: true}))
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 10*time.Second, 10*time.Second
	srv.Start()
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, photo     string
		outcome, reason string
	}{
		{"same person passes", same, "pass", ""},
		{"another person fails", other, "fail", "no_match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			photo, err := os.ReadFile(tc.photo)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, body := do(t, srv.URL, "POST", "/v1/checkins?wait=60s", tok, "image/jpeg", photo)
			var got Response
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("POST /v1/checkins: body %q: %v", body, err)
			}
			t.Logf("POST /v1/checkins?wait=60s = %d %s after %s", code, body, time.Since(start).Round(time.Millisecond))
			if code != http.StatusOK || got.Outcome != tc.outcome || got.Reason != tc.reason || got.Status != "done" {
				t.Fatalf("POST /v1/checkins?wait=60s = %d %+v; want 200 outcome %q reason %q", code, got, tc.outcome, tc.reason)
			}
			wantDecision := map[string]models.Outcome{"pass": models.OutcomeMatch, "fail": models.OutcomeNoMatch}[tc.outcome]
			if got.Match == nil || (got.Match.Score >= got.Match.Threshold) != (tc.outcome == "pass") || got.Match.Decision != wantDecision {
				t.Errorf("match = %+v; want a score on the %s side of the bands, decision %s", got.Match, tc.outcome, wantDecision)
			}
			if strings.Contains(string(body), "e2e") {
				t.Errorf("response %q names the token", body)
			}
			path := fmt.Sprintf("/v1/checkins/%d", got.CheckIn)
			code, again := do(t, srv.URL, "GET", path, tok, "", nil)
			var got2 Response
			json.Unmarshal(again, &got2)
			if code != http.StatusOK || got2.Outcome != got.Outcome || got2.Reason != got.Reason || got2.CheckIn != got.CheckIn {
				t.Errorf("GET %s = %d %s; want 200 with the POST's result %s", path, code, again, body)
			}
			if code, b := do(t, srv.URL, "GET", path, tok2, "", nil); code != http.StatusNotFound {
				t.Errorf("GET %s with another token = %d %s; want 404", path, code, b)
			}
		})
	}
	mu.Lock()
	stored := 0
	for _, r := range results {
		if r.Stored {
			stored++
		}
	}
	mu.Unlock()
	if stored != 2 {
		t.Errorf("stored %d sealed records; want 2", stored)
	}
	_, exp := do(t, srv.URL, "GET", "/metrics", "", "", nil)
	for _, want := range []string{
		`kiosk_checkins_total{outcome="pass",reason="none"} 1`,
		`kiosk_checkins_total{outcome="fail",reason="no_match"} 1`,
		`kiosk_checkins_total{outcome="refer",reason="uncertain_liveness"} 0`, // every known series starts at zero
		`kiosk_api_requests_total{code="200",route="/v1/checkins"} 2`,
		`kiosk_camera_fps `,
	} {
		if !strings.Contains(string(exp), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	if s := loop.Stats(); s.FPS <= 0 || s.Frames == 0 {
		t.Errorf("Loop.Stats() = %+v; want frames at a positive rate", s)
	}
}

// clockedSource steps the frame clock with each frame, and slows down while
// the flow is idle so an idle kiosk does not spin a core.
type clockedSource struct {
	capture.Source
	clk  *checkin.FrameClock
	idle func() bool
}

func (s *clockedSource) Read(ctx context.Context) (*capture.Frame, error) {
	if s.idle() {
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f, err := s.Source.Read(ctx)
	if err == nil {
		s.clk.Follow(f.Time)
	}
	return f, err
}

// decodeFace decodes a photo as the camera would see the person: through
// models.DecodeImage, which applies the EXIF orientation (image_T1.jpg is
// stored on its side; image.Decode would give a face rolled by 90°).
func decodeFace(t testing.TB, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := models.DecodeImage(data)
	if err != nil {
		t.Fatalf("DecodeImage(%s) = %v", path, err)
	}
	out := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i+2 < len(img.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = img.Pix[i+2], img.Pix[i+1], img.Pix[i], 0xff
	}
	return out
}

// do sends one request and returns the status and body.
func do(t testing.TB, base, method, path, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+withConsent(method, path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
