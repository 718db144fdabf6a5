package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Nonce bounds: a verifier's nonce is 8 to 64 bytes (16 to 128 hex digits).
const (
	MinNonce = 8
	MaxNonce = 64
)

// QuoteBank is the only PCR bank quotes cover and expected values name.
const QuoteBank = "sha256"

// HexBytes is a byte string written as lower-case hex in JSON. Reading
// accepts either case and an optional 0x prefix (values copied from
// tpm2_pcrread output).
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HexBytes) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(string(b), "0x"), "0X")
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not hex: %v", err)
	}
	*h = v
	return nil
}

// String is the hex form.
func (h HexBytes) String() string { return hex.EncodeToString(h) }

// PCRValues maps a PCR bank ("sha256") to PCR index to value. In JSON:
// {"sha256": {"7": "<64 hex digits>"}}. It is both the form a quote lists
// its PCR values in and the form of a file of expected values (--pcrs), so
// a known-good quote's "pcrs" can be saved as the expected file.
type PCRValues map[string]map[int]HexBytes

// ParseExpectedPCRs reads a file of expected PCR values: the SHA-256 bank
// only, PCRs 0 to 23, 32-byte values, at least one.
func ParseExpectedPCRs(data []byte) (PCRValues, error) {
	var v PCRValues
	if err := decodeStrict(data, &v); err != nil {
		return nil, fmt.Errorf("evidence: expected PCRs: %v", err)
	}
	if err := v.validate(); err != nil {
		return nil, fmt.Errorf("evidence: expected PCRs: %v", err)
	}
	return v, nil
}

func (v PCRValues) validate() error {
	if len(v) != 1 || v[QuoteBank] == nil {
		banks := make([]string, 0, len(v))
		for b := range v {
			banks = append(banks, b)
		}
		return fmt.Errorf("want exactly the %q bank, got %v", QuoteBank, banks)
	}
	bank := v[QuoteBank]
	if len(bank) == 0 {
		return errors.New("no PCR listed")
	}
	for i, val := range bank {
		if i < 0 || i > 23 {
			return fmt.Errorf("PCR %d is out of range 0..23", i)
		}
		if len(val) != sha256.Size {
			return fmt.Errorf("PCR %d has a %d-byte value; a SHA-256 PCR has 32", i, len(val))
		}
	}
	return nil
}

// Quote is the TPM quote a kiosk attaches to a report served with a nonce
// (GET /api/retention?nonce=HEX; tpmkeys.Quote writes it): the AK's
// signature over the selected PCRs' digest and the qualifying data
// QuoteQualifyingData(nonce, report payload).
type Quote struct {
	// Nonce echoes the verifier's nonce.
	Nonce HexBytes `json:"nonce"`
	// PCRs lists the values the kiosk read; they must hash to the quoted
	// digest.
	PCRs PCRValues `json:"pcrs"`
	// Quoted is the TPMS_ATTEST, Signature its TPMT_SIGNATURE by the AK.
	Quoted    []byte `json:"quoted"`
	Signature []byte `json:"signature"`
}

type parsedQuote struct {
	q      *Quote
	attest *tpmAttest
	sig    *tpmSignature
}

// ParseQuote decodes a quote strictly. It checks no signature: that needs
// the attestation (VerifyAttested).
func ParseQuote(data []byte) (*Quote, error) {
	p, err := parseQuote(data)
	if err != nil {
		return nil, err
	}
	return p.q, nil
}

func parseQuote(data []byte) (*parsedQuote, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("quote is %d bytes, more than %d", len(data), MaxInputBytes)
	}
	var q Quote
	if err := decodeStrict(data, &q); err != nil {
		return nil, fmt.Errorf("quote: %v", err)
	}
	if len(q.Nonce) < MinNonce || len(q.Nonce) > MaxNonce {
		return nil, fmt.Errorf("quote nonce has %d bytes; want %d..%d", len(q.Nonce), MinNonce, MaxNonce)
	}
	if err := q.PCRs.validate(); err != nil {
		return nil, fmt.Errorf("quote pcrs: %v", err)
	}
	a, err := parseAttest(q.Quoted)
	if err != nil {
		return nil, fmt.Errorf("quote: %v", err)
	}
	s, err := parseSignature(q.Signature)
	if err != nil {
		return nil, fmt.Errorf("quote: %v", err)
	}
	return &parsedQuote{q: &q, attest: a, sig: s}, nil
}

// QuoteQualifyingData is what a kiosk asks the TPM to sign into a quote
// (its qualifying data, "extraData"): SHA-256 over a label, the verifier's
// nonce and the SHA-256 of the report's signed payload. It binds the quote
// to the nonce (freshness) and to the report it travels with, so neither
// an old quote nor a quote made for another report passes.
func QuoteQualifyingData(nonce, payload []byte) []byte {
	ph := sha256.Sum256(payload)
	h := sha256.New()
	h.Write([]byte("kiosk/quote/v1\x00"))
	h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(nonce))))
	h.Write(nonce)
	h.Write(ph[:])
	return h.Sum(nil)
}

// ParseNonce reads a verifier's nonce from hex (MinNonce..MaxNonce bytes).
func ParseNonce(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("evidence: nonce is not hex: %v", err)
	}
	if len(b) < MinNonce || len(b) > MaxNonce {
		return nil, fmt.Errorf("evidence: nonce has %d bytes; want %d..%d (%d..%d hex digits)", len(b), MinNonce, MaxNonce, 2*MinNonce, 2*MaxNonce)
	}
	return b, nil
}

// checkQuote is the quote check: the AK signed a TPMS_ATTEST of
// TPM2_Quote, over the SHA-256 bank, whose digest is that of the PCR
// values the quote lists.
func checkQuote(q *parsedQuote, ak, srk *tpmPublic) Check {
	a := q.attest
	if a.typ != stAttestQuote {
		return fail(CheckQuote, ErrBadQuote, "the quoted structure is of type 0x%04x, not a quote (0x%04x)", a.typ, stAttestQuote)
	}
	h, err := q.sig.verify(ak.key, a.raw)
	if err != nil {
		return fail(CheckQuote, ErrBadQuote, "the quote's signature does not verify with the AK: %v", err)
	}
	if !bytes.Equal(a.qualifiedSigner, qualifiedName(qualifiedName(hierarchyQN(rhOwner), srk), ak)) {
		return fail(CheckQuote, ErrBadQuote, "signed by an AK whose qualified name is not the bundle's AK")
	}
	if len(a.pcrSelects) != 1 || a.pcrSelects[0].hash != algSHA256 {
		return fail(CheckQuote, ErrBadQuote, "the quote selects %d banks; want the SHA-256 bank alone", len(a.pcrSelects))
	}
	sel := a.pcrSelects[0].pcrs
	listed := sortedKeys(q.q.PCRs[QuoteBank])
	if pcrList(sel) != pcrList(listed) {
		return fail(CheckQuote, ErrBadQuote, "the quote covers PCRs %v but lists values for %v", sel, listed)
	}
	d := h.New()
	for _, i := range sel {
		d.Write(q.q.PCRs[QuoteBank][i])
	}
	if !bytes.Equal(d.Sum(nil), a.pcrDigest) {
		return fail(CheckQuote, ErrBadQuote, "the PCR values listed do not hash to the quoted digest")
	}
	return pass(CheckQuote, fmt.Sprintf("quote of sha256 PCRs %v signed by the AK", sel))
}

// checkNonce is the nonce check: the quote echoes the verifier's nonce and
// its signed qualifying data binds that nonce to this report's payload.
func checkNonce(q *parsedQuote, nonce, payload []byte) Check {
	if nonce == nil {
		return Check{Name: CheckNonce, Status: Skip, Detail: "no nonce of yours: without one the quote may be an old one replayed"}
	}
	if !bytes.Equal(q.q.Nonce, nonce) {
		return fail(CheckNonce, ErrWrongNonce, "the quote answers nonce %s…, you sent %s…", hexShort(q.q.Nonce), hexShort(nonce))
	}
	if !bytes.Equal(q.attest.extraData, QuoteQualifyingData(nonce, payload)) {
		return fail(CheckNonce, ErrWrongNonce, "the quote's signed qualifying data is not bound to your nonce and this report: a quote made for another request")
	}
	return pass(CheckNonce, fmt.Sprintf("the quote answers your nonce %s… for this report", hexShort(nonce)))
}

func hexShort(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}

// checkPCRs is the pcrs check: the quoted PCRs are exactly the expected
// ones, with the expected values.
func checkPCRs(q *parsedQuote, expected PCRValues) Check {
	got := q.q.PCRs[QuoteBank]
	if expected == nil {
		var parts []string
		for _, i := range sortedKeys(got) {
			parts = append(parts, fmt.Sprintf("%d=%s…", i, hexShort(got[i])))
		}
		return Check{Name: CheckPCRs, Status: Skip, Detail: fmt.Sprintf("no expected values given (--pcrs); quoted sha256 %s", strings.Join(parts, " "))}
	}
	want := expected[QuoteBank]
	if pcrList(sortedKeys(got)) != pcrList(sortedKeys(want)) {
		return fail(CheckPCRs, ErrPCRMismatch, "the quote covers sha256 PCRs %v; the expected values are for %v", sortedKeys(got), sortedKeys(want))
	}
	for _, i := range sortedKeys(want) {
		if !bytes.Equal(got[i], want[i]) {
			return fail(CheckPCRs, ErrPCRMismatch, "sha256 PCR %d is %s, expected %s: the boot chain differs", i, got[i], want[i])
		}
	}
	return pass(CheckPCRs, fmt.Sprintf("sha256 PCRs %v equal the expected values", sortedKeys(want)))
}
