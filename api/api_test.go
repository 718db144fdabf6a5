package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutesAndJSONErrors(t *testing.T) {
	m := NewMetrics()
	m.PurgeRuns.Add(3)
	m.RecordsHeld.Set(7)
	retention := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"jws":"x"}`) })
	srv := httptest.NewServer(NewHandler(Options{Retention: retention, Metrics: m}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/retention", 200, `"jws"`},
		{"GET", "/metrics", 200, "kiosk_purge_runs_total 3"},
		{"GET", "/metrics", 200, "kiosk_records_held 7"},
		{"GET", "/healthz", 200, `"ok"`},
		{"POST", "/api/retention", 405, `"error"`},
		{"GET", "/nope", 404, `"error"`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s = %d %q; want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
		if tc.code >= 400 {
			var e map[string]string
			if json.Unmarshal(b, &e) != nil || e["error"] == "" {
				t.Errorf("%s %s: error body %q is not a JSON error", tc.method, tc.path, b)
			}
		}
	}
}
