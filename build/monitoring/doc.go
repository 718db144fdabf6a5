// Package monitoring holds the assets that watch a fleet of kiosks with
// tools that already exist: Prometheus alert rules (alerts.yml, unit-tested
// by alerts_test.yml with promtool) and a Grafana dashboard
// (dashboard.json), over the aggregate metrics each kiosk serves at
// /metrics. The Go package only embeds them, so a test or a tool can write
// them out, and tests them: promtool check and test, the metric names
// against what the kiosk registers, and a real Prometheus scraping two
// kiosks and firing an alert. See README.md.
package monitoring

import _ "embed"

// AlertRules is alerts.yml.
//
//go:embed alerts.yml
var AlertRules []byte

// Dashboard is dashboard.json (Grafana, with a ${DS_PROMETHEUS} input).
//
//go:embed dashboard.json
var Dashboard []byte

// PendingMetrics are metrics the rules and the dashboard use that the
// kiosk does not export yet (api/metrics.go), with what each must hold.
// Until they exist, the alerts that need them stay silent.
var PendingMetrics = map[string]string{
	"kiosk_tpm_info":                         `gauge, 1, labels kind="hardware"|"swtpm"|"simulator" and secure="true"|"false" (tpmkeys.Kind, Kind.Secure)`,
	"kiosk_retention_seconds":                "gauge, the retention policy in seconds (0 in ephemeral mode)",
	"kiosk_purge_interval_seconds":           "gauge, the purge timer's period in seconds",
	"kiosk_purge_last_run_timestamp_seconds": "gauge, Unix time the latest purge run finished (with or without errors); set at start-up from the chain's latest run",
	"kiosk_camera_running":                   "gauge, 1 while kiosk run's camera loop is meant to deliver frames, 0 (or absent) for kiosk serve",
}
