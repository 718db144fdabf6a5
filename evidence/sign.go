package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"

	"kiosk/internal/safelog"
)

// HeaderType is the JWS "typ" of a retention report. It binds the signature
// to this purpose, so a signature the same key made for something else can
// never pass as a report.
const HeaderType = "kiosk-retention+jws"

// DefaultRecentRuns is how many chain hashes a report carries by default:
// a day of runs at a 15-minute purge interval.
const DefaultRecentRuns = 96

// Options configures a Builder. The zero value works: the clock is
// time.Now, the TPM kind is software (not secure) until the caller says
// otherwise, and the report carries DefaultRecentRuns chain hashes.
type Options struct {
	// Now is the clock for server_time.
	Now func() time.Time
	// Logger gets signing failures; nothing personal ever reaches it.
	Logger *slog.Logger
	// KioskID names the machine: 1 to 64 of [A-Za-z0-9._:-]. Empty means
	// "kiosk".
	KioskID string
	// TPMKind says what holds the signer's key. Empty means TPMSoftware:
	// the report never claims hardware unless told.
	TPMKind TPMKind
	// RecentRuns caps Chain.Recent (0 means DefaultRecentRuns).
	RecentRuns int
}

// Builder turns a Snapshot into a signed report. It is safe for concurrent
// use if its Signer is; it owns no resource and has no Close.
type Builder struct {
	opts   Options
	signer jose.Signer
	pub    *ecdsa.PublicKey
	keyID  string
}

// Signed is one signed report: the decoded Report, its canonical JSON (the
// JWS payload) and the compact JWS. It marshals as the envelope served by
// NewHandler: {"jws": "...", "report": {...}}.
type Signed struct {
	Report  Report
	Payload []byte
	JWS     string
}

// MarshalJSON writes the served envelope. Only "jws" is trusted by a
// verifier; "report" is the same payload for people reading it.
func (s *Signed) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		JWS    string          `json:"jws"`
		Report json.RawMessage `json:"report"`
	}{s.JWS, s.Payload})
}

// NewBuilder returns a Builder that signs with signer, which must hold an
// ECDSA P-256 key. The signer is used only through crypto.Signer: it must
// return an ASN.1 DER ECDSA signature of a SHA-256 digest, as the standard
// library and a TPM-backed signer do; the Builder converts it to the raw
// r||s form JWS ES256 needs.
func NewBuilder(signer crypto.Signer, opts Options) (*Builder, error) {
	if signer == nil {
		return nil, errors.New("evidence: NewBuilder needs a signer")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("evidence: signing key is %T; ES256 needs an ECDSA P-256 key", signer.Public())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = safelog.Discard()
	}
	if opts.KioskID == "" {
		opts.KioskID = "kiosk"
	}
	if err := checkKioskID(opts.KioskID); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if opts.TPMKind == "" {
		opts.TPMKind = TPMSoftware
	}
	if opts.TPMKind != TPMHardware && opts.TPMKind != TPMSoftware {
		return nil, fmt.Errorf("evidence: TPM kind %q is neither %q nor %q", opts.TPMKind, TPMHardware, TPMSoftware)
	}
	if opts.RecentRuns <= 0 {
		opts.RecentRuns = DefaultRecentRuns
	}
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	op := &es256Signer{signer: signer, pub: &jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: op},
		(&jose.SignerOptions{}).WithType(HeaderType))
	if err != nil {
		return nil, fmt.Errorf("evidence: making the JWS signer: %w", err)
	}
	return &Builder{opts: opts, signer: js, pub: pub, keyID: kid}, nil
}

// KeyID returns the id of the signing key (see KeyID).
func (b *Builder) KeyID() string { return b.keyID }

// Build makes a report from s at the builder's clock, canonicalises it and
// signs it. The snapshot must be internally consistent (see Chain); Build
// keeps only the newest Options.RecentRuns hashes of s.Chain.Recent. One
// call makes one signature: on a real TPM that is about 200 ms, so serve
// through NewHandler, which caches.
func (b *Builder) Build(s Snapshot) (*Signed, error) {
	r := Report{
		Schema:                          SchemaVersion,
		KioskID:                         b.opts.KioskID,
		ServerTime:                      b.opts.Now().UTC().Truncate(time.Second),
		TPMKind:                         b.opts.TPMKind,
		KeyID:                           b.keyID,
		Policy:                          s.Policy,
		Chain:                           s.Chain,
		OldestRemainingRecordAgeSeconds: s.OldestRemainingRecordAgeSeconds,
		RecordsHeld:                     s.RecordsHeld,
	}
	if n := len(r.Chain.Recent); n > b.opts.RecentRuns {
		r.Chain.Recent = r.Chain.Recent[n-b.opts.RecentRuns:]
	}
	r.Chain.Recent = append([]Hash{}, r.Chain.Recent...)
	if s.LatestRun != nil {
		run := *s.LatestRun
		run.Started, run.Finished = run.Started.UTC(), run.Finished.UTC()
		r.LatestRun = &run
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("evidence: building report: %w", err)
	}
	payload, err := Canonical(&r)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	obj, err := b.signer.Sign(payload)
	if err != nil {
		b.opts.Logger.Error("evidence: signing the retention report failed", "err", err)
		return nil, fmt.Errorf("evidence: signing report: %w", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("evidence: serialising JWS: %w", err)
	}
	// Fail closed: a signer that returns a signature for another key or a
	// corrupted one must not publish evidence that no one can verify.
	if _, err := obj.Verify(b.pub); err != nil {
		b.opts.Logger.Error("evidence: the signer's signature does not verify", "err", err)
		return nil, fmt.Errorf("%w: %v", ErrSignerBroken, err)
	}
	return &Signed{Report: r, Payload: payload, JWS: compact}, nil
}

// KeyID returns the RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding) of an ECDSA P-256 public key: the "kid" of every report it signs.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return "", errors.New("evidence: key id needs an ECDSA P-256 public key")
	}
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("evidence: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// es256Signer adapts a crypto.Signer to go-jose's OpaqueSigner. go-jose's
// own cryptosigner does the same, but indexes a slice with the length of
// whatever integers the signer returned, so a misbehaving signer could
// panic it; this one rejects any signature that is not two integers in
// [1, n-1] and carries the key id.
type es256Signer struct {
	signer crypto.Signer
	pub    *jose.JSONWebKey
}

func (s *es256Signer) Public() *jose.JSONWebKey { return s.pub }

func (s *es256Signer) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256}
}

func (s *es256Signer) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, jose.ErrUnsupportedAlgorithm
	}
	digest := sha256.Sum256(payload)
	der, err := s.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return derToRaw(der)
}

// derToRaw converts an ASN.1 DER ECDSA-Sig-Value to the 64-byte r||s that
// RFC 7518 section 3.4 requires for ES256.
func derToRaw(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: not an ASN.1 DER ECDSA signature", ErrSignerBroken)
	}
	n := elliptic.P256().Params().N
	out := make([]byte, 64)
	for i, v := range []*big.Int{sig.R, sig.S} {
		if v == nil || v.Sign() <= 0 || v.Cmp(n) >= 0 {
			return nil, fmt.Errorf("%w: signature integer out of range", ErrSignerBroken)
		}
		v.FillBytes(out[32*i : 32*(i+1)])
	}
	return out, nil
}

// rawToDER converts a 64-byte ES256 signature back to ASN.1 DER, the form
// stock tools such as openssl dgst -verify expect.
func rawToDER(raw []byte) ([]byte, error) {
	if len(raw) != 64 {
		return nil, fmt.Errorf("ES256 signature is %d bytes, want 64", len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}

// Format prints only the key id, never the signer (which may be a private
// key): %v, %+v, %#v and %s all give "evidence.Builder{kid:...}".
func (b *Builder) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "evidence.Builder{kid:%s tpm:%q}", b.keyID, b.opts.TPMKind)
}
