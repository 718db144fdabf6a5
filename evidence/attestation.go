package evidence

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// AttestationSchema is the version of the attestation bundle layout.
const AttestationSchema = 1

// CertifyQualifyingData is the qualifying data the kiosk puts in its
// TPM2_Certify of the signing key (tpmkeys.CertifyQualifyingData). The
// verifier requires it, so a certification made for another purpose
// cannot stand in for this one.
const CertifyQualifyingData = "kiosk/evidence-signing-key/v1"

// Caps on the bundle.
const (
	maxEKCerts   = 8
	maxCertBytes = 8 << 10
)

// Attestation is the bundle a kiosk serves at GET /api/attestation
// (tpmkeys.Attestation writes it): the evidence signing key certified by
// the TPM's attestation key (AK), the AK, and the endorsement key (EK)
// with its certificate chain as the TPM holds it. TPM structures are in
// their wire encoding, base64 in JSON. Nothing in it is trusted until
// VerifyAttestation has checked it.
type Attestation struct {
	Schema int    `json:"schema"`
	KeyID  string `json:"key_id"`
	// EKCertificates: the EK certificate (DER) first, then any chain
	// certificates the TPM stores. Empty when the TPM has none.
	EKCertificates [][]byte `json:"ek_certificates"`
	// EKPublic is the EK's TPMT_PUBLIC; its key must be the certificate's.
	EKPublic []byte `json:"ek_public"`
	// SRKPublic, AKPublic, SigningKeyPublic: TPMT_PUBLIC of the storage
	// root key and of its two children, the AK and the signing key.
	SRKPublic        []byte `json:"srk_public"`
	AKPublic         []byte `json:"ak_public"`
	SigningKeyPublic []byte `json:"signing_key_public"`
	// CertifyInfo is the TPMS_ATTEST of TPM2_Certify(signing key, AK);
	// CertifySignature its TPMT_SIGNATURE by the AK.
	CertifyInfo      []byte `json:"certify_info"`
	CertifySignature []byte `json:"certify_signature"`
}

// parsedAttestation holds the decoded structures of a bundle.
type parsedAttestation struct {
	a       *Attestation
	ekCert  *x509.Certificate // nil when the bundle has none
	chain   []*x509.Certificate
	ek      *tpmPublic // nil when the bundle has no EK
	srk     *tpmPublic
	ak      *tpmPublic
	signing *tpmPublic
	certify *tpmAttest
	sig     *tpmSignature
}

// ParseAttestation decodes a bundle strictly: known fields only, no
// trailing data, schema 1, and every TPM structure and certificate must
// decode. It does not check any signature or chain: use VerifyAttestation.
func ParseAttestation(data []byte) (*Attestation, error) {
	p, err := parseAttestation(data)
	if err != nil {
		return nil, err
	}
	return p.a, nil
}

func parseAttestation(data []byte) (*parsedAttestation, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("attestation is %d bytes, more than %d", len(data), MaxInputBytes)
	}
	var a Attestation
	if err := decodeStrict(data, &a); err != nil {
		return nil, fmt.Errorf("attestation: %v", err)
	}
	if a.Schema != AttestationSchema {
		return nil, fmt.Errorf("attestation schema %d; this verifier reads schema %d", a.Schema, AttestationSchema)
	}
	if a.EKCertificates == nil {
		return nil, errors.New(`attestation has no "ek_certificates" list`)
	}
	if len(a.EKCertificates) > maxEKCerts {
		return nil, fmt.Errorf("attestation carries %d EK certificates; at most %d", len(a.EKCertificates), maxEKCerts)
	}
	p := &parsedAttestation{a: &a}
	for i, der := range a.EKCertificates {
		if len(der) == 0 || len(der) > maxCertBytes {
			return nil, fmt.Errorf("EK certificate %d has %d bytes", i, len(der))
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("EK certificate %d: %v", i, err)
		}
		if i == 0 {
			p.ekCert = c
		} else {
			p.chain = append(p.chain, c)
		}
	}
	var err error
	if (len(a.EKPublic) == 0) != (p.ekCert == nil) {
		return nil, errors.New("attestation has an EK certificate without the EK's public area, or the reverse")
	}
	if len(a.EKPublic) > 0 {
		if p.ek, err = parsePublic(a.EKPublic); err != nil {
			return nil, fmt.Errorf("ek_public: %v", err)
		}
	}
	for _, f := range []struct {
		name string
		raw  []byte
		dst  **tpmPublic
	}{{"srk_public", a.SRKPublic, &p.srk}, {"ak_public", a.AKPublic, &p.ak}, {"signing_key_public", a.SigningKeyPublic, &p.signing}} {
		if *f.dst, err = parsePublic(f.raw); err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
	}
	if p.certify, err = parseAttest(a.CertifyInfo); err != nil {
		return nil, fmt.Errorf("certify_info: %v", err)
	}
	if p.sig, err = parseSignature(a.CertifySignature); err != nil {
		return nil, fmt.Errorf("certify_signature: %v", err)
	}
	if a.KeyID == "" {
		return nil, errors.New("attestation has no key_id")
	}
	return p, nil
}

// decodeStrict decodes one JSON value into v: no unknown fields, no
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// EKRoots are the certificate authorities a verifier trusts to vouch for
// TPM endorsement keys: the TPM manufacturers' root CAs (and any
// intermediates they publish), or, for the demo, swtpm's local CA. It is
// immutable and safe for concurrent use.
type EKRoots struct {
	roots, intermediates *x509.CertPool
	names                []string
}

// NewEKRoots trusts the given certificates: self-signed CA certificates
// become roots, other CA certificates intermediates (usable only under a
// root). A certificate that is not a CA is an error.
func NewEKRoots(certs ...*x509.Certificate) (*EKRoots, error) {
	r := &EKRoots{roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}
	nroots := 0
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("evidence: %q is not a CA certificate; EK roots must be CAs", c.Subject.String())
		}
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			r.roots.AddCert(c)
			nroots++
		} else {
			r.intermediates.AddCert(c)
		}
		r.names = append(r.names, c.Subject.String())
	}
	if nroots == 0 {
		return nil, errors.New("evidence: no self-signed root among the EK CA certificates")
	}
	return r, nil
}

// LoadEKRoots reads every *.pem, *.crt, *.cer and *.der file in dir (PEM
// with one or more CERTIFICATE blocks, or a single DER certificate) and
// trusts them as NewEKRoots does. For the swtpm demo that is
// swtpm-localca-rootca-cert.pem and issuercert.pem of the local CA.
func LoadEKRoots(dir string) (*EKRoots, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence: reading EK roots: %w", err)
	}
	var certs []*x509.Certificate
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer" && ext != ".der") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("evidence: reading EK root %s: %w", path, err)
		}
		cs, err := parseCerts(data)
		if err != nil {
			return nil, fmt.Errorf("evidence: EK root %s: %w", path, err)
		}
		certs = append(certs, cs...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("evidence: no certificate (*.pem, *.crt, *.cer, *.der) in %s", dir)
	}
	return NewEKRoots(certs...)
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block")
	}
	return out, nil
}

// OIDs of TPM EK certificates (TCG EK Credential Profile).
var (
	oidSAN                   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidSubjectDirAttributes  = asn1.ObjectIdentifier{2, 5, 29, 9}
	oidTPMManufacturer       = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel              = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion            = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidTCGKpEKCertificate    = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	errNotTPMSubjectAltNames = errors.New("not a TPM directoryName")
)

// tpmIdentity is the TPM manufacturer, model and firmware version an EK
// certificate names in its subject alternative name.
type tpmIdentity struct{ manufacturer, model, version string }

func (t tpmIdentity) String() string {
	return fmt.Sprintf("manufacturer %s, model %s, version %s", t.manufacturer, t.model, t.version)
}

// parseTPMSAN reads the TCG directoryName of an EK certificate's subject
// alternative name (TCG EK Credential Profile 3.2.9): a GeneralNames
// holding directoryName entries with the TPM manufacturer, model and
// version attributes.
func parseTPMSAN(value []byte) (tpmIdentity, error) {
	var id tpmIdentity
	var names asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &names); err != nil || len(rest) != 0 || names.Tag != asn1.TagSequence {
		return id, errNotTPMSubjectAltNames
	}
	rest := names.Bytes
	for len(rest) > 0 {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return id, errNotTPMSubjectAltNames
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 {
			return id, errNotTPMSubjectAltNames // something else than a directoryName
		}
		var rdns pkix.RDNSequence
		if r, err := asn1.Unmarshal(gn.Bytes, &rdns); err != nil || len(r) != 0 {
			return id, errNotTPMSubjectAltNames
		}
		for _, set := range rdns {
			for _, atv := range set {
				s, ok := atv.Value.(string)
				if !ok {
					continue
				}
				switch {
				case atv.Type.Equal(oidTPMManufacturer):
					id.manufacturer = s
				case atv.Type.Equal(oidTPMModel):
					id.model = s
				case atv.Type.Equal(oidTPMVersion):
					id.version = s
				}
			}
		}
	}
	if id.manufacturer == "" {
		return id, errNotTPMSubjectAltNames
	}
	return id, nil
}

// ekCertForVerify returns a copy of an EK certificate with the TPM-specific
// critical extensions marked handled: EK certificates have an empty
// subject, so their subject alternative name (a directoryName the x509
// package does not interpret) is critical, and some mark the subject
// directory attributes (the TPM specification) critical too. Anything else
// left unhandled still fails the chain.
func ekCertForVerify(c *x509.Certificate) (*x509.Certificate, tpmIdentity, error) {
	cc := *c
	var id tpmIdentity
	var left []asn1.ObjectIdentifier
	for _, oid := range c.UnhandledCriticalExtensions {
		switch {
		case oid.Equal(oidSAN):
			for _, e := range c.Extensions {
				if e.Id.Equal(oidSAN) {
					v, err := parseTPMSAN(e.Value)
					if err != nil {
						return nil, id, fmt.Errorf("critical subject alternative name is %v", err)
					}
					id = v
				}
			}
		case oid.Equal(oidSubjectDirAttributes):
		default:
			left = append(left, oid)
		}
	}
	cc.UnhandledCriticalExtensions = left
	if id.manufacturer == "" {
		for _, e := range c.Extensions {
			if e.Id.Equal(oidSAN) {
				if v, err := parseTPMSAN(e.Value); err == nil {
					id = v
				}
			}
		}
	}
	return &cc, id, nil
}

// verifyEKCert chains the EK certificate to the roots, with the bundle's
// chain certificates as intermediates, at time now.
func verifyEKCert(p *parsedAttestation, roots *EKRoots, now time.Time) (string, error) {
	leaf, id, err := ekCertForVerify(p.ekCert)
	if err != nil {
		return "", err
	}
	inter := roots.intermediates.Clone()
	for _, c := range p.chain {
		ic, _, err := ekCertForVerify(c)
		if err != nil {
			return "", fmt.Errorf("chain certificate %q: %v", c.Subject.String(), err)
		}
		inter.AddCert(ic)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return "", err
	}
	path := make([]string, 0, len(chains[0]))
	for _, c := range chains[0][1:] {
		path = append(path, fmt.Sprintf("%q", c.Subject.CommonName))
	}
	detail := fmt.Sprintf("EK certificate (serial %s) chains to %s", p.ekCert.SerialNumber, strings.Join(path, " <- "))
	if id.manufacturer != "" {
		detail += "; TPM " + id.String()
	}
	return detail, nil
}

// ekMatchesCert checks the EK public area holds the certificate's key and
// has the shape of an endorsement key.
func ekMatchesCert(p *parsedAttestation) error {
	if !p.ek.has(attrFixedTPM|attrFixedParent|attrSensitiveDataOrigin|attrRestricted|attrDecrypt) || p.ek.attrs&attrSign != 0 {
		return fmt.Errorf("ek_public is not a restricted decryption key bound to its TPM (attributes %s)", attrString(p.ek.attrs))
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := p.ekCert.PublicKey.(equaler)
	if !ok || !k.Equal(p.ek.key) {
		return errors.New("ek_public is not the key of the EK certificate")
	}
	return nil
}

// AKPin records that an attestation key was proven, by credential
// activation, to live in the TPM of a given EK certificate. A verifier
// writes it once (Activation.Finish) and keeps it, like a pinned public
// key: later checks run offline against it. Its JSON form is stable.
type AKPin struct {
	Schema int `json:"schema"`
	// EKCertificateSHA256 is the SHA-256 (hex) of the EK certificate (DER)
	// the AK was activated against.
	EKCertificateSHA256 string `json:"ek_certificate_sha256"`
	// AKName is the AK's TPM Name (hex: name algorithm, then the digest of
	// its public area); it fixes the key and every attribute.
	AKName string `json:"ak_name"`
	// KeyID is the evidence signing key the bundle certified at
	// activation time, for the record; the pin does not depend on it.
	KeyID       string    `json:"key_id"`
	ActivatedAt time.Time `json:"activated_at"`
}

// AKPinSchema is the version of the AKPin layout.
const AKPinSchema = 1

// ParseAKPin decodes a pin strictly.
func ParseAKPin(data []byte) (*AKPin, error) {
	var p AKPin
	if err := decodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("evidence: AK pin: %v", err)
	}
	if p.Schema != AKPinSchema {
		return nil, fmt.Errorf("evidence: AK pin schema %d; want %d", p.Schema, AKPinSchema)
	}
	for _, f := range []struct{ name, v string }{{"ek_certificate_sha256", p.EKCertificateSHA256}, {"ak_name", p.AKName}} {
		b, err := hex.DecodeString(f.v)
		if err != nil || len(b) < 32 || len(b) > 66 {
			return nil, fmt.Errorf("evidence: AK pin: %s is not a hex digest", f.name)
		}
	}
	return &p, nil
}

// ActivationChallenge is what a verifier posts to the kiosk for
// credential activation: the credential blob (TPM2B_ID_OBJECT contents)
// and the encrypted seed (TPM2B_ENCRYPTED_SECRET contents), base64 in JSON.
// The kiosk answers with ActivationResponse.
type ActivationChallenge struct {
	CredentialBlob  []byte `json:"credential_blob"`
	EncryptedSecret []byte `json:"encrypted_secret"`
}

// ActivationResponse is the kiosk's answer: the secret its TPM recovered.
type ActivationResponse struct {
	Secret []byte `json:"secret"`
}

// ActivationOptions configures NewActivation. The zero value works.
type ActivationOptions struct {
	Rand io.Reader        // default crypto/rand
	Now  func() time.Time // default time.Now; checks the EK chain's validity
}

// Activation is one credential activation in progress, on the verifier's
// side: it holds the secret it encrypted to the EK for the AK's name.
// Send Challenge to the kiosk, pass its answer to Finish.
type Activation struct {
	challenge ActivationChallenge
	secret    []byte
	pin       AKPin
	Checks    []Check // the ek-cert and ak-attribute checks it ran
}

// NewActivation checks a bundle's EK certificate against roots and its
// AK's attributes, then makes a credential (TPM2_MakeCredential, in
// software) holding a fresh random secret, encrypted to the EK for the
// AK's Name. Only a TPM that holds that EK's private key and has that AK
// loaded can recover the secret. It fails with a *CheckError when the EK
// is not trusted or the AK is not a restricted, TPM-bound signing key.
func NewActivation(attestation []byte, roots *EKRoots, opts ActivationOptions) (*Activation, error) {
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p, err := parseAttestation(attestation)
	if err != nil {
		c := fail(CheckAttestation, ErrMalformed, "%v", err)
		return nil, c.Err
	}
	act := &Activation{}
	ekc := checkEKCert(p, roots, opts.Now())
	akc := checkAKShape(p)
	act.Checks = []Check{ekc, akc}
	for _, c := range act.Checks {
		if c.Status == Fail {
			return act, c.Err
		}
	}
	act.secret = make([]byte, 32)
	if _, err := io.ReadFull(opts.Rand, act.secret); err != nil {
		return nil, fmt.Errorf("evidence: drawing the activation secret: %w", err)
	}
	name := nameOf(p.ak)
	blob, enc, err := makeCredential(opts.Rand, p.ek, name, act.secret)
	if err != nil {
		return nil, fmt.Errorf("evidence: making the credential: %w", err)
	}
	act.challenge = ActivationChallenge{CredentialBlob: blob, EncryptedSecret: enc}
	sum := sha256.Sum256(p.a.EKCertificates[0])
	act.pin = AKPin{Schema: AKPinSchema, EKCertificateSHA256: hex.EncodeToString(sum[:]), AKName: hex.EncodeToString(name), KeyID: p.a.KeyID}
	return act, nil
}

// Challenge is what to post to the kiosk.
func (a *Activation) Challenge() ActivationChallenge { return a.challenge }

// Finish compares the kiosk's answer with the secret (in constant time)
// and, if equal, returns the AK pin to keep. A wrong answer fails with
// ErrActivationFailed: the AK is not in the TPM of that EK.
func (a *Activation) Finish(secret []byte, now time.Time) (*AKPin, error) {
	if a.secret == nil {
		return nil, errors.New("evidence: activation was not started")
	}
	if subtle.ConstantTimeCompare(secret, a.secret) != 1 {
		return nil, &CheckError{Check: CheckAK, Err: ErrActivationFailed,
			Detail: "the kiosk did not return the secret: its TPM could not activate the credential, so its AK is not beside the certified EK"}
	}
	pin := a.pin
	pin.ActivatedAt = now.UTC().Truncate(time.Second)
	return &pin, nil
}

// checkEKCert is the ek-cert check: the bundle has an EK certificate, it
// chains to a trusted root, and the EK public area holds its key.
func checkEKCert(p *parsedAttestation, roots *EKRoots, now time.Time) Check {
	if p.ekCert == nil {
		return fail(CheckEKCert, ErrNoEKCert, "the TPM holds no EK certificate (the in-process simulator has none); nothing ties this TPM to a manufacturer")
	}
	if roots == nil {
		return fail(CheckEKCert, ErrUntrustedEK, "no EK roots given (--ek-roots): the EK certificate from %q cannot be checked", p.ekCert.Issuer.String())
	}
	detail, err := verifyEKCert(p, roots, now)
	if err != nil {
		return fail(CheckEKCert, ErrUntrustedEK, "EK certificate issued by %q does not chain to the trusted roots %v: %v", p.ekCert.Issuer.String(), roots.names, err)
	}
	if err := ekMatchesCert(p); err != nil {
		return fail(CheckEKCert, ErrEKMismatch, "%v", err)
	}
	if !hasEKU(p.ekCert) {
		detail += " (no tcg-kp-EKCertificate usage)"
	}
	return pass(CheckEKCert, detail)
}

func hasEKU(c *x509.Certificate) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oidTCGKpEKCertificate) {
			return true
		}
	}
	return false
}

// checkAKShape checks the AK is a restricted signing key generated in and
// bound to its TPM, with a scheme a verifier can check.
func checkAKShape(p *parsedAttestation) Check {
	ak := p.ak
	want := uint32(attrFixedTPM | attrFixedParent | attrSensitiveDataOrigin | attrRestricted | attrSign)
	if !ak.has(want) || ak.attrs&attrDecrypt != 0 {
		return fail(CheckAK, ErrBadAK, "the AK has attributes %s; want fixedTPM, fixedParent, sensitiveDataOrigin, restricted and sign, without decrypt", attrString(ak.attrs))
	}
	switch ak.scheme {
	case algECDSA, algRSASSA, algRSAPSS:
	default:
		return fail(CheckAK, ErrBadAK, "the AK's scheme 0x%04x is not ECDSA, RSASSA or RSAPSS", ak.scheme)
	}
	if _, err := hashOf(ak.schemeHash); err != nil {
		return fail(CheckAK, ErrBadAK, "the AK's scheme hash: %v", err)
	}
	return pass(CheckAK, "restricted signing key, fixedTPM, fixedParent, sensitiveDataOrigin")
}

// checkAK is the ak check: the AK's shape, and the pin from a credential
// activation that binds it to this EK certificate.
func checkAK(p *parsedAttestation, pin *AKPin) Check {
	if c := checkAKShape(p); c.Status == Fail {
		return c
	}
	if pin == nil {
		return fail(CheckAK, ErrAKNotActivated, "no AK pin given: activate this kiosk's AK once (credential activation against its EK) and pass the pin")
	}
	if p.ekCert == nil {
		return fail(CheckAK, ErrAKNotActivated, "the bundle has no EK certificate to hold the pin against")
	}
	sum := sha256.Sum256(p.a.EKCertificates[0])
	if !strings.EqualFold(pin.EKCertificateSHA256, hex.EncodeToString(sum[:])) {
		return fail(CheckAK, ErrAKNotActivated, "the pin was made for another EK certificate (%s…), this bundle's is %s…: another TPM",
			short8(pin.EKCertificateSHA256), hex.EncodeToString(sum[:4]))
	}
	name := hex.EncodeToString(nameOf(p.ak))
	if !strings.EqualFold(pin.AKName, name) {
		return fail(CheckAK, ErrAKNotActivated, "the AK (name %s…) is not the one activated on %s (%s…): a key from another TPM, or the kiosk's AK was recreated; activate again",
			name[:12], pin.ActivatedAt.Format(time.RFC3339), short8(pin.AKName))
	}
	return pass(CheckAK, fmt.Sprintf("AK %s… activated against this EK on %s; restricted signing key, fixedTPM", name[:12], pin.ActivatedAt.Format(time.RFC3339)))
}

func short8(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// checkCertify is the certify check: the AK signed a TPMS_ATTEST of
// TPM2_Certify whose object is the bundle's signing key, a child of the
// bundle's SRK (by qualified name), with the attributes of a key generated
// in this TPM that cannot leave it. It returns the certified key.
func checkCertify(p *parsedAttestation) (Check, *ecdsa.PublicKey) {
	a := p.certify
	if a.typ != stAttestCertify {
		return fail(CheckCertify, ErrBadCertify, "certify_info is of type 0x%04x, not a certification (0x%04x)", a.typ, stAttestCertify), nil
	}
	if _, err := p.sig.verify(p.ak.key, a.raw); err != nil {
		return fail(CheckCertify, ErrBadCertify, "the certification's signature does not verify with the AK: %v", err), nil
	}
	srkQN := qualifiedName(hierarchyQN(rhOwner), p.srk)
	if !bytes.Equal(a.qualifiedSigner, qualifiedName(srkQN, p.ak)) {
		return fail(CheckCertify, ErrBadCertify, "signed by an AK whose qualified name is not the bundle's AK under its SRK"), nil
	}
	if !bytes.Equal(a.extraData, []byte(CertifyQualifyingData)) {
		return fail(CheckCertify, ErrBadCertify, "qualifying data %q; want %q", a.extraData, CertifyQualifyingData), nil
	}
	if !bytes.Equal(a.name, nameOf(p.signing)) {
		return fail(CheckCertify, ErrKeyNotCertified, "the certified object is not the bundle's signing key (names differ)"), nil
	}
	if !bytes.Equal(a.qualifiedName, qualifiedName(srkQN, p.signing)) {
		return fail(CheckCertify, ErrKeyNotCertified, "the certified key is not a child of the bundle's storage root key in the owner hierarchy"), nil
	}
	srkWant := uint32(attrFixedTPM | attrFixedParent | attrSensitiveDataOrigin | attrRestricted | attrDecrypt)
	if !p.srk.has(srkWant) || p.srk.attrs&attrSign != 0 {
		return fail(CheckCertify, ErrKeyNotCertified, "the storage root key has attributes %s; want a fixedTPM restricted decryption key", attrString(p.srk.attrs)), nil
	}
	s := p.signing
	want := uint32(attrFixedTPM | attrFixedParent | attrSensitiveDataOrigin | attrSign)
	if !s.has(want) || s.attrs&(attrDecrypt|attrRestricted) != 0 {
		return fail(CheckCertify, ErrKeyNotCertified, "the signing key has attributes %s; want fixedTPM, fixedParent, sensitiveDataOrigin and sign, without restricted or decrypt", attrString(s.attrs)), nil
	}
	k, ok := s.key.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() || s.scheme != algECDSA || s.schemeHash != algSHA256 {
		return fail(CheckCertify, ErrKeyNotCertified, "the signing key is not ECDSA P-256 with SHA-256"), nil
	}
	kid, err := KeyID(k)
	if err != nil || kid != p.a.KeyID {
		return fail(CheckCertify, ErrKeyNotCertified, "the certified key is %s, but the bundle names key %s", kid, p.a.KeyID), nil
	}
	return pass(CheckCertify, fmt.Sprintf("signing key %s certified by the AK: generated in the TPM (sensitiveDataOrigin), bound to it (fixedTPM, fixedParent), child of the SRK", kid)), k
}

// sortedKeys lists a map's keys in order, for stable messages.
func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
