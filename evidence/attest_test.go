package evidence

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The vectors in testdata/attest were recorded from the TPM simulator by
// go test ./tpmkeys -run RecordAttestVectors -update-attest: a real
// bundle, a real credential activation's pin, a report served with a nonce
// and its quote. Their clock is attestT.
var attestT = time.Date(2100, 1, 1, 10, 30, 0, 0, time.UTC)

type attestVectors struct {
	bundle, envelope []byte
	nonce            []byte
	pin              *AKPin
	pcrs             PCRValues
	roots            *EKRoots
}

func loadAttestVectors(tb testing.TB) *attestVectors {
	tb.Helper()
	dir := filepath.Join("testdata", "attest")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	v := &attestVectors{bundle: read("bundle.json"), envelope: read("envelope.json")}
	var err error
	if v.nonce, err = hex.DecodeString(strings.TrimSpace(string(read("nonce.hex")))); err != nil {
		tb.Fatal(err)
	}
	if v.pin, err = ParseAKPin(read("pin.json")); err != nil {
		tb.Fatal(err)
	}
	if v.pcrs, err = ParseExpectedPCRs(read("pcrs.json")); err != nil {
		tb.Fatal(err)
	}
	if v.roots, err = LoadEKRoots(filepath.Join(dir, "roots")); err != nil {
		tb.Fatal(err)
	}
	return v
}

func (v *attestVectors) opts() AttestOptions {
	return AttestOptions{EKRoots: v.roots, AKPin: v.pin, Nonce: v.nonce, ExpectedPCRs: v.pcrs}
}

func attestVerifyOpts() VerifyOptions {
	return VerifyOptions{Now: func() time.Time { return attestT }, AllowSoftwareTPM: true}
}

// TestVerifyAttestedVectors: the recorded chain verifies offline, every
// check named, in order.
func TestVerifyAttestedVectors(t *testing.T) {
	v := loadAttestVectors(t)
	res, err := VerifyAttested(v.envelope, v.bundle, nil, attestVerifyOpts(), v.opts())
	if err != nil {
		t.Fatalf("VerifyAttested(vectors) = %v", err)
	}
	want := []string{CheckAttestation, CheckEKCert, CheckAK, CheckCertify, CheckFormat, CheckSignature, CheckTPM,
		CheckFreshness, CheckRetention, CheckPurge, CheckChain, CheckQuote, CheckNonce, CheckPCRs}
	if len(res.Checks) != len(want) {
		t.Fatalf("got %d checks; want %d: %v", len(res.Checks), len(want), res.Checks)
	}
	for i, c := range res.Checks {
		if c.Name != want[i] {
			t.Errorf("check %d is %q; want %q", i, c.Name, want[i])
		}
		if c.Status == Fail {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
		t.Logf("%-12s %v %s", c.Name, c.Status, c.Detail)
	}
	// The same report through the plain verifier, pinned to the
	// certified key: the quote is ignored, not an error.
	ar, err := VerifyAttestation(v.bundle, attestT, v.opts())
	if err != nil {
		t.Fatal(err)
	}
	pv, err := NewVerifier(ar.SigningKey, attestVerifyOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pv.Verify(v.envelope, nil); err != nil {
		t.Errorf("Verify(quoted envelope) with the certified key = %v; want nil", err)
	}
}

// edit decodes a JSON object, applies f, re-encodes it.
func edit[T any](tb testing.TB, data []byte, f func(*T)) []byte {
	tb.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	f(&v)
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func flipLast(b []byte, back int) []byte {
	c := bytes.Clone(b)
	c[len(c)-back] ^= 1
	return c
}

// TestVerifyAttestedFails: each alteration of the recorded vectors, or a
// missing trust anchor, fails the named check with its sentinel.
func TestVerifyAttestedFails(t *testing.T) {
	v := loadAttestVectors(t)
	other := newCA(t, "Untrusted maker")
	otherRoots, err := NewEKRoots(other.cert)
	if err != nil {
		t.Fatal(err)
	}
	editQuote := func(f func(q *Quote)) []byte {
		return edit(t, v.envelope, func(e *QuotedEnvelope) {
			e.Quote = edit(t, e.Quote, f)
		})
	}
	otherKey := newKey(t)
	cases := []struct {
		name     string
		envelope []byte
		bundle   []byte
		opts     func(o *AttestOptions)
		check    string
		want     error
	}{
		{name: "attestation not JSON", bundle: []byte("{"), check: CheckAttestation, want: ErrMalformed},
		{name: "attestation unknown field", bundle: bytes.Replace(v.bundle, []byte(`"schema":1`), []byte(`"schema":1,"x":1`), 1), check: CheckAttestation, want: ErrMalformed},
		{name: "attestation schema 2", bundle: bytes.Replace(v.bundle, []byte(`"schema":1`), []byte(`"schema":2`), 1), check: CheckAttestation, want: ErrMalformed},
		{name: "untrusted root", opts: func(o *AttestOptions) { o.EKRoots = otherRoots }, check: CheckEKCert, want: ErrUntrustedEK},
		{name: "no roots", opts: func(o *AttestOptions) { o.EKRoots = nil }, check: CheckEKCert, want: ErrUntrustedEK},
		{name: "certificate expired by the verifier's clock", opts: func(o *AttestOptions) {}, check: CheckEKCert, want: ErrUntrustedEK},
		{name: "no EK certificate", bundle: edit(t, v.bundle, func(a *Attestation) { a.EKCertificates, a.EKPublic = [][]byte{}, nil }), check: CheckEKCert, want: ErrNoEKCert},
		{name: "EK public of another key", bundle: edit(t, v.bundle, func(a *Attestation) { a.EKPublic = a.AKPublic }), check: CheckEKCert, want: ErrEKMismatch},
		{name: "no pin", opts: func(o *AttestOptions) { o.AKPin = nil }, check: CheckAK, want: ErrAKNotActivated},
		{name: "pin of another AK", opts: func(o *AttestOptions) { p := *o.AKPin; p.AKName = "000b" + strings.Repeat("ab", 32); o.AKPin = &p }, check: CheckAK, want: ErrAKNotActivated},
		{name: "pin of another EK", opts: func(o *AttestOptions) {
			p := *o.AKPin
			p.EKCertificateSHA256 = strings.Repeat("cd", 32)
			o.AKPin = &p
		}, check: CheckAK, want: ErrAKNotActivated},
		{name: "signing key as the AK", bundle: edit(t, v.bundle, func(a *Attestation) { a.AKPublic = a.SigningKeyPublic }), check: CheckAK, want: ErrBadAK},
		{name: "certify altered", bundle: edit(t, v.bundle, func(a *Attestation) { a.CertifyInfo = flipLast(a.CertifyInfo, 2) }), check: CheckCertify, want: ErrBadCertify},
		{name: "certify signature altered", bundle: edit(t, v.bundle, func(a *Attestation) { a.CertifySignature = flipLast(a.CertifySignature, 1) }), check: CheckCertify, want: ErrBadCertify},
		{name: "quote as certify", bundle: edit(t, v.bundle, func(a *Attestation) {
			var e QuotedEnvelope
			json.Unmarshal(v.envelope, &e)
			var q Quote
			json.Unmarshal(e.Quote, &q)
			a.CertifyInfo, a.CertifySignature = q.Quoted, q.Signature
		}), check: CheckCertify, want: ErrBadCertify},
		{name: "signing key swapped", bundle: edit(t, v.bundle, func(a *Attestation) { a.SigningKeyPublic = a.AKPublic }), check: CheckCertify, want: ErrKeyNotCertified},
		{name: "key id of another key", bundle: edit(t, v.bundle, func(a *Attestation) { a.KeyID, _ = KeyID(&otherKey.PublicKey) }), check: CheckCertify, want: ErrKeyNotCertified},
		{name: "certified key is not the pinned key", opts: func(o *AttestOptions) { o.PinnedKey = &otherKey.PublicKey }, check: CheckCertify, want: ErrWrongKey},
		{name: "wrong nonce", opts: func(o *AttestOptions) { o.Nonce = []byte("another nonce!!") }, check: CheckNonce, want: ErrWrongNonce},
		{name: "nonce echo edited to yours", envelope: editQuote(func(q *Quote) { q.Nonce = []byte("another nonce!!") }),
			opts: func(o *AttestOptions) { o.Nonce = []byte("another nonce!!") }, check: CheckNonce, want: ErrWrongNonce},
		{name: "no quote", envelope: edit(t, v.envelope, func(e *QuotedEnvelope) { e.Quote = nil }), check: CheckQuote, want: ErrNoQuote},
		{name: "quote altered", envelope: editQuote(func(q *Quote) { q.Quoted = flipLast(q.Quoted, 1) }), check: CheckQuote, want: ErrBadQuote},
		{name: "quote lists other PCR values", envelope: editQuote(func(q *Quote) { q.PCRs[QuoteBank][7] = bytes.Repeat([]byte{1}, 32) }), check: CheckQuote, want: ErrBadQuote},
		{name: "quote lists other PCRs", envelope: editQuote(func(q *Quote) { q.PCRs[QuoteBank][8] = make([]byte, 32) }), check: CheckQuote, want: ErrBadQuote},
		{name: "quote not JSON", envelope: bytes.Replace(v.envelope, []byte(`"quote":{`), []byte(`"quote":{"x":1,`), 1), check: CheckQuote, want: ErrMalformed},
		{name: "PCR 7 differs", opts: func(o *AttestOptions) { o.ExpectedPCRs = PCRValues{QuoteBank: {7: bytes.Repeat([]byte{7}, 32)}} }, check: CheckPCRs, want: ErrPCRMismatch},
		{name: "other PCR set", opts: func(o *AttestOptions) {
			o.ExpectedPCRs = PCRValues{QuoteBank: {0: make([]byte, 32), 7: v.pcrs[QuoteBank][7]}}
		}, check: CheckPCRs, want: ErrPCRMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, bundle := v.envelope, v.bundle
			if tc.envelope != nil {
				env = tc.envelope
			}
			if tc.bundle != nil {
				bundle = tc.bundle
			}
			o := v.opts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			vo := attestVerifyOpts()
			if tc.name == "certificate expired by the verifier's clock" {
				vo.Now = func() time.Time { return time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC) }
			}
			res, err := VerifyAttested(env, bundle, nil, vo, o)
			if err == nil {
				t.Fatalf("VerifyAttested(%s) = nil; want %v", tc.name, tc.want)
			}
			var found bool
			for _, c := range res.Checks {
				if c.Name != tc.check {
					continue
				}
				found = true
				var ce *CheckError
				if c.Status != Fail || !errors.Is(c.Err, tc.want) || !errors.As(c.Err, &ce) || ce.Check != tc.check {
					t.Errorf("check %s = %v, %v; want FAIL with %v", c.Name, c.Status, c.Err, tc.want)
				}
				if c.Detail == "" {
					t.Errorf("check %s failed without a reason", c.Name)
				}
				t.Logf("%s: %s", c.Name, c.Detail)
			}
			if !found {
				t.Errorf("no %s check in %v", tc.check, res.Checks)
			}
		})
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(tb testing.TB, cn string) *testCA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

func (ca *testCA) issue(tb testing.TB, tmpl *x509.Certificate, pub any) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestLoadEKRoots: roots and intermediates from PEM and DER files; a
// directory without certificates, or with a leaf, is refused.
func TestLoadEKRoots(t *testing.T) {
	root := newCA(t, "Root")
	interKey := newKey(t)
	inter := root.issue(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Intermediate"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, &interKey.PublicKey)
	leaf := root.issue(t, &x509.Certificate{SerialNumber: big.NewInt(3), NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter: time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)}, &newKey(t).PublicKey)
	pemOf := func(cs ...*x509.Certificate) []byte {
		var b []byte
		for _, c := range cs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		files   map[string][]byte
		wantErr string
	}{
		{"pem bundle", map[string][]byte{"ca.pem": pemOf(root.cert, inter)}, ""},
		{"der and crt", map[string][]byte{"root.der": root.cert.Raw, "inter.crt": pemOf(inter), "README": []byte("not a cert")}, ""},
		{"empty", map[string][]byte{"notes.txt": []byte("x")}, "no certificate"},
		{"only an intermediate", map[string][]byte{"inter.pem": pemOf(inter)}, "no self-signed root"},
		{"a leaf", map[string][]byte{"ca.pem": pemOf(root.cert, leaf)}, "not a CA"},
		{"garbage", map[string][]byte{"x.pem": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, "x.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.files {
				os.WriteFile(filepath.Join(dir, n), b, 0o600)
			}
			r, err := LoadEKRoots(dir)
			if tc.wantErr == "" {
				if err != nil || r == nil {
					t.Fatalf("LoadEKRoots = %v; want roots", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("LoadEKRoots = %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseTPMSAN reads the TCG directoryName and refuses other names.
func TestParseTPMSAN(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "attest", "bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAttestation(b)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(a.EKCertificates[0])
	if len(c.UnhandledCriticalExtensions) != 1 || !c.UnhandledCriticalExtensions[0].Equal(oidSAN) {
		t.Fatalf("recorded EK certificate has unhandled critical extensions %v; want the SAN alone (the quirk under test)", c.UnhandledCriticalExtensions)
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSAN) {
			id, err := parseTPMSAN(e.Value)
			if err != nil || id.manufacturer != "id:4B494F53" || id.model != "simulator" {
				t.Errorf("parseTPMSAN = %+v, %v; want the simulator's identity", id, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x82, 0x01, 'x'}, {0x04, 0x00}} {
		if _, err := parseTPMSAN(bad); err == nil {
			t.Errorf("parseTPMSAN(% x) = nil error; want one", bad)
		}
	}
}

// TestActivationFinish: only the secret that was encrypted finishes an
// activation; the pin it returns is the one the verifier checks.
func TestActivationFinish(t *testing.T) {
	v := loadAttestVectors(t)
	act, err := NewActivation(v.bundle, v.roots, ActivationOptions{Now: func() time.Time { return attestT }})
	if err != nil {
		t.Fatalf("NewActivation = %v", err)
	}
	ch := act.Challenge()
	if len(ch.CredentialBlob) == 0 || len(ch.EncryptedSecret) != 2+32+2+32 {
		t.Errorf("challenge has a %d-byte blob and a %d-byte secret; want an ECC point of two 32-byte coordinates", len(ch.CredentialBlob), len(ch.EncryptedSecret))
	}
	if _, err := act.Finish(make([]byte, 32), attestT); !errors.Is(err, ErrActivationFailed) {
		t.Errorf("Finish(wrong secret) = %v; want ErrActivationFailed", err)
	}
	pin, err := act.Finish(act.secret, attestT)
	if err != nil {
		t.Fatal(err)
	}
	if pin.AKName != v.pin.AKName || pin.EKCertificateSHA256 != v.pin.EKCertificateSHA256 {
		t.Errorf("pin = %+v; want the recorded AK and EK", pin)
	}
	if _, err := NewActivation(v.bundle, nil, ActivationOptions{}); !errors.Is(err, ErrUntrustedEK) {
		t.Errorf("NewActivation(no roots) = %v; want ErrUntrustedEK", err)
	}
	if _, err := (&Activation{}).Finish(nil, attestT); err == nil {
		t.Error("Finish on an unstarted activation = nil error")
	}
}

// TestMakeCredentialRefuses keys that are not endorsement keys.
func TestMakeCredentialRefuses(t *testing.T) {
	v := loadAttestVectors(t)
	p, err := parseAttestation(v.bundle)
	if err != nil {
		t.Fatal(err)
	}
	name := nameOf(p.ak)
	for _, tc := range []struct {
		name   string
		ek     *tpmPublic
		secret []byte
	}{
		{"a signing key", p.signing, make([]byte, 32)},
		{"a secret longer than the digest", p.ek, make([]byte, 33)},
		{"an empty secret", p.ek, nil},
	} {
		if _, _, err := makeCredential(rand.Reader, tc.ek, name, tc.secret); err == nil {
			t.Errorf("makeCredential(%s) = nil error; want one", tc.name)
		}
	}
}

// TestParseTPMStructures: truncations and trailing bytes of every recorded
// structure are errors, never panics or partial results.
func TestParseTPMStructures(t *testing.T) {
	v := loadAttestVectors(t)
	var a Attestation
	if err := json.Unmarshal(v.bundle, &a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		raw   []byte
		parse func([]byte) error
	}{
		{"ek_public", a.EKPublic, func(b []byte) error { _, err := parsePublic(b); return err }},
		{"ak_public", a.AKPublic, func(b []byte) error { _, err := parsePublic(b); return err }},
		{"certify_info", a.CertifyInfo, func(b []byte) error { _, err := parseAttest(b); return err }},
		{"certify_signature", a.CertifySignature, func(b []byte) error { _, err := parseSignature(b); return err }},
	} {
		if err := tc.parse(tc.raw); err != nil {
			t.Errorf("%s does not parse: %v", tc.name, err)
		}
		for n := 0; n < len(tc.raw); n++ {
			if err := tc.parse(tc.raw[:n]); err == nil {
				t.Errorf("%s truncated to %d bytes parses", tc.name, n)
			}
		}
		if err := tc.parse(append(bytes.Clone(tc.raw), 0)); err == nil {
			t.Errorf("%s with a trailing byte parses", tc.name)
		}
	}
	bad := bytes.Clone(a.CertifyInfo)
	bad[0] = 0
	if _, err := parseAttest(bad); err == nil || !strings.Contains(err.Error(), "TPM_GENERATED_VALUE") {
		t.Errorf("parseAttest(bad magic) = %v; want a magic error", err)
	}
}

// TestExpectedPCRsFile: the expected-values file format.
func TestExpectedPCRsFile(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"sha256":{"7":"` + h + `"}}`, true},
		{`{"sha256":{"7":"0x` + strings.ToUpper(h) + `","0":"` + h + `"}}`, true},
		{`{"sha1":{"7":"` + h + `"}}`, false},
		{`{"sha256":{}}`, false},
		{`{"sha256":{"24":"` + h + `"}}`, false},
		{`{"sha256":{"-1":"` + h + `"}}`, false},
		{`{"sha256":{"7":"abcd"}}`, false},
		{`{"sha256":{"x":"` + h + `"}}`, false},
		{`{"sha256":{"7":"` + h + `"},"sha384":{}}`, false},
		{`{"sha256":{"7":"` + h + `"}} x`, false},
	} {
		_, err := ParseExpectedPCRs([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("ParseExpectedPCRs(%s) = %v; want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// TestHandlerNonce: ?nonce= attaches a quote bound to the served report;
// a malformed nonce is a 400; a failing quote a 503; without a quote
// function the report is served as usual.
func TestHandlerNonce(t *testing.T) {
	key := fixedKey(t)
	fx := newFixture(t, key, Options{})
	var gotNonce, gotQD []byte
	snap := func(context.Context) (Snapshot, error) { return newChain("h", 2).snapshot(t0.Add(-time.Minute)), nil }
	mk := func(q func(n, qd []byte) (any, error)) *Handler {
		return NewHandler(fx.b, snap, HandlerOptions{Now: fx.clock.Now,
			Quote: func(_ context.Context, n, qd []byte) (any, error) { return q(n, qd) }})
	}
	h := mk(func(n, qd []byte) (any, error) { gotNonce, gotQD = n, qd; return map[string]string{"q": "x"}, nil })
	get := func(h *Handler, url string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		return rec
	}
	rec := get(h, "/api/retention?nonce=00112233445566778899")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET ?nonce = %d %s", rec.Code, rec.Body)
	}
	var e QuotedEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || string(e.Quote) != `{"q":"x"}` {
		t.Fatalf("body = %s (%v); want the envelope with the quote", rec.Body, err)
	}
	if hex.EncodeToString(gotNonce) != "00112233445566778899" || !bytes.Equal(gotQD, QuoteQualifyingData(gotNonce, e.Report)) {
		t.Errorf("quote func got nonce %x and data %x; want the request's nonce bound to the served payload", gotNonce, gotQD)
	}
	for _, n := range []string{"xyz", "0011", strings.Repeat("00", 65)} {
		if rec := get(h, "/api/retention?nonce="+n); rec.Code != http.StatusBadRequest {
			t.Errorf("GET ?nonce=%s = %d; want 400", n, rec.Code)
		}
	}
	failing := mk(func(n, qd []byte) (any, error) { return nil, errors.New("tpm gone") })
	if rec := get(failing, "/api/retention?nonce=0011223344556677"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET ?nonce with a failing quote = %d; want 503", rec.Code)
	}
	plain := NewHandler(fx.b, snap, HandlerOptions{Now: fx.clock.Now})
	rec = get(plain, "/api/retention?nonce=0011223344556677")
	var pe QuotedEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &pe); rec.Code != http.StatusOK || err != nil || pe.Quote != nil {
		t.Errorf("GET ?nonce without a quote func = %d %s; want the plain envelope", rec.Code, rec.Body)
	}
	if n := plain.Signatures() + h.Signatures(); n != 2 {
		t.Errorf("%d signatures; want one per handler (the report stays cached across nonces)", n)
	}
}
