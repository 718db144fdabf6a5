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
var PendingMetrics = map[string]string{}
