package evidence

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestVerifyAllPass: a fresh, consistent report from a hardware-kind
// signer passes every check but the chain, which is skipped without an
// earlier report.
func TestVerifyAllPass(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	for name, data := range map[string][]byte{"compact": []byte(signed.JWS), "envelope": mustJSON(t, signed)} {
		res, err := f.v.Verify(data, nil)
		if err != nil || !res.OK() {
			t.Fatalf("Verify(%s) = %v; want nil", name, err)
		}
		want := map[string]Status{CheckFormat: Pass, CheckSignature: Pass, CheckTPM: Pass, CheckFreshness: Pass,
			CheckRetention: Pass, CheckPurge: Pass, CheckChain: Skip}
		if len(res.Checks) != len(want) {
			t.Errorf("Verify(%s) ran %d checks; want %d", name, len(res.Checks), len(want))
		}
		for check, st := range want {
			if got := statusOf(t, res, check); got.Status != st {
				t.Errorf("Verify(%s) %s = %v (%s); want %v", name, check, got.Status, got.Detail, st)
			}
		}
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestTamperEveryByte changes every byte of the compact JWS (header,
// payload and signature) in turn; each change must fail verification.
// This also covers base64url malleability: go-jose alone accepts a
// signature whose last character differs in its unused bits.
func TestTamperEveryByte(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	jws := []byte(f.build(t, goldenSnapshot()).JWS)
	for i := range jws {
		for _, repl := range tamperBytes(jws[i]) {
			bad := bytes.Clone(jws)
			bad[i] = repl
			res, err := f.v.Verify(bad, nil)
			if err == nil || res.OK() || res.Report != nil {
				t.Fatalf("Verify(JWS with byte %d %q -> %q) = nil; want an error", i, jws[i], repl)
			}
		}
	}
}

// tamperBytes returns replacements for c: its neighbour in the base64url
// alphabet (which flips low bits) and a dot.
func tamperBytes(c byte) []byte {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alpha, c)
	if i < 0 {
		return []byte{'A'}
	}
	return []byte{alpha[i^1], '.'}
}

// TestTamperedFields edits one field of the payload and re-encodes it
// properly (still canonical, still base64url): the signature no longer
// matches.
func TestTamperedFields(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	edits := map[string]func(r *Report){
		"records_held":  func(r *Report) { r.RecordsHeld = 0; r.OldestRemainingRecordAgeSeconds = 0 },
		"oldest_age":    func(r *Report) { r.OldestRemainingRecordAgeSeconds = 60 },
		"retention":     func(r *Report) { r.Policy.RetentionSeconds = 3600 },
		"server_time":   func(r *Report) { r.ServerTime = r.ServerTime.Add(time.Minute) },
		"run_deleted":   func(r *Report) { r.LatestRun.Deleted = 999 },
		"tpm_kind":      func(r *Report) { r.TPMKind = TPMSoftware },
		"kiosk_id":      func(r *Report) { r.KioskID = "kiosk-test-02" },
		"ephemeral_off": func(r *Report) { r.Policy.Ephemeral = false; r.Policy.EpochSeconds = 1 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			r, err := decodeReport(signed.Payload)
			if err != nil {
				t.Fatal(err)
			}
			run := *r.LatestRun
			r.LatestRun = &run
			edit(r)
			payload := mustCanonical(t, r)
			if bytes.Equal(payload, signed.Payload) {
				t.Fatal("edit changed nothing")
			}
			parts := strings.Split(signed.JWS, ".")
			forged := parts[0] + "." + b64(payload) + "." + parts[2]
			_, err = f.v.Verify([]byte(forged), nil)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify(report with %s edited) = %v; want ErrBadSignature", name, err)
			}
		})
	}
}

// signRaw signs an arbitrary payload with key and header fields, bypassing
// the Builder: what an attacker holding some key, or a buggy kiosk, could
// produce.
func signRaw(tb testing.TB, key *ecdsa.PrivateKey, payload []byte, headers map[jose.HeaderKey]any) string {
	tb.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: headers}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestReorderedKeys: a payload with the same fields in another order is
// rejected, both when the signature is kept (it no longer matches) and
// when the kiosk's own key signed the non-canonical bytes (format check).
func TestReorderedKeys(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	// Move "schema" from near the end to the front.
	body := bytes.Replace(signed.Payload, []byte(`,"schema":1`), nil, 1)
	reordered := append([]byte(`{"schema":1,`), body[1:]...)
	var a, b any
	if json.Unmarshal(reordered, &a) != nil || json.Unmarshal(signed.Payload, &b) != nil || !jsonEqual(a, b) {
		t.Fatal("reordering changed the content")
	}
	parts := strings.Split(signed.JWS, ".")
	if _, err := f.v.Verify([]byte(parts[0]+"."+b64(reordered)+"."+parts[2]), nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(reordered payload, old signature) = %v; want ErrBadSignature", err)
	}
	hdr := map[jose.HeaderKey]any{"kid": f.b.KeyID(), "typ": HeaderType}
	res, err := f.v.Verify([]byte(signRaw(t, f.key, reordered, hdr)), nil)
	if !errors.Is(err, ErrMalformed) || res.Report != nil {
		t.Errorf("Verify(reordered payload signed by the kiosk key) = %v; want ErrMalformed", err)
	}
	// The same bytes re-signed in canonical order pass: the raw signer is sound.
	if _, err := f.v.Verify([]byte(signRaw(t, f.key, signed.Payload, hdr)), nil); err != nil {
		t.Errorf("Verify(canonical payload signed by the kiosk key) = %v; want nil", err)
	}
}

func jsonEqual(a, b any) bool { return string(mustJSONAny(a)) == string(mustJSONAny(b)) }

func mustJSONAny(v any) []byte { b, _ := json.Marshal(v); return b }

// TestHeaderRules: headers other than {alg ES256, kid, typ} are refused
// even under a valid signature.
func TestHeaderRules(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	payload := f.build(t, goldenSnapshot()).Payload
	kid := f.b.KeyID()
	cases := map[string]map[jose.HeaderKey]any{
		"no typ":    {"kid": kid},
		"wrong typ": {"kid": kid, "typ": "JWT"},
		"no kid":    {"typ": HeaderType},
		"extra":     {"kid": kid, "typ": HeaderType, "x5u": "https://example.invalid/"},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := f.v.Verify([]byte(signRaw(t, f.key, payload, hdr)), nil); !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify(header %v) = %v; want ErrMalformed", hdr, err)
			}
		})
	}
	// An HS256 token keyed with the public key's bytes (algorithm confusion).
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: bytes.Repeat([]byte{1}, 32)},
		(&jose.SignerOptions{}).WithType(HeaderType).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := hs.Sign(payload)
	c, _ := obj.CompactSerialize()
	if _, err := f.v.Verify([]byte(c), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify(HS256) = %v; want ErrMalformed", err)
	}
}

// TestWrongKey: a report from another TPM fails, whether its kid names its
// own key or falsely names the pinned one.
func TestWrongKey(t *testing.T) {
	pinned := newFixture(t, newKey(t), Options{})
	other := newFixture(t, newKey(t), Options{})
	signed := other.build(t, goldenSnapshot())
	if _, err := pinned.v.Verify([]byte(signed.JWS), nil); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Verify(report of another key) = %v; want ErrWrongKey", err)
	}
	// Forge: the other key signs a report claiming the pinned key id.
	r, err := decodeReport(signed.Payload)
	if err != nil {
		t.Fatal(err)
	}
	r.KeyID = pinned.b.KeyID()
	forged := signRaw(t, other.key, mustCanonical(t, r), map[jose.HeaderKey]any{"kid": pinned.b.KeyID(), "typ": HeaderType})
	if _, err := pinned.v.Verify([]byte(forged), nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(forged kid) = %v; want ErrBadSignature", err)
	}
	// The pinned key signing a report that names another key id.
	r.KeyID = other.b.KeyID()
	odd := signRaw(t, pinned.key, mustCanonical(t, r), map[jose.HeaderKey]any{"kid": pinned.b.KeyID(), "typ": HeaderType})
	if _, err := pinned.v.Verify([]byte(odd), nil); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Verify(report naming another key id) = %v; want ErrWrongKey", err)
	}
}

func TestFreshness(t *testing.T) {
	cases := []struct {
		name  string
		shift time.Duration // verifier clock minus server time
		max   time.Duration
		want  error
	}{
		{"just signed", 0, 0, nil},
		{"at the default bound", DefaultMaxAge, 0, nil},
		{"a second past the default bound", DefaultMaxAge + time.Second, 0, ErrStale},
		{"replayed a day later", 24 * time.Hour, 0, ErrStale},
		{"a day old with max-age 48h", 24 * time.Hour, 48 * time.Hour, nil},
		{"within the skew", -DefaultMaxSkew, 0, nil},
		{"from the future", -DefaultMaxSkew - time.Second, 0, ErrFromFuture},
	}
	f := newFixture(t, newKey(t), Options{})
	jws := []byte(f.build(t, goldenSnapshot()).JWS)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(&f.key.PublicKey, VerifyOptions{Now: func() time.Time { return t0.Add(tc.shift) }, MaxAge: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(jws, nil)
			if !errors.Is(err, tc.want) || (tc.want == nil) != res.OK() {
				t.Fatalf("Verify(clock %+v) = %v; want %v", tc.shift, err, tc.want)
			}
			if tc.want != nil {
				var ce *CheckError
				if !errors.As(err, &ce) || ce.Check != CheckFreshness {
					t.Errorf("Verify(clock %+v) error %v does not name the freshness check", tc.shift, err)
				}
			}
		})
	}
}

func TestRetentionBound(t *testing.T) {
	const bound = 86400 + 2*900
	cases := []struct {
		name string
		edit func(s *Snapshot)
		want error
	}{
		{"well inside", func(s *Snapshot) {}, nil},
		{"at the bound", func(s *Snapshot) { s.OldestRemainingRecordAgeSeconds = bound }, nil},
		{"a second over", func(s *Snapshot) { s.OldestRemainingRecordAgeSeconds = bound + 1 }, ErrRetentionExceeded},
		{"latest run over", func(s *Snapshot) { s.LatestRun.OldestRemainingAgeSeconds = bound + 1 }, ErrRetentionExceeded},
		{"ephemeral, empty", func(s *Snapshot) {
			s.Policy = Policy{Ephemeral: true, PurgeIntervalSeconds: 60, EpochSeconds: 3600}
			s.RecordsHeld, s.OldestRemainingRecordAgeSeconds = 0, 0
			s.LatestRun.RecordsHeld, s.LatestRun.OldestRemainingAgeSeconds = 0, 0
		}, nil},
		{"ephemeral holding a record", func(s *Snapshot) {
			s.Policy = Policy{Ephemeral: true, PurgeIntervalSeconds: 60, EpochSeconds: 3600}
			s.RecordsHeld, s.OldestRemainingRecordAgeSeconds = 1, 10
		}, ErrRetentionExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newKey(t), Options{})
			s := goldenSnapshot()
			tc.edit(&s)
			res, err := f.v.Verify([]byte(f.build(t, s).JWS), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%s) = %v; want %v", tc.name, err, tc.want)
			}
			if want := map[bool]Status{true: Pass, false: Fail}[tc.want == nil]; statusOf(t, res, CheckRetention).Status != want {
				t.Errorf("Verify(%s) retention = %v; want %v", tc.name, statusOf(t, res, CheckRetention), want)
			}
		})
	}
}

func TestPurgeCheck(t *testing.T) {
	cases := []struct {
		name string
		edit func(s *Snapshot)
		want error
	}{
		{"no run yet", func(s *Snapshot) { *s = newChain("x", 0).snapshot(t0) }, ErrNoPurgeRun},
		{"run with errors", func(s *Snapshot) { s.LatestRun.Errors = 2 }, ErrPurgeFailed},
		{"run two intervals ago", func(s *Snapshot) {
			s.LatestRun.Finished = t0.Add(-1800 * time.Second)
			s.LatestRun.Started = s.LatestRun.Finished
		}, nil},
		{"timer stopped", func(s *Snapshot) {
			s.LatestRun.Finished = t0.Add(-1801 * time.Second)
			s.LatestRun.Started = s.LatestRun.Finished
		}, ErrPurgeOverdue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newKey(t), Options{})
			s := goldenSnapshot()
			tc.edit(&s)
			_, err := f.v.Verify([]byte(f.build(t, s).JWS), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%s) = %v; want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestSoftwareTPM(t *testing.T) {
	f := newFixture(t, newKey(t), Options{TPMKind: TPMSoftware})
	jws := []byte(f.build(t, goldenSnapshot()).JWS)
	if _, err := f.v.Verify(jws, nil); !errors.Is(err, ErrSoftwareTPM) {
		t.Errorf("Verify(software TPM report) = %v; want ErrSoftwareTPM", err)
	}
	v, _ := NewVerifier(&f.key.PublicKey, VerifyOptions{Now: f.clock.Now, AllowSoftwareTPM: true})
	res, err := v.Verify(jws, nil)
	if err != nil || statusOf(t, res, CheckTPM).Status != Warn {
		t.Errorf("Verify(software TPM, allowed) = %v, tpm %v; want nil and WARN", err, statusOf(t, res, CheckTPM))
	}
	// The zero Options never claims hardware.
	b, err := NewBuilder(signerOnly{f.key}, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Build(goldenSnapshot())
	if err != nil || s.Report.TPMKind != TPMSoftware {
		t.Errorf("Build with zero Options: tpm_kind %q, %v; want %q", s.Report.TPMKind, err, TPMSoftware)
	}
}

// TestChainContinuity compares a report with an earlier one for every way
// the chain can move: forward (one run, several, more than the window),
// not at all, backwards, forked by a deleted or edited run, replayed.
func TestChainContinuity(t *testing.T) {
	base := newChain("kiosk", 10)
	grow := func(c *chain, n int) *chain {
		g := &chain{salt: c.salt, hashes: append([]Hash{}, c.hashes...)}
		for range n {
			g.add()
		}
		return g
	}
	cases := []struct {
		name     string
		prev     *chain
		cur      *chain
		curTime  time.Duration // after the earlier report
		curKiosk string
		want     error
		status   Status
	}{
		{"no run since", base, base, time.Minute, "", nil, Pass},
		{"one run since", base, grow(base, 1), 15 * time.Minute, "", nil, Pass},
		{"five runs since", base, grow(base, 5), time.Hour, "", nil, Pass},
		{"from an empty chain", newChain("kiosk", 0), base, time.Hour, "", nil, Pass},
		{"window edge: 7 runs, 8 hashes", base, grow(base, 7), 2 * time.Hour, "", nil, Pass},
		{"gap beyond the window", base, grow(base, 8), 2 * time.Hour, "", ErrChainGap, Fail},
		{"same count, other head", base, base.fork(10), time.Minute, "", ErrChainForked, Fail},
		{"run 4 deleted and rehashed", base, grow(base.fork(4), 2), time.Hour, "", ErrChainForked, Fail},
		{"latest run replaced", base, grow(base.fork(10), 3), time.Hour, "", ErrChainForked, Fail},
		{"next run not linked", base, grow(base.fork(10), 1), 15 * time.Minute, "", ErrChainForked, Fail},
		{"fewer runs", base, newChain("kiosk", 9), time.Hour, "", ErrChainRegressed, Fail},
		{"older report replayed", base, base, -time.Minute, "", ErrChainRegressed, Fail},
		{"another kiosk", base, base, time.Minute, "kiosk-test-02", ErrKioskMismatch, Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := newKey(t)
			pf := newFixture(t, key, Options{RecentRuns: 8})
			prevSigned := pf.build(t, tc.prev.snapshot(t0.Add(-time.Minute)))
			prev, err := pf.v.Open([]byte(prevSigned.JWS))
			if err != nil {
				t.Fatal(err)
			}
			cf := newFixture(t, key, Options{RecentRuns: 8, KioskID: tc.curKiosk})
			cf.clock.Add(tc.curTime)
			cur := cf.build(t, tc.cur.snapshot(cf.clock.Now().Add(-time.Minute)))
			res, err := cf.v.Verify([]byte(cur.JWS), prev)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%s) = %v; want %v", tc.name, err, tc.want)
			}
			if got := statusOf(t, res, CheckChain); got.Status != tc.status {
				t.Errorf("Verify(%s) chain = %v (%s); want %v", tc.name, got.Status, got.Detail, tc.status)
			}
		})
	}
}

// TestBuildRejectsInconsistentSnapshot: Build refuses to sign what the
// verifier would reject as malformed.
func TestBuildRejectsInconsistentSnapshot(t *testing.T) {
	cases := map[string]func(s *Snapshot){
		"head differs from latest":     func(s *Snapshot) { s.Chain.Head[0] ^= 1 },
		"seq differs from runs":        func(s *Snapshot) { s.LatestRun.Seq = 7 },
		"prev hash not in recent":      func(s *Snapshot) { s.LatestRun.PrevHash[0] ^= 1 },
		"runs without a latest run":    func(s *Snapshot) { s.LatestRun = nil },
		"negative count":               func(s *Snapshot) { s.RecordsHeld = -1 },
		"unsafe integer":               func(s *Snapshot) { s.Policy.RetentionSeconds = 1 << 60 },
		"age with nothing held":        func(s *Snapshot) { s.RecordsHeld = 0 },
		"ephemeral with retention":     func(s *Snapshot) { s.Policy.Ephemeral = true },
		"run finished before start":    func(s *Snapshot) { s.LatestRun.Finished = s.LatestRun.Started.Add(-time.Second) },
		"more recent hashes than runs": func(s *Snapshot) { s.Chain.Recent = append([]Hash{{1}}, s.Chain.Recent...) },
	}
	f := newFixture(t, newKey(t), Options{})
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			s := goldenSnapshot()
			edit(&s)
			if got, err := f.b.Build(s); err == nil {
				t.Fatalf("Build(%s) = %s; want an error", name, got.Payload)
			}
		})
	}
	// Build trims the window to RecentRuns and keeps it ending at the head.
	long := newChain("long", 200).snapshot(t0)
	signed := f.build(t, long)
	if n := len(signed.Report.Chain.Recent); n != DefaultRecentRuns || signed.Report.Chain.Recent[n-1] != long.Chain.Head {
		t.Errorf("Build(200 runs) kept %d hashes; want the last %d", n, DefaultRecentRuns)
	}
}

// brokenSigner returns what it is told to, whatever was asked.
type brokenSigner struct {
	pub any
	sig []byte
	err error
}

func (b brokenSigner) Public() crypto.PublicKey { return b.pub }
func (b brokenSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return b.sig, b.err
}

// TestBrokenSigner: a signer that fails, returns raw r||s instead of DER,
// returns out-of-range integers or signs with another key makes Build fail
// with an error, never a panic and never a published bad signature.
func TestBrokenSigner(t *testing.T) {
	key, other := newKey(t), newKey(t)
	digest := sha256Sum([]byte("something else"))
	otherSig, _ := ecdsa.SignASN1(rand.Reader, other, digest)
	rawSig := make([]byte, 64)
	huge, _ := asn1Marshal(bytes.Repeat([]byte{0xff}, 40), []byte{1})
	cases := map[string]brokenSigner{
		"error":            {err: errors.New("TPM_RC_LOCKOUT")},
		"raw r||s":         {sig: rawSig},
		"empty":            {sig: nil},
		"integers too big": {sig: huge},
		"another key":      {sig: otherSig},
	}
	for name, bs := range cases {
		t.Run(name, func(t *testing.T) {
			bs.pub = &key.PublicKey
			b, err := NewBuilder(bs, Options{Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := b.Build(goldenSnapshot()); err == nil {
				t.Fatalf("Build(with %s signer) = %s; want an error", name, got.JWS)
			}
		})
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, s := range map[string]crypto.Signer{"RSA": rsaKey, "P-384": p384} {
		if _, err := NewBuilder(s, Options{}); err == nil {
			t.Errorf("NewBuilder(%s key) = nil error; want one", name)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	key := newKey(t)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "ignored"})
	privJWK, _ := json.Marshal(jose.JSONWebKey{Key: key})
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(key)
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"PEM", pemKey, true},
		{"PEM with blank lines", append(append([]byte("\n\n"), pemKey...), '\n'), true},
		{"JWK", jwk, true},
		{"private JWK", privJWK, false},
		{"RSA PEM", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER}), false},
		{"private PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), false},
		{"garbage", []byte("hello"), false},
		{"empty", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePublicKey(%s) = %v; want ok=%v", tc.name, err, tc.ok)
			}
			if tc.ok && !got.Equal(&key.PublicKey) {
				t.Errorf("ParsePublicKey(%s) returned another key", tc.name)
			}
		})
	}
}

// TestOpenSSLVerifies checks the signature with a second implementation:
// openssl dgst -verify on the JWS signing input with the r||s signature
// converted to DER.
func TestOpenSSLVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	f := newFixture(t, newKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	dir := t.TempDir()
	input, sig, err := SplitForStockTools(signed.JWS)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	sigPath := write("sig.der", sig)
	for name, in := range map[string][]byte{"signing input": input, "tampered input": append(bytes.Clone(input[:len(input)-1]), 'A'^input[len(input)-1]^'B')} {
		out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", pub, "-signature", sigPath, write("input", in)).CombinedOutput()
		wantOK := name == "signing input"
		if (err == nil) != wantOK || strings.Contains(string(out), "Verified OK") != wantOK {
			t.Errorf("openssl dgst -verify (%s) = %v, %q; want ok=%v", name, err, out, wantOK)
		}
	}
	// And the payload segment decodes to the canonical bytes.
	parts := strings.Split(string(input), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !bytes.Equal(payload, signed.Payload) {
		t.Errorf("signing input payload = %s; want %s", payload, signed.Payload)
	}
}

// TestEnvelopeMismatch: the unsigned "report" copy in the envelope must be
// the signed payload, so no one reads a forged copy beside a valid JWS.
func TestEnvelopeMismatch(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	env := bytes.Replace(mustJSON(t, signed), []byte(`"records_held":5,"schema"`), []byte(`"records_held":0,"schema"`), 1)
	if bytes.Equal(env, mustJSON(t, signed)) {
		t.Fatal("edit changed nothing")
	}
	if _, err := f.v.Verify(env, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify(envelope with edited report copy) = %v; want ErrMalformed", err)
	}
}

// TestNoPersonalFields fixes the report's field set: adding a field makes
// this test fail, so whoever adds one must show it carries no personal data.
func TestNoPersonalFields(t *testing.T) {
	f := newFixture(t, newKey(t), Options{})
	var m map[string]any
	if err := json.Unmarshal(f.build(t, goldenSnapshot()).Payload, &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if o, ok := v.(map[string]any); ok {
			for k, c := range o {
				walk(prefix+k+".", c)
			}
			return
		}
		got = append(got, strings.TrimSuffix(prefix, "."))
	}
	walk("", m)
	slices.Sort(got)
	want := []string{"chain.head", "chain.recent", "chain.runs", "key_id", "kiosk_id",
		"latest_run.deleted", "latest_run.errors", "latest_run.finished", "latest_run.hash",
		"latest_run.oldest_remaining_age_seconds", "latest_run.prev_hash", "latest_run.records_held",
		"latest_run.scanned", "latest_run.seq", "latest_run.started", "oldest_remaining_record_age_seconds",
		"policy.ephemeral", "policy.epoch_seconds", "policy.purge_interval_seconds", "policy.retention_seconds",
		"records_held", "schema", "server_time", "tpm_kind"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("report fields =\n%v\nwant\n%v", got, want)
	}
}
