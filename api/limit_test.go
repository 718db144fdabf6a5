package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestRateLimits steps a fake clock through the token buckets: per token
// and per client address, each answered with 429 and Retry-After, and
// refilled by time alone.
func TestRateLimits(t *testing.T) {
	clock := newClock()
	tokens := &TokenSet{}
	a, _ := tokens.Add("a")
	b, _ := tokens.Add("b")
	c, _ := tokens.Add("c")
	d, _ := tokens.Add("d")
	h := NewHandler(Options{CheckIns: newFakeFlow(), Tokens: tokens, Now: clock.Now,
		Limits: Limits{PerToken: Rate{PerSecond: 1, Burst: 3}, PerIP: Rate{PerSecond: 2, Burst: 5}}})
	get := func(addr, tok string) (int, string) {
		w := serve(h, "GET", "/v1/checkins/999", addr, tok, "", nil)
		return w.Code, w.Header().Get("Retry-After")
	}
	type step struct {
		name      string
		advance   time.Duration
		addr, tok string
		code      int
		retry     string
	}
	for _, s := range []step{
		// token a: burst of 3 from three addresses, then limited.
		{"a 1", 0, "192.0.2.1:1", a, 404, ""},
		{"a 2", 0, "192.0.2.2:1", a, 404, ""},
		{"a 3", 0, "192.0.2.3:1", a, 404, ""},
		{"a over its burst", 0, "192.0.2.4:1", a, 429, "1"},
		{"b unaffected", 0, "192.0.2.4:1", b, 404, ""},
		{"a after 1 s", time.Second, "192.0.2.4:1", a, 404, ""},
		{"a again at once", 0, "192.0.2.4:1", a, 429, "1"},
		// address .9: burst of 5 across both tokens, then limited.
		{"ip 1", 10 * time.Second, "192.0.2.9:1", a, 404, ""},
		{"ip 2", 0, "192.0.2.9:2", a, 404, ""},
		{"ip 3", 0, "192.0.2.9:3", b, 404, ""},
		{"ip 4", 0, "192.0.2.9:4", b, 404, ""},
		{"ip 5", 0, "192.0.2.9:5", a, 404, ""},
		{"ip over its burst", 0, "192.0.2.9:6", c, 429, "1"},
		{"other ip fine", 0, "192.0.2.10:1", c, 404, ""},
		{"ip after 500 ms", 500 * time.Millisecond, "192.0.2.9:7", d, 404, ""},
		// IPv6 clients are grouped by /64.
		{"v6 1", time.Minute, "[2001:db8::1]:1", a, 404, ""},
		{"v6 2", 0, "[2001:db8::2]:1", a, 404, ""},
		{"v6 3", 0, "[2001:db8::3]:1", b, 404, ""},
		{"v6 4", 0, "[2001:db8::4]:1", b, 404, ""},
		{"v6 5", 0, "[2001:db8::5]:1", a, 404, ""},
		{"v6 same /64 limited", 0, "[2001:db8::6]:1", b, 429, "1"},
		{"v6 other /64 fine", 0, "[2001:db8:0:1::1]:1", b, 404, ""},
	} {
		clock.Advance(s.advance)
		code, retry := get(s.addr, s.tok)
		if code != s.code || retry != s.retry {
			t.Errorf("%s: GET /v1/checkins/999 from %s = %d Retry-After %q; want %d %q", s.name, s.addr, code, retry, s.code, s.retry)
		}
	}
}

// TestAuthLockout: 5 bad tokens from one address within 3 minutes lock it
// out for 2 minutes, even for a good token; other addresses are not
// affected; failures spread wider than the window never lock.
func TestAuthLockout(t *testing.T) {
	clock := newClock()
	tokens := &TokenSet{}
	good, _ := tokens.Add("good")
	h := NewHandler(Options{CheckIns: newFakeFlow(), Tokens: tokens, Now: clock.Now, Limits: Limits{PerIP: Rate{100, 100}}})
	try := func(addr, tok string) (int, string) {
		w := serve(h, "POST", "/v1/checkins", addr, tok, "image/png", testPhoto(t))
		return w.Code, w.Header().Get("Retry-After")
	}
	const bad = "guess"
	for i := 1; i <= 4; i++ {
		if code, _ := try("192.0.2.1:1", bad); code != http.StatusUnauthorized {
			t.Fatalf("bad token %d: POST = %d; want 401", i, code)
		}
		clock.Advance(10 * time.Second)
	}
	if code, _ := try("192.0.2.1:1", good); code != http.StatusAccepted {
		t.Errorf("good token after 4 failures: POST = %d; want 202", code)
	}
	if code, _ := try("192.0.2.1:1", ""); code != http.StatusUnauthorized {
		t.Errorf("5th failure (no token): POST = %d; want 401", code)
	}
	code, retry := try("192.0.2.1:1", good)
	if code != http.StatusTooManyRequests || retry != "120" {
		t.Errorf("good token while locked: POST = %d Retry-After %q; want 429 120", code, retry)
	}
	if code, _ := try("192.0.2.2:1", good); code != http.StatusAccepted {
		t.Errorf("another address while .1 is locked: POST = %d; want 202", code)
	}
	clock.Advance(119 * time.Second)
	if code, retry := try("192.0.2.1:1", good); code != http.StatusTooManyRequests || retry != "1" {
		t.Errorf("1 s before the cool-down ends: POST = %d Retry-After %q; want 429 1", code, retry)
	}
	clock.Advance(time.Second)
	if code, _ := try("192.0.2.1:1", good); code != http.StatusAccepted {
		t.Errorf("after the cool-down: POST = %d; want 202", code)
	}
	// Four failures, a pause longer than the window, four more: no lock.
	for i := range 8 {
		if i == 4 {
			clock.Advance(3 * time.Minute)
		}
		if code, _ := try("192.0.2.3:1", bad); code != http.StatusUnauthorized {
			t.Fatalf("spread failure %d: POST = %d; want 401", i+1, code)
		}
	}
	if code, _ := try("192.0.2.3:1", good); code != http.StatusAccepted {
		t.Errorf("good token after spread failures: POST = %d; want 202", code)
	}
}

// TestTablesStayBounded: a flood of distinct clients cannot grow the
// per-address tables past MaxClients; idle entries go first and an active
// client keeps its state.
func TestTablesStayBounded(t *testing.T) {
	clock := newClock()
	l := newLimiter(Rate{PerSecond: 1, Burst: 2}, 100)
	f := newFailures(Limits{MaxClients: 100, MaxFailures: 5, FailureWindow: 3 * time.Minute, Cooldown: 2 * time.Minute})
	l.allow("busy", clock.Now())
	l.allow("busy", clock.Now())
	for i := range 10000 {
		clock.Advance(time.Millisecond)
		k := "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		l.allow(k, clock.Now())
		f.fail(k, clock.Now())
		if i%50 == 0 {
			l.allow("busy", clock.Now()) // keep it recently used
		}
		if n := l.len(); n > 100 {
			t.Fatalf("limiter holds %d entries after %d clients; want ≤ 100", n, i+1)
		}
		if n := f.len(); n > 100 {
			t.Fatalf("failure table holds %d entries after %d clients; want ≤ 100", n, i+1)
		}
	}
	l.mu.Lock()
	busy := l.m["busy"]
	l.mu.Unlock()
	if busy == nil || busy.tokens >= 1 {
		t.Errorf("busy client's bucket = %+v; want its nearly empty bucket kept while idle ones go", busy)
	}
	// After the buckets refill, a sweep drops them all.
	clock.Advance(time.Hour)
	l.allow("new", clock.Now())
	f.fail("new", clock.Now())
	if n := l.len(); n != 1 {
		t.Errorf("limiter holds %d entries after an idle hour; want 1", n)
	}
	if n := f.len(); n != 1 {
		t.Errorf("failure table holds %d entries after an idle hour; want 1", n)
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1"},
		{"[2001:db8::1]:80", "2001:db8::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"garbage", "unknown"},
	} {
		if got := clientKey(tc.addr); got != tc.want {
			t.Errorf("clientKey(%q) = %q; want %q", tc.addr, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {-time.Second, "1"}, {time.Millisecond, "1"}, {1500 * time.Millisecond, "2"}, {2 * time.Minute, "120"}} {
		if got := retryAfter(tc.d); got != tc.want {
			t.Errorf("retryAfter(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}
