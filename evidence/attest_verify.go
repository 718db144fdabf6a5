package evidence

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"time"
)

// AttestOptions says what a verifier trusts when it checks a kiosk's TPM
// attestation. The zero value checks nothing successfully: every trust
// anchor must be given.
type AttestOptions struct {
	// EKRoots are the CAs trusted to certify TPM endorsement keys
	// (LoadEKRoots, --ek-roots). Nil fails the ek-cert check.
	EKRoots *EKRoots
	// AKPin is the result of this verifier's credential activation of the
	// kiosk's AK (Activation.Finish). Nil fails the ak check.
	AKPin *AKPin
	// ExpectedPCRs are the PCR values the kiosk must have booted with
	// (ParseExpectedPCRs, --pcrs). Nil shows the quoted values without
	// judging them (the pcrs check is skipped).
	ExpectedPCRs PCRValues
	// Nonce is the nonce this verifier sent (GET /api/retention?nonce=HEX).
	// When set, the report must carry a quote answering it; nil skips the
	// nonce check (a quote without your nonce may be replayed).
	Nonce []byte
	// PinnedKey, when set, must also equal the certified signing key (a key
	// pinned at installation, --pubkey, on top of the attestation).
	PinnedKey *ecdsa.PublicKey
}

// AttestationResult is the outcome of VerifyAttestation.
type AttestationResult struct {
	// Attestation is the decoded bundle (nil if it did not decode).
	Attestation *Attestation
	// SigningKey is the certified evidence signing key, set when the
	// certify check passed. Trust it only if OK() is also true.
	SigningKey *ecdsa.PublicKey
	// Checks are attestation, ek-cert, ak and certify, in that order.
	Checks []Check

	p *parsedAttestation
}

// OK reports whether every check passed.
func (r *AttestationResult) OK() bool { return r.Err() == nil }

// Err joins the failed checks' *CheckError values.
func (r *AttestationResult) Err() error { return joinFailed(r.Checks) }

func joinFailed(cs []Check) error {
	var errs []error
	for _, c := range cs {
		if c.Status == Fail {
			errs = append(errs, c.Err)
		}
	}
	return errors.Join(errs...)
}

// VerifyAttestation checks a bundle from GET /api/attestation offline:
//
//   - ek-cert: the EK certificate chains to ao.EKRoots (TPM quirks such as
//     a critical directoryName subject alternative name are understood),
//     and the EK public area holds its key;
//   - ak: the AK is a restricted signing key bound to its TPM, and
//     ao.AKPin (a credential activation done earlier) names this AK and
//     this EK certificate;
//   - certify: the AK signed a TPM2_Certify of the bundle's signing key,
//     whose public area shows fixedTPM, fixedParent, sensitiveDataOrigin,
//     and whose qualified name makes it a child of the bundle's SRK.
//
// Trust the certified SigningKey only when all checks pass. now is the
// time at which certificates must be valid.
func VerifyAttestation(attestation []byte, now time.Time, ao AttestOptions) (*AttestationResult, error) {
	r := verifyAttestation(attestation, now, ao)
	return r, r.Err()
}

func verifyAttestation(attestation []byte, now time.Time, ao AttestOptions) *AttestationResult {
	r := &AttestationResult{}
	p, err := parseAttestation(attestation)
	if err != nil {
		r.Checks = []Check{fail(CheckAttestation, ErrMalformed, "%v", err)}
		for _, n := range []string{CheckEKCert, CheckAK, CheckCertify} {
			r.Checks = append(r.Checks, Check{Name: n, Status: Skip, Detail: "not checked: the attestation bundle did not decode"})
		}
		return r
	}
	r.p, r.Attestation = p, p.a
	r.Checks = append(r.Checks, pass(CheckAttestation, "schema 1, every TPM structure decodes"))
	r.Checks = append(r.Checks, checkEKCert(p, ao.EKRoots, now), checkAK(p, ao.AKPin))
	cc, key := checkCertify(p)
	if key != nil && ao.PinnedKey != nil && !key.Equal(ao.PinnedKey) {
		kid, _ := KeyID(key)
		pinned, _ := KeyID(ao.PinnedKey)
		cc, key = fail(CheckCertify, ErrWrongKey, "the certified key %s is not your pinned key %s", kid, pinned), nil
	}
	r.Checks = append(r.Checks, cc)
	r.SigningKey = key
	return r
}

// VerifyAttested checks a report (compact JWS, or the served envelope,
// which may carry a "quote") against a kiosk's attestation bundle, with
// no key pinned beforehand: the signing key is the one the TPM certified.
// It returns every check, in order: attestation, ek-cert, ak, certify (the
// chain EK -> AK -> signing key), then the report's own checks (format,
// signature, tpm, freshness, retention, purge, chain, as Verifier.Verify),
// then quote, nonce and pcrs (the boot state, fresh for ao.Nonce). The
// error joins the failed ones as *CheckError.
//
// previous is an earlier report, opened with a Verifier on the certified
// key (AttestationResult.SigningKey), or nil.
func VerifyAttested(data, attestation []byte, previous *Report, vo VerifyOptions, ao AttestOptions) (*Result, error) {
	now := time.Now
	if vo.Now != nil {
		now = vo.Now
	}
	ar := verifyAttestation(attestation, now(), ao)
	res := &Result{Checks: ar.Checks}
	key := ar.SigningKey
	if key == nil {
		key = ao.PinnedKey
	}
	if key == nil {
		for _, n := range []string{CheckFormat, CheckSignature, CheckTPM, CheckFreshness, CheckRetention, CheckPurge, CheckChain} {
			res.Checks = append(res.Checks, Check{Name: n, Status: Skip, Detail: "not checked: no trusted signing key (the certification failed and no key is pinned)"})
		}
	} else {
		v, err := NewVerifier(key, vo)
		if err != nil {
			return nil, err
		}
		inner, _ := v.Verify(data, previous)
		res.Report = inner.Report
		res.Checks = append(res.Checks, inner.Checks...)
	}
	res.Checks = append(res.Checks, quoteChecks(data, ar, res.Report, ao)...)
	return res, res.Err()
}

// quoteChecks runs quote, nonce and pcrs on the envelope's quote.
func quoteChecks(data []byte, ar *AttestationResult, r *Report, ao AttestOptions) []Check {
	skip := func(why string) []Check {
		return []Check{{Name: CheckQuote, Status: Skip, Detail: why}, {Name: CheckNonce, Status: Skip, Detail: why}, {Name: CheckPCRs, Status: Skip, Detail: why}}
	}
	_, _, raw, err := extractEnvelope(data)
	if err != nil {
		return skip("not checked: the report did not decode")
	}
	if len(raw) == 0 || string(raw) == "null" {
		if ao.Nonce != nil {
			out := skip("not checked: no quote")
			out[0] = fail(CheckQuote, ErrNoQuote, "you sent a nonce but the report carries no quote: ask GET /api/retention?nonce=HEX of a kiosk with attestation")
			return out
		}
		return skip("no quote: the report was fetched without a nonce, so it says nothing of the boot state")
	}
	pq, err := parseQuote(raw)
	if err != nil {
		out := skip("not checked: the quote did not decode")
		out[0] = fail(CheckQuote, ErrMalformed, "%v", err)
		return out
	}
	if ar.p == nil {
		return skip("not checked: no attestation key to check the quote with")
	}
	qc := checkQuote(pq, ar.p.ak, ar.p.srk)
	if qc.Status == Fail {
		return []Check{qc,
			{Name: CheckNonce, Status: Skip, Detail: "not checked: the quote is not the AK's"},
			{Name: CheckPCRs, Status: Skip, Detail: "not checked: the quote is not the AK's"}}
	}
	nc := Check{Name: CheckNonce, Status: Skip, Detail: "not checked: the report itself could not be trusted"}
	if r != nil {
		payload, err := Canonical(r)
		if err == nil {
			nc = checkNonce(pq, ao.Nonce, payload)
		}
	}
	return []Check{qc, nc, checkPCRs(pq, ao.ExpectedPCRs)}
}

// QuotedEnvelope is the body of GET /api/retention?nonce=HEX: the signed
// report envelope plus the quote. NewHandler writes it when
// HandlerOptions.Quote is set.
type QuotedEnvelope struct {
	JWS    string          `json:"jws"`
	Report json.RawMessage `json:"report"`
	Quote  json.RawMessage `json:"quote"`
}
