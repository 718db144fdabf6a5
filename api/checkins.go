package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"kiosk/checkin"
	"kiosk/models"
)

// CheckIns is what the integration routes need of the check-in flow;
// *checkin.Flow satisfies it. SubmitPhoto starts a check-in on the
// kiosk's camera against a reference photo held in memory and returns its
// number; Wait blocks until that check-in finishes or ctx ends.
type CheckIns interface {
	SubmitPhoto(photo []byte, name, document string, consent checkin.Consent) (uint64, error)
	Wait(ctx context.Context, n uint64) (checkin.Result, error)
}

// Snapshotter is the optional second interface of a CheckIns: with it,
// a 423 for a locked-out flow carries the exact Retry-After.
// *checkin.Flow satisfies it.
type Snapshotter interface {
	Snapshot() checkin.Snapshot
}

// DefaultMaxWait caps ?wait=.
const DefaultMaxWait = 60 * time.Second

// Body limits.
const (
	// MaxBodyBytes caps a request body: the largest photo plus room for
	// the multipart framing and the two short text fields.
	MaxBodyBytes = checkin.MaxPhotoBytes + 64<<10
	// MaxFieldBytes caps the name and document fields.
	MaxFieldBytes = 256
)

// ownersKept is how many started check-ins remember which token started
// them (the flow remembers 256 results).
const ownersKept = 512

// Response is the JSON body of a check-in: its number, whether it has
// finished, and if so the outcome (pass, fail, or refer: the face match
// was uncertain, or the pulse live but the anti-spoof model unsure, and a
// member of staff decides at the kiosk's console), the reason code
// (not_live, no_match, uncertain_match, uncertain_liveness, timeout,
// cancelled, error, …), the liveness verdict (live, refer, not_live,
// retry) and how long it took. It never holds pixels or templates, and
// holds names and document numbers only in Document, for the token that
// started the check-in and asked for them (?fields=document). Match is
// present only when Options.ExposeScores is set.
type Response struct {
	CheckIn    uint64     `json:"checkin"`
	Status     string     `json:"status"` // "pending" or "done"
	Outcome    string     `json:"outcome,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Liveness   string     `json:"liveness,omitempty"`
	Match      *MatchInfo `json:"match,omitempty"`
	DurationMS int64      `json:"duration_ms,omitempty"`
	// Document is what the identity document's machine-readable zone gave
	// (every check digit verified), only when the request asked for it
	// with ?fields=document: routes answer only the token that started
	// the check-in, so it is that integration's own visitor.
	Document *checkin.Document `json:"document,omitempty"`
}

// MatchInfo is the face comparison's score (cosine similarity of the
// embeddings), its decision (match, refer or no_match) and the two edges
// of the bands that gave it.
type MatchInfo struct {
	Score     float32        `json:"score"`
	Decision  models.Outcome `json:"decision"`
	Threshold float32        `json:"threshold"` // the pass edge
	FailEdge  float32        `json:"fail_edge"`
}

type checkInServer struct {
	o      Options
	ipLim  *limiter
	tokLim *limiter
	fails  *failures
	pseud  *pseudonym
	log    *slog.Logger

	mu     sync.Mutex
	owners map[uint64]string // check-in number → token name that started it
}

func newCheckInServer(o Options) *checkInServer {
	return &checkInServer{
		o:      o,
		ipLim:  newLimiter(o.Limits.PerIP, o.Limits.MaxClients),
		tokLim: newLimiter(o.Limits.PerToken, o.Limits.MaxClients),
		fails:  newFailures(o.Limits),
		pseud:  newPseudonym(),
		log:    o.Logger,
		owners: map[uint64]string{},
	}
}

// authedHandler is a route behind protect; token is the caller's token name.
type authedHandler func(w http.ResponseWriter, r *http.Request, token string)

// protect checks, in order: that tokens exist (503), that the client
// address is not locked out (429), its rate (429), the bearer token (401,
// counting a failure for the address), and the token's rate (429).
func (c *checkInServer) protect(next authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		set, err := tokensOf(c.o.Tokens)
		if err != nil {
			c.log.Error("api: the token file cannot be read; integration routes are off", "err", err.Error())
			writeError(w, http.StatusServiceUnavailable, "tokens_unavailable", "the API token file cannot be read; see the kiosk's log")
			return
		}
		if set.Len() == 0 {
			writeError(w, http.StatusServiceUnavailable, "no_tokens",
				"no API tokens are configured: create one on the kiosk with 'kiosk api-token add NAME' and send it as 'Authorization: Bearer TOKEN'")
			return
		}
		client := clientKey(r.RemoteAddr)
		now := c.o.Now()
		if locked, d := c.fails.locked(client, now); locked {
			w.Header().Set("Retry-After", retryAfter(d))
			writeError(w, http.StatusTooManyRequests, "auth_locked_out", "too many bad tokens from this address; try again later")
			return
		}
		if ok, d := c.ipLim.allow(client, now); !ok {
			w.Header().Set("Retry-After", retryAfter(d))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; slow down")
			return
		}
		tok, present := bearer(r)
		name, ok := set.Verify(tok)
		if !ok {
			if c.fails.fail(client, now) {
				c.log.Warn("api: client locked out after repeated bad tokens", "client", c.pseud.tag(client),
					"failures", c.o.Limits.MaxFailures, "cooldown_s", int(c.o.Limits.Cooldown.Seconds()))
			}
			if present {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kiosk", error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "the bearer token is not valid")
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kiosk"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send 'Authorization: Bearer TOKEN'")
			}
			return
		}
		if ok, d := c.tokLim.allow(name, now); !ok {
			w.Header().Set("Retry-After", retryAfter(d))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests with this token; slow down")
			return
		}
		next(w, r, name)
	}
}

func tokensOf(src TokenSource) (*TokenSet, error) {
	if src == nil {
		return &TokenSet{}, nil
	}
	return src.TokenSet()
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header and
// whether the header was there at all.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// photoTypes are the raw body types POST /v1/checkins takes.
var photoTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

const acceptPost = "image/jpeg, image/png, image/webp, multipart/form-data"

// post starts a check-in: POST /v1/checkins[?wait=DURATION].
func (c *checkInServer) post(w http.ResponseWriter, r *http.Request, token string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(photoTypes[mt] || mt == "multipart/form-data") {
		w.Header().Set("Accept-Post", acceptPost)
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the reference photo as image/jpeg, image/png or image/webp, or as multipart/form-data with a 'photo' file part")
		return
	}
	wait, err := c.parseWait(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	// Consent first: without it the photo is not even read.
	consent, err := c.parseConsent(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "consent_required", err.Error())
		return
	}
	if r.ContentLength > MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", tooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	var photo []byte
	var name, document string
	if mt == "multipart/form-data" {
		photo, name, document, err = readMultipart(r.Body, params["boundary"])
	} else {
		photo, err = readAllWiping(r.Body, checkin.MaxPhotoBytes, r.ContentLength)
	}
	if err != nil {
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb), errors.Is(err, errTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", tooLarge)
		default:
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		}
		return
	}
	n, err := c.o.CheckIns.SubmitPhoto(photo, name, document, consent)
	clear(photo)
	if err != nil {
		c.submitError(w, err)
		return
	}
	c.own(n, token)
	c.log.Info("api: check-in started", "checkin", n, "integration", token)
	w.Header().Set("Location", "/v1/checkins/"+strconv.FormatUint(n, 10))
	if wait == 0 {
		// Without ?wait the answer is always 202, however fast the flow.
		writeJSON(w, http.StatusAccepted, Response{CheckIn: n, Status: "pending"})
		return
	}
	c.answer(w, r, n, wait)
}

const tooLarge = "the request body is over the limit: send a photo of at most 16 MB"

// get reports a check-in: GET /v1/checkins/{n}[?wait=DURATION]. A token
// sees only the check-ins it started.
func (c *checkInServer) get(w http.ResponseWriter, r *http.Request, token string) {
	n, err := strconv.ParseUint(r.PathValue("n"), 10, 64)
	if err != nil || n == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "the check-in number is a positive integer")
		return
	}
	wait, err := c.parseWait(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if !c.owns(n, token) {
		writeError(w, http.StatusNotFound, "unknown_checkin", "no such check-in started with this token (or it is too old to be remembered)")
		return
	}
	c.answer(w, r, n, wait)
}

// answer waits up to wait for check-in n and writes 200 with the result,
// or 202 while it runs.
func (c *checkInServer) answer(w http.ResponseWriter, r *http.Request, n uint64, wait time.Duration) {
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	if wait > 0 {
		// The server's read and write time-outs are shorter than a
		// check-in; this response may take as long as the wait.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(wait + 10*time.Second))
		_ = rc.SetWriteDeadline(time.Now().Add(wait + 10*time.Second))
	}
	res, err := c.o.CheckIns.Wait(ctx, n)
	switch {
	case err == nil:
		out := c.response(res)
		if r.URL.Query().Get("fields") == "document" {
			out.Document = res.Document
		}
		writeJSON(w, http.StatusOK, out)
	case errors.Is(err, checkin.ErrUnknownCheckIn):
		writeError(w, http.StatusNotFound, "unknown_checkin", "no such check-in (or it is too old to be remembered)")
	case r.Context().Err() != nil:
		// The client left; nobody reads an answer.
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		w.Header().Set("Location", "/v1/checkins/"+strconv.FormatUint(n, 10))
		writeJSON(w, http.StatusAccepted, Response{CheckIn: n, Status: "pending"})
	default:
		c.log.Error("api: waiting for a check-in failed", "checkin", n, "err", err.Error())
		writeError(w, http.StatusInternalServerError, "internal", "the check-in result is unavailable")
	}
}

func (c *checkInServer) response(r checkin.Result) Response {
	out := Response{CheckIn: r.CheckIn, Status: "done", Outcome: r.Outcome.String(), Reason: string(r.Reason),
		Liveness: string(r.Liveness.Verdict), DurationMS: r.Duration.Milliseconds()}
	if c.o.ExposeScores && r.Match != nil {
		out.Match = &MatchInfo{Score: r.Match.Score, Decision: r.Match.Outcome, Threshold: r.Match.Threshold, FailEdge: r.Match.FailEdge}
	}
	return out
}

// submitError maps SubmitPhoto's errors to statuses.
func (c *checkInServer) submitError(w http.ResponseWriter, err error) {
	var unfit *models.ReferenceError
	switch {
	case errors.Is(err, checkin.ErrBadPhoto):
		// The wrapped message says what is wrong with the file, in words
		// the integrator can act on; it holds sizes and formats, no pixels.
		writeError(w, http.StatusUnprocessableEntity, "bad_photo", err.Error())
	case errors.Is(err, models.ErrNoFace):
		writeError(w, http.StatusUnprocessableEntity, "no_face", "no face was found in the reference photo")
	case errors.Is(err, models.ErrManyFaces):
		writeError(w, http.StatusUnprocessableEntity, "many_faces", "the reference photo shows more than one face; send a photo of one person")
	case errors.As(err, &unfit):
		// The gate's codes (face_too_small, blurry, turned_away, …) name
		// what to fix; docs/matching.md lists them.
		writeError(w, http.StatusUnprocessableEntity, "unfit_reference", "the reference photo is not fit to match against ("+unfitCodes(unfit)+"); send a sharp, well-lit, frontal photo of the whole face")
	case errors.Is(err, checkin.ErrNoConsent):
		writeError(w, http.StatusBadRequest, "consent_required", consentHelp)
	case errors.Is(err, checkin.ErrDocumentExpired):
		writeError(w, http.StatusUnprocessableEntity, "document_expired", "the identity document in the photo has expired (this kiosk refuses expired documents)")
	case errors.Is(err, checkin.ErrNoDocument):
		writeError(w, http.StatusUnprocessableEntity, "no_document", "no readable machine-readable zone in the photo, and this kiosk requires one: send a photo of the whole document page")
	case errors.Is(err, checkin.ErrWrongNotice):
		// The message names the notice this kiosk shows (a hash, public).
		writeError(w, http.StatusBadRequest, "wrong_notice", err.Error()+"; show the visitor the current notice (GET /api/notice) and send its version")
	case errors.Is(err, checkin.ErrBusy):
		writeError(w, http.StatusConflict, "busy", "a check-in is in progress on this kiosk; try again when it has finished")
	case errors.Is(err, checkin.ErrLockedOut):
		d := time.Minute
		if s, ok := c.o.CheckIns.(Snapshotter); ok {
			if snap := s.Snapshot(); snap.Stage == checkin.StageLockedOut {
				d = snap.Until.Sub(c.o.Now())
			}
		}
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusLocked, "locked_out", "check-in is paused after repeated failures; try again later")
	default:
		c.log.Error("api: starting a check-in failed", "err", err.Error())
		writeError(w, http.StatusInternalServerError, "internal", "the check-in could not start; see the kiosk's log")
	}
}

const consentHelp = "the visitor's consent is required: show them the kiosk's privacy notice (GET /api/notice) and send ?consent=VERSION (its notice_sha256) and &language=LANG, the language it was shown in"

// parseConsent reads ?consent=VERSION&language=LANG: the integration's
// word that the visitor agreed to the notice with that version (the
// SHA-256 GET /api/notice gives), shown in that language (default the
// first visitor language).
func (c *checkInServer) parseConsent(r *http.Request) (checkin.Consent, error) {
	q := r.URL.Query()
	v := strings.ToLower(q.Get("consent"))
	if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return checkin.Consent{}, errors.New(consentHelp)
	}
	l := checkin.Languages[0]
	if s := q.Get("language"); s != "" {
		var err error
		if l, err = checkin.ParseLang(s); err != nil {
			return checkin.Consent{}, err
		}
	}
	return checkin.Consent{Notice: v, At: c.o.Now().UTC(), Language: l, Via: checkin.ConsentViaAPI}, nil
}

// parseWait reads ?wait= as a Go duration ("60s") or whole seconds ("60"),
// capped at MaxWait.
func (c *checkInServer) parseWait(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s, err2 := strconv.ParseUint(v, 10, 32)
		if err2 != nil {
			return 0, errors.New("bad wait: want a duration such as 30s")
		}
		d = time.Duration(s) * time.Second
	}
	if d < 0 {
		return 0, errors.New("bad wait: it cannot be negative")
	}
	return min(d, c.o.MaxWait), nil
}

func (c *checkInServer) own(n uint64, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owners[n] = token
	if n > ownersKept {
		delete(c.owners, n-ownersKept)
	}
	if len(c.owners) > ownersKept { // numbers need not be dense
		for k := range c.owners {
			if k+ownersKept <= n {
				delete(c.owners, k)
			}
		}
	}
}

func (c *checkInServer) owns(n uint64, token string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	owner, ok := c.owners[n]
	return ok && owner == token
}

var errTooLarge = errors.New("too large")

// readAllWiping reads r into one buffer of at most limit bytes. It sizes
// the buffer from hint when known and zeroes each buffer it outgrows, so
// no stray copy of the photo stays in freed memory.
func readAllWiping(r io.Reader, limit int64, hint int64) ([]byte, error) {
	size := int64(64 << 10)
	if hint > 0 {
		size = min(hint+1, limit+1)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				clear(buf)
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(int64(2*cap(buf)), limit+1))
			copy(grown, buf)
			clear(buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			clear(buf)
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
	}
}

// readMultipart reads the form: a "photo" file part (required) and
// optional short "name" and "document" fields. It streams the parts into
// memory itself: Request.ParseMultipartForm would spill a large photo to a
// temporary file, and nothing plaintext may reach disk.
func readMultipart(body io.Reader, boundary string) (photo []byte, name, document string, err error) {
	if boundary == "" {
		return nil, "", "", errors.New("multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	fail := func(e error) ([]byte, string, string, error) {
		clear(photo)
		return nil, "", "", e
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return fail(err)
			}
			return fail(errors.New("malformed multipart body"))
		}
		switch p.FormName() {
		case "photo":
			if photo != nil {
				return fail(errors.New("more than one 'photo' part"))
			}
			photo, err = readAllWiping(p, checkin.MaxPhotoBytes, 0)
			if photo == nil && err == nil {
				photo = []byte{}
			}
		case "name", "document":
			var b []byte
			b, err = readAllWiping(p, MaxFieldBytes, 0)
			if errors.Is(err, errTooLarge) {
				return fail(errors.New("the '" + p.FormName() + "' field is over 256 bytes"))
			}
			if p.FormName() == "name" {
				name = string(b)
			} else {
				document = string(b)
			}
			clear(b)
		default:
			return fail(errors.New("unexpected form field: want 'photo', 'name' and 'document' only"))
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) || errors.Is(err, errTooLarge) {
				return fail(err)
			}
			return fail(errors.New("malformed multipart body"))
		}
	}
	if photo == nil {
		return fail(errors.New("the form has no 'photo' file part"))
	}
	return photo, name, document, nil
}

// unfitCodes lists a refused reference's problem codes.
func unfitCodes(e *models.ReferenceError) string {
	codes := make([]string, len(e.Check.Problems))
	for i, p := range e.Check.Problems {
		codes[i] = p.String()
	}
	return strings.Join(codes, ", ")
}
