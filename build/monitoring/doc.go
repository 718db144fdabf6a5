// Package monitoring holds the assets that watch a fleet of kiosks with
// tools that already exist: Prometheus alert rules (alerts.yml, unit-tested
// by alerts_test.yml with promtool) and a Grafana dashboard
// (dashboard.json), over the aggregate metrics each kiosk serves at
// /metrics. The Go package only embeds them, so a test or a tool can write
// them out, and tests them: promtool check and test, the metric names
// against what the kiosk registers, and a real Prometheus scraping two
// kiosks and firing an alert. See README.md.
package monitoring

import (
	_ "embed"
	"strings"
)

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

// Immediate returns rules with the named alert's "for:" duration set to
// 0s and every other rule as shipped. An end-to-end test loads it so the
// alert under test fires at its first evaluation, while the others keep
// their waits: with every wait at 0, one slow scrape on a loaded machine
// fired KioskDown.
func Immediate(rules []byte, alert string) []byte {
	lines := strings.SplitAfter(string(rules), "\n")
	current := ""
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if name, ok := strings.CutPrefix(trimmed, "- alert:"); ok {
			current = strings.TrimSpace(name)
			continue
		}
		if current == alert && strings.HasPrefix(trimmed, "for:") {
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			lines[i] = indent + "for: 0s\n"
		}
	}
	return []byte(strings.Join(lines, ""))
}
