package api

import (
	"math"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"kiosk/checkin"
	"kiosk/store"
)

// Metrics are the kiosk's aggregate counters. Each kiosk has its own
// registry, so tests and several servers in one process do not collide.
// No series carries anything personal: labels are outcomes, reason codes,
// routes and status codes, each from a small fixed set. Safe for
// concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	PurgeRuns    prometheus.Counter
	PurgeErrors  prometheus.Counter
	PurgeDeleted prometheus.Counter
	RecordsHeld  prometheus.Gauge
	OldestAge    prometheus.Gauge
	// CheckIns counts finished check-ins by outcome (pass, fail) and
	// reason code (none, not_live, no_match, timeout, ...); fed by
	// ObserveCheckIn.
	CheckIns *prometheus.CounterVec
	// CameraFPS is the frame loop's recent rate; fed by ObserveCamera.
	CameraFPS prometheus.Gauge
	// Requests counts API requests by route pattern and status code.
	Requests *prometheus.CounterVec

	frames, dropped atomic.Uint64
}

// reasons are the reason codes the check-in counter knows; anything else
// is counted as "other", so a new code cannot grow the label set unbounded.
var reasons = []checkin.Reason{checkin.ReasonNotLive, checkin.ReasonNoMatch, checkin.ReasonTimeout,
	checkin.ReasonCancelled, checkin.ReasonError, checkin.ReasonNotEnroll}

// NewMetrics registers the counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		PurgeRuns:    prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_runs_total", Help: "Purge runs appended to the chain."}),
		PurgeErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_errors_total", Help: "Failed steps in purge runs."}),
		PurgeDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_deleted_total", Help: "Expired rows deleted by purges."}),
		RecordsHeld:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_records_held", Help: "Sealed check-in records held."}),
		OldestAge:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_oldest_record_age_seconds", Help: "Age of the oldest record held."}),
		CheckIns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_checkins_total",
			Help: "Finished check-ins by outcome (pass, fail) and reason code."}, []string{"outcome", "reason"}),
		CameraFPS: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_camera_fps", Help: "Frames per second the check-in loop processes."}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_api_requests_total",
			Help: "API requests by route pattern and HTTP status code."}, []string{"route", "code"}),
	}
	frames := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiosk_camera_frames_total", Help: "Frames the check-in loop processed."},
		func() float64 { return float64(m.frames.Load()) })
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiosk_camera_frames_dropped_total", Help: "Frames dropped because the loop was busy."},
		func() float64 { return float64(m.dropped.Load()) })
	m.reg.MustRegister(m.PurgeRuns, m.PurgeErrors, m.PurgeDeleted, m.RecordsHeld, m.OldestAge, m.CheckIns, m.CameraFPS, m.Requests, frames, dropped)
	// Start every known series at zero, so rate() sees the first check-in.
	m.CheckIns.WithLabelValues(checkin.OutcomePass.String(), "none")
	for _, r := range reasons {
		m.CheckIns.WithLabelValues(checkin.OutcomeFail.String(), string(r))
	}
	return m
}

// ObserveCheckIn counts one finished check-in. It reads only the outcome
// and the reason code. Hook it to checkin.Options.OnResult:
//
//	checkin.Options{OnResult: metrics.ObserveCheckIn}
func (m *Metrics) ObserveCheckIn(r checkin.Result) {
	reason := "none"
	if r.Reason != checkin.ReasonNone {
		reason = "other"
		for _, k := range reasons {
			if r.Reason == k {
				reason = string(k)
			}
		}
	}
	outcome := r.Outcome.String()
	m.CheckIns.WithLabelValues(outcome, reason).Inc()
}

// ObservePurge records one purge run (store.Options.OnPurge).
func (m *Metrics) ObservePurge(r store.PurgeRun, _ error) {
	m.PurgeRuns.Inc()
	m.PurgeErrors.Add(float64(r.Errors))
	m.PurgeDeleted.Add(float64(r.Deleted))
	m.RecordsHeld.Set(float64(r.RecordsHeld))
	m.OldestAge.Set(r.OldestAge.Seconds())
}

// ObserveCamera records the frame loop's stats (checkin.Loop.Stats): the
// rate as a gauge, the cumulative frame and drop counts as counters. Call
// it as often as convenient (every frame is fine: it only stores numbers).
func (m *Metrics) ObserveCamera(s checkin.CameraStats) {
	if !math.IsNaN(s.FPS) && !math.IsInf(s.FPS, 0) {
		m.CameraFPS.Set(s.FPS)
	}
	m.frames.Store(s.Frames)
	m.dropped.Store(s.Dropped)
}

func (m *Metrics) observeRequest(route string, code int) {
	m.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}
