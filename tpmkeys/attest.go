package tpmkeys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Attestation errors. Check them with errors.Is.
var (
	// ErrNoEKCert: the TPM holds no endorsement-key certificate. Chips ship
	// one from their manufacturer, swtpm_setup --create-ek-cert writes one
	// under a local CA, the in-process simulator has none. Without it
	// nobody can tell this TPM from software.
	ErrNoEKCert = errors.New("tpmkeys: the TPM holds no endorsement key certificate")
	// ErrEKMismatch: no endorsement key in this TPM matches its certificate
	// (a custom EK template, or a certificate copied from another TPM).
	ErrEKMismatch = errors.New("tpmkeys: the endorsement key does not match its certificate")
	// ErrCredentialRejected: TPM2_ActivateCredential refused the credential:
	// it was not made for this TPM's endorsement key and attestation key,
	// or it was altered.
	ErrCredentialRejected = errors.New("tpmkeys: the TPM refused the credential: it was not made for this TPM's endorsement key and attestation key")
	// ErrBadQuoteInput: a quote was asked for with a nonce or qualifying
	// data of the wrong size.
	ErrBadQuoteInput = errors.New("tpmkeys: bad quote input")
)

// AttestationSchema is the version of the Attestation JSON layout.
const AttestationSchema = 1

// CertifyQualifyingData is the qualifying data of the signing key's
// certification. The verifier requires it, so a certification made for
// another purpose cannot stand in for this one.
const CertifyQualifyingData = "kiosk/evidence-signing-key/v1"

// Bounds on a quote's inputs.
const (
	MinNonce            = 8
	MaxNonce            = 64
	MaxQualifyingData   = 32
	maxCredentialBlob   = 512
	maxEncryptedSecret  = 1024
	defaultQuotePCR     = 7
	maxQuoteReadRetries = 3
)

// Attestation is what GET /api/attestation publishes: the evidence
// signing key certified by this TPM's attestation key (AK), and what a
// verifier needs to trust the AK. Its JSON form is stable (schema 1); byte
// fields are standard base64, TPM structures in their TPM wire encoding.
// evidence.ParseAttestation reads it.
//
//   - EKCertificates: the endorsement key's certificate from its NV index,
//     then any chain certificates the TPM holds (NV 0x01c00100..), as
//     stored. Empty when the TPM holds none.
//   - EKPublic: the EK's TPMT_PUBLIC (its key is the certificate's); the
//     verifier encrypts its activation credential to it.
//   - SRKPublic, AKPublic, SigningKeyPublic: TPMT_PUBLIC of the storage
//     root, the AK and the evidence signing key (both children of the SRK).
//   - CertifyInfo, CertifySignature: TPMS_ATTEST of TPM2_Certify of the
//     signing key by the AK, and its TPMT_SIGNATURE.
type Attestation struct {
	Schema           int      `json:"schema"`
	KeyID            string   `json:"key_id"`
	EKCertificates   [][]byte `json:"ek_certificates"`
	EKPublic         []byte   `json:"ek_public"`
	SRKPublic        []byte   `json:"srk_public"`
	AKPublic         []byte   `json:"ak_public"`
	SigningKeyPublic []byte   `json:"signing_key_public"`
	CertifyInfo      []byte   `json:"certify_info"`
	CertifySignature []byte   `json:"certify_signature"`
}

// Quote is a TPM2_Quote of the configured PCRs by the AK. Its JSON form is
// stable: nonce in hex, PCR values as {"sha256": {"7": hex}} (the values
// the kiosk read; the verifier checks they hash to the quoted digest),
// Quoted (TPMS_ATTEST) and Signature (TPMT_SIGNATURE) in standard base64.
// evidence.ParseQuote reads it.
type Quote struct {
	Nonce     string                       `json:"nonce"`
	PCRs      map[string]map[string]string `json:"pcrs"`
	Quoted    []byte                       `json:"quoted"`
	Signature []byte                       `json:"signature"`
}

// attestState is the Custody's attestation cache, guarded by Custody.mu.
type attestState struct {
	ek       *ekInfo
	ekErr    error // ErrNoEKCert, cached: NV does not change under us
	bundle   *Attestation
	akPublic []byte
}

// akTemplate is the attestation key: a restricted ECDSA P-256 signing key
// generated in the TPM and bound to it. Restricted means the TPM signs
// with it only digests it computed itself, and never one that starts with
// TPM_GENERATED_VALUE unless the TPM made the structure: a verifier can
// believe any TPMS_ATTEST it signs.
var akTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
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

func (c *Custody) akPath() string { return filepath.Join(c.dir, "ak.blob") }

// loadAK loads the AK under the SRK, creating it and its blob on first use.
// The AK is kept as a blob like the signing key, so it stays the same key
// (and the verifiers' pins stay valid) across restarts; it changes only if
// the data directory or the TPM is replaced. The caller holds c.mu and
// flushes the handle.
func (c *Custody) loadAK() (tpm2.NamedHandle, error) {
	if !fileExists(c.akPath()) {
		start := time.Now()
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.New2B(akTemplate),
		}.Execute(c.tpm)
		if err != nil {
			return tpm2.NamedHandle{}, fmt.Errorf("creating the attestation key: %w", err)
		}
		b := &keyBlob{purpose: purposeAK, public: rsp.OutPublic.Bytes(), private: rsp.OutPrivate.Buffer}
		if err := writeFileAtomic(c.akPath(), b.marshal()); err != nil {
			return tpm2.NamedHandle{}, fmt.Errorf("writing the attestation key blob: %w", err)
		}
		c.log.Info("created the attestation key", "ms", time.Since(start).Milliseconds())
	}
	b, err := readBlob(c.akPath(), purposeAK)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("attestation key: %w", err)
	}
	if pub := b.pubArea(); pub.ObjectAttributes != akTemplate.ObjectAttributes {
		return tpm2.NamedHandle{}, fmt.Errorf("attestation key: %w: attributes differ from the restricted signing template", ErrBadBlob)
	}
	h, err := c.load(b)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("attestation key: %w", err)
	}
	c.att.akPublic = b.public
	return h, nil
}

// ekLocked finds the EK once per Custody. The caller holds c.mu.
func (c *Custody) ekLocked() (*ekInfo, error) {
	if c.att.ek != nil || c.att.ekErr != nil {
		return c.att.ek, c.att.ekErr
	}
	ek, err := findEK(c.tpm, c.opts.EKCertIndex, c.opts.OwnerAuth, c.opts.EndorsementAuth)
	if errors.Is(err, ErrNoEKCert) {
		c.att.ekErr = err
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	c.att.ek = ek
	return ek, nil
}

// Attestation certifies the evidence signing key with the AK
// (TPM2_Certify) and returns the bundle for GET /api/attestation. The
// first call reads the EK certificate, locates the EK and creates the AK
// if needed; the result is cached for the Custody's lifetime (the
// certified key never changes), so later calls cost no TPM command.
//
// On a TPM without an EK certificate it still returns the bundle, with no
// EK: a verifier then fails its EK check with a clear reason.
func (c *Custody) Attestation() (*Attestation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.att.bundle != nil {
		return cloneAttestation(c.att.bundle), nil
	}
	ek, err := c.ekLocked()
	if err != nil && !errors.Is(err, ErrNoEKCert) {
		return nil, err
	}
	a := &Attestation{Schema: AttestationSchema, KeyID: c.keyID, EKCertificates: [][]byte{}}
	if ek != nil {
		a.EKCertificates = append(append(a.EKCertificates, ek.cert), ek.chain...)
		a.EKPublic = tpm2.Marshal(ek.public)
	}
	srk, err := tpm2.ReadPublic{ObjectHandle: c.srk.Handle}.Execute(c.tpm)
	if err != nil {
		return nil, fmt.Errorf("reading the storage root's public area: %w", err)
	}
	sig, err := tpm2.ReadPublic{ObjectHandle: c.signer.Handle}.Execute(c.tpm)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key's public area: %w", err)
	}
	if !bytes.Equal(sig.Name.Buffer, c.signer.Name.Buffer) {
		return nil, fmt.Errorf("the loaded signing key's name changed under us")
	}
	a.SRKPublic, a.SigningKeyPublic = srk.OutPublic.Bytes(), sig.OutPublic.Bytes()
	ak, err := c.loadAK()
	if err != nil {
		return nil, err
	}
	defer flush(c.tpm, ak.Handle)
	a.AKPublic = c.att.akPublic
	if a.CertifyInfo, a.CertifySignature, err = c.certifySigner(ak); err != nil {
		return nil, err
	}
	c.att.bundle = a
	return cloneAttestation(a), nil
}

// certifySigner runs TPM2_Certify of the signing key by the loaded AK. The
// caller holds c.mu.
func (c *Custody) certifySigner(ak tpm2.NamedHandle) (info, sig []byte, err error) {
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: c.signer.Handle, Name: c.signer.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: []byte(CertifyQualifyingData)},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(c.tpm)
	if err != nil {
		return nil, nil, fmt.Errorf("certifying the signing key with the attestation key: %w", err)
	}
	return rsp.CertifyInfo.Bytes(), tpm2.Marshal(rsp.Signature), nil
}

func cloneAttestation(a *Attestation) *Attestation {
	b := *a
	b.EKCertificates = make([][]byte, len(a.EKCertificates))
	for i, c := range a.EKCertificates {
		b.EKCertificates[i] = bytes.Clone(c)
	}
	b.EKPublic, b.SRKPublic, b.AKPublic = bytes.Clone(a.EKPublic), bytes.Clone(a.SRKPublic), bytes.Clone(a.AKPublic)
	b.SigningKeyPublic, b.CertifyInfo, b.CertifySignature = bytes.Clone(a.SigningKeyPublic), bytes.Clone(a.CertifyInfo), bytes.Clone(a.CertifySignature)
	return &b
}

// QuotePCRs are the PCRs (SHA-256 bank) that Quote covers, ascending.
func (c *Custody) QuotePCRs() []int {
	ps := c.opts.QuotePCRs
	if len(ps) == 0 {
		ps = c.opts.PCRs
	}
	if len(ps) == 0 {
		ps = []int{defaultQuotePCR}
	}
	out := slices.Clone(ps)
	slices.Sort(out)
	return slices.Compact(out)
}

// Quote signs the current values of QuotePCRs with the AK (TPM2_Quote).
// nonce is the verifier's nonce (MinNonce..MaxNonce bytes), echoed in the
// result; qualifyingData (1..MaxQualifyingData bytes) goes into the signed
// structure: pass evidence.QuoteQualifyingData(nonce, payload), which binds
// the quote to the nonce and to the report it travels with.
//
// The PCR values are read before the quote; if a PCR changes in between
// (their digest differs from the quoted one) it reads and quotes again.
func (c *Custody) Quote(nonce, qualifyingData []byte) (*Quote, error) {
	if len(nonce) < MinNonce || len(nonce) > MaxNonce {
		return nil, fmt.Errorf("%w: nonce has %d bytes; want %d..%d", ErrBadQuoteInput, len(nonce), MinNonce, MaxNonce)
	}
	if len(qualifyingData) == 0 || len(qualifyingData) > MaxQualifyingData {
		return nil, fmt.Errorf("%w: qualifying data has %d bytes; want 1..%d", ErrBadQuoteInput, len(qualifyingData), MaxQualifyingData)
	}
	pcrs := c.QuotePCRs()
	for _, p := range pcrs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("%w: PCR %d out of range 0..23", ErrBadQuoteInput, p)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	ak, err := c.loadAK()
	if err != nil {
		return nil, err
	}
	defer flush(c.tpm, ak.Handle)
	sel := pcrSelection(pcrMask(pcrs))
	for attempt := 0; ; attempt++ {
		values, err := readPCRs(c, pcrs)
		if err != nil {
			return nil, err
		}
		rsp, err := tpm2.Quote{
			SignHandle:     tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
			QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel,
		}.Execute(c.tpm)
		if err != nil {
			return nil, fmt.Errorf("quoting PCRs %v: %w", pcrs, err)
		}
		att, err := rsp.Quoted.Contents()
		if err != nil {
			return nil, fmt.Errorf("decoding the quote: %w", err)
		}
		qi, err := att.Attested.Quote()
		if err != nil {
			return nil, fmt.Errorf("decoding the quote: %w", err)
		}
		h := sha256.New()
		for _, p := range pcrs {
			h.Write(values[p])
		}
		if !bytes.Equal(h.Sum(nil), qi.PCRDigest.Buffer) {
			if attempt < maxQuoteReadRetries {
				continue // a PCR was extended between the read and the quote
			}
			return nil, fmt.Errorf("quoting PCRs %v: they keep changing between read and quote", pcrs)
		}
		q := &Quote{
			Nonce:     hex.EncodeToString(nonce),
			PCRs:      map[string]map[string]string{"sha256": {}},
			Quoted:    rsp.Quoted.Bytes(),
			Signature: tpm2.Marshal(rsp.Signature),
		}
		for _, p := range pcrs {
			q.PCRs["sha256"][strconv.Itoa(p)] = hex.EncodeToString(values[p])
		}
		return q, nil
	}
}

// readPCRs reads PCRs of the SHA-256 bank; a TPM returns at most 8 per
// TPM2_PCR_Read, so it reads until all are in.
func readPCRs(c *Custody, pcrs []int) (map[int][]byte, error) {
	out := map[int][]byte{}
	left := slices.Clone(pcrs)
	for len(left) > 0 {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(pcrMask(left))}.Execute(c.tpm)
		if err != nil {
			return nil, fmt.Errorf("reading PCRs %v: %w", left, err)
		}
		var got []int
		for _, s := range rsp.PCRSelectionOut.PCRSelections {
			if s.Hash != tpm2.TPMAlgSHA256 {
				continue
			}
			for i, b := range s.PCRSelect {
				for bit := 0; bit < 8; bit++ {
					if b&(1<<bit) != 0 {
						got = append(got, i*8+bit)
					}
				}
			}
		}
		if len(got) == 0 || len(got) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("reading PCRs %v: the TPM returned no SHA-256 values (is the bank active?)", left)
		}
		for i, p := range got {
			out[p] = bytes.Clone(rsp.PCRValues.Digests[i].Buffer)
		}
		left = slices.DeleteFunc(left, func(p int) bool { _, ok := out[p]; return ok })
	}
	return out, nil
}

// ActivateCredential runs TPM2_ActivateCredential: it decrypts a
// credential a verifier made in software (TPM2_MakeCredential's
// computation, evidence.NewActivation) for this TPM's EK and the AK's
// name, and returns the secret inside. The TPM releases it only if the EK's
// private key (which never leaves the TPM) opens the seed, and the AK with
// that exact name is loaded in the same TPM: a verifier that gets its
// secret back knows the AK lives beside the certified EK.
//
// Input sizes are bounded; a credential for another TPM or another AK
// fails with ErrCredentialRejected. Each call costs an EK use in the TPM
// (and creating the EK primary if the platform did not persist one, slow
// on an RSA chip), so the API should rate-limit it.
func (c *Custody) ActivateCredential(credentialBlob, encryptedSecret []byte) ([]byte, error) {
	if len(credentialBlob) == 0 || len(credentialBlob) > maxCredentialBlob ||
		len(encryptedSecret) == 0 || len(encryptedSecret) > maxEncryptedSecret {
		return nil, fmt.Errorf("%w: credential blob of %d bytes and secret of %d bytes (want 1..%d and 1..%d)",
			ErrCredentialRejected, len(credentialBlob), len(encryptedSecret), maxCredentialBlob, maxEncryptedSecret)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	ek, err := c.ekLocked()
	if err != nil {
		return nil, err
	}
	ak, err := c.loadAK()
	if err != nil {
		return nil, err
	}
	defer flush(c.tpm, ak.Handle)
	ekh, done, err := c.loadEK(ek)
	if err != nil {
		return nil, err
	}
	defer done()
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: ak.Handle, Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: ekh.Handle, Name: ekh.Name, Auth: c.ekAuth(ek)},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: credentialBlob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: encryptedSecret},
	}.Execute(c.tpm)
	if err != nil {
		// A credential for another EK or AK, or an altered one, fails on
		// the command's parameters (TPM_RC_INTEGRITY, _VALUE, _SIZE, ...).
		var fe tpm2.TPMFmt1Error
		if errors.As(err, &fe) {
			if param, _ := fe.Parameter(); param {
				return nil, fmt.Errorf("%w (%v)", ErrCredentialRejected, err)
			}
		}
		// libtpms (swtpm) answers TPM_RC_FAILURE, without entering failure
		// mode, when the RSA-OAEP seed does not decrypt under its EK; a
		// chip answers TPM_RC_VALUE. Both mean: not made for this EK.
		if errors.Is(err, tpm2.TPMRCFailure) {
			return nil, fmt.Errorf("%w: the seed does not decrypt under this EK (%w)", ErrCredentialRejected, err)
		}
		return nil, fmt.Errorf("activating the credential: %w", err)
	}
	return rsp.CertInfo.Buffer, nil
}
