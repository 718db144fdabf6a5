package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kiosk/build/monitoring"
	"kiosk/store"
)

// TestPrometheusAlertsOnStoppedPurge starts Debian's real Prometheus with
// the shipped alert rules against two real kiosks (kiosk serve, purging
// every 5 s), then stops one kiosk's purge the way it happens in the field:
// another process (a backup, a sqlite3 shell) holds the database's write
// lock, so purge runs can no longer be recorded. KioskPurgeOverdue must
// fire for that kiosk, and for no other. Its "for:" duration is set to 0
// in the copy loaded here (promtool's unit tests check it as shipped); the
// other rules keep theirs, so a slow scrape on a busy machine cannot fire
// KioskDown. Both targets are labelled env="demo", as their TPM is software.
func TestPrometheusAlertsOnStoppedPurge(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus; make setup does)")
	}
	dir := t.TempDir()
	start := func(name string) (base, dataDir string) {
		dataDir = filepath.Join(dir, name)
		return startServe(t, map[string]string{"KIOSK_DATA_DIR": dataDir, "KIOSK_TPM": "sim"}, "--purge-interval", "5s"), dataDir
	}
	a, _ := start("a")
	b, bData := start("b")

	// Stop b's purge: hold its database's write lock.
	db, err := sql.Open("sqlite3", filepath.Join(storeDir(bData), store.DBFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("taking b's write lock: %v", err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	rules := monitoring.Immediate(monitoring.AlertRules, "KioskPurgeOverdue")
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: kiosk
    static_configs:
      - targets: [%q]
        labels: {instance: a, env: demo}
      - targets: [%q]
        labels: {instance: b, env: demo}
`, filepath.Join(dir, "alerts.yml"), host(a), host(b))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr, "--log.level=warn")
	logs := &logWatch{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	defer func() { cancel(); cmd.Wait() }()

	type alert struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	}
	firing := func() []alert {
		resp, err := http.Get("http://" + addr + "/api/v1/alerts")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body struct {
			Data struct{ Alerts []alert } `json:"data"`
		}
		json.Unmarshal(raw, &body)
		var out []alert
		for _, al := range body.Data.Alerts {
			if al.State == "firing" {
				out = append(out, al)
			}
		}
		return out
	}
	var got []alert
	for end := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) { // polling an external process
		got = firing()
		fired := false
		for _, al := range got {
			fired = fired || (al.Labels["alertname"] == "KioskPurgeOverdue" && al.Labels["instance"] == "b")
		}
		if fired {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("KioskPurgeOverdue did not fire for b within 3 min; firing: %v\nprometheus:\n%s", got, logs.String())
		}
	}
	for _, al := range got {
		t.Logf("firing: %s on %s (%s)", al.Labels["alertname"], al.Labels["instance"], al.Labels["severity"])
		if al.Labels["instance"] != "b" || al.Labels["alertname"] != "KioskPurgeOverdue" {
			t.Errorf("%s fired for %s; only KioskPurgeOverdue for b should", al.Labels["alertname"], al.Labels["instance"])
		}
	}
}
