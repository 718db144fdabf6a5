package tpmkeys

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// KEKSize is the size of a key-encryption key.
const KEKSize = 32

func pcrMask(pcrs []int) uint32 {
	var m uint32
	for _, p := range pcrs {
		m |= 1 << p
	}
	return m
}

func maskPCRs(m uint32) []int {
	var out []int
	for i := 0; i < 24; i++ {
		if m&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

func pcrSelection(mask uint32) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(uintPCRs(mask)...),
	}}}
}

func uintPCRs(mask uint32) []uint {
	var out []uint
	for _, p := range maskPCRs(mask) {
		out = append(out, uint(p))
	}
	return out
}

// pcrPolicyDigest computes the policy digest of TPM2_PolicyPCR over the
// current values of the PCRs in mask.
func pcrPolicyDigest(t transport.TPM, mask uint32) ([]byte, error) {
	sel := pcrSelection(mask)
	rsp, err := tpm2.PCRRead{PCRSelectionIn: sel}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("reading PCRs %v: %w", maskPCRs(mask), err)
	}
	if len(rsp.PCRSelectionOut.PCRSelections) != 1 ||
		!bytes.Equal(rsp.PCRSelectionOut.PCRSelections[0].PCRSelect, sel.PCRSelections[0].PCRSelect) {
		return nil, fmt.Errorf("the TPM returned a partial PCR read for %v; bind fewer PCRs", maskPCRs(mask))
	}
	h := sha256.New()
	for _, d := range rsp.PCRValues.Digests {
		h.Write(d.Buffer)
	}
	calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
	if err != nil {
		return nil, err
	}
	if err := (tpm2.PolicyPCR{PcrDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)}, Pcrs: sel}).Update(calc); err != nil {
		return nil, err
	}
	return calc.Hash().Digest, nil
}

func sealTemplate(userWithAuth, noDA bool, policy []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:     true,
			FixedParent:  true,
			UserWithAuth: userWithAuth,
			NoDA:         noDA,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash,
			&tpm2.TPMSKeyedHashParms{Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull}}),
	}
}

// seal creates a sealed data object under the SRK holding data, with the
// given auth value. The data travels encrypted (salted session, EncryptIn).
func (c *Custody) seal(tmpl tpm2.TPMTPublic, data, auth []byte) (pub, priv []byte, err error) {
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: c.srk.Handle, Name: c.srk.Name, Auth: c.sessIn(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			UserAuth: tpm2.TPM2BAuth{Buffer: auth},
			Data:     tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: data}),
		}},
		InPublic: tpm2.New2B(tmpl),
	}.Execute(c.tpm)
	if err != nil {
		return nil, nil, err
	}
	return rsp.OutPublic.Bytes(), rsp.OutPrivate.Buffer, nil
}

// sealNewKEK seals fresh random KEK version v (with the PCR binding from
// Options), writes its blob and holds the key. The caller holds c.mu or is Open.
func (c *Custody) sealNewKEK(v uint32) (uint32, error) {
	slot, err := c.freeKEKSlot()
	if err != nil {
		return 0, err
	}
	k := c.slot(slot)
	if _, err := io.ReadFull(c.opts.Rand, k); err != nil {
		clear(k)
		return 0, fmt.Errorf("generating KEK v%d: %w", v, err)
	}
	mask := pcrMask(c.opts.PCRs)
	var policy []byte
	if mask != 0 {
		if policy, err = pcrPolicyDigest(c.tpm, mask); err != nil {
			clear(k)
			return 0, fmt.Errorf("sealing KEK v%d: %w", v, err)
		}
	}
	pub, priv, err := c.seal(sealTemplate(mask == 0, true, policy), k, nil)
	if err != nil {
		clear(k)
		return 0, fmt.Errorf("sealing KEK v%d: %w", v, err)
	}
	b := &keyBlob{purpose: purposeKEK, version: v, pcrMask: mask, public: pub, private: priv}
	path := kekPath(c.dir, v)
	if _, err := os.Stat(path); err == nil {
		clear(k)
		return 0, fmt.Errorf("sealing KEK v%d: %s already exists", v, path)
	}
	if err := writeFileAtomic(path, b.marshal()); err != nil {
		clear(k)
		return 0, fmt.Errorf("writing KEK v%d blob: %w", v, err)
	}
	c.keks[v], c.kekPCRs[v] = slot, mask
	c.current = max(c.current, v)
	c.log.Info("sealed a new KEK", "kek_version", v, "pcrs", fmt.Sprint(maskPCRs(mask)))
	return v, nil
}

func (c *Custody) freeKEKSlot() (int, error) {
	used := map[int]bool{}
	for _, s := range c.keks {
		used[s] = true
	}
	for i := 0; i < maxKEKs; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("tpmkeys: %d KEK versions are live; remove versions nothing references (RemoveKEK)", maxKEKs)
}

// loadKEK loads and unseals KEK version v into locked memory.
func (c *Custody) loadKEK(v uint32) error {
	b, err := readBlob(kekPath(c.dir, v), purposeKEK)
	if err != nil {
		return err
	}
	if b.version != v {
		return fmt.Errorf("%w: %s holds KEK v%d", ErrBadBlob, kekPath(c.dir, v), b.version)
	}
	slot, err := c.freeKEKSlot()
	if err != nil {
		return err
	}
	if err := c.unsealInto(b, c.slot(slot)); err != nil {
		return err
	}
	c.keks[v], c.kekPCRs[v] = slot, b.pcrMask
	c.current = max(c.current, v)
	return nil
}

// unsealInto loads a KEK blob, unseals it into dst over a salted session
// with response encryption, and flushes the object.
func (c *Custody) unsealInto(b *keyBlob, dst []byte) error {
	h, err := c.load(b)
	if err != nil {
		return fmt.Errorf("KEK v%d: %w", b.version, err)
	}
	defer flush(c.tpm, h.Handle)
	var auth tpm2.Session
	if b.pcrMask == 0 {
		auth = c.sessOut(nil)
	} else {
		sel := pcrSelection(b.pcrMask)
		auth = tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, s tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
			_, err := tpm2.PolicyPCR{PolicySession: s, Pcrs: sel}.Execute(t)
			return err
		}, tpm2.Salted(c.srk.Handle, c.srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
	}
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: auth}}.Execute(c.tpm)
	if err != nil {
		if b.pcrMask != 0 && (errors.Is(err, tpm2.TPMRCPolicyFail) || errors.Is(err, tpm2.TPMRCValue)) {
			return &PCRPolicyError{PCRs: maskPCRs(b.pcrMask), KEKVersion: b.version, Err: err}
		}
		return fmt.Errorf("unsealing KEK v%d: %w", b.version, err)
	}
	defer clear(rsp.OutData.Buffer)
	if len(rsp.OutData.Buffer) != KEKSize {
		return fmt.Errorf("unsealing KEK v%d: %w: %d bytes, want %d", b.version, ErrBadBlob, len(rsp.OutData.Buffer), KEKSize)
	}
	copy(dst, rsp.OutData.Buffer)
	return nil
}

// CurrentKEKVersion is the KEK version new records are wrapped under.
func (c *Custody) CurrentKEKVersion() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// KEK returns KEK version v. The slice points into locked memory owned by
// the Custody: do not modify or retain it beyond the call; Close zeroes it.
func (c *Custody) KEK(v uint32) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	s, ok := c.keks[v]
	if !ok {
		return nil, fmt.Errorf("KEK v%d: %w", v, ErrNoKEK)
	}
	return c.slot(s), nil
}

// KEKVersions lists the live KEK versions, ascending.
func (c *Custody) KEKVersions() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := make([]uint32, 0, len(c.keks))
	for v := range c.keks {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// RotateKEK seals a new KEK version (bound to Options.PCRs) and makes it
// current. Older versions stay live until RemoveKEK: records wrapped under
// them still open.
func (c *Custody) RotateKEK() (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	return c.sealNewKEK(c.current + 1)
}

// RemoveKEK deletes KEK version v's blob and zeroes its key: whatever is
// still sealed under v can never be opened again. Call it once no record
// references v, or to retire a version set aside at Open (its PCR policy
// failed). It refuses the current version.
func (c *Custody) RemoveKEK(v uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if v == c.current {
		return fmt.Errorf("tpmkeys: refusing to remove the current KEK v%d; rotate first", v)
	}
	s, ok := c.keks[v]
	away := slices.Index(c.sealedAway, v)
	if !ok && away < 0 {
		return fmt.Errorf("KEK v%d: %w", v, ErrNoKEK)
	}
	if err := os.Remove(kekPath(c.dir, v)); err != nil {
		return fmt.Errorf("removing KEK v%d blob: %w", v, err)
	}
	if ok {
		clear(c.slot(s))
	}
	if away >= 0 {
		c.sealedAway = slices.Delete(c.sealedAway, away, away+1)
	}
	delete(c.keks, v)
	delete(c.kekPCRs, v)
	return nil
}
