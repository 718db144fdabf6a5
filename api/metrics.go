package api

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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
	// CheckIns counts finished check-ins by outcome (pass, fail, refer) and
	// reason code (none, not_live, no_match, timeout, ...); fed by
	// ObserveCheckIn.
	CheckIns *prometheus.CounterVec
	// CameraFPS is the frame loop's recent rate; fed by ObserveCamera.
	CameraFPS prometheus.Gauge
	// Requests counts API requests by route pattern and status code.
	Requests *prometheus.CounterVec
	// Declined counts visitors who said no to the privacy notice; fed
	// by ObserveDecline.
	Declined prometheus.Counter
	// The state the fleet's alert rules compare against (build/monitoring):
	// the TPM's kind, the policy, when the last purge finished, and
	// whether the camera loop is meant to run.
	tpmInfo       *prometheus.GaugeVec
	retention     prometheus.Gauge
	purgeInterval prometheus.Gauge
	lastPurge     prometheus.Gauge
	cameraRunning prometheus.Gauge

	frames, dropped atomic.Uint64
	holdings        holdingsCache
}

// HoldingsFunc reads what the store holds now; (*store.Store).Holdings is
// the real one.
type HoldingsFunc func(context.Context) (store.Holdings, error)

// holdingsCache reads the store's holdings once per scrape at most: both
// gauges come from one query, and a burst of scrapes within a second
// shares it.
type holdingsCache struct {
	mu   sync.Mutex
	read HoldingsFunc
	now  func() time.Time
	at   time.Time
	last store.Holdings
	err  error
}

// holdingsMaxAge is how stale a scrape's holdings may be.
const holdingsMaxAge = time.Second

func (c *holdingsCache) get() (store.Holdings, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read == nil {
		return store.Holdings{}, errNoHoldings
	}
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < holdingsMaxAge && now.Sub(c.at) >= 0 {
		return c.last, c.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.last, c.err = c.read(ctx)
	c.at = now
	return c.last, c.err
}

var errNoHoldings = errors.New("no store to read holdings from")

// WatchHoldings makes kiosk_records_held and kiosk_oldest_record_age_seconds
// read the store's live state when scraped (cached for at most a second),
// so they agree with the signed retention report at any moment, not only
// after a purge. Until it is called, and when the read fails, both gauges
// are NaN: unknown, never a reassuring 0. now is the clock of the cache
// (time.Now if nil).
func (m *Metrics) WatchHoldings(read HoldingsFunc, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.holdings.mu.Lock()
	defer m.holdings.mu.Unlock()
	m.holdings.read, m.holdings.now, m.holdings.at = read, now, time.Time{}
}

// reasons are the reason codes the check-in counter knows; anything else
// is counted as "other", so a new code cannot grow the label set unbounded.
var reasons = []checkin.Reason{checkin.ReasonNotLive, checkin.ReasonNoMatch, checkin.ReasonTimeout,
	checkin.ReasonCancelled, checkin.ReasonError, checkin.ReasonNotEnroll, checkin.ReasonUncertain,
	checkin.ReasonUncertainLive, checkin.ReasonExpired, checkin.ReasonNoDocument}

// NewMetrics registers the counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		PurgeRuns:    prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_runs_total", Help: "Purge runs appended to the chain."}),
		PurgeErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_errors_total", Help: "Failed steps in purge runs."}),
		PurgeDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_purge_deleted_total", Help: "Expired rows deleted by purges."}),
		CheckIns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_checkins_total",
			Help: "Finished check-ins by outcome (pass, fail, refer: sent to staff) and reason code."}, []string{"outcome", "reason"}),
		CameraFPS: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_camera_fps", Help: "Frames per second the check-in loop processes."}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_api_requests_total",
			Help: "API requests by route pattern and HTTP status code."}, []string{"route", "code"}),
		Declined: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_consent_declined_total",
			Help: "Visitors who declined the privacy notice (nothing else about them is kept)."}),
		tpmInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kiosk_tpm_info",
			Help: "1, labelled with the TPM holding the kiosk's keys: kind (hardware, swtpm, simulator) and secure (true only for hardware)."}, []string{"kind", "secure"}),
		retention:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_retention_seconds", Help: "The retention policy (0 in ephemeral mode)."}),
		purgeInterval: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_purge_interval_seconds", Help: "The purge timer's period."}),
		lastPurge:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_purge_last_run_timestamp_seconds", Help: "Unix time the latest purge run finished."}),
		cameraRunning: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kiosk_camera_running", Help: "1 while the camera loop is meant to deliver frames."}),
	}
	frames := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiosk_camera_frames_total", Help: "Frames the check-in loop processed."},
		func() float64 { return float64(m.frames.Load()) })
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiosk_camera_frames_dropped_total", Help: "Frames dropped because the loop was busy."},
		func() float64 { return float64(m.dropped.Load()) })
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kiosk_records_held", Help: "Sealed check-in records held now (NaN when unknown)."},
		func() float64 {
			h, err := m.holdings.get()
			if err != nil {
				return math.NaN()
			}
			return float64(h.Records)
		})
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kiosk_oldest_record_age_seconds", Help: "Age of the oldest record held now; 0 when none (NaN when unknown)."},
		func() float64 {
			h, err := m.holdings.get()
			if err != nil {
				return math.NaN()
			}
			return h.OldestAge.Seconds()
		})
	m.reg.MustRegister(m.PurgeRuns, m.PurgeErrors, m.PurgeDeleted, held, oldest, m.CheckIns, m.CameraFPS, m.Requests, m.Declined, frames, dropped,
		m.tpmInfo, m.retention, m.purgeInterval, m.lastPurge, m.cameraRunning)
	// Start every known series at zero, so rate() sees the first check-in.
	m.CheckIns.WithLabelValues(checkin.OutcomePass.String(), "none")
	for _, r := range reasons {
		o := checkin.OutcomeFail
		if r == checkin.ReasonUncertain || r == checkin.ReasonUncertainLive {
			o = checkin.OutcomeRefer
		}
		m.CheckIns.WithLabelValues(o.String(), string(r))
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

// SetTPM labels kiosk_tpm_info with the TPM holding the keys.
func (m *Metrics) SetTPM(kind string, secure bool) {
	m.tpmInfo.Reset()
	m.tpmInfo.WithLabelValues(kind, strconv.FormatBool(secure)).Set(1)
}

// SetPolicy sets the retention and purge-interval gauges.
func (m *Metrics) SetPolicy(retention, purgeInterval time.Duration) {
	m.retention.Set(retention.Seconds())
	m.purgeInterval.Set(purgeInterval.Seconds())
}

// SetLastPurge sets when the latest purge run finished: at start from the
// chain's latest run, then by ObservePurge.
func (m *Metrics) SetLastPurge(t time.Time) {
	if !t.IsZero() {
		m.lastPurge.Set(float64(t.UnixNano()) / 1e9)
	}
}

// SetCameraRunning says whether the camera loop is meant to deliver
// frames, so a camera that never delivers one is noticed too.
func (m *Metrics) SetCameraRunning(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.cameraRunning.Set(v)
}

// ObserveDecline counts a declined notice (checkin.Options.OnDecline).
func (m *Metrics) ObserveDecline() { m.Declined.Inc() }

// ObservePurge records one purge run (store.Options.OnPurge). A run the
// store could not record in its chain (err set: the database refused the
// write) counts as an error only: it is not a finished purge, so the
// last-run time stays where it was and KioskPurgeOverdue can fire.
func (m *Metrics) ObservePurge(r store.PurgeRun, err error) {
	if err != nil {
		m.PurgeErrors.Add(float64(max(r.Errors, 1)))
		return
	}
	m.PurgeRuns.Inc()
	m.PurgeErrors.Add(float64(r.Errors))
	m.PurgeDeleted.Add(float64(r.Deleted))
	m.SetLastPurge(r.Finished)
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
