package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install prometheus): skipping", name)
	}
	return p
}

// TestPromtoolCheckRules: the rules parse and their expressions are valid.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", "alerts.yml").CombinedOutput()
	t.Logf("promtool check rules alerts.yml:\n%s", out)
	if err != nil {
		t.Fatalf("promtool check rules = %v", err)
	}
}

// TestPromtoolTestRules: each alert fires for the broken kiosk of
// alerts_test.yml, at the time and with the text expected, and for no
// healthy one.
func TestPromtoolTestRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	out, err := exec.Command(promtool, "test", "rules", "alerts_test.yml").CombinedOutput()
	t.Logf("promtool test rules alerts_test.yml:\n%s", out)
	if err != nil {
		t.Fatalf("promtool test rules = %v", err)
	}
}

var metricName = regexp.MustCompile(`\b(kiosk_[a-z_]+)\b`)

// TestMetricNames: every kiosk_ metric the rules and the dashboard use is
// one the kiosk registers (api/metrics.go) or one listed as pending, and
// every alert is unit-tested.
func TestMetricNames(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "api", "metrics.go"))
	if err != nil {
		t.Fatalf("reading the kiosk's metrics: %v", err)
	}
	registered := map[string]bool{}
	for _, m := range regexp.MustCompile(`Name:\s*"(kiosk_[a-z_]+)"`).FindAllSubmatch(src, -1) {
		registered[string(m[1])] = true
	}
	if len(registered) < 5 {
		t.Fatalf("found only %d metric names in api/metrics.go", len(registered))
	}
	for p := range PendingMetrics {
		if registered[p] {
			t.Logf("%s is now registered by the kiosk: drop it from PendingMetrics", p)
		}
	}
	used := map[string]bool{}
	var exprs []string
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	exprs = append(exprs, string(AlertRules))
	for _, e := range exprs {
		for _, m := range metricName.FindAllStringSubmatch(e, -1) {
			used[m[1]] = true
		}
	}
	for m := range used {
		if !registered[m] && PendingMetrics[m] == "" {
			t.Errorf("%s is used by the rules or the dashboard but neither registered in api/metrics.go nor pending", m)
		}
	}
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(string(AlertRules), -1) {
		if !strings.Contains(string(tests), "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no case in alerts_test.yml", m[1])
		}
	}
}

// fakeKiosk serves /metrics in the text format, as a kiosk does, with the
// purge's last run at lastRun seconds before each scrape.
func fakeKiosk(t *testing.T, lastRun time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE kiosk_purge_runs_total counter\nkiosk_purge_runs_total 12\n")
		fmt.Fprintf(w, "# TYPE kiosk_purge_interval_seconds gauge\nkiosk_purge_interval_seconds 300\n")
		fmt.Fprintf(w, "# TYPE kiosk_retention_seconds gauge\nkiosk_retention_seconds 86400\n")
		fmt.Fprintf(w, "# TYPE kiosk_oldest_record_age_seconds gauge\nkiosk_oldest_record_age_seconds 600\n")
		fmt.Fprintf(w, "# TYPE kiosk_purge_last_run_timestamp_seconds gauge\nkiosk_purge_last_run_timestamp_seconds %d\n",
			time.Now().Add(-lastRun).Unix())
		fmt.Fprintf(w, "# TYPE kiosk_tpm_info gauge\nkiosk_tpm_info{kind=\"hardware\",secure=\"true\"} 1\n")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPrometheusFiresPurgeOverdue starts Debian's real Prometheus against
// two kiosks on loopback, "a" purging on time and "b" whose purge stopped
// an hour ago, with the shipped rules, and waits for KioskPurgeOverdue to
// fire for b alone. KioskPurgeOverdue's "for" duration is set to 0 in
// the copy it loads (promtool's unit test checks it); everything else is
// the file as shipped, so a slow scrape on a busy machine cannot fire
// KioskDown. The kiosks here are stand-ins serving the kiosk's metric
// names; the lead's end-to-end test does the same against kiosk serve.
func TestPrometheusFiresPurgeOverdue(t *testing.T) {
	prom := needTool(t, "prometheus")
	dir := t.TempDir()
	rules := Immediate(AlertRules, "KioskPurgeOverdue")
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := fakeKiosk(t, time.Minute), fakeKiosk(t, time.Hour)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: kiosk
    static_configs:
      - targets: [%q]
        labels: {instance: a}
      - targets: [%q]
        labels: {instance: b}
`, filepath.Join(dir, "alerts.yml"), a, b)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})

	type alert struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	}
	deadline := time.Now().Add(90 * time.Second)
	var firing []alert
	for {
		firing = firing[:0]
		resp, err := http.Get("http://" + addr + "/api/v1/alerts")
		if err == nil {
			var body struct {
				Data struct{ Alerts []alert } `json:"data"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if json.Unmarshal(raw, &body) == nil {
				for _, al := range body.Data.Alerts {
					if al.State == "firing" {
						firing = append(firing, al)
					}
				}
			}
		}
		if slices.ContainsFunc(firing, func(al alert) bool {
			return al.Labels["alertname"] == "KioskPurgeOverdue" && al.Labels["instance"] == "b"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("KioskPurgeOverdue did not fire for b within 90 s; firing: %v", firing)
		}
		time.Sleep(250 * time.Millisecond) // polling an external process, not pacing the test
	}
	for _, al := range firing {
		t.Logf("firing: %s on %s (%s)", al.Labels["alertname"], al.Labels["instance"], al.Labels["severity"])
		if al.Labels["instance"] == "a" {
			t.Errorf("%s fired for the healthy kiosk a", al.Labels["alertname"])
		}
		if al.Labels["alertname"] != "KioskPurgeOverdue" {
			t.Errorf("unexpected alert %s firing", al.Labels["alertname"])
		}
	}
}

// TestImmediate: only the named alert loses its wait; every other line of
// the shipped file is unchanged.
func TestImmediate(t *testing.T) {
	got := strings.Split(string(Immediate(AlertRules, "KioskPurgeOverdue")), "\n")
	want := strings.Split(string(AlertRules), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines; want %d", len(got), len(want))
	}
	var changed []string
	for i := range want {
		if got[i] != want[i] {
			changed = append(changed, fmt.Sprintf("%q -> %q", want[i], got[i]))
		}
	}
	if len(changed) != 1 || !strings.Contains(changed[0], `"        for: 1m" -> "        for: 0s"`) {
		t.Errorf("changed lines %v; want KioskPurgeOverdue's for: 1m alone set to 0s", changed)
	}
	if u := Immediate(AlertRules, "NoSuchAlert"); string(u) != string(AlertRules) {
		t.Error("an unknown alert changed the rules")
	}
}
