package store

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// KeyProvider supplies the key hierarchy above the per-record keys. tpmkeys
// implements it with a TPM-sealed KEK and an NV-backed epoch ratchet;
// MemoryKeys implements it in RAM for tests. Implementations must be safe
// for concurrent use.
type KeyProvider interface {
	// CurrentKEKVersion is the KEK version new records are wrapped under.
	CurrentKEKVersion() uint32
	// KEK returns the 32-byte KEK of version v. The slice is owned by the provider:
	// callers must not modify or retain it beyond the call.
	KEK(v uint32) ([]byte, error)
	// EpochKey returns the 32-byte key of retention epoch e. It fails for any epoch
	// older than the oldest live one (erased). Treat any error as "cannot open" (fail closed).
	EpochKey(e uint64) ([]byte, error)
	// AdvancePast erases every epoch <= e.
	AdvancePast(e uint64) error
	// OldestEpoch is the oldest epoch whose key still derives.
	OldestEpoch() (uint64, error)
}

// DefaultEpochLength is the length of a retention epoch when Options.EpochLength is zero.
const DefaultEpochLength = time.Hour

// EpochOf returns the retention epoch that contains t for epochs of the
// given length (DefaultEpochLength if length < 1s): the number of whole
// epoch lengths since the Unix epoch. Times before 1970 map to epoch 0.
// tpmkeys uses it to pick the first epoch when it provisions the ratchet.
func EpochOf(t time.Time, length time.Duration) uint64 {
	if length < time.Second {
		length = DefaultEpochLength
	}
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s) / uint64(length/time.Second)
}

const wrapSalt = "kiosk/store/wrap/v1"

// wrapKey derives the key that wraps DEKs of records in epoch e under KEK
// version v: HKDF-SHA256(ikm = KEK || EpochKey, salt, info = v || e). The
// result must be zeroed by the caller. Any provider error is returned
// as is (callers map it to ErrUnreadable).
func wrapKey(kp KeyProvider, v uint32, e uint64) ([]byte, error) {
	var ikm [64]byte
	defer clear(ikm[:])
	kek, err := kp.KEK(v)
	if err != nil {
		return nil, err
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("KEK version %d has %d bytes; want 32", v, len(kek))
	}
	copy(ikm[:32], kek)
	ek, err := kp.EpochKey(e)
	if err != nil {
		return nil, err
	}
	if len(ek) != 32 {
		return nil, fmt.Errorf("epoch %d key has %d bytes; want 32", e, len(ek))
	}
	copy(ikm[32:], ek)
	var info [12]byte
	binary.BigEndian.PutUint32(info[:4], v)
	binary.BigEndian.PutUint64(info[4:], e)
	return hkdf.Key(sha256.New, ikm[:], []byte(wrapSalt), string(info[:]), 32)
}

// checkKey derives the key of the KEK check value for version v (KEK only:
// it must survive epoch erasure).
func checkKey(kp KeyProvider, v uint32) ([]byte, error) {
	kek, err := kp.KEK(v)
	if err != nil {
		return nil, err
	}
	if len(kek) != 32 {
		return nil, fmt.Errorf("KEK version %d has %d bytes; want 32", v, len(kek))
	}
	var info [4]byte
	binary.BigEndian.PutUint32(info[:], v)
	return hkdf.Key(sha256.New, kek, []byte("kiosk/store/kek-check/v1"), string(info[:]), 32)
}
