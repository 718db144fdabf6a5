package tpmkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

func TestSignerVerifiesWithStdlib(t *testing.T) {
	tpm := newSim(t, 30)
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	s := c.Signer()

	block, _ := pem.Decode(must(c.PublicKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PublicKeyPEM does not decode as a PUBLIC KEY block")
	}
	pemKey, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKIXPublicKey = %v", err)
	}
	jwkJSON := must(json.Marshal(c.PublicJWK()))
	jwkKey, err := ParseJWK(jwkJSON)
	if err != nil {
		t.Fatalf("ParseJWK(%s) = %v", jwkJSON, err)
	}

	for _, tc := range []struct {
		name string
		msg  string
	}{{"short", "a"}, {"report", `{"policy":"24h","records":3}`}, {"empty", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			d := sha256.Sum256([]byte(tc.msg))
			sig, err := s.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}
			for name, k := range map[string]crypto.PublicKey{"PEM": pemKey, "JWK": jwkKey, "Public()": s.Public()} {
				if !ecdsa.VerifyASN1(k.(*ecdsa.PublicKey), d[:], sig) {
					t.Errorf("VerifyASN1 with the %s key = false; want true", name)
				}
			}
			other := sha256.Sum256([]byte(tc.msg + "!"))
			if ecdsa.VerifyASN1(jwkKey, other[:], sig) {
				t.Errorf("signature verifies for a different message")
			}
		})
	}
	if _, err := s.Sign(nil, []byte("short"), crypto.SHA256); err == nil {
		t.Errorf("Sign(5-byte digest) = nil error; want a refusal")
	}
	if _, err := s.Sign(nil, make([]byte, 48), crypto.SHA384); err == nil {
		t.Errorf("Sign(SHA-384) = nil error; want a refusal")
	}

	// Key id: RFC 7638 thumbprint, checked against go-jose's implementation.
	tp, err := (&jose.JSONWebKey{Key: c.PublicKey()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("jose Thumbprint = %v", err)
	}
	if c.KeyID() != base64.RawURLEncoding.EncodeToString(tp) {
		t.Errorf("KeyID = %s; want RFC 7638 thumbprint %s", c.KeyID(), base64.RawURLEncoding.EncodeToString(tp))
	}
	if c.PublicJWK().Kid != c.KeyID() {
		t.Errorf("JWK kid = %s; want KeyID %s", c.PublicJWK().Kid, c.KeyID())
	}
}

// TestSignerPrivateNotExportable shows the private key cannot leave the
// TPM: the public area is fixedTPM|fixedParent|sensitiveDataOrigin,
// ReadPublic returns only public data, TPM2_Duplicate is refused, and the
// blob on disk does not load in another TPM.
func TestSignerPrivateNotExportable(t *testing.T) {
	tpm := newSim(t, 31)
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, newClock()))
	rp, err := tpm2.ReadPublic{ObjectHandle: c.signer.Handle}.Execute(tpm)
	if err != nil {
		t.Fatalf("ReadPublic = %v", err)
	}
	pub := must(rp.OutPublic.Contents())
	a := pub.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || a.EncryptedDuplication {
		t.Errorf("signing key attributes = %+v; want fixedTPM, fixedParent, sensitiveDataOrigin", a)
	}
	if k := must(tpm2.Pub(*pub)).(*ecdsa.PublicKey); !k.Equal(c.PublicKey()) {
		t.Errorf("ReadPublic key differs from the exported key")
	}

	// Duplicate needs the DUP role: a policy session that satisfies the
	// key's authPolicy. Ours is empty, so no session can: POLICY_FAIL.
	if err := tryDuplicate(t, c, c.signer); !errors.Is(err, tpm2.TPMRCPolicyFail) {
		t.Errorf("Duplicate(signing key) = %v; want TPM_RC_POLICY_FAIL (no policy grants DUP)", err)
	}
	// Even a key with the same attributes whose policy grants Duplicate is
	// refused, because fixedParent is set: TPM_RC_ATTRIBUTES.
	calc := must(tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256))
	if err := (tpm2.PolicyCommandCode{Code: tpm2.TPMCCDuplicate}).Update(calc); err != nil {
		t.Fatal(err)
	}
	tmpl := signerTemplate
	tmpl.AuthPolicy = tpm2.TPM2BDigest{Buffer: calc.Hash().Digest}
	cr, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(tmpl),
	}.Execute(tpm)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	h, err := c.load(&keyBlob{purpose: purposeSigner, public: cr.OutPublic.Bytes(), private: cr.OutPrivate.Buffer})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	defer flush(tpm, h.Handle)
	if err := tryDuplicate(t, c, h); !errors.Is(err, tpm2.TPMRCAttributes) {
		t.Errorf("Duplicate(fixedParent key with a DUP policy) = %v; want TPM_RC_ATTRIBUTES", err)
	}
}

func tryDuplicate(t *testing.T, c *Custody, h tpm2.NamedHandle) error {
	t.Helper()
	_, err := tpm2.Duplicate{
		ObjectHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16,
			func(tp transport.TPM, s tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
				_, err := tpm2.PolicyCommandCode{PolicySession: s, Code: tpm2.TPMCCDuplicate}.Execute(tp)
				return err
			})},
		NewParentHandle: tpm2.TPMRHNull,
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(c.tpm)
	return err
}

func TestParseJWKRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not json", "{"},
		{"rsa", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`},
		{"short x", `{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`},
		{"off curve", `{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseJWK([]byte(tc.in)); err == nil {
				t.Errorf("ParseJWK(%q) = nil error; want a rejection", tc.in)
			}
		})
	}
}
