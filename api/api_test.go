package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kiosk/internal/testclock"
	"kiosk/store"
)

func TestRoutesAndJSONErrors(t *testing.T) {
	m := NewMetrics()
	m.PurgeRuns.Add(3)
	m.WatchHoldings(func(context.Context) (store.Holdings, error) { return store.Holdings{Records: 7}, nil }, nil)
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

// TestMetricsHoldingsLive: the records-held and oldest-age gauges read the
// store when scraped, one read for both, cached for at most a second, and
// show NaN (unknown) rather than 0 when the read fails.
func TestMetricsHoldingsLive(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	var reads int
	held := store.Holdings{Records: 1, OldestAge: 90 * time.Second}
	var fail error
	m := NewMetrics()
	srv := httptest.NewServer(NewHandler(Options{Metrics: m}))
	defer srv.Close()
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if out := scrape(); !strings.Contains(out, "kiosk_records_held NaN") {
		t.Errorf("before WatchHoldings, records held is not NaN:\n%s", out)
	}
	m.WatchHoldings(func(context.Context) (store.Holdings, error) { reads++; return held, fail }, clk.Now)
	for _, tc := range []struct {
		name      string
		advance   time.Duration
		set       store.Holdings
		err       error
		held, age string
		wantReads int
	}{
		{"first scrape reads the store", 0, held, nil, "1", "90", 1},
		{"within a second: cached", 500 * time.Millisecond, store.Holdings{Records: 5}, nil, "1", "90", 1},
		{"a second later: read again", 600 * time.Millisecond, store.Holdings{Records: 5, OldestAge: 2 * time.Minute}, nil, "5", "120", 2},
		{"empty store", 2 * time.Second, store.Holdings{}, nil, "0", "0", 3},
		{"read fails: unknown", 2 * time.Second, store.Holdings{}, errors.New("disk gone"), "NaN", "NaN", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Advance(tc.advance)
			held, fail = tc.set, tc.err
			out := scrape()
			for _, want := range []string{"kiosk_records_held " + tc.held + "\n", "kiosk_oldest_record_age_seconds " + tc.age + "\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("metrics lack %q", strings.TrimSpace(want))
				}
			}
			if reads != tc.wantReads {
				t.Errorf("%d store reads; want %d (one per scrape at most once a second)", reads, tc.wantReads)
			}
		})
	}
}
