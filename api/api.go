// Package api is the kiosk's local HTTP interface: the public, signed
// retention report and Prometheus metrics of aggregate counters. Nothing it
// serves or logs is personal. Start with NewHandler.
package api

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the kiosk's aggregate counters. Each kiosk has its own
// registry, so tests and several servers in one process do not collide.
// Safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	PurgeRuns    prometheus.Counter
	PurgeErrors  prometheus.Counter
	PurgeDeleted prometheus.Counter
	RecordsHeld  prometheus.Gauge
	OldestAge    prometheus.Gauge
}

// NewMetrics registers the counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		PurgeRuns:    prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_runs_total", Help: "Purge runs appended to the chain."}),
		PurgeErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_errors_total", Help: "Failed steps in purge runs."}),
		PurgeDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_deleted_total", Help: "Expired rows deleted by purges."}),
		RecordsHeld:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_records_held", Help: "Sealed check-in records held."}),
		OldestAge:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_oldest_record_age_seconds", Help: "Age of the oldest record held."}),
	}
	m.reg.MustRegister(m.PurgeRuns, m.PurgeErrors, m.PurgeDeleted, m.RecordsHeld, m.OldestAge)
	return m
}

// Options configures NewHandler.
type Options struct {
	// Retention serves GET /api/retention (evidence.Handler).
	Retention http.Handler
	// Metrics serves GET /metrics; nil leaves the route out.
	Metrics *Metrics
}

// NewHandler routes the API. Unknown paths and wrong methods get a JSON
// error, so clients never have to parse HTML.
func NewHandler(o Options) http.Handler {
	mux := http.NewServeMux()
	if o.Retention != nil {
		mux.Handle("GET /api/retention", o.Retention)
	}
	if o.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			// ServeMux would answer in plain text; answer in JSON instead.
			code := http.StatusNotFound
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				probe := r.Clone(r.Context())
				probe.Method = m
				if _, p := mux.Handler(probe); p != "" && r.Method != m {
					code = http.StatusMethodNotAllowed
				}
			}
			writeJSON(w, code, map[string]string{"error": http.StatusText(code)})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
