package tpmkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"
)

// signerTemplate is the non-exportable signing key: generated inside the
// TPM (sensitiveDataOrigin), bound to this TPM (fixedTPM) and to the SRK
// (fixedParent), so TPM2_Duplicate refuses it and no command returns its
// private part.
var signerTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

func (c *Custody) signerPath() string { return filepath.Join(c.dir, "signer.blob") }

func (c *Custody) createSigner() error {
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(signerTemplate),
	}.Execute(c.tpm)
	if err != nil {
		return fmt.Errorf("creating the signing key: %w", err)
	}
	b := &keyBlob{purpose: purposeSigner, public: rsp.OutPublic.Bytes(), private: rsp.OutPrivate.Buffer}
	if err := writeFileAtomic(c.signerPath(), b.marshal()); err != nil {
		return fmt.Errorf("writing the signing key blob: %w", err)
	}
	return nil
}

// loadSigner loads the signing key and keeps it loaded until Close.
func (c *Custody) loadSigner() error {
	b, err := readBlob(c.signerPath(), purposeSigner)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	pub := b.pubArea()
	if pub.ObjectAttributes != signerTemplate.ObjectAttributes {
		return fmt.Errorf("signing key: %w: attributes differ from the non-exportable template", ErrBadBlob)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		return fmt.Errorf("signing key public area: %w", err)
	}
	ek, ok := key.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return fmt.Errorf("signing key: %w: not ECDSA P-256", ErrBadBlob)
	}
	h, err := c.load(b)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	c.signer, c.signerPub = h, ek
	c.keyID = Thumbprint(ek)
	return nil
}

// Signer is the TPM signing key as a crypto.Signer. Sign takes a SHA-256
// digest and returns an ASN.1 DER ECDSA signature, like ecdsa.PrivateKey.
// It is safe for concurrent use and valid until the Custody is closed.
type Signer struct{ c *Custody }

// Signer returns the signing key.
func (c *Custody) Signer() crypto.Signer { return Signer{c} }

// Public returns the *ecdsa.PublicKey.
func (s Signer) Public() crypto.PublicKey { return s.c.signerPub }

// Sign signs a SHA-256 digest in the TPM. rand is ignored: the TPM draws
// its own nonce.
func (s Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("tpmkeys: signing key takes SHA-256 digests, got %v", opts.HashFunc())
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("tpmkeys: digest has %d bytes; want %d", len(digest), sha256.Size)
	}
	r, sv, err := s.c.signRaw(digest)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, sv})
}

func (c *Custody) signRaw(digest []byte) (r, s *big.Int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: c.signer.Handle, Name: c.signer.Name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(c.tpm)
	if err != nil {
		return nil, nil, fmt.Errorf("signing in the TPM: %w", err)
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, nil, fmt.Errorf("decoding the TPM signature: %w", err)
	}
	return new(big.Int).SetBytes(sig.SignatureR.Buffer), new(big.Int).SetBytes(sig.SignatureS.Buffer), nil
}

// PublicKey returns the signing key's public half.
func (c *Custody) PublicKey() *ecdsa.PublicKey { return c.signerPub }

// KeyID is the RFC 7638 JWK thumbprint of the signing key (base64url).
func (c *Custody) KeyID() string { return c.keyID }

// PublicKeyPEM returns the signing key as a PEM "PUBLIC KEY" (PKIX).
func (c *Custody) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(c.signerPub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// JWK is a public EC JSON Web Key (RFC 7517) for ES256.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// PublicJWK returns the signing key as a JWK whose kid is its thumbprint.
func (c *Custody) PublicJWK() JWK { return NewJWK(c.signerPub) }

// NewJWK builds the JWK of a P-256 public key.
func NewJWK(k *ecdsa.PublicKey) JWK {
	x, y := coords(k)
	return JWK{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: Thumbprint(k), Alg: "ES256", Use: "sig"}
}

func coords(k *ecdsa.PublicKey) (x, y string) {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil || len(raw) != 65 {
		panic("tpmkeys: not an uncompressed P-256 point")
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(raw[1:33]), enc.EncodeToString(raw[33:])
}

// Thumbprint is the RFC 7638 thumbprint of a P-256 key: base64url(SHA-256
// of {"crv","kty","x","y"} in lexicographic order, no whitespace).
func Thumbprint(k *ecdsa.PublicKey) string {
	x, y := coords(k)
	// Members in RFC 7638 order; json.Marshal of strings adds no whitespace.
	m, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{"P-256", "EC", x, y})
	sum := sha256.Sum256(m)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseJWK decodes a public P-256 JWK and checks its kid, if present, is
// the key's thumbprint.
func ParseJWK(data []byte) (*ecdsa.PublicKey, error) {
	var j JWK
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("decoding JWK: %w", err)
	}
	if j.Kty != "EC" || j.Crv != "P-256" {
		return nil, errors.New("JWK is not an EC P-256 key")
	}
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("JWK coordinates are not 32-byte base64url")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("JWK point: %w", err)
	}
	if j.Kid != "" && j.Kid != Thumbprint(k) {
		return nil, errors.New("JWK kid is not the key's RFC 7638 thumbprint")
	}
	return k, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
