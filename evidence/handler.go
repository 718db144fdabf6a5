package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"kiosk/internal/safelog"
)

// DefaultMaxCacheAge is how long NewHandler reuses one signature while the
// chain and counts stay the same.
const DefaultMaxCacheAge = time.Minute

// HandlerOptions configures NewHandler. The zero value works.
type HandlerOptions struct {
	// Now is the clock that ages the cached signature.
	Now func() time.Time
	// Logger gets build and signing failures.
	Logger *slog.Logger
	// MaxCacheAge bounds how long a signed report is served before it is
	// re-signed even if nothing changed (0 means DefaultMaxCacheAge), so
	// a served report is never older than this. Keep it below the
	// verifiers' freshness bound (DefaultMaxAge).
	MaxCacheAge time.Duration
	// Quote, when set, makes GET /api/retention?nonce=HEX attach a TPM
	// quote to the cached signed report: it is called with the verifier's
	// nonce and QuoteQualifyingData(nonce, report payload), and returns the
	// quote to embed as "quote" (what tpmkeys.(*Custody).Quote returns).
	// The body of a nonce request is always that JSON envelope, whatever
	// the Accept header: a bare JWS has no room for the quote.
	// Each such request costs one TPM quote: rate-limit the route. Without
	// a nonce the report is served from the cache as before; with a nonce
	// and no Quote func, it is served without a quote (the verifier then
	// reports that the kiosk did not quote).
	Quote func(ctx context.Context, nonce, qualifyingData []byte) (any, error)
}

// Handler serves the signed retention report. It caches the signature per
// state of the purge chain: it signs again only when a purge run was added,
// the policy or the number of records held changed, or the cached report is
// older than MaxCacheAge. A TPM signature costs about 200 ms on a real chip,
// so a flood of requests costs one signature per change or per MaxCacheAge.
//
// It is safe for concurrent use; concurrent requests that need a new
// signature wait for one signing. It owns no resource and has no Close.
type Handler struct {
	b        *Builder
	snapshot func(context.Context) (Snapshot, error)
	opts     HandlerOptions

	mu       sync.Mutex
	cached   *Signed
	body     []byte // cached's JSON envelope
	key      cacheKey
	signedAt time.Time
	signs    int64
}

// cacheKey is everything in a Snapshot but the oldest record's age, which
// grows continuously and is read as "at the report's server time".
type cacheKey struct {
	policy      Policy
	runs        int64
	head        Hash
	recordsHeld int64
	latest      PurgeRun
}

// NewHandler returns the handler for GET /api/retention. snapshot reads the
// kiosk's current retention state (cheap: a few counts, no signing); b signs.
// The response needs no authentication and holds no personal data: a Report
// has no field that could carry any.
//
// GET and HEAD only. The body is the JSON envelope {"jws": ..., "report": ...}
// (application/json), or the bare compact JWS (application/jose) when the
// request's Accept asks for application/jose. Errors are JSON {"error": ...}.
func NewHandler(b *Builder, snapshot func(context.Context) (Snapshot, error), opts HandlerOptions) *Handler {
	if b == nil || snapshot == nil {
		panic("evidence: NewHandler needs a Builder and a snapshot func")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = safelog.Discard()
	}
	if opts.MaxCacheAge <= 0 {
		opts.MaxCacheAge = DefaultMaxCacheAge
	}
	return &Handler{b: b, snapshot: snapshot, opts: opts}
}

// Signatures returns how many reports the handler has signed.
func (h *Handler) Signatures() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.signs
}

// Current returns the signed report the handler serves now, signing a new
// one if the state changed or the cached one is too old.
func (h *Handler) Current(ctx context.Context) (*Signed, error) {
	signed, _, err := h.current(ctx)
	return signed, err
}

func (h *Handler) current(ctx context.Context) (*Signed, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, err := h.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	k := cacheKey{policy: s.Policy, runs: s.Chain.Runs, head: s.Chain.Head, recordsHeld: s.RecordsHeld}
	if s.LatestRun != nil {
		k.latest = *s.LatestRun
	}
	now := h.opts.Now()
	if h.cached != nil && k == h.key && now.Sub(h.signedAt) < h.opts.MaxCacheAge && !now.Before(h.signedAt) {
		return h.cached, h.body, nil
	}
	signed, err := h.b.Build(s)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(signed)
	if err != nil {
		return nil, nil, err
	}
	h.cached, h.body, h.key, h.signedAt = signed, append(body, '\n'), k, now
	h.signs++
	return signed, h.body, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed; use GET")
		return
	}
	var nonce []byte
	if r.URL.Query().Has("nonce") {
		n, err := ParseNonce(r.URL.Query().Get("nonce"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("nonce must be %d to %d hex digits", 2*MinNonce, 2*MaxNonce))
			return
		}
		nonce = n
	}
	signed, body, err := h.current(r.Context())
	if err != nil {
		h.opts.Logger.Error("evidence: cannot serve the retention report", "err", err)
		writeError(w, http.StatusServiceUnavailable, "retention evidence is unavailable")
		return
	}
	if nonce != nil && h.opts.Quote != nil {
		q, err := h.opts.Quote(r.Context(), nonce, QuoteQualifyingData(nonce, signed.Payload))
		var raw []byte
		if err == nil {
			raw, err = json.Marshal(q)
		}
		if err != nil {
			h.opts.Logger.Error("evidence: cannot quote the boot state", "err", err)
			writeError(w, http.StatusServiceUnavailable, "the TPM quote is unavailable")
			return
		}
		out, err := json.Marshal(QuotedEnvelope{JWS: signed.JWS, Report: signed.Payload, Quote: raw})
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encoding the quoted report failed")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(out, '\n'))
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/jose") {
		w.Header().Set("Content-Type", "application/jose")
		_, _ = w.Write([]byte(signed.JWS))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
