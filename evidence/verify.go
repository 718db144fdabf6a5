package evidence

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gowebpki/jcs"
)

// MaxInputBytes caps what Verify and Open read: a report with the default
// chain window is about 25 KB.
const MaxInputBytes = 256 << 10

// Defaults of VerifyOptions.
const (
	DefaultMaxAge  = 10 * time.Minute
	DefaultMaxSkew = 2 * time.Minute
)

// Names of the checks, in the order Verify runs them.
const (
	CheckFormat    = "format"
	CheckSignature = "signature"
	CheckTPM       = "tpm"
	CheckFreshness = "freshness"
	CheckRetention = "retention"
	CheckPurge     = "purge"
	CheckChain     = "chain"
)

// Status is the outcome of one check.
type Status int

const (
	Pass Status = iota
	// Warn passed, with a caveat the reader should see (a software TPM the
	// caller chose to allow).
	Warn
	Fail
	// Skip means the check was not run: an earlier check failed, or it
	// needs input that was not given (no earlier report for the chain).
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Check is the result of one check. Err is a *CheckError when Status is Fail.
type Check struct {
	Name   string
	Status Status
	Detail string
	Err    error
}

// Result lists every check. Report is set once the signature verified.
type Result struct {
	Report *Report
	Checks []Check
}

// OK reports whether no check failed.
func (r *Result) OK() bool { return r.Err() == nil }

// Err joins the failed checks' *CheckError values (nil when all passed).
func (r *Result) Err() error {
	var errs []error
	for _, c := range r.Checks {
		if c.Status == Fail {
			errs = append(errs, c.Err)
		}
	}
	return errors.Join(errs...)
}

// VerifyOptions configures a Verifier. The zero value works.
type VerifyOptions struct {
	// Now is the verifier's clock.
	Now func() time.Time
	// MaxAge bounds how old the report's server time may be (0 means
	// DefaultMaxAge). A served report is re-signed at least every
	// HandlerOptions.MaxCacheAge, so this should exceed that.
	MaxAge time.Duration
	// MaxSkew bounds how far ahead of Now the server time may be (0 means
	// DefaultMaxSkew).
	MaxSkew time.Duration
	// AllowSoftwareTPM turns the tpm check's failure on a software TPM into
	// a warning, for demos and tests. The signature then proves nothing.
	AllowSoftwareTPM bool
}

// Verifier checks reports against one pinned public key. It holds no
// resource and is safe for concurrent use.
type Verifier struct {
	pub   *ecdsa.PublicKey
	keyID string
	opts  VerifyOptions
}

// NewVerifier pins pub, an ECDSA P-256 public key.
func NewVerifier(pub *ecdsa.PublicKey, opts VerifyOptions) (*Verifier, error) {
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	return &Verifier{pub: pub, keyID: kid, opts: opts}, nil
}

// KeyID returns the pinned key's id.
func (v *Verifier) KeyID() string { return v.keyID }

// Open checks only the format and the signature of a saved report (compact
// JWS, or the envelope NewHandler serves) and returns the report. Use it to
// load the earlier report handed to Verify; it ignores freshness.
func (v *Verifier) Open(data []byte) (*Report, error) {
	r, checks := v.open(data)
	for _, c := range checks {
		if c.Status == Fail {
			return nil, c.Err
		}
	}
	return r, nil
}

// Verify runs every check on data (a compact JWS, or the served envelope)
// and returns them all; the error joins the failed ones as *CheckError.
// previous is an earlier report from the same kiosk, already opened with
// Open, or nil to skip the chain comparison.
func (v *Verifier) Verify(data []byte, previous *Report) (*Result, error) {
	r, checks := v.open(data)
	res := &Result{Report: r, Checks: checks}
	if r == nil {
		for _, name := range []string{CheckTPM, CheckFreshness, CheckRetention, CheckPurge, CheckChain} {
			res.Checks = append(res.Checks, Check{Name: name, Status: Skip, Detail: "not checked: the report could not be trusted"})
		}
		return res, res.Err()
	}
	res.Checks = append(res.Checks, v.checkTPM(r), v.checkFreshness(r), checkRetention(r), checkPurge(r), checkChain(r, previous))
	return res, res.Err()
}

func pass(name, detail string) Check { return Check{Name: name, Status: Pass, Detail: detail} }

func fail(name string, sentinel error, format string, args ...any) Check {
	d := fmt.Sprintf(format, args...)
	return Check{Name: name, Status: Fail, Detail: d, Err: &CheckError{Check: name, Err: sentinel, Detail: d}}
}

// open runs the format and signature checks. It returns the report only
// when both pass.
func (v *Verifier) open(data []byte) (*Report, []Check) {
	skipSig := Check{Name: CheckSignature, Status: Skip, Detail: "not checked: malformed input"}
	compact, envReport, err := extractJWS(data)
	if err != nil {
		return nil, []Check{fail(CheckFormat, ErrMalformed, "%v", err), skipSig}
	}
	hdr, err := parseHeader(compact)
	if err != nil {
		return nil, []Check{fail(CheckFormat, ErrMalformed, "%v", err), skipSig}
	}
	obj, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, []Check{fail(CheckFormat, ErrMalformed, "JWS: %v", err), skipSig}
	}
	payload, err := obj.Verify(v.pub)
	if err != nil {
		formatOK := pass(CheckFormat, "compact JWS, ES256")
		if hdr.Kid != v.keyID {
			return nil, []Check{formatOK, fail(CheckSignature, ErrWrongKey, "signed by key %q, pinned key is %q", hdr.Kid, v.keyID)}
		}
		return nil, []Check{formatOK, fail(CheckSignature, ErrBadSignature, "ES256 with key %q", v.keyID)}
	}
	r, err := decodeReport(payload)
	if err != nil {
		return nil, []Check{fail(CheckFormat, ErrMalformed, "signed payload: %v", err), pass(CheckSignature, "valid, but over a malformed payload")}
	}
	if envReport != nil {
		canon, err := jcs.Transform(envReport)
		if err != nil || !bytes.Equal(canon, payload) {
			return nil, []Check{fail(CheckFormat, ErrMalformed, "the envelope's \"report\" differs from the signed payload"), pass(CheckSignature, "valid over the signed payload")}
		}
	}
	formatOK := pass(CheckFormat, fmt.Sprintf("schema %d, RFC 8785 canonical, consistent", r.Schema))
	if hdr.Kid != v.keyID || r.KeyID != v.keyID {
		return nil, []Check{formatOK, fail(CheckSignature, ErrWrongKey, "valid signature, but it names key %q / %q, pinned key is %q", hdr.Kid, r.KeyID, v.keyID)}
	}
	return r, []Check{formatOK, pass(CheckSignature, fmt.Sprintf("ES256, key %s", v.keyID))}
}

type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// parseHeader accepts exactly the protected header Build writes: alg ES256,
// kid, typ HeaderType, and nothing else (no b64, crit, jwk or x5u).
func parseHeader(compact string) (jwsHeader, error) {
	var h jwsHeader
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return h, fmt.Errorf("compact JWS has %d parts, want 3", len(parts))
	}
	// go-jose decodes base64url leniently (non-zero trailing bits are
	// ignored), which would let one signature have several encodings.
	// Insist on the one canonical encoding of each part.
	for i, name := range []string{"header", "payload", "signature"} {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(parts[i]); err != nil {
			return h, fmt.Errorf("JWS %s is not canonical base64url: %v", name, err)
		}
	}
	raw, _ := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, fmt.Errorf("JWS header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, fmt.Errorf("JWS header: trailing data")
	}
	if h.Alg != string(jose.ES256) || h.Typ != HeaderType || h.Kid == "" {
		return h, fmt.Errorf("JWS header has alg %q typ %q kid %q; want ES256, %q and a key id", h.Alg, h.Typ, h.Kid, HeaderType)
	}
	return h, nil
}

// extractJWS accepts a bare compact JWS or the served envelope
// {"jws": ..., "report": ...} and returns the compact form (and the
// envelope's unsigned report copy, if any).
func extractJWS(data []byte) (string, json.RawMessage, error) {
	compact, report, _, err := extractEnvelope(data)
	return compact, report, err
}

// extractEnvelope is extractJWS that also returns the envelope's "quote"
// (served with ?nonce=; checked by VerifyAttested, ignored by Verify).
func extractEnvelope(data []byte) (string, json.RawMessage, json.RawMessage, error) {
	if len(data) > MaxInputBytes {
		return "", nil, nil, fmt.Errorf("input is %d bytes, more than %d", len(data), MaxInputBytes)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return "", nil, nil, errors.New("input is empty")
	}
	if data[0] != '{' {
		return string(data), nil, nil, nil
	}
	var env QuotedEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return "", nil, nil, fmt.Errorf("envelope: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, nil, errors.New("envelope: trailing data")
	}
	if env.JWS == "" {
		return "", nil, nil, errors.New(`envelope has no "jws"`)
	}
	return env.JWS, env.Report, env.Quote, nil
}

func (v *Verifier) checkTPM(r *Report) Check {
	if r.TPMKind == TPMHardware {
		return pass(CheckTPM, "signing key in a hardware TPM")
	}
	if v.opts.AllowSoftwareTPM {
		return Check{Name: CheckTPM, Status: Warn, Detail: "software TPM: not secure (allowed); the signature proves nothing about the box"}
	}
	return fail(CheckTPM, ErrSoftwareTPM, "the signing key lives in a software TPM whose state the operator can copy")
}

func (v *Verifier) checkFreshness(r *Report) Check {
	now := v.opts.Now()
	age := now.Sub(r.ServerTime)
	switch {
	case age > v.opts.MaxAge:
		return fail(CheckFreshness, ErrStale, "server time %s is %s old; the bound is %s", r.ServerTime.Format(time.RFC3339), age.Round(time.Second), v.opts.MaxAge)
	case -age > v.opts.MaxSkew:
		return fail(CheckFreshness, ErrFromFuture, "server time %s is %s ahead of this clock; the bound is %s", r.ServerTime.Format(time.RFC3339), (-age).Round(time.Second), v.opts.MaxSkew)
	}
	return pass(CheckFreshness, fmt.Sprintf("server time %s, %s old (bound %s)", r.ServerTime.Format(time.RFC3339), max(age, 0).Round(time.Second), v.opts.MaxAge))
}

// checkRetention: the oldest record held, now and at the latest run, is at
// most retention + 2 x purge interval old (a record can expire just after a
// run and survive until the next; one more interval covers a run's own
// length and timer jitter), and an ephemeral kiosk holds nothing.
func checkRetention(r *Report) Check {
	p := r.Policy
	bound := p.RetentionSeconds + 2*p.PurgeIntervalSeconds
	if p.Ephemeral && r.RecordsHeld != 0 {
		return fail(CheckRetention, ErrRetentionExceeded, "ephemeral policy, but %d records are held", r.RecordsHeld)
	}
	if r.OldestRemainingRecordAgeSeconds > bound {
		return fail(CheckRetention, ErrRetentionExceeded, "oldest record is %d s old; retention %d s + 2 x purge interval %d s = %d s",
			r.OldestRemainingRecordAgeSeconds, p.RetentionSeconds, p.PurgeIntervalSeconds, bound)
	}
	if run := r.LatestRun; run != nil && run.OldestRemainingAgeSeconds > bound {
		return fail(CheckRetention, ErrRetentionExceeded, "after purge run %d the oldest record was %d s old; the bound is %d s",
			run.Seq, run.OldestRemainingAgeSeconds, bound)
	}
	return pass(CheckRetention, fmt.Sprintf("%d records, oldest %d s <= %d s (retention %d s + 2 x %d s)",
		r.RecordsHeld, r.OldestRemainingRecordAgeSeconds, bound, p.RetentionSeconds, p.PurgeIntervalSeconds))
}

// checkPurge: a run exists, it had no errors, and it finished within two
// purge intervals of the report.
func checkPurge(r *Report) Check {
	run := r.LatestRun
	if run == nil {
		return fail(CheckPurge, ErrNoPurgeRun, "the chain holds no run; the kiosk purges at start-up, so this one has not")
	}
	if run.Errors > 0 {
		return fail(CheckPurge, ErrPurgeFailed, "run %d finished with %d errors", run.Seq, run.Errors)
	}
	if iv := r.Policy.PurgeIntervalSeconds; iv > 0 {
		since := r.ServerTime.Sub(run.Finished)
		if since > 2*time.Duration(iv)*time.Second {
			return fail(CheckPurge, ErrPurgeOverdue, "run %d finished %s before the report; the interval is %d s", run.Seq, since.Round(time.Second), iv)
		}
	}
	return pass(CheckPurge, fmt.Sprintf("run %d at %s: scanned %d, deleted %d, no errors", run.Seq, run.Finished.Format(time.RFC3339), run.Scanned, run.Deleted))
}

// checkChain compares r with an earlier report prev from the same key.
// Equal run counts need equal heads. A longer chain must pass through
// prev's head: that is shown when the runs since prev fit in r's window
// of recent hashes; a longer gap fails with ErrChainGap, since it can be
// neither shown nor refuted from the two reports alone.
func checkChain(r, prev *Report) Check {
	if prev == nil {
		return Check{Name: CheckChain, Status: Skip, Detail: fmt.Sprintf("%d runs, head %s; no earlier report to compare", r.Chain.Runs, short(r.Chain.Head))}
	}
	if prev.KioskID != r.KioskID {
		return fail(CheckChain, ErrKioskMismatch, "earlier report is from %q, this one from %q", prev.KioskID, r.KioskID)
	}
	if r.ServerTime.Before(prev.ServerTime) {
		return fail(CheckChain, ErrChainRegressed, "made at %s, before the earlier report (%s): a replay", r.ServerTime.Format(time.RFC3339), prev.ServerTime.Format(time.RFC3339))
	}
	cur, old := r.Chain, prev.Chain
	k := cur.Runs - old.Runs
	switch {
	case k < 0:
		return fail(CheckChain, ErrChainRegressed, "%d runs, fewer than the %d of the earlier report", cur.Runs, old.Runs)
	case k == 0:
		if cur.Head != old.Head {
			return fail(CheckChain, ErrChainForked, "same %d runs, but head %s differs from the earlier %s", cur.Runs, short(cur.Head), short(old.Head))
		}
		return pass(CheckChain, fmt.Sprintf("no run since the earlier report; head %s unchanged", short(cur.Head)))
	case old.Runs == 0:
		return pass(CheckChain, fmt.Sprintf("%d runs since the earlier, empty chain", k))
	}
	if k == 1 {
		if r.LatestRun.PrevHash != old.Head {
			return fail(CheckChain, ErrChainForked, "run %d follows %s, not the earlier head %s", r.LatestRun.Seq, short(r.LatestRun.PrevHash), short(old.Head))
		}
		return pass(CheckChain, fmt.Sprintf("1 run since the earlier report, linked to its head %s", short(old.Head)))
	}
	idx := int64(len(cur.Recent)) - 1 - k
	if idx < 0 {
		return fail(CheckChain, ErrChainGap, "%d runs since the earlier report, but this one lists only the last %d hashes", k, len(cur.Recent))
	}
	if cur.Recent[idx] != old.Head {
		return fail(CheckChain, ErrChainForked, "run %d is %s here, but the earlier report's head was %s", old.Runs, short(cur.Recent[idx]), short(old.Head))
	}
	return pass(CheckChain, fmt.Sprintf("%d runs since the earlier report; run %d still has hash %s", k, old.Runs, short(old.Head)))
}

func short(h Hash) string { return h.String()[:16] }

// ParsePublicKey reads a pinned key: a PEM "PUBLIC KEY" (PKIX) block or a
// JWK, either of which must hold an ECDSA P-256 public key. A JWK's own
// "kid" is ignored; the key id is always recomputed (RFC 7638).
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	data = bytes.TrimSpace(data)
	var pub any
	switch {
	case bytes.HasPrefix(data, []byte("-----BEGIN")):
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, errors.New("evidence: want a PEM \"PUBLIC KEY\" block")
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("evidence: PEM public key: %w", err)
		}
		pub = k
	case bytes.HasPrefix(data, []byte("{")):
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("evidence: JWK: %w", err)
		}
		if !jwk.IsPublic() {
			return nil, errors.New("evidence: the JWK holds a private key; pin only the public key")
		}
		pub = jwk.Key
	default:
		return nil, errors.New("evidence: public key is neither PEM nor JWK")
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("evidence: pinned key is %T; reports are signed with ECDSA P-256", pub)
	}
	return k, nil
}

// SplitForStockTools returns a compact JWS's signing input (the bytes the
// signature covers) and its signature in ASN.1 DER, so a second
// implementation can check it, for example:
//
//	openssl dgst -sha256 -verify pub.pem -signature sig.der input
func SplitForStockTools(compact string) (input, derSignature []byte, err error) {
	i := strings.LastIndexByte(compact, '.')
	if i < 0 || strings.Count(compact, ".") != 2 {
		return nil, nil, errors.New("evidence: not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(compact[i+1:])
	if err != nil {
		return nil, nil, fmt.Errorf("evidence: JWS signature: %w", err)
	}
	der, err := rawToDER(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("evidence: %w", err)
	}
	return []byte(compact[:i]), der, nil
}
