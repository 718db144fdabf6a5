package tpmkeys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"kiosk/evidence"
)

// attestEnv runs the attestation tests on one kind of TPM. open starts
// kiosk number i (0 or 1: two different TPMs); close stops it and checks
// that nothing leaked in its TPM.
type attestEnv struct {
	roots *evidence.EKRoots
	open  func(tb testing.TB, i int) *attestKiosk
	close func(tb testing.TB, k *attestKiosk)
}

// forEachAttestEnv runs f on the in-process simulator (with an EK
// certificate a test CA wrote into its NV, as a manufacturer would) and on
// swtpm manufactured by swtpm_setup --create-ek-cert under a throwaway
// local CA.
func forEachAttestEnv(t *testing.T, f func(t *testing.T, env *attestEnv)) {
	t.Run("sim", func(t *testing.T) {
		ca := newTestEKCA(t, "Test TPM Maker EK Root")
		env := &attestEnv{roots: ca.roots(t)}
		env.open = func(tb testing.TB, i int) *attestKiosk {
			tpm := newSim(tb, int64(700+i))
			provisionEKCert(tb, tpm, ca)
			return newAttestKiosk(tb, tpm, testOpts(tb, newClock()), env.roots)
		}
		env.close = func(tb testing.TB, k *attestKiosk) {
			closeAndCheck(tb, k.c, k.tpm)
			k.tpm.(transport.TPMCloser).Close() // one simulator per process
		}
		f(t, env)
	})
	t.Run("swtpm", func(t *testing.T) {
		caDir := t.TempDir()
		env := &attestEnv{}
		env.open = func(tb testing.TB, i int) *attestKiosk {
			p, rootsDir := manufacturedSWTPM(tb, caDir)
			if env.roots == nil {
				r, err := evidence.LoadEKRoots(rootsDir)
				if err != nil {
					tb.Fatalf("LoadEKRoots(swtpm local CA) = %v", err)
				}
				env.roots = r
			}
			tpm := dialSWTPM(tb, p)
			return newAttestKiosk(tb, tpm, swOpts(tb, newClock()), env.roots)
		}
		env.close = func(tb testing.TB, k *attestKiosk) { closeAndCheck(tb, k.c, k.tpm) }
		f(t, env)
	})
}

// TestAttestEndToEnd: a kiosk's report, fetched with a nonce, verified
// offline from the EK certificate's root alone: EK -> AK (activated once)
// -> certified signing key -> report signature -> quote, nonce and the
// expected PCR values. Every check passes.
func TestAttestEndToEnd(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		nonce := newNonce(t)
		body := k.fetch(t, nonce)
		q := quoteOf(t, body)
		ao := evidence.AttestOptions{EKRoots: env.roots, AKPin: pin, Nonce: nonce, ExpectedPCRs: q.PCRs}
		res, err := evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), ao)
		if err != nil {
			t.Errorf("VerifyAttested = %v; want every check to pass", err)
		}
		wantAllPass(t, res.Checks, evidence.CheckChain)
		for _, c := range res.Checks {
			t.Logf("%-12s %v  %s", c.Name, c.Status, c.Detail)
		}
		if got, want := checkOf(t, res.Checks, evidence.CheckPCRs).Detail, "[7]"; !strings.Contains(got, want) {
			t.Errorf("pcrs check = %q; want it to name the default PCR %s", got, want)
		}
		// The report without a nonce, as cached: no quote, nothing fails.
		plain := k.fetch(t, nil)
		res, err = evidence.VerifyAttested(plain, k.bundle, nil, verifyOpts(), evidence.AttestOptions{EKRoots: env.roots, AKPin: pin})
		if err != nil {
			t.Errorf("VerifyAttested(no nonce) = %v; want nil", err)
		}
		if c := checkOf(t, res.Checks, evidence.CheckQuote); c.Status != evidence.Skip {
			t.Errorf("quote check without a nonce = %v; want SKIP", c.Status)
		}
		env.close(t, k)
	})
}

// TestAttestSWTPMP384EK uses swtpm's other EK: ECC P-384 of the
// high-range template H-3 (certificate at NV 0x01c00016, SHA-384 name
// algorithm, AES-256), found at its persistent handle.
func TestAttestSWTPMP384EK(t *testing.T) {
	p, rootsDir := manufacturedSWTPM(t, t.TempDir())
	roots, err := evidence.LoadEKRoots(rootsDir)
	if err != nil {
		t.Fatal(err)
	}
	o := swOpts(t, newClock())
	o.EKCertIndex = EKCertIndexECCP384
	k := newAttestKiosk(t, dialSWTPM(t, p), o, roots)
	pin := k.activate(t)
	res, err := evidence.VerifyAttestation(k.bundle, attestNow, evidence.AttestOptions{EKRoots: roots, AKPin: pin})
	if err != nil {
		t.Fatalf("VerifyAttestation(P-384 EK) = %v", err)
	}
	t.Log(checkOf(t, res.Checks, evidence.CheckEKCert).Detail)
}

// TestAttestUntrustedRoot: the same bundle against a root that did not
// sign its EK certificate fails the ek-cert check, and a verifier will not
// even start a credential activation with it.
func TestAttestUntrustedRoot(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		other := newTestEKCA(t, "Another TPM Maker").roots(t)
		body := k.fetch(t, nil)
		res, _ := evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), evidence.AttestOptions{EKRoots: other, AKPin: pin})
		wantFail(t, res.Checks, evidence.CheckEKCert, evidence.ErrUntrustedEK)
		if _, err := evidence.NewActivation(k.bundle, other, evidence.ActivationOptions{}); !errors.Is(err, evidence.ErrUntrustedEK) {
			t.Errorf("NewActivation(untrusted root) = %v; want ErrUntrustedEK", err)
		}
		res, _ = evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), evidence.AttestOptions{AKPin: pin})
		wantFail(t, res.Checks, evidence.CheckEKCert, evidence.ErrUntrustedEK) // no roots at all
		env.close(t, k)
	})
}

// TestAttestNoEKCertFails: the plain simulator holds no EK certificate.
// The kiosk still publishes its certification, but nothing ties the TPM to
// a manufacturer, and the verifier says so.
func TestAttestNoEKCertFails(t *testing.T) {
	tpm := newSim(t, 731)
	k := newAttestKiosk(t, tpm, testOpts(t, newClock()), nil)
	res, err := evidence.VerifyAttestation(k.bundle, attestNow, evidence.AttestOptions{EKRoots: newTestEKCA(t, "x").roots(t)})
	if err == nil {
		t.Fatal("VerifyAttestation(no EK certificate) = nil; want a failure")
	}
	wantFail(t, res.Checks, evidence.CheckEKCert, evidence.ErrNoEKCert)
	if c := checkOf(t, res.Checks, evidence.CheckCertify); c.Status != evidence.Pass {
		t.Errorf("certify check = %v (%s); want PASS (the AK did certify the key)", c.Status, c.Detail)
	}
	if _, err := k.c.ActivateCredential([]byte{1}, []byte{1}); !errors.Is(err, ErrNoEKCert) {
		t.Errorf("ActivateCredential without an EK certificate = %v; want ErrNoEKCert", err)
	}
}

// TestCertifyOtherTPMFails: kiosk A's report checked against kiosk B's
// attestation, and A's bundle carrying B's certification, both fail, each
// for its own reason; and a credential made for B's EK and AK does not
// activate in A's TPM.
func TestCertifyOtherTPMFails(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		b := env.open(t, 1)
		b.roots = env.roots
		pinB := b.activate(t)
		bundleB := b.bundle
		var attB evidence.Attestation
		mustUnmarshal(t, bundleB, &attB)
		actB, err := evidence.NewActivation(bundleB, env.roots, evidence.ActivationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env.close(t, b)

		a := env.open(t, 0)
		a.roots = env.roots
		pinA := a.activate(t)
		body := a.fetch(t, nil)

		// A's report, B's attestation: the certified key is B's.
		res, _ := evidence.VerifyAttested(body, bundleB, nil, verifyOpts(), evidence.AttestOptions{EKRoots: env.roots, AKPin: pinB})
		wantFail(t, res.Checks, evidence.CheckSignature, evidence.ErrWrongKey)

		// A's bundle with the certification B's AK made (of B's key).
		var att evidence.Attestation
		mustUnmarshal(t, a.bundle, &att)
		att.CertifyInfo, att.CertifySignature = attB.CertifyInfo, attB.CertifySignature
		res, _ = evidence.VerifyAttested(body, mustJSON(t, att), nil, verifyOpts(), evidence.AttestOptions{EKRoots: env.roots, AKPin: pinA})
		wantFail(t, res.Checks, evidence.CheckCertify, evidence.ErrBadCertify)

		// A's bundle with B's AK and certification swapped in: A's pin does
		// not name B's AK.
		att.AKPublic = attB.AKPublic
		res, _ = evidence.VerifyAttested(body, mustJSON(t, att), nil, verifyOpts(), evidence.AttestOptions{EKRoots: env.roots, AKPin: pinA})
		wantFail(t, res.Checks, evidence.CheckAK, evidence.ErrAKNotActivated)

		// B's pin does not fit A's bundle.
		res, _ = evidence.VerifyAttested(body, a.bundle, nil, verifyOpts(), evidence.AttestOptions{EKRoots: env.roots, AKPin: pinB})
		wantFail(t, res.Checks, evidence.CheckAK, evidence.ErrAKNotActivated)

		// A credential for B's EK and AK does not open in A's TPM.
		ch := actB.Challenge()
		if _, err := a.c.ActivateCredential(ch.CredentialBlob, ch.EncryptedSecret); !errors.Is(err, ErrCredentialRejected) {
			t.Errorf("ActivateCredential(B's credential) on A = %v; want ErrCredentialRejected", err)
		}
		env.close(t, a)
	})
}

// TestCertifyForged: certifications that did not come from the TPM's AK,
// or that certify something else than a non-exportable key of this TPM,
// all fail.
func TestCertifyForged(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		ao := evidence.AttestOptions{EKRoots: env.roots, AKPin: pin}
		var real evidence.Attestation
		mustUnmarshal(t, k.bundle, &real)
		srk, ak := mustPublic(t, real.SRKPublic), mustPublic(t, real.AKPublic)

		// A software key dressed as a TPM key: its public area claims
		// fixedTPM and friends, and the "certification" is signed by the
		// kiosk's evidence signing key, which (unrestricted) signs any digest.
		soft, softPub := softKeyPublic(t, signerTemplate)
		forged := certifyInfo(t, srk, ak, softPub, []byte(CertifyQualifyingData))
		viaSigner := signAttest(t, k.c.Signer(), forged)

		// A software AK claiming to be restricted, signing the same.
		softAK, softAKPub := softKeyPublic(t, akTemplate)
		viaSoftAK := signAttest(t, softAK, certifyInfo(t, srk, softAKPub, softPub, []byte(CertifyQualifyingData)))

		// The real AK certifying a key of this TPM that can be duplicated
		// (fixedTPM and fixedParent clear), and the signing key for another
		// purpose.
		dupPub, dupInfo, dupSig := certifyInTPM(t, k.c, duplicableTemplate(), []byte(CertifyQualifyingData))
		_, otherInfo, otherSig := certifyInTPM(t, k.c, tpm2.TPMTPublic{}, []byte("another purpose"))

		flipped := bytes.Clone(real.CertifyInfo)
		flipped[len(flipped)-3] ^= 1

		cases := []struct {
			name  string
			edit  func(a *evidence.Attestation)
			check string
			want  error
		}{
			{"altered certify info", func(a *evidence.Attestation) { a.CertifyInfo = flipped }, evidence.CheckCertify, evidence.ErrBadCertify},
			{"signed by the signing key, not the AK", func(a *evidence.Attestation) {
				a.SigningKeyPublic, a.KeyID, a.CertifyInfo, a.CertifySignature = tpm2.Marshal(softPub), keyID(t, soft), forged, viaSigner
			}, evidence.CheckCertify, evidence.ErrBadCertify},
			{"signing key posing as the AK", func(a *evidence.Attestation) {
				sp := mustReadPublic(t, k)
				a.AKPublic, a.SigningKeyPublic, a.KeyID = tpm2.Marshal(sp), tpm2.Marshal(softPub), keyID(t, soft)
				a.CertifyInfo, a.CertifySignature = certifyInfo(t, srk, sp, softPub, []byte(CertifyQualifyingData)), viaSigner
			}, evidence.CheckAK, evidence.ErrBadAK},
			{"software AK", func(a *evidence.Attestation) {
				a.AKPublic, a.SigningKeyPublic, a.KeyID = tpm2.Marshal(softAKPub), tpm2.Marshal(softPub), keyID(t, soft)
				a.CertifyInfo, a.CertifySignature = certifyInfo(t, srk, softAKPub, softPub, []byte(CertifyQualifyingData)), viaSoftAK
			}, evidence.CheckAK, evidence.ErrAKNotActivated},
			{"duplicable key certified by the real AK", func(a *evidence.Attestation) {
				a.SigningKeyPublic, a.KeyID, a.CertifyInfo, a.CertifySignature = dupPub, keyIDOf(t, dupPub), dupInfo, dupSig
			}, evidence.CheckCertify, evidence.ErrKeyNotCertified},
			{"certification for another purpose", func(a *evidence.Attestation) {
				a.CertifyInfo, a.CertifySignature = otherInfo, otherSig
			}, evidence.CheckCertify, evidence.ErrBadCertify},
			{"public area swapped for another key", func(a *evidence.Attestation) {
				a.SigningKeyPublic, a.KeyID = tpm2.Marshal(softPub), keyID(t, soft)
			}, evidence.CheckCertify, evidence.ErrKeyNotCertified},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a := real
				tc.edit(&a)
				res, err := evidence.VerifyAttestation(mustJSON(t, a), attestNow, ao)
				if err == nil {
					t.Fatalf("VerifyAttestation(%s) = nil; want a failure", tc.name)
				}
				wantFail(t, res.Checks, tc.check, tc.want)
				if res.OK() {
					t.Errorf("OK() = true")
				}
			})
		}
		// The software AK cannot be activated: the kiosk's TPM does not hold it.
		a := real
		a.AKPublic = tpm2.Marshal(softAKPub)
		act, err := evidence.NewActivation(mustJSON(t, a), env.roots, evidence.ActivationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ch := act.Challenge()
		if _, err := k.c.ActivateCredential(ch.CredentialBlob, ch.EncryptedSecret); !errors.Is(err, ErrCredentialRejected) {
			t.Errorf("ActivateCredential(credential for a software AK) = %v; want ErrCredentialRejected", err)
		}
		env.close(t, k)
	})
}

// TestQuoteWrongNonce: a quote answers one nonce for one report. Another
// nonce, a quote lifted onto another report, or a nonce with no quote
// at all, fail the nonce (or quote) check.
func TestQuoteWrongNonce(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		n1, n2 := newNonce(t), newNonce(t)
		body := k.fetch(t, n1)
		ao := evidence.AttestOptions{EKRoots: env.roots, AKPin: pin, Nonce: n2}
		res, _ := evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckNonce, evidence.ErrWrongNonce)

		// The right nonce echoed, but the quote was made for another report.
		other := k.fetch(t, n2)
		var env1, env2 evidence.QuotedEnvelope
		mustUnmarshal(t, body, &env1)
		mustUnmarshal(t, other, &env2)
		b2, err := k.builder.Build(attestSnapshotWith(3))
		if err != nil {
			t.Fatal(err)
		}
		env2.JWS, env2.Report = b2.JWS, b2.Payload
		res, _ = evidence.VerifyAttested(mustJSON(t, env2), k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckNonce, evidence.ErrWrongNonce)

		// A nonce sent, no quote returned.
		res, _ = evidence.VerifyAttested(k.fetch(t, nil), k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckQuote, evidence.ErrNoQuote)
		env.close(t, k)
	})
}

// TestQuotePCRChangedFails: after PCR 7 is extended (a changed boot
// chain), a fresh quote no longer matches the expected values taken from
// the first; and a quote that lists the old values over the new digest is
// caught too.
func TestQuotePCRChangedFails(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		n := newNonce(t)
		expected := quoteOf(t, k.fetch(t, n)).PCRs
		extendPCR(t, k.tpm, 7)
		n = newNonce(t)
		body := k.fetch(t, n)
		ao := evidence.AttestOptions{EKRoots: env.roots, AKPin: pin, Nonce: n, ExpectedPCRs: expected}
		res, _ := evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckPCRs, evidence.ErrPCRMismatch)
		if c := checkOf(t, res.Checks, evidence.CheckNonce); c.Status != evidence.Pass {
			t.Errorf("nonce check = %v; want PASS (only the PCR changed)", c.Status)
		}

		// Claim the old values over the new quote: they do not hash to the
		// quoted digest.
		var qe evidence.QuotedEnvelope
		mustUnmarshal(t, body, &qe)
		var q evidence.Quote
		mustUnmarshal(t, qe.Quote, &q)
		q.PCRs = expected
		qe.Quote = mustJSON(t, q)
		res, _ = evidence.VerifyAttested(mustJSON(t, qe), k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckQuote, evidence.ErrBadQuote)

		// Expected values for another PCR set.
		ao.ExpectedPCRs = evidence.PCRValues{"sha256": {0: make([]byte, 32), 7: expected["sha256"][7]}}
		res, _ = evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(), ao)
		wantFail(t, res.Checks, evidence.CheckPCRs, evidence.ErrPCRMismatch)
		env.close(t, k)
	})
}

// TestQuoteForged: a quote signed by anything but the AK fails, even when
// it is signed inside the same TPM by the (unrestricted) evidence key.
func TestQuoteForged(t *testing.T) {
	forEachAttestEnv(t, func(t *testing.T, env *attestEnv) {
		k := env.open(t, 0)
		k.roots = env.roots
		pin := k.activate(t)
		n := newNonce(t)
		body := k.fetch(t, n)
		var qe evidence.QuotedEnvelope
		mustUnmarshal(t, body, &qe)
		var q evidence.Quote
		mustUnmarshal(t, qe.Quote, &q)
		ao := evidence.AttestOptions{EKRoots: env.roots, AKPin: pin, Nonce: n}
		for _, tc := range []struct {
			name string
			edit func(q *evidence.Quote)
		}{
			{"re-signed by the signing key", func(q *evidence.Quote) { q.Signature = signAttest(t, k.c.Signer(), q.Quoted) }},
			{"altered", func(q *evidence.Quote) { q.Quoted = bytes.Clone(q.Quoted); q.Quoted[len(q.Quoted)-1] ^= 1 }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fq := q
				tc.edit(&fq)
				e := qe
				e.Quote = mustJSON(t, fq)
				res, _ := evidence.VerifyAttested(mustJSON(t, e), k.bundle, nil, verifyOpts(), ao)
				wantFail(t, res.Checks, evidence.CheckQuote, evidence.ErrBadQuote)
			})
		}
		env.close(t, k)
	})
}

// TestAttestationJSONContract: what tpmkeys writes is what evidence reads,
// and the certification's qualifying data is the same on both sides.
func TestAttestationJSONContract(t *testing.T) {
	if CertifyQualifyingData != evidence.CertifyQualifyingData || AttestationSchema != evidence.AttestationSchema ||
		MinNonce != evidence.MinNonce || MaxNonce != evidence.MaxNonce {
		t.Fatal("tpmkeys and evidence disagree on the attestation constants")
	}
	ca := newTestEKCA(t, "Contract CA")
	tpm := newSim(t, 733)
	provisionEKCert(t, tpm, ca)
	k := newAttestKiosk(t, tpm, testOpts(t, newClock()), ca.roots(t))
	a, err := evidence.ParseAttestation(k.bundle)
	if err != nil {
		t.Fatalf("ParseAttestation(tpmkeys bundle) = %v", err)
	}
	if a.KeyID != k.c.KeyID() || len(a.EKCertificates) != 1 {
		t.Errorf("parsed bundle has key %s and %d EK certificates; want %s and 1", a.KeyID, len(a.EKCertificates), k.c.KeyID())
	}
	n := newNonce(t)
	q, err := k.c.Quote(n, evidence.QuoteQualifyingData(n, []byte("payload")))
	if err != nil {
		t.Fatal(err)
	}
	eq, err := evidence.ParseQuote(mustJSON(t, q))
	if err != nil {
		t.Fatalf("ParseQuote(tpmkeys quote) = %v", err)
	}
	if !bytes.Equal(eq.Nonce, n) || len(eq.PCRs["sha256"]) != 1 {
		t.Errorf("parsed quote = nonce %x, pcrs %v; want %x and PCR 7", eq.Nonce, eq.PCRs, n)
	}
	// A second call is served from the cache: no TPM command.
	ct := &countingTPM{t: k.c.tpm}
	k.c.tpm = ct
	if _, err := k.c.Attestation(); err != nil || ct.n.Load() != 0 {
		t.Errorf("second Attestation = %v with %d TPM commands; want nil and 0", err, ct.n.Load())
	}
	k.c.tpm = ct.t
	// Bad quote inputs are refused before the TPM.
	for _, tc := range []struct{ nonce, qd []byte }{{[]byte("short"), n}, {n, nil}, {n, make([]byte, 33)}, {make([]byte, 65), n}} {
		if _, err := k.c.Quote(tc.nonce, tc.qd); !errors.Is(err, ErrBadQuoteInput) {
			t.Errorf("Quote(%d-byte nonce, %d-byte data) = %v; want ErrBadQuoteInput", len(tc.nonce), len(tc.qd), err)
		}
	}
}

// TestQuotePCRsDefault: quotes cover the KEK's PCR binding, or PCR 7.
func TestQuotePCRsDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []int
	}{
		{"default", Options{}, []int{7}},
		{"kek binding", Options{PCRs: []int{11, 7}}, []int{7, 11}},
		{"explicit", Options{PCRs: []int{7}, QuotePCRs: []int{0, 2, 2, 7}}, []int{0, 2, 7}},
	} {
		c := &Custody{opts: tc.o}
		if got := c.QuotePCRs(); pcrList(got) != pcrList(tc.want) {
			t.Errorf("%s: QuotePCRs() = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func pcrList(p []int) string { b, _ := json.Marshal(p); return string(b) }

func attestSnapshotWith(records int64) evidence.Snapshot {
	s := attestSnapshot()
	s.RecordsHeld, s.OldestRemainingRecordAgeSeconds = records, 60
	return s
}

func quoteOf(tb testing.TB, body []byte) *evidence.Quote {
	tb.Helper()
	var e evidence.QuotedEnvelope
	mustUnmarshal(tb, body, &e)
	q, err := evidence.ParseQuote(e.Quote)
	if err != nil {
		tb.Fatalf("ParseQuote = %v", err)
	}
	return q
}

func extendPCR(tb testing.TB, t transport.TPM, pcr int) {
	tb.Helper()
	d := sha256.Sum256([]byte("a changed boot chain"))
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: d[:]}}},
	}.Execute(t)
	if err != nil {
		tb.Fatalf("PCR_Extend(%d) = %v", pcr, err)
	}
}

func mustUnmarshal(tb testing.TB, data []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("json.Unmarshal = %v", err)
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

func mustPublic(tb testing.TB, b []byte) *tpm2.TPMTPublic {
	tb.Helper()
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustReadPublic(tb testing.TB, k *attestKiosk) *tpm2.TPMTPublic {
	tb.Helper()
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	rp, err := tpm2.ReadPublic{ObjectHandle: k.c.signer.Handle}.Execute(k.c.tpm)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := rp.OutPublic.Contents()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// softKeyPublic makes a software P-256 key and a TPMT_PUBLIC claiming the
// attributes of tmpl for it.
func softKeyPublic(tb testing.TB, tmpl tpm2.TPMTPublic) (*ecdsa.PrivateKey, *tpm2.TPMTPublic) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	p := tmpl
	p.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
	})
	return k, &p
}

func name(tb testing.TB, p *tpm2.TPMTPublic) []byte {
	tb.Helper()
	n, err := tpm2.ObjectName(p)
	if err != nil {
		tb.Fatal(err)
	}
	return n.Buffer
}

func qn(parent []byte, p *tpm2.TPMTPublic, tb testing.TB) []byte {
	h := sha256.New()
	h.Write(parent)
	h.Write(name(tb, p))
	return h.Sum([]byte{0, 0x0b})
}

// certifyInfo builds the TPMS_ATTEST a TPM2_Certify of obj by signer
// would have, as a forger would.
func certifyInfo(tb testing.TB, srk, signer, obj *tpm2.TPMTPublic, qd []byte) []byte {
	tb.Helper()
	srkQN := qn([]byte{0x40, 0, 0, 1}, srk, tb)
	a := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: qn(srkQN, signer, tb)},
		ExtraData:       tpm2.TPM2BData{Buffer: qd},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name:          tpm2.TPM2BName{Buffer: name(tb, obj)},
			QualifiedName: tpm2.TPM2BName{Buffer: qn(srkQN, obj, tb)},
		}),
	}
	return tpm2.Marshal(a)
}

// signAttest signs SHA-256(msg) with s and encodes a TPMT_SIGNATURE.
func signAttest(tb testing.TB, s crypto.Signer, msg []byte) []byte {
	tb.Helper()
	d := sha256.Sum256(msg)
	der, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		tb.Fatal(err)
	}
	return tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: rs.R.Bytes()},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: rs.S.Bytes()},
		}),
	})
}

func duplicableTemplate() tpm2.TPMTPublic {
	p := signerTemplate
	p.ObjectAttributes.FixedTPM, p.ObjectAttributes.FixedParent = false, false
	return p
}

// certifyInTPM certifies, with the real AK and qualifying data qd, either
// a new key of template tmpl created under the SRK, or (zero tmpl) the
// evidence signing key. It returns the object's public area and the
// certification.
func certifyInTPM(tb testing.TB, c *Custody, tmpl tpm2.TPMTPublic, qd []byte) (pub, info, sig []byte) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ak, err := c.loadAK()
	if err != nil {
		tb.Fatal(err)
	}
	defer flush(c.tpm, ak.Handle)
	obj := c.signer
	if tmpl.Type != 0 {
		// swtpm and the simulator hold 3 objects: make room beside the
		// AK by unloading the signing key for the moment.
		flush(c.tpm, c.signer.Handle)
		defer func() {
			if err := c.loadSigner(); err != nil {
				tb.Fatal(err)
			}
		}()
		rsp, err := tpm2.CreateLoaded{
			ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.New2BTemplate(&tmpl),
		}.Execute(c.tpm)
		if err != nil {
			tb.Fatalf("CreateLoaded = %v", err)
		}
		defer flush(c.tpm, rsp.ObjectHandle)
		obj = tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}
	}
	rp, err := tpm2.ReadPublic{ObjectHandle: obj.Handle}.Execute(c.tpm)
	if err != nil {
		tb.Fatal(err)
	}
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: obj.Handle, Name: obj.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: qd},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(c.tpm)
	if err != nil {
		tb.Fatalf("Certify = %v", err)
	}
	return rp.OutPublic.Bytes(), rsp.CertifyInfo.Bytes(), tpm2.Marshal(rsp.Signature)
}

func keyID(tb testing.TB, k *ecdsa.PrivateKey) string {
	tb.Helper()
	id, err := evidence.KeyID(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func keyIDOf(tb testing.TB, pub []byte) string {
	tb.Helper()
	k, err := tpm2.Pub(*mustPublic(tb, pub))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := evidence.KeyID(k.(*ecdsa.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}
