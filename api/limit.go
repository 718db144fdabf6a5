package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Limits configures the protections of the integration routes. The zero
// value takes the defaults named beside each field.
type Limits struct {
	// PerIP and PerToken are token buckets: Rate requests per second on
	// average with bursts of Burst. Defaults: per client address 2/s,
	// burst 20; per token 2/s, burst 20. A check-in takes seconds, so
	// these leave room for polling while stopping floods.
	PerIP, PerToken Rate
	// MaxFailures bad tokens from one client address within FailureWindow
	// lock that address out for Cooldown (5 in 3 min → 2 min, as the
	// check-in flow does for failed check-ins).
	MaxFailures   int
	FailureWindow time.Duration
	Cooldown      time.Duration
	// MaxClients bounds each per-address and per-token table (4096). Idle
	// entries (a full bucket, no recent failure) are dropped first; when
	// every entry is active the least recently seen one goes.
	MaxClients int
}

// Rate is a token bucket's refill rate (per second) and size.
type Rate struct {
	PerSecond float64
	Burst     int
}

func (l *Limits) defaults() {
	def := func(r *Rate, v Rate) {
		if r.PerSecond <= 0 || r.Burst <= 0 {
			*r = v
		}
	}
	def(&l.PerIP, Rate{PerSecond: 2, Burst: 20})
	def(&l.PerToken, Rate{PerSecond: 2, Burst: 20})
	if l.MaxFailures <= 0 {
		l.MaxFailures = 5
	}
	if l.FailureWindow <= 0 {
		l.FailureWindow = 3 * time.Minute
	}
	if l.Cooldown <= 0 {
		l.Cooldown = 2 * time.Minute
	}
	if l.MaxClients <= 0 {
		l.MaxClients = 4096
	}
}

// sweepEvery is how often the tables drop idle entries even when not full.
const sweepEvery = time.Minute

// bucket is one key's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a set of token buckets by key, bounded to max entries. Safe
// for concurrent use. Time comes from the caller.
type limiter struct {
	rate  Rate
	max   int
	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

func newLimiter(r Rate, max int) *limiter {
	return &limiter{rate: r, max: max, m: map[string]*bucket{}}
}

// fill is how long an empty bucket takes to fill: an entry idle this long
// is the same as a new one, so dropping it loses nothing.
func (l *limiter) fill() time.Duration {
	return time.Duration(float64(l.rate.Burst) / l.rate.PerSecond * float64(time.Second))
}

// allow takes one token for key at now. If none is left it returns false
// and how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.m[key] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+el.Seconds()*l.rate.PerSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second))
	return false, wait
}

// makeRoom makes room for a new key. Callers hold mu.
func (l *limiter) makeRoom(now time.Time) {
	fill := l.fill()
	evict(l.m, l.max, &l.swept, now, func(b *bucket) bool { return now.Sub(b.last) >= fill }, func(b *bucket) time.Time { return b.last })
}

// evict bounds a per-client table: every sweepEvery, or when the table is
// full, it drops the idle entries; if it is still full, it drops the least
// recently used one.
func evict[V any](m map[string]V, max int, swept *time.Time, now time.Time, idle func(V) bool, last func(V) time.Time) {
	if len(m) < max && now.Sub(*swept) < sweepEvery {
		return
	}
	*swept = now
	var oldest string
	var oldestAt time.Time
	for k, v := range m {
		if idle(v) {
			delete(m, k)
			continue
		}
		if at := last(v); oldest == "" || at.Before(oldestAt) {
			oldest, oldestAt = k, at
		}
	}
	if len(m) >= max {
		delete(m, oldest)
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// failures tracks bad-token attempts per client address and locks an
// address out after too many, bounded like limiter. Safe for concurrent use.
type failures struct {
	max    int
	limit  int
	window time.Duration
	cool   time.Duration
	mu     sync.Mutex
	m      map[string]*failRecord
	swept  time.Time
}

type failRecord struct {
	times []time.Time // failures within the window, oldest first
	until time.Time   // locked out until
	last  time.Time
}

func newFailures(l Limits) *failures {
	return &failures{max: l.MaxClients, limit: l.MaxFailures, window: l.FailureWindow, cool: l.Cooldown, m: map[string]*failRecord{}}
}

// locked reports whether key is locked out at now and for how long.
func (f *failures) locked(key string, now time.Time) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.m[key]
	if r == nil || !now.Before(r.until) {
		return false, 0
	}
	return true, r.until.Sub(now)
}

// fail counts one failure for key; it reports whether key is now locked.
func (f *failures) fail(key string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.m[key]
	if r == nil {
		f.makeRoom(now)
		r = &failRecord{}
		f.m[key] = r
	}
	r.last = now
	r.prune(now, f.window)
	r.times = append(r.times, now)
	if len(r.times) >= f.limit {
		r.times = r.times[:0]
		r.until = now.Add(f.cool)
		return true
	}
	return false
}

func (r *failRecord) prune(now time.Time, window time.Duration) {
	cut := 0
	for cut < len(r.times) && now.Sub(r.times[cut]) >= window {
		cut++
	}
	r.times = r.times[cut:]
}

// idle reports whether the record holds nothing: no failure in the
// window and no lock-out.
func (r *failRecord) idle(now time.Time, window time.Duration) bool {
	r.prune(now, window)
	return len(r.times) == 0 && !now.Before(r.until)
}

// makeRoom makes room for a new key. Callers hold mu.
func (f *failures) makeRoom(now time.Time) {
	evict(f.m, f.max, &f.swept, now, func(r *failRecord) bool { return r.idle(now, f.window) }, func(r *failRecord) time.Time { return r.last })
}

func (f *failures) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// clientKey is the rate-limit key of a request's peer: its IP address,
// with IPv6 grouped by /64 (one host usually holds a whole /64). The
// server is reached directly, so X-Forwarded-For is not trusted.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// pseudonym turns a client key into a short tag for logs: the same client
// gets the same tag while the process runs, and the tag does not reveal
// the address.
type pseudonym struct{ key [32]byte }

func newPseudonym() *pseudonym {
	p := &pseudonym{}
	rand.Read(p.key[:])
	return p
}

func (p *pseudonym) tag(s string) string {
	m := hmac.New(sha256.New, p.key[:])
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// retryAfter is the Retry-After header value for d: whole seconds,
// rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
