package evidence

import (
	"crypto"
	"crypto/aes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"io"
)

// makeCredential is TPM2_MakeCredential done in software (TPM 2.0 Part 1,
// "Credential Protection"; Part 3, 12.6): it wraps secret so that only the
// TPM holding ek's private key can unwrap it, and only with TPM2_ActivateCredential
// for a loaded object whose Name is name. It returns the TPM2B_ID_OBJECT's
// contents (credentialBlob) and the TPM2B_ENCRYPTED_SECRET's (encSecret).
//
//	seed        RSA: random, OAEP-encrypted to the EK with label "IDENTITY\0";
//	            ECC: KDFe(ECDH(ephemeral, EK), "IDENTITY", ephemeral.x, EK.x)
//	symKey      KDFa(nameAlg, seed, "STORAGE", name, "", EK's AES key bits)
//	encIdentity AES-CFB(symKey, IV 0, TPM2B_DIGEST(secret))
//	hmacKey     KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
//	blob        TPM2B_DIGEST(HMAC(hmacKey, encIdentity || name)) || encIdentity
func makeCredential(rnd io.Reader, ek *tpmPublic, name, secret []byte) (blob, encSecret []byte, err error) {
	h, err := hashOf(ek.nameAlg)
	if err != nil {
		return nil, nil, fmt.Errorf("EK name algorithm: %w", err)
	}
	if !ek.has(attrRestricted|attrDecrypt) || ek.attrs&attrSign != 0 {
		return nil, nil, fmt.Errorf("the EK is not a restricted decryption key (attributes %s)", attrString(ek.attrs))
	}
	if ek.symAlg != algAES || ek.symMode != algCFB || (ek.symBits != 128 && ek.symBits != 256) {
		return nil, nil, fmt.Errorf("the EK's symmetric scheme is 0x%04x/%d/0x%04x; want AES-128 or AES-256 in CFB mode", ek.symAlg, ek.symBits, ek.symMode)
	}
	if len(secret) == 0 || len(secret) > h.Size() {
		return nil, nil, fmt.Errorf("credential secret of %d bytes; want 1..%d", len(secret), h.Size())
	}
	var seed []byte
	switch k := ek.key.(type) {
	case *rsa.PublicKey:
		oh := h
		if ek.scheme == algOAEP {
			if oh, err = hashOf(ek.schemeHash); err != nil {
				return nil, nil, fmt.Errorf("EK OAEP hash: %w", err)
			}
		} else if ek.scheme != algNull {
			return nil, nil, fmt.Errorf("RSA EK with scheme 0x%04x; want null or OAEP", ek.scheme)
		}
		seed = make([]byte, oh.Size())
		if _, err := io.ReadFull(rnd, seed); err != nil {
			return nil, nil, fmt.Errorf("drawing the seed: %w", err)
		}
		encSecret, err = rsa.EncryptOAEP(oh.New(), rnd, k, seed, []byte("IDENTITY\x00"))
		if err != nil {
			return nil, nil, fmt.Errorf("OAEP-encrypting the seed to the EK: %w", err)
		}
	case *ecdsa.PublicKey:
		pub, err := k.ECDH()
		if err != nil {
			return nil, nil, fmt.Errorf("EK as an ECDH key: %w", err)
		}
		eph, err := pub.Curve().GenerateKey(rnd)
		if err != nil {
			return nil, nil, fmt.Errorf("ephemeral ECDH key: %w", err)
		}
		z, err := eph.ECDH(pub)
		if err != nil {
			return nil, nil, fmt.Errorf("ECDH with the EK: %w", err)
		}
		ex, ey := pointXY(eph.PublicKey())
		kx, _ := pointXY(pub)
		seed = kdfe(h, z, "IDENTITY", ex, kx, h.Size()*8)
		// TPMS_ECC_POINT of the ephemeral key.
		encSecret = appendTPM2B(appendTPM2B(nil, ex), ey)
	default:
		return nil, nil, fmt.Errorf("EK key type %T", ek.key)
	}
	symKey := kdfa(h, seed, "STORAGE", name, nil, int(ek.symBits))
	block, err := aes.NewCipher(symKey)
	if err != nil {
		return nil, nil, err
	}
	encIdentity := cfbEncrypt(block, appendTPM2B(nil, secret))
	hmacKey := kdfa(h, seed, "INTEGRITY", nil, nil, h.Size()*8)
	mac := hmac.New(h.New, hmacKey)
	mac.Write(encIdentity)
	mac.Write(name)
	blob = append(appendTPM2B(nil, mac.Sum(nil)), encIdentity...)
	return blob, encSecret, nil
}

func appendTPM2B(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// pointXY splits an uncompressed point into its coordinates.
func pointXY(k *ecdh.PublicKey) (x, y []byte) {
	raw := k.Bytes()[1:]
	return raw[:len(raw)/2], raw[len(raw)/2:]
}

// kdfa is the TPM's KDFa (SP 800-108 counter mode with HMAC), Part 1
// 11.4.10.2. The label is written with its terminating zero byte.
func kdfa(h crypto.Hash, key []byte, label string, contextU, contextV []byte, bits int) []byte {
	out := make([]byte, 0, (bits+7)/8+h.Size())
	for i := uint32(1); len(out) < (bits+7)/8; i++ {
		m := hmac.New(h.New, key)
		m.Write(binary.BigEndian.AppendUint32(nil, i))
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write(contextU)
		m.Write(contextV)
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(bits)))
		out = m.Sum(out)
	}
	return maskBits(out[:(bits+7)/8], bits)
}

// kdfe is the TPM's KDFe (SP 800-56A concatenation KDF), Part 1 11.4.10.3.
func kdfe(h crypto.Hash, z []byte, use string, partyU, partyV []byte, bits int) []byte {
	out := make([]byte, 0, (bits+7)/8+h.Size())
	for i := uint32(1); len(out) < (bits+7)/8; i++ {
		d := h.New()
		d.Write(binary.BigEndian.AppendUint32(nil, i))
		d.Write(z)
		d.Write([]byte(use))
		d.Write([]byte{0})
		d.Write(partyU)
		d.Write(partyV)
		out = d.Sum(out)
	}
	return maskBits(out[:(bits+7)/8], bits)
}

func maskBits(b []byte, bits int) []byte {
	if r := bits % 8; r != 0 {
		b[0] &= byte(1<<r - 1)
	}
	return b
}

// cfbEncrypt is AES in full-block CFB mode with a zero IV, as the TPM uses
// it for credentials. (crypto/cipher's CFB is deprecated; this is the
// same few lines.)
func cfbEncrypt(b interface{ Encrypt(dst, src []byte) }, plain []byte) []byte {
	const bs = aes.BlockSize
	out := make([]byte, len(plain))
	reg := make([]byte, bs) // IV: zero
	ks := make([]byte, bs)
	for i := 0; i < len(plain); i += bs {
		b.Encrypt(ks, reg)
		n := min(bs, len(plain)-i)
		for j := 0; j < n; j++ {
			out[i+j] = plain[i+j] ^ ks[j]
		}
		copy(reg, out[i:i+n])
	}
	return out
}
