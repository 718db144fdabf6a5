package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Envelope layout (every sealed column and every wrapped DEK):
//
//	version(1) | key id(4, big endian) | nonce(12) | ciphertext | tag(16)
//
// The key id is the KEK version the record's DEK is wrapped under.
const (
	EnvelopeVersion = 1
	headerLen       = 1 + 4 + nonceLen
	nonceLen        = 12
	tagLen          = 16
	// EnvelopeOverhead is the number of bytes an envelope adds to its plaintext.
	EnvelopeOverhead = headerLen + tagLen
)

// Context is what a sealed field is bound to: its AAD. A ciphertext only
// opens under the exact Context it was sealed with, so moving it to another
// table, column, record or key version is detected.
type Context struct {
	Table    string
	Column   string
	RecordID int64
	KeyID    uint32 // KEK version of the record
}

// appendAAD writes an unambiguous (length-prefixed) encoding of the context.
func (c Context) appendAAD(dst []byte, version byte) []byte {
	dst = append(dst, "kiosk/store/field/v1"...)
	dst = binary.AppendUvarint(dst, uint64(len(c.Table)))
	dst = append(dst, c.Table...)
	dst = binary.AppendUvarint(dst, uint64(len(c.Column)))
	dst = append(dst, c.Column...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.RecordID))
	dst = append(dst, version)
	return binary.BigEndian.AppendUint32(dst, c.KeyID)
}

// DataKey is a per-record data-encryption key (AES-256-GCM). It never prints
// its bytes. Destroy zeroes the raw key; Go's AES implementation keeps its
// own expanded key schedule, which the garbage collector reclaims.
// A DataKey is safe for concurrent Seal and Open.
type DataKey struct {
	raw  [32]byte
	aead cipher.AEAD
}

// NewDataKey returns a fresh random key.
func NewDataKey() *DataKey {
	var raw [32]byte
	rand.Read(raw[:])
	k, err := dataKeyFrom(raw[:])
	clear(raw[:])
	if err != nil {
		panic(err) // 32 bytes is always a valid AES key
	}
	return k
}

func dataKeyFrom(raw []byte) (*DataKey, error) {
	if len(raw) != 32 {
		return nil, ErrUnreadable
	}
	k := &DataKey{}
	copy(k.raw[:], raw)
	aead, err := newGCM(k.raw[:])
	if err != nil {
		return nil, err
	}
	k.aead = aead
	return k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Destroy zeroes the key. The key must not be used afterwards.
func (k *DataKey) Destroy() {
	if k != nil {
		clear(k.raw[:])
		k.aead = nil
	}
}

// String never prints key bytes.
func (k *DataKey) String() string { return "store.DataKey{[redacted]}" }

// GoString never prints key bytes.
func (k *DataKey) GoString() string { return k.String() }

// Format never prints key bytes, whatever the verb.
func (k *DataKey) Format(f fmt.State, _ rune) { f.Write([]byte(k.String())) }

// SensitiveValue marks DataKey for safelog.
func (k *DataKey) SensitiveValue() {}

// Seal appends the envelope of plaintext bound to c to dst and returns the
// extended slice. It uses a fresh random 96-bit nonce.
func (k *DataKey) Seal(dst []byte, c Context, plaintext []byte) []byte {
	var aadBuf [128]byte
	return sealEnvelope(dst, k.aead, c.KeyID, c.appendAAD(aadBuf[:0], EnvelopeVersion), plaintext)
}

// Open appends the plaintext of envelope to dst if it was sealed by k under
// exactly c. Any failure returns dst unchanged (the region it wrote is
// zeroed) and ErrUnreadable, with no further detail.
func (k *DataKey) Open(dst []byte, c Context, envelope []byte) ([]byte, error) {
	if k == nil || k.aead == nil {
		return dst, ErrUnreadable
	}
	var aadBuf [128]byte
	return openEnvelope(dst, k.aead, c.KeyID, c.appendAAD(aadBuf[:0], EnvelopeVersion), envelope)
}

func sealEnvelope(dst []byte, aead cipher.AEAD, keyID uint32, aad, plaintext []byte) []byte {
	n := len(dst)
	need := headerLen + len(plaintext) + tagLen
	if cap(dst)-n < need {
		nd := make([]byte, n, n+need)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:n+headerLen]
	dst[n] = EnvelopeVersion
	binary.BigEndian.PutUint32(dst[n+1:], keyID)
	nonce := dst[n+5 : n+headerLen]
	rand.Read(nonce)
	return aead.Seal(dst, nonce, plaintext, aad)
}

func openEnvelope(dst []byte, aead cipher.AEAD, keyID uint32, aad, env []byte) ([]byte, error) {
	if len(env) < headerLen+tagLen || env[0] != EnvelopeVersion ||
		binary.BigEndian.Uint32(env[1:5]) != keyID {
		return dst, ErrUnreadable
	}
	n := len(dst)
	out, err := aead.Open(dst, env[5:headerLen], env[headerLen:], aad)
	if err != nil {
		// crypto/cipher already zeroes its output on failure; make sure
		// of it for the spare capacity it may have used.
		clear(dst[n:cap(dst)])
		return dst, ErrUnreadable
	}
	return out, nil
}

// ParseEnvelope splits an envelope into its header fields without opening
// it. It rejects anything shorter than a header and a tag, or of an
// unknown version.
func ParseEnvelope(env []byte) (version byte, keyID uint32, nonce, sealed []byte, err error) {
	if len(env) < headerLen+tagLen || env[0] != EnvelopeVersion {
		return 0, 0, nil, nil, ErrUnreadable
	}
	return env[0], binary.BigEndian.Uint32(env[1:5]), env[5:headerLen], env[headerLen:], nil
}

// dekAAD binds a wrapped DEK to its table, record, KEK version and epoch.
func dekAAD(dst []byte, table string, id int64, v uint32, epoch uint64) []byte {
	dst = append(dst, "kiosk/store/dek/v1"...)
	dst = binary.AppendUvarint(dst, uint64(len(table)))
	dst = append(dst, table...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(id))
	dst = binary.BigEndian.AppendUint32(dst, v)
	return binary.BigEndian.AppendUint64(dst, epoch)
}

// wrapDEK seals k under the wrapping key of (v, epoch).
func wrapDEK(dst []byte, kp KeyProvider, table string, id int64, v uint32, epoch uint64, k *DataKey) ([]byte, error) {
	wk, err := wrapKey(kp, v, epoch)
	if err != nil {
		return dst, fmt.Errorf("deriving wrapping key for epoch %d: %w", epoch, err)
	}
	defer clear(wk)
	aead, err := newGCM(wk)
	if err != nil {
		return dst, err
	}
	var aad [96]byte
	return sealEnvelope(dst, aead, v, dekAAD(aad[:0], table, id, v, epoch), k.raw[:]), nil
}

// unwrapDEK opens a wrapped DEK. Every failure, including a provider that
// cannot derive the epoch key, is ErrUnreadable.
func unwrapDEK(kp KeyProvider, table string, id int64, v uint32, epoch uint64, wrapped []byte) (*DataKey, error) {
	wk, err := wrapKey(kp, v, epoch)
	if err != nil {
		return nil, ErrUnreadable
	}
	defer clear(wk)
	aead, err := newGCM(wk)
	if err != nil {
		return nil, ErrUnreadable
	}
	var aad [96]byte
	var raw [32]byte
	out, err := openEnvelope(raw[:0], aead, v, dekAAD(aad[:0], table, id, v, epoch), wrapped)
	defer clear(raw[:])
	if err != nil || len(out) != 32 {
		return nil, ErrUnreadable
	}
	return dataKeyFrom(out)
}
