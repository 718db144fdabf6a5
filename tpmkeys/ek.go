package tpmkeys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// NV indices of the endorsement key (EK) certificates, from the TCG EK
// Credential Profile (2.5, section 2.2.1.4). A manufacturer writes the
// certificate of each EK it provisions at the index of its template.
const (
	// EKCertIndexRSA2048 holds the certificate of the RSA 2048 EK of
	// template L-1 (the most widespread on shipped chips).
	EKCertIndexRSA2048 tpm2.TPMHandle = 0x01c00002
	// EKCertIndexECCP256 holds the certificate of the ECC P-256 EK of
	// template L-2.
	EKCertIndexECCP256 tpm2.TPMHandle = 0x01c0000a
	// EKCertIndexECCP384 holds the certificate of the ECC P-384 EK of the
	// high-range template H-3; swtpm_setup writes its ECC EK there.
	EKCertIndexECCP384 tpm2.TPMHandle = 0x01c00016
)

// The EK certificate chain, as some manufacturers store it in the TPM: one
// or more DER certificates per index in this range.
const (
	ekChainFirst = 0x01c00100
	ekChainLast  = 0x01c001ff
)

// ekCertOrder is the order in which Open looks for an EK certificate when
// Options.EKCertIndex is zero: ECC P-256 first (an ECC EK is created in
// milliseconds where an RSA one can take seconds on a chip), then RSA
// 2048, then the high-range P-384 that swtpm writes.
var ekCertOrder = []tpm2.TPMHandle{EKCertIndexECCP256, EKCertIndexRSA2048, EKCertIndexECCP384}

// ekTemplates are the templates we can create with TPM2_CreatePrimary. The
// high-range templates (such as H-3) carry no unique field and a policy
// over TPM2_PolicyAuthorizeNV; for those we use the EK the platform made
// persistent (TCG provisioning guidance: 0x81010001 onwards) instead.
var ekTemplates = map[tpm2.TPMHandle]tpm2.TPMTPublic{
	EKCertIndexRSA2048: tpm2.RSAEKTemplate,
	EKCertIndexECCP256: tpm2.ECCEKTemplate,
}

// Persistent handles of the endorsement range a platform may have
// persisted EKs at.
const (
	ekPersistentFirst = 0x81010000
	ekPersistentLast  = 0x8101ffff
)

// ekInfo is the endorsement key as found in the TPM: its certificate, the
// chain the TPM holds, and its public area.
type ekInfo struct {
	index      tpm2.TPMHandle // NV index of the certificate
	cert       []byte         // DER, trimmed of NV padding
	chain      [][]byte       // DER certificates from the chain range, as stored
	public     tpm2.TPMTPublic
	persistent tpm2.TPMHandle // 0 when the EK must be created as a primary
}

// nvBufferMax reads TPM_PT_NV_BUFFER_MAX, the most one NV_Read returns.
func nvBufferMax(t transport.TPM) uint16 {
	const ptNVBufferMax = 0x12C // TPM_PT_FIXED + 44
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: ptNVBufferMax, PropertyCount: 1}.Execute(t)
	if err != nil {
		return 512
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil || len(props.TPMProperty) == 0 || props.TPMProperty[0].Property != ptNVBufferMax {
		return 512
	}
	v := props.TPMProperty[0].Value
	if v < 64 || v > 4096 {
		return 512
	}
	return uint16(v)
}

// maxNVCert bounds what we read from one NV index (real EK certificates are
// 1 to 2 KiB).
const maxNVCert = 8 << 10

// readNV reads a whole NV index, in chunks of the TPM's NV buffer size. It
// authorises with the index itself (TPMA_NV_AUTHREAD, empty auth) when the
// index allows it, else with the owner hierarchy.
func readNV(t transport.TPM, index tpm2.TPMHandle, ownerAuth []byte) ([]byte, error) {
	rp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t)
	if err != nil {
		return nil, err
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("decoding the public area of NV index 0x%08x: %w", uint32(index), err)
	}
	if !pub.Attributes.Written {
		return nil, fmt.Errorf("NV index 0x%08x is defined but was never written", uint32(index))
	}
	if pub.DataSize == 0 || pub.DataSize > maxNVCert {
		return nil, fmt.Errorf("NV index 0x%08x holds %d bytes; want 1..%d", uint32(index), pub.DataSize, maxNVCert)
	}
	auth := tpm2.AuthHandle{Handle: index, Name: rp.NVName, Auth: tpm2.PasswordAuth(nil)}
	if !pub.Attributes.AuthRead {
		if !pub.Attributes.OwnerRead {
			return nil, fmt.Errorf("NV index 0x%08x is readable neither with its own auth nor by the owner", uint32(index))
		}
		auth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(ownerAuth)}
	}
	chunk := nvBufferMax(t)
	out := make([]byte, 0, pub.DataSize)
	for off := uint16(0); off < pub.DataSize; {
		n := min(chunk, pub.DataSize-off)
		rsp, err := tpm2.NVRead{
			AuthHandle: auth,
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
			Size:       n,
			Offset:     off,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("reading NV index 0x%08x at offset %d: %w", uint32(index), off, err)
		}
		if len(rsp.Data.Buffer) != int(n) {
			return nil, fmt.Errorf("reading NV index 0x%08x at offset %d: got %d bytes, want %d", uint32(index), off, len(rsp.Data.Buffer), n)
		}
		out = append(out, rsp.Data.Buffer...)
		off += n
	}
	return out, nil
}

// splitDER splits concatenated DER values (an NV index may hold a
// certificate followed by zero padding, or several certificates) and
// drops trailing padding of zero or 0xFF bytes.
func splitDER(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if allPadding(b) {
			break
		}
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, fmt.Errorf("not DER: %w", err)
		}
		out = append(out, bytes.Clone(v.FullBytes))
		b = rest
	}
	if len(out) == 0 {
		return nil, errors.New("holds no DER value")
	}
	return out, nil
}

func allPadding(b []byte) bool {
	for _, c := range b {
		if c != 0 && c != 0xFF {
			return false
		}
	}
	return true
}

// findEK reads the EK certificate (at index, or at the first of ekCertOrder
// present when index is 0), the chain the TPM holds, and locates the EK
// itself: a persistent EK in the endorsement range whose key is the
// certificate's, else the TCG template of that index. It returns ErrNoEKCert
// when the TPM holds no EK certificate (the go-tpm-tools simulator).
func findEK(t transport.TPM, index tpm2.TPMHandle, ownerAuth, endorsementAuth []byte) (*ekInfo, error) {
	order := ekCertOrder
	if index != 0 {
		order = []tpm2.TPMHandle{index}
	}
	var ek *ekInfo
	for _, idx := range order {
		raw, err := readNV(t, idx, ownerAuth)
		if errors.Is(err, tpm2.TPMRCHandle) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the EK certificate: %w", err)
		}
		ders, err := splitDER(raw)
		if err != nil {
			return nil, fmt.Errorf("EK certificate at NV 0x%08x %w", uint32(idx), err)
		}
		ek = &ekInfo{index: idx, cert: ders[0]}
		break
	}
	if ek == nil {
		return nil, ErrNoEKCert
	}
	cert, err := x509.ParseCertificate(ek.cert)
	if err != nil {
		return nil, fmt.Errorf("EK certificate at NV 0x%08x does not parse: %w", uint32(ek.index), err)
	}
	chain, err := readEKChain(t, ownerAuth)
	if err != nil {
		return nil, err
	}
	ek.chain = chain
	if err := locateEK(t, ek, cert.PublicKey, endorsementAuth); err != nil {
		return nil, err
	}
	return ek, nil
}

// readEKChain reads the certificates in the EK chain range, in handle order.
func readEKChain(t transport.TPM, ownerAuth []byte) ([][]byte, error) {
	hs, err := loadedHandles(t, ekChainFirst)
	if err != nil {
		return nil, fmt.Errorf("listing NV indices of the EK chain: %w", err)
	}
	var out [][]byte
	for _, h := range hs {
		if uint32(h) > ekChainLast {
			break
		}
		raw, err := readNV(t, h, ownerAuth)
		if err != nil {
			return nil, fmt.Errorf("reading EK chain certificate: %w", err)
		}
		ders, err := splitDER(raw)
		if err != nil {
			return nil, fmt.Errorf("EK chain at NV 0x%08x %w", uint32(h), err)
		}
		out = append(out, ders...)
	}
	return out, nil
}

// locateEK finds the EK whose public key is want: a persistent EK in the
// endorsement range, else a primary created from the index's template.
func locateEK(t transport.TPM, ek *ekInfo, want crypto.PublicKey, endorsementAuth []byte) error {
	hs, err := loadedHandles(t, ekPersistentFirst)
	if err != nil {
		return fmt.Errorf("listing persistent EKs: %w", err)
	}
	for _, h := range hs {
		if uint32(h) > ekPersistentLast {
			break
		}
		rp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(t)
		if err != nil {
			continue
		}
		pub, err := rp.OutPublic.Contents()
		if err != nil || !isEKShape(pub) {
			continue
		}
		if k, err := tpm2.Pub(*pub); err == nil && samePublicKey(k, want) {
			ek.public, ek.persistent = *pub, h
			return nil
		}
	}
	tmpl, ok := ekTemplates[ek.index]
	if !ok {
		return fmt.Errorf("%w: no persistent EK matches the certificate at NV 0x%08x, and its template cannot be recreated here (only L-1 RSA 2048 and L-2 ECC P-256 can)",
			ErrEKMismatch, uint32(ek.index))
	}
	h, pub, err := createEK(t, tmpl, endorsementAuth)
	if err != nil {
		return err
	}
	defer flush(t, h.Handle)
	k, err := tpm2.Pub(*pub)
	if err != nil || !samePublicKey(k, want) {
		return fmt.Errorf("%w: the EK created from the TCG template of NV 0x%08x is not the certificate's key (a custom EK template, or a certificate of another TPM)",
			ErrEKMismatch, uint32(ek.index))
	}
	ek.public = *pub
	return nil
}

// isEKShape: an endorsement key is a restricted decryption key bound to
// this TPM.
func isEKShape(p *tpm2.TPMTPublic) bool {
	a := p.ObjectAttributes
	return a.FixedTPM && a.FixedParent && a.SensitiveDataOrigin && a.Restricted && a.Decrypt && !a.SignEncrypt
}

func samePublicKey(a, b crypto.PublicKey) bool {
	switch ka := a.(type) {
	case *rsa.PublicKey:
		kb, ok := b.(*rsa.PublicKey)
		return ok && ka.Equal(kb)
	case *ecdsa.PublicKey:
		kb, ok := b.(*ecdsa.PublicKey)
		return ok && ka.Equal(kb)
	}
	return false
}

// createEK creates the EK as a primary in the endorsement hierarchy. The
// caller flushes it.
func createEK(t transport.TPM, tmpl tpm2.TPMTPublic, endorsementAuth []byte) (tpm2.NamedHandle, *tpm2.TPMTPublic, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(endorsementAuth)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t)
	if err != nil {
		return tpm2.NamedHandle{}, nil, fmt.Errorf("creating the EK under the endorsement hierarchy: %w", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return tpm2.NamedHandle{}, nil, fmt.Errorf("decoding the EK public area: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, pub, nil
}

// loadEK makes the EK usable for one command: its persistent handle, or a
// freshly created primary. done flushes what loadEK created.
func (c *Custody) loadEK(ek *ekInfo) (h tpm2.NamedHandle, done func(), err error) {
	if ek.persistent != 0 {
		rp, err := tpm2.ReadPublic{ObjectHandle: ek.persistent}.Execute(c.tpm)
		if err != nil {
			return tpm2.NamedHandle{}, nil, fmt.Errorf("reading the persistent EK at 0x%08x: %w", uint32(ek.persistent), err)
		}
		return tpm2.NamedHandle{Handle: ek.persistent, Name: rp.Name}, func() {}, nil
	}
	start := time.Now()
	h, _, err = createEK(c.tpm, ekTemplates[ek.index], c.opts.EndorsementAuth)
	if err != nil {
		return tpm2.NamedHandle{}, nil, err
	}
	c.log.Debug("created the EK primary", "ms", time.Since(start).Milliseconds())
	return h, func() { flush(c.tpm, h.Handle) }, nil
}

// ekAuth authorises the EK's USER role. The low-range templates (L-1, L-2)
// clear userWithAuth and set a policy of TPM2_PolicySecret(TPM_RH_ENDORSEMENT);
// the high-range ones set userWithAuth with an empty auth value.
func (c *Custody) ekAuth(ek *ekInfo) tpm2.Session {
	if ek.public.ObjectAttributes.UserWithAuth {
		return tpm2.PasswordAuth(nil)
	}
	auth := c.opts.EndorsementAuth
	return tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, s tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(auth)},
			PolicySession: s,
			NonceTPM:      nonceTPM,
		}.Execute(t)
		return err
	})
}
