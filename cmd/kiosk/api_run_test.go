package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRunServesCheckInAPI: a token made with `kiosk api-token add` lets an
// integration check a visitor in at a running kiosk (headless demo camera,
// software TPM, sealed store) by posting the ID photo; a missing or revoked
// token is refused, and the public retention report is served beside it.
func TestRunServesCheckInAPI(t *testing.T) {
	vars := demoVars(t)
	vars["DISPLAY"] = ""
	vars["WAYLAND_DISPLAY"] = ""
	token, errs, code := kiosk(t, vars, "api-token", "add", "frontdesk")
	token = strings.TrimSpace(token)
	if code != exitOK || len(token) < 40 {
		t.Fatalf("api-token add: exit %d, %q: %s", code, token, errs)
	}
	stored, err := os.ReadFile(filepath.Join(vars["KIOSK_DATA_DIR"], "api-tokens"))
	if err != nil || bytes.Contains(stored, []byte(token)) || !bytes.Contains(stored, []byte("frontdesk")) {
		t.Fatalf("token file (%v) must name the token and hold only its hash:\n%s", err, stored)
	}
	if out, _, code := kiosk(t, vars, "api-token", "list"); code != exitOK || !strings.Contains(out, "frontdesk") {
		t.Fatalf("api-token list: exit %d:\n%s", code, out)
	}

	addr := freePort(t)
	cmd := selfCommand(t, vars, "run", "--demo", "--pace=false", "--auto-checkin=false", "--listen", addr, "--duration", "10m")
	logs := &logWatch{}
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs.await(t, 2*time.Minute, "local API listening")

	photo, err := os.ReadFile(filepath.Join(sharedData(t, "faces/pairs"), "img21.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, tok string, body []byte) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "image/jpeg")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, logs.String())
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	// post checks a visitor in and waits for the result: a check-in still
	// running when the server's wait ends (202, on a loaded machine) is
	// waited for again, for as long as it takes.
	// The integration shows the visitor the kiosk's notice and sends its
	// version as their consent; without it nothing is processed.
	nr, nb := call("GET", "/api/notice", "", nil)
	version, _ := nb["notice_sha256"].(string)
	if nr.StatusCode != http.StatusOK || len(version) != 64 {
		t.Fatalf("GET /api/notice = %d %v; want the notice and its version", nr.StatusCode, nb)
	}
	if resp, body := call("POST", "/v1/checkins?wait=60s", token, photo); resp.StatusCode != http.StatusBadRequest || body["code"] != "consent_required" {
		t.Errorf("POST without consent = %d %v; want 400 consent_required", resp.StatusCode, body)
	}
	post := func(tok string) (*http.Response, map[string]any) {
		t.Helper()
		resp, body := call("POST", "/v1/checkins?wait=60s&language=de&consent="+version, tok, photo)
		for end := time.Now().Add(5 * time.Minute); resp.StatusCode == http.StatusAccepted && time.Now().Before(end); {
			resp, body = call("GET", fmt.Sprintf("/v1/checkins/%v?wait=60s", body["checkin"]), tok, nil)
		}
		return resp, body
	}
	if resp, body := post(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a token = %d %v; want 401", resp.StatusCode, body)
	}
	resp, body := post(token)
	if resp.StatusCode != http.StatusOK || body["outcome"] != "pass" {
		t.Fatalf("POST with the token = %d %v; want 200 and a pass\n%s", resp.StatusCode, body, logs.String())
	}
	if s := fmt.Sprint(body); strings.Contains(s, "score") {
		t.Errorf("the result exposes scores by default: %s", s)
	}
	// The metrics read the store live: they agree with the signed report
	// on the record just stored, with no purge run in between.
	r, err := http.Get("http://" + addr + "/api/retention")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/retention = %v, %v", r, err)
	}
	var report struct {
		Report struct {
			RecordsHeld int64 `json:"records_held"`
		} `json:"report"`
	}
	err = json.NewDecoder(r.Body).Decode(&report)
	r.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	mr, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	held := regexp.MustCompile(`(?m)^kiosk_records_held (\S+)$`).FindSubmatch(metrics)
	if report.Report.RecordsHeld != 1 || held == nil || string(held[1]) != "1" {
		t.Errorf("records held: retention report %d, metrics %q; want both 1 after one stored check-in", report.Report.RecordsHeld, held)
	}
	if _, errs, code := kiosk(t, vars, "api-token", "revoke", "frontdesk"); code != exitOK {
		t.Fatalf("api-token revoke: exit %d: %s", code, errs)
	}
	time.Sleep(1100 * time.Millisecond) // the token file is re-read at most once a second
	if resp, body := post(token); resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		t.Errorf("POST with a revoked token = %d %v; want it refused", resp.StatusCode, body)
	}
}
