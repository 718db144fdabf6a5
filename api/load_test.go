package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kiosk/evidence"
	"kiosk/store"
)

// retentionFixture is a real sealed store with a purge run, and the
// evidence handler over it, built as kiosk serve builds it (the snapshot
// reads the store's stats, verifies the new runs of the chain and reads
// recent runs on every request; only the signature is cached).
type retentionFixture struct {
	handler *evidence.Handler
	builder *evidence.Builder
	snap    func(context.Context) (evidence.Snapshot, error)
}

func newRetention(tb testing.TB) *retentionFixture {
	tb.Helper()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(tb.TempDir(), store.Options{Keys: mk, Retention: time.Hour, DisablePurge: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Purge(context.Background()); err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := evidence.NewBuilder(key, evidence.Options{KioskID: "load-test"})
	if err != nil {
		tb.Fatal(err)
	}
	src := &Retention{Store: func() *store.Store { return st }}
	snap := src.Snapshot
	return &retentionFixture{handler: evidence.NewHandler(b, snap, evidence.HandlerOptions{}), builder: b, snap: snap}
}

// loadClient keeps one connection per worker, so a load run does not run
// out of loopback ports.
func loadClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}, Timeout: 10 * time.Second}
}

// hammer sends n requests from workers goroutines, stopping early at
// deadline, and returns the status counts and each request's latency.
func hammer(tb testing.TB, c *http.Client, workers, n int, deadline time.Time, req func() *http.Request) (map[int]int, []time.Duration) {
	tb.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	var lat []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[int]int{}
			var ll []time.Duration
			for next.Add(1) <= int64(n) && time.Now().Before(deadline) {
				start := time.Now()
				resp, err := c.Do(req())
				if err != nil {
					local[-1]++
					continue
				}
				var buf [4096]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				ll = append(ll, time.Since(start))
				local[resp.StatusCode]++
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			lat = append(lat, ll...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return codes, lat
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestLoadLoopback is a bounded load test on 127.0.0.1 (at most 3000
// requests per phase and 15 s in all): the public retention report is
// served from one cached signature, a flood of check-in uploads with a
// valid token is held to the token's bucket with 429s, the server keeps
// serving, and the heap stays flat.
func TestLoadLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ret := newRetention(t)
	tokens := &TokenSet{}
	tok, _ := tokens.Add("load")
	flow := newFakeFlow()
	flow.pending = true
	lim := Limits{PerIP: Rate{PerSecond: 1000, Burst: 1000}, PerToken: Rate{PerSecond: 20, Burst: 10}}
	metrics := NewMetrics()
	srv := httptest.NewServer(NewHandler(Options{Retention: ret.handler, Metrics: metrics, CheckIns: flow, Tokens: tokens, Limits: lim}))
	defer srv.Close()
	const workers = 8
	c := loadClient(workers)
	photo := testPhoto(t)
	getRetention := func() *http.Request { r, _ := http.NewRequest("GET", srv.URL+"/api/retention", nil); return r }
	postPhoto := func() *http.Request {
		r, _ := http.NewRequest("POST", srv.URL+withConsent("POST", "/v1/checkins"), bytesReader(photo))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "image/png")
		return r
	}
	// Each phase gets a deadline that only bounds a hung server: the
	// assertions hold however slow a loaded machine answers.
	deadline := func() time.Time { return time.Now().Add(5 * time.Minute) }
	hammer(t, c, workers, 200, deadline(), getRetention) // warm up connections and pools
	before := heapInUse()

	codes, lat := hammer(t, c, workers, 3000, deadline(), getRetention)
	if codes[200] != len(lat) || codes[200] == 0 {
		t.Errorf("GET /api/retention under load: status counts %v; want only 200", codes)
	}
	if n := ret.handler.Signatures(); n != 1 {
		t.Errorf("retention report signed %d times under load; want 1 (cached per purge-chain state)", n)
	}
	t.Logf("GET /api/retention: %d requests, p50 %s, p99 %s", len(lat), percentile(lat, 0.5), percentile(lat, 0.99))

	start := time.Now()
	codes, _ = hammer(t, c, workers, 3000, deadline(), postPhoto)
	el := time.Since(start)
	allowed := float64(lim.PerToken.Burst) + lim.PerToken.PerSecond*el.Seconds() + 1
	if float64(codes[202]) > allowed || codes[429] == 0 || codes[202]+codes[429] != 3000 {
		t.Errorf("POST flood of 3000 in %s: status counts %v; want at most %.0f accepted (burst + rate × time), the rest 429", el, codes, allowed)
	}
	t.Logf("POST /v1/checkins flood: %v in %s", codes, el.Round(time.Millisecond))
	if code, b := do(t, srv.URL, "GET", "/healthz", "", "", nil); code != 200 {
		t.Errorf("GET /healthz after the load = %d %s; want 200", code, b)
	}
	c.CloseIdleConnections()
	after := heapInUse()
	growth := int64(after) - int64(before)
	t.Logf("heap in use: %d KiB before, %d KiB after", before>>10, after>>10)
	if growth > 8<<20 {
		t.Errorf("heap grew by %d KiB over the load; want flat (under 8 MiB)", growth>>10)
	}
}

// BenchmarkRetentionLoopback measures GET /api/retention over loopback
// with the cached signature: requests/s and p99 latency.
func BenchmarkRetentionLoopback(b *testing.B) {
	ret := newRetention(b)
	srv := httptest.NewServer(NewHandler(Options{Retention: ret.handler, Metrics: NewMetrics()}))
	defer srv.Close()
	benchLoopback(b, func() *http.Request { r, _ := http.NewRequest("GET", srv.URL+"/api/retention", nil); return r }, 200)
	if n := ret.handler.Signatures(); n != 1 {
		b.Errorf("signed %d times; want 1", n)
	}
}

// BenchmarkRetentionSignEveryTime is the cost the cache avoids: building
// and signing a report per request (software ECDSA here; a TPM takes
// about 200 ms per signature).
func BenchmarkRetentionSignEveryTime(b *testing.B) {
	ret := newRetention(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := ret.snap(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ret.builder.Build(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckInFlood measures POST /v1/checkins from one token over
// loopback against its bucket (burst 10, 20/s): almost every request is
// a 429, which is the cost of turning a flood away.
func BenchmarkCheckInFlood(b *testing.B) {
	tokens := &TokenSet{}
	tok, _ := tokens.Add("bench")
	flow := newFakeFlow()
	flow.pending = true
	srv := httptest.NewServer(NewHandler(Options{CheckIns: flow, Tokens: tokens, Metrics: NewMetrics(),
		Limits: Limits{PerIP: Rate{1e9, 1 << 30}, PerToken: Rate{20, 10}}}))
	defer srv.Close()
	photo := testPhoto(b)
	benchLoopback(b, func() *http.Request {
		r, _ := http.NewRequest("POST", srv.URL+withConsent("POST", "/v1/checkins"), bytesReader(photo))
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "image/png")
		return r
	}, 0)
}

// benchLoopback runs b.N requests from 8 workers and reports requests/s
// and p99; want is the status every request must get (0: any).
func benchLoopback(b *testing.B, req func() *http.Request, want int) {
	const workers = 8
	c := loadClient(workers)
	defer c.CloseIdleConnections()
	hammer(b, c, workers, 100, time.Now().Add(time.Minute), req)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	codes, lat := hammer(b, c, workers, b.N, time.Now().Add(time.Hour), req)
	el := time.Since(start)
	b.StopTimer()
	if want != 0 && codes[want] != b.N {
		b.Fatalf("status counts %v; want %d × %d", codes, b.N, want)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	if len(codes) > 1 {
		b.Logf("status counts: %s", fmt.Sprint(codes))
	}
}
