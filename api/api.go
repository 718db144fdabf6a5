// Package api is the kiosk's local HTTP interface:
//
//   - GET /api/retention: the public, TPM-signed retention report
//     (evidence.Handler; no authentication, nothing personal, the
//     signature cached per purge-chain state);
//   - GET /metrics: Prometheus exposition of aggregate counters only
//     (Metrics; hook Metrics.ObserveCheckIn to checkin.Options.OnResult);
//   - GET /healthz;
//   - GET /api/attestation and POST /api/attestation/activate: the TPM's
//     proof that the evidence signing key lives in it, and credential
//     activation for a verifier's one-time check of the attestation key
//     (a TPM command per request, rate-limited per address, as is
//     /api/retention?nonce=);
//   - GET /api/notice and GET /privacy: the privacy notice visitors agree
//     to, as JSON for integrations and as a page for a visitor's phone
//     (the consent screen's QR code), with the kiosk's retention stated;
//   - POST /v1/checkins and GET /v1/checkins/{n}: the integration endpoint.
//     An integration uploads a reference photo and the kiosk runs a
//     check-in of the person in front of its camera against it, then
//     reports pass or fail with a reason code (see CheckIns, Response).
//
// The integration routes take a bearer token (TokenSet: random 256-bit
// tokens of which only the SHA-256 is stored, in the data directory's
// api-tokens file, compared in constant time), and are protected by a body
// size cap, a content-type check, token buckets per token and per client
// address, and a lock-out of addresses that present bad tokens (Limits).
// Every error is a JSON object {"error": message, "code": code}. Nothing
// personal is logged: client addresses appear only as a per-process
// pseudonym, and photos, names and document numbers never.
//
// Start with NewHandler.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/evidence"
	"kiosk/internal/safelog"
)

// Options configures NewHandler. The zero value serves /healthz only.
type Options struct {
	// Retention serves GET /api/retention (evidence.Handler).
	Retention http.Handler
	// Metrics serves GET /metrics and counts requests; nil leaves the
	// route out.
	Metrics *Metrics
	// CheckIns runs check-ins for POST /v1/checkins (*checkin.Flow); nil
	// leaves the integration routes out.
	CheckIns CheckIns
	// Tokens are the bearer tokens the integration routes accept
	// (NewTokenFile of the data directory's api-tokens). Nil or empty:
	// the routes answer 503 and say how to create a token.
	Tokens TokenSource
	// Limits are the rate limits and lock-out (defaults if zero).
	Limits Limits
	// MaxWait caps ?wait= (DefaultMaxWait if 0).
	MaxWait time.Duration
	// ExposeScores adds the match score and threshold to check-in
	// results. Off by default: a score lets a token holder hill-climb a
	// presentation attack, and pass/fail with a reason code is what an
	// integration acts on.
	ExposeScores bool
	// Attestation serves GET /api/attestation: the bundle tying the
	// evidence signing key to this TPM (tpmkeys.Custody.Attestation); nil
	// leaves it out. Wrap ErrNoAttestation when the TPM cannot attest.
	Attestation func() (any, error)
	// Activate serves POST /api/attestation/activate: credential
	// activation for a verifier that checks the AK once
	// (tpmkeys.Custody.ActivateCredential); wrap ErrActivationRejected
	// when the TPM refuses the credential.
	Activate func(evidence.ActivationChallenge) (evidence.ActivationResponse, error)
	// Notice serves GET /api/notice and GET /privacy; nil leaves them out.
	Notice *checkin.Notice
	// NoticeRetention is the retention the notice states (0: nothing is
	// kept); required with Notice.
	NoticeRetention func() time.Duration
	// Catalogue words the notice pages (catalogue.New() if nil).
	Catalogue *catalogue.Catalogue
	// Now is the clock of the rate limits and the lock-out (time.Now).
	Now func() time.Time
	// Logger gets operational events; nothing personal (safelog.Discard
	// if nil).
	Logger *slog.Logger
}

// NewHandler routes the API. Unknown paths and wrong methods get a JSON
// error, so clients never have to parse HTML. The handler is safe for
// concurrent use; it owns no resource and has no Close.
func NewHandler(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = safelog.Discard()
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	o.Limits.defaults()
	mux := http.NewServeMux()
	tpmLimit := &addressLimit{lim: newLimiter(o.Limits.PerIP, o.Limits.MaxClients), now: o.Now}
	if o.Retention != nil {
		mux.Handle("GET /api/retention", tpmLimit.limitNonce(o.Retention))
	}
	if o.Attestation != nil {
		a := &attestation{bundle: o.Attestation, activate: o.Activate, limits: tpmLimit, log: o.Logger}
		mux.HandleFunc("GET /api/attestation", a.get)
		if o.Activate != nil {
			mux.HandleFunc("POST /api/attestation/activate", a.post)
		}
	}
	if o.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if o.Notice != nil && o.NoticeRetention != nil {
		if o.Catalogue == nil {
			o.Catalogue = catalogue.New()
		}
		n := &notices{notice: o.Notice, retention: o.NoticeRetention, cat: o.Catalogue}
		mux.HandleFunc("GET /api/notice", n.json)
		mux.HandleFunc("GET /privacy", n.page)
	}
	if o.CheckIns != nil {
		c := newCheckInServer(o)
		mux.HandleFunc("POST /v1/checkins", c.protect(c.post))
		mux.HandleFunc("GET /v1/checkins/{n}", c.protect(c.get))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if o.Metrics != nil {
			rec := &statusRecorder{ResponseWriter: w}
			w = rec
			defer func() { o.Metrics.observeRequest(routeLabel(pattern), rec.status()) }()
		}
		if pattern == "" {
			notFound(w, r, mux)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// notFound answers an unrouted request in JSON (ServeMux would answer in
// plain text): 405 with Allow when the path exists for another method,
// else 404.
func notFound(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; use "+strings.Join(allow, " or "))
		return
	}
	writeError(w, http.StatusNotFound, "not_found", http.StatusText(http.StatusNotFound))
}

// routeLabel is a mux pattern without its method: a small fixed set.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// statusRecorder remembers the status code for the request counter. It
// unwraps for http.ResponseController (deadlines, flushing).
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError writes the JSON error body every route uses: a sentence for
// people and a stable code for programs.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}
