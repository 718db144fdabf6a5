package evidence

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"

	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
)

// The TPM 2.0 structures a verifier reads (TPM 2.0 Library, Part 2),
// decoded strictly in pure Go: this package imports no TPM library, so the
// verifier is a second, independent reading of what the kiosk's TPM code
// wrote. Every decoder consumes its whole input and rejects anything it
// does not know.

// TPM constants (Part 2).
const (
	tpmGeneratedValue = 0xff544347 // TPM_GENERATED_VALUE, the magic of every TPMS_ATTEST
	stAttestCertify   = 0x8017
	stAttestQuote     = 0x8018

	algRSA       = 0x0001
	algSHA1      = 0x0004
	algAES       = 0x0006
	algSHA256    = 0x000B
	algSHA384    = 0x000C
	algSHA512    = 0x000D
	algNull      = 0x0010
	algRSASSA    = 0x0014
	algRSAES     = 0x0015
	algRSAPSS    = 0x0016
	algOAEP      = 0x0017
	algECDSA     = 0x0018
	algECDH      = 0x0019
	algECDAA     = 0x001A
	algSM2       = 0x001B
	algECSchnorr = 0x001C
	algECC       = 0x0023
	algCFB       = 0x0043

	eccNistP256 = 0x0003
	eccNistP384 = 0x0004
	eccNistP521 = 0x0005

	rhOwner = 0x40000001
)

// TPMA_OBJECT bits.
const (
	attrFixedTPM            = 1 << 1
	attrFixedParent         = 1 << 4
	attrSensitiveDataOrigin = 1 << 5
	attrUserWithAuth        = 1 << 6
	attrRestricted          = 1 << 16
	attrDecrypt             = 1 << 17
	attrSign                = 1 << 18
)

var attrNames = []struct {
	bit  uint32
	name string
}{
	{attrFixedTPM, "fixedTPM"}, {attrFixedParent, "fixedParent"}, {attrSensitiveDataOrigin, "sensitiveDataOrigin"},
	{attrUserWithAuth, "userWithAuth"}, {attrRestricted, "restricted"}, {attrDecrypt, "decrypt"}, {attrSign, "sign"},
}

// attrString names the attribute bits set in a, for messages.
func attrString(a uint32) string {
	var out []string
	for _, n := range attrNames {
		if a&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return fmt.Sprint(out)
}

// Size caps: nothing real comes close.
const (
	maxTPM2B      = 1024
	maxTPMPublic  = 1024
	maxTPMAttest  = 1024
	maxTPMSig     = 1024
	maxPCRSelects = 4
)

var errShort = errors.New("truncated")

// wire reads big-endian TPM fields; the first error sticks.
type wire struct {
	b   []byte
	err error
}

func (w *wire) take(n int) []byte {
	if w.err != nil {
		return nil
	}
	if n < 0 || len(w.b) < n {
		w.err = errShort
		return nil
	}
	v := w.b[:n:n]
	w.b = w.b[n:]
	return v
}

func (w *wire) u8() uint8 {
	if b := w.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (w *wire) u16() uint16 {
	if b := w.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (w *wire) u32() uint32 {
	if b := w.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (w *wire) u64() uint64 {
	if b := w.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// tpm2b reads a sized buffer of at most max bytes.
func (w *wire) tpm2b(max int) []byte {
	n := int(w.u16())
	if w.err == nil && n > max {
		w.err = fmt.Errorf("sized buffer of %d bytes exceeds %d", n, max)
		return nil
	}
	return w.take(n)
}

func (w *wire) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func (w *wire) done(what string) error {
	if w.err != nil {
		return fmt.Errorf("%s: %w", what, w.err)
	}
	if len(w.b) != 0 {
		return fmt.Errorf("%s: %d trailing bytes", what, len(w.b))
	}
	return nil
}

// hashOf maps a TPM hash algorithm to crypto.Hash. SHA-1 is refused: it
// would let a name or a signed digest collide.
func hashOf(alg uint16) (crypto.Hash, error) {
	switch alg {
	case algSHA256:
		return crypto.SHA256, nil
	case algSHA384:
		return crypto.SHA384, nil
	case algSHA512:
		return crypto.SHA512, nil
	case algSHA1:
		return 0, errors.New("SHA-1 is not accepted")
	}
	return 0, fmt.Errorf("unknown hash algorithm 0x%04x", alg)
}

// tpmPublic is a decoded TPMT_PUBLIC of an RSA or ECC key.
type tpmPublic struct {
	raw        []byte
	typ        uint16
	nameAlg    uint16
	attrs      uint32
	authPolicy []byte
	symAlg     uint16 // algNull, or algAES with symBits and symMode
	symBits    uint16
	symMode    uint16
	scheme     uint16 // signing or encryption scheme, algNull if none
	schemeHash uint16
	curve      uint16 // ECC
	key        crypto.PublicKey
}

func (p *tpmPublic) has(bits uint32) bool { return p.attrs&bits == bits }

// parsePublic decodes a TPMT_PUBLIC of an RSA or ECC key.
func parsePublic(b []byte) (*tpmPublic, error) {
	if len(b) == 0 || len(b) > maxTPMPublic {
		return nil, fmt.Errorf("TPMT_PUBLIC: %d bytes; want 1..%d", len(b), maxTPMPublic)
	}
	w := &wire{b: b}
	p := &tpmPublic{raw: bytes.Clone(b)}
	p.typ, p.nameAlg, p.attrs = w.u16(), w.u16(), w.u32()
	p.authPolicy = w.tpm2b(64)
	if w.err == nil {
		if _, err := hashOf(p.nameAlg); err != nil {
			w.fail("name algorithm: %v", err)
		}
	}
	// TPMT_SYM_DEF_OBJECT
	p.symAlg = w.u16()
	switch p.symAlg {
	case algNull:
	case algAES:
		p.symBits, p.symMode = w.u16(), w.u16()
	default:
		w.fail("symmetric algorithm 0x%04x", p.symAlg)
	}
	switch p.typ {
	case algRSA:
		p.scheme = w.u16()
		switch p.scheme {
		case algNull, algRSAES:
		case algRSASSA, algRSAPSS, algOAEP:
			p.schemeHash = w.u16()
		default:
			w.fail("RSA scheme 0x%04x", p.scheme)
		}
		bits, exp := w.u16(), w.u32()
		n := w.tpm2b(512)
		if w.err != nil {
			break
		}
		if bits < 2048 || bits > 4096 || len(n) != int(bits)/8 {
			w.fail("RSA key of %d bits with a %d-byte modulus", bits, len(n))
			break
		}
		e := int(exp)
		if exp == 0 {
			e = 65537
		}
		if exp > 1<<31-1 || e < 3 || e%2 == 0 {
			w.fail("RSA exponent %d", exp)
			break
		}
		p.key = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: e}
	case algECC:
		p.scheme = w.u16()
		switch p.scheme {
		case algNull:
		case algECDH, algECDSA, algSM2, algECSchnorr:
			p.schemeHash = w.u16()
		case algECDAA:
			p.schemeHash = w.u16()
			w.u16() // count
		default:
			w.fail("ECC scheme 0x%04x", p.scheme)
		}
		p.curve = w.u16()
		if kdf := w.u16(); kdf != algNull {
			w.u16() // the KDF's hash
		}
		x, y := w.tpm2b(66), w.tpm2b(66)
		if w.err != nil {
			break
		}
		curve, err := curveOf(p.curve)
		if err != nil {
			w.fail("%v", err)
			break
		}
		k, err := eccPoint(curve, x, y)
		if err != nil {
			w.fail("ECC point: %v", err)
			break
		}
		p.key = k
	default:
		w.fail("key type 0x%04x (want RSA or ECC)", p.typ)
	}
	if err := w.done("TPMT_PUBLIC"); err != nil {
		return nil, err
	}
	return p, nil
}

func curveOf(id uint16) (elliptic.Curve, error) {
	switch id {
	case eccNistP256:
		return elliptic.P256(), nil
	case eccNistP384:
		return elliptic.P384(), nil
	case eccNistP521:
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported ECC curve 0x%04x", id)
}

// eccPoint builds a public key from TPM coordinates, which may come
// without their leading zero bytes.
func eccPoint(c elliptic.Curve, x, y []byte) (*ecdsa.PublicKey, error) {
	size := (c.Params().BitSize + 7) / 8
	if len(x) == 0 || len(y) == 0 || len(x) > size || len(y) > size {
		return nil, fmt.Errorf("coordinates of %d and %d bytes for a %d-byte curve", len(x), len(y), size)
	}
	raw := make([]byte, 1+2*size)
	raw[0] = 4
	copy(raw[1+size-len(x):1+size], x)
	copy(raw[1+2*size-len(y):], y)
	return ecdsa.ParseUncompressedPublicKey(c, raw)
}

// nameOf is the TPM Name of an object: nameAlg || H_nameAlg(TPMT_PUBLIC).
func nameOf(p *tpmPublic) []byte {
	h, _ := hashOf(p.nameAlg)
	d := h.New()
	d.Write(p.raw)
	return d.Sum(binary.BigEndian.AppendUint16(nil, p.nameAlg))
}

// qualifiedName is QN(child) = nameAlg || H_nameAlg(QN(parent) || Name(child));
// the QN of a hierarchy is its handle.
func qualifiedName(parentQN []byte, child *tpmPublic) []byte {
	h, _ := hashOf(child.nameAlg)
	d := h.New()
	d.Write(parentQN)
	d.Write(nameOf(child))
	return d.Sum(binary.BigEndian.AppendUint16(nil, child.nameAlg))
}

// hierarchyQN is the qualified name of a hierarchy: its handle.
func hierarchyQN(handle uint32) []byte { return binary.BigEndian.AppendUint32(nil, handle) }

// pcrSelect is one bank of a TPML_PCR_SELECTION.
type pcrSelect struct {
	hash uint16
	pcrs []int // ascending
}

// tpmAttest is a decoded TPMS_ATTEST of a certify or a quote.
type tpmAttest struct {
	raw             []byte
	typ             uint16
	qualifiedSigner []byte
	extraData       []byte
	clock           uint64
	resetCount      uint32
	restartCount    uint32
	safe            bool
	firmware        uint64
	// TPMS_CERTIFY_INFO
	name          []byte
	qualifiedName []byte
	// TPMS_QUOTE_INFO
	pcrSelects []pcrSelect
	pcrDigest  []byte
}

// parseAttest decodes a TPMS_ATTEST; it checks the magic and accepts only
// the certify and quote types.
func parseAttest(b []byte) (*tpmAttest, error) {
	if len(b) == 0 || len(b) > maxTPMAttest {
		return nil, fmt.Errorf("TPMS_ATTEST: %d bytes; want 1..%d", len(b), maxTPMAttest)
	}
	w := &wire{b: b}
	a := &tpmAttest{raw: bytes.Clone(b)}
	if magic := w.u32(); w.err == nil && magic != tpmGeneratedValue {
		return nil, fmt.Errorf("TPMS_ATTEST: magic 0x%08x is not TPM_GENERATED_VALUE: the TPM did not make this structure", magic)
	}
	a.typ = w.u16()
	a.qualifiedSigner = w.tpm2b(66)
	a.extraData = w.tpm2b(66)
	a.clock, a.resetCount, a.restartCount = w.u64(), w.u32(), w.u32()
	switch s := w.u8(); s {
	case 0, 1:
		a.safe = s == 1
	default:
		w.fail("clock safe flag %d", s)
	}
	a.firmware = w.u64()
	switch a.typ {
	case stAttestCertify:
		a.name, a.qualifiedName = w.tpm2b(66), w.tpm2b(66)
	case stAttestQuote:
		n := w.u32()
		if w.err == nil && (n == 0 || n > maxPCRSelects) {
			w.fail("%d PCR banks selected", n)
		}
		for i := 0; w.err == nil && i < int(n); i++ {
			s := pcrSelect{hash: w.u16()}
			size := int(w.u8())
			if w.err == nil && (size < 3 || size > 4) {
				w.fail("PCR select of %d bytes", size)
			}
			bits := w.take(size)
			for j, v := range bits {
				for k := 0; k < 8; k++ {
					if v&(1<<k) != 0 {
						s.pcrs = append(s.pcrs, j*8+k)
					}
				}
			}
			a.pcrSelects = append(a.pcrSelects, s)
		}
		a.pcrDigest = w.tpm2b(64)
	default:
		w.fail("attestation type 0x%04x (want certify 0x%04x or quote 0x%04x)", a.typ, stAttestCertify, stAttestQuote)
	}
	if err := w.done("TPMS_ATTEST"); err != nil {
		return nil, err
	}
	return a, nil
}

// tpmSignature is a decoded TPMT_SIGNATURE (ECDSA, RSASSA or RSAPSS).
type tpmSignature struct {
	alg  uint16
	hash uint16
	r, s []byte // ECDSA
	sig  []byte // RSA
}

func parseSignature(b []byte) (*tpmSignature, error) {
	if len(b) == 0 || len(b) > maxTPMSig {
		return nil, fmt.Errorf("TPMT_SIGNATURE: %d bytes; want 1..%d", len(b), maxTPMSig)
	}
	w := &wire{b: b}
	s := &tpmSignature{alg: w.u16(), hash: w.u16()}
	switch s.alg {
	case algECDSA:
		s.r, s.s = w.tpm2b(66), w.tpm2b(66)
	case algRSASSA, algRSAPSS:
		s.sig = w.tpm2b(512)
	default:
		w.fail("signature algorithm 0x%04x (want ECDSA, RSASSA or RSAPSS)", s.alg)
	}
	if err := w.done("TPMT_SIGNATURE"); err != nil {
		return nil, err
	}
	return s, nil
}

// verify checks the signature over msg (hashed with the signature's hash)
// with key. It returns the hash used.
func (s *tpmSignature) verify(key crypto.PublicKey, msg []byte) (crypto.Hash, error) {
	h, err := hashOf(s.hash)
	if err != nil {
		return 0, err
	}
	d := h.New()
	d.Write(msg)
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if s.alg != algECDSA {
			return 0, fmt.Errorf("an ECC key with a signature of algorithm 0x%04x", s.alg)
		}
		if !ecdsa.Verify(k, digest, new(big.Int).SetBytes(s.r), new(big.Int).SetBytes(s.s)) {
			return 0, errors.New("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		switch s.alg {
		case algRSASSA:
			err = rsa.VerifyPKCS1v15(k, h, digest, s.sig)
		case algRSAPSS:
			err = rsa.VerifyPSS(k, h, digest, s.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		default:
			err = fmt.Errorf("an RSA key with a signature of algorithm 0x%04x", s.alg)
		}
		if err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("unsupported key type %T", key)
	}
	return h, nil
}

// pcrList formats PCR indices for messages.
func pcrList(ps []int) string {
	s := slices.Clone(ps)
	slices.Sort(s)
	return fmt.Sprint(s)
}
