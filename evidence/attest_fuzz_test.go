package evidence

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// attestSeeds are the recorded vectors' TPM structures, for the fuzzers.
func attestSeeds(f *testing.F) (*attestVectors, *Attestation, *Quote) {
	f.Helper()
	v := loadAttestVectors(f)
	var a Attestation
	if err := json.Unmarshal(v.bundle, &a); err != nil {
		f.Fatal(err)
	}
	var e QuotedEnvelope
	if err := json.Unmarshal(v.envelope, &e); err != nil {
		f.Fatal(err)
	}
	var q Quote
	if err := json.Unmarshal(e.Quote, &q); err != nil {
		f.Fatal(err)
	}
	return v, &a, &q
}

// FuzzParsePublic: no TPMT_PUBLIC panics the decoder; whatever it accepts
// has a key and a Name.
func FuzzParsePublic(f *testing.F) {
	_, a, _ := attestSeeds(f)
	for _, b := range [][]byte{a.EKPublic, a.SRKPublic, a.AKPublic, a.SigningKeyPublic, nil, {0, 1}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePublic(b)
		if err != nil {
			return
		}
		if p.key == nil || len(nameOf(p)) < 34 || !bytes.Equal(p.raw, b) {
			t.Fatalf("parsePublic accepted %x without a key or name", b)
		}
	})
}

// FuzzParseAttest: no TPMS_ATTEST panics the decoder; whatever it accepts
// starts with the TPM's magic and is a certify or a quote.
func FuzzParseAttest(f *testing.F) {
	_, a, q := attestSeeds(f)
	f.Add(a.CertifyInfo)
	f.Add(q.Quoted)
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18})
	f.Fuzz(func(t *testing.T, b []byte) {
		at, err := parseAttest(b)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, []byte{0xff, 0x54, 0x43, 0x47}) || (at.typ != stAttestCertify && at.typ != stAttestQuote) {
			t.Fatalf("parseAttest accepted %x", b)
		}
	})
}

// FuzzParseSignature: no TPMT_SIGNATURE panics the decoder or the
// verification against the recorded AK.
func FuzzParseSignature(f *testing.F) {
	_, a, q := attestSeeds(f)
	f.Add(a.CertifySignature, a.CertifyInfo)
	f.Add(q.Signature, q.Quoted)
	ak, err := parsePublic(a.AKPublic)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, msg []byte) {
		s, err := parseSignature(sig)
		if err != nil {
			return
		}
		_, _ = s.verify(ak.key, msg)
	})
}

// FuzzParseAttestation: no bundle panics the strict decoder, and no
// bundle panics the whole attestation check.
func FuzzParseAttestation(f *testing.F) {
	v, _, _ := attestSeeds(f)
	f.Add(v.bundle)
	f.Add(bytes.Replace(v.bundle, []byte(`"schema":1`), []byte(`"schema":1,"schema":2`), 1))
	f.Add([]byte(`{"schema":1,"ek_certificates":[]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	o := v.opts()
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseAttestation(b); err != nil {
			return
		}
		r, _ := VerifyAttestation(b, attestT, o)
		if r.SigningKey != nil && checkStatus(r.Checks, CheckCertify) != Pass {
			t.Fatal("a signing key came out of a failed certify check")
		}
	})
}

func checkStatus(cs []Check, name string) Status {
	for _, c := range cs {
		if c.Name == name {
			return c.Status
		}
	}
	return Skip
}

// FuzzParseQuote: no quote panics the decoder.
func FuzzParseQuote(f *testing.F) {
	v, _, _ := attestSeeds(f)
	var e QuotedEnvelope
	json.Unmarshal(v.envelope, &e)
	f.Add([]byte(e.Quote))
	f.Add([]byte(`{"nonce":"00","pcrs":{"sha256":{}},"quoted":"","signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuote(b)
		if err != nil {
			return
		}
		if len(q.Nonce) < MinNonce || q.PCRs.validate() != nil {
			t.Fatalf("ParseQuote accepted %q", b)
		}
	})
}

// FuzzVerifyAttested: whole served envelopes against the recorded bundle;
// no input panics, and a pass of nonce or pcrs needs a passing quote.
func FuzzVerifyAttested(f *testing.F) {
	v, _, _ := attestSeeds(f)
	f.Add(v.envelope)
	f.Add(bytes.Replace(v.envelope, []byte(`"quote":{`), []byte(`"quote":null,"x":{`), 1))
	f.Add([]byte(`{"jws":"a.b.c","quote":{}}`))
	o := v.opts()
	vo := attestVerifyOpts()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, _ := VerifyAttested(data, v.bundle, nil, vo, o)
		if res == nil {
			t.Fatal("no result")
		}
		if (checkStatus(res.Checks, CheckNonce) == Pass || checkStatus(res.Checks, CheckPCRs) == Pass) && checkStatus(res.Checks, CheckQuote) != Pass {
			t.Fatalf("nonce or pcrs passed without a valid quote: %v", res.Checks)
		}
	})
}

// FuzzParseExpectedPCRs and FuzzParseAKPin: the verifier's own input files.
func FuzzParseExpectedPCRs(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "attest", "pcrs.json"))
	f.Add(b)
	f.Add([]byte(`{"sha256":{"7":"0x00"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseExpectedPCRs(b)
		if err == nil && v.validate() != nil {
			t.Fatalf("accepted invalid values %q", b)
		}
	})
}

func FuzzParseAKPin(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "attest", "pin.json"))
	f.Add(b)
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseAKPin(b)
	})
}
