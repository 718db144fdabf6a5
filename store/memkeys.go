package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// ErrEpochErased is returned by MemoryKeys.EpochKey for an epoch older than
// the oldest live one.
var ErrEpochErased = errors.New("store: epoch key erased")

// MemoryKeys is an in-memory KeyProvider for tests and throwaway demos. It
// is NOT secure storage: its keys live in process memory and die with it.
//
// It behaves like the TPM ratchet: it holds only the key of the oldest live
// epoch (plus a cache of keys derived forward from it); the key of epoch
// e+1 is HMAC-SHA256(key(e), "kiosk/epoch/next" || e+1), a one-way step, so
// after AdvancePast(e) no key of an epoch <= e can be recomputed from what
// it holds. Safe for concurrent use.
type MemoryKeys struct {
	mu      sync.Mutex
	current uint32
	keks    map[uint32][]byte
	oldest  uint64
	key     []byte            // key of epoch oldest
	cache   map[uint64][]byte // derived keys of epochs > oldest
}

// MemoryKeysOptions configures NewMemoryKeys. The zero value makes random keys
// with first epoch 0.
type MemoryKeysOptions struct {
	KEK        []byte // 32 bytes, version 1; random if nil
	FirstKey   []byte // 32-byte key of FirstEpoch; random if nil
	FirstEpoch uint64 // oldest live epoch at creation
}

// NewMemoryKeys returns a provider with KEK version 1. Two providers made
// from the same options derive the same keys (tests use that to play a
// second process holding the same TPM).
func NewMemoryKeys(o MemoryKeysOptions) (*MemoryKeys, error) {
	k := &MemoryKeys{current: 1, keks: map[uint32][]byte{}, oldest: o.FirstEpoch, cache: map[uint64][]byte{}}
	kek, err := key32(o.KEK)
	if err != nil {
		return nil, fmt.Errorf("MemoryKeys KEK: %w", err)
	}
	k.keks[1] = kek
	if k.key, err = key32(o.FirstKey); err != nil {
		return nil, fmt.Errorf("MemoryKeys first epoch key: %w", err)
	}
	return k, nil
}

func key32(b []byte) ([]byte, error) {
	if b == nil {
		out := make([]byte, 32)
		rand.Read(out)
		return out, nil
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("key has %d bytes; want 32", len(b))
	}
	return append([]byte(nil), b...), nil
}

// AddKEK installs KEK version v and makes it current (key rotation).
func (k *MemoryKeys) AddKEK(v uint32, kek []byte) error {
	if len(kek) != 32 {
		return fmt.Errorf("KEK version %d has %d bytes; want 32", v, len(kek))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keks[v] = append([]byte(nil), kek...)
	k.current = v
	return nil
}

// CurrentKEKVersion implements KeyProvider.
func (k *MemoryKeys) CurrentKEKVersion() uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current
}

// KEK implements KeyProvider.
func (k *MemoryKeys) KEK(v uint32) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kek, ok := k.keks[v]
	if !ok {
		return nil, fmt.Errorf("no KEK version %d", v)
	}
	return kek, nil
}

func nextEpochKey(key []byte, next uint64) []byte {
	m := hmac.New(sha256.New, key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], next)
	m.Write([]byte("kiosk/epoch/next"))
	m.Write(b[:])
	return m.Sum(nil)
}

// maxForward bounds how far forward a key is derived in one call, so a
// garbage epoch number cannot stall the caller.
const maxForward = 1 << 20

// EpochKey implements KeyProvider. The returned slice is a copy owned by
// the caller.
func (k *MemoryKeys) EpochKey(e uint64) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e < k.oldest {
		return nil, ErrEpochErased
	}
	if e-k.oldest > maxForward {
		return nil, fmt.Errorf("epoch %d is too far ahead of the oldest live epoch %d", e, k.oldest)
	}
	if key, ok := k.cache[e]; ok {
		return append([]byte(nil), key...), nil
	}
	// Derive from the nearest known key below e.
	from, key := k.oldest, k.key
	for c, ck := range k.cache {
		if c < e && c > from {
			from, key = c, ck
		}
	}
	for i := from + 1; i <= e; i++ {
		key = nextEpochKey(key, i)
	}
	k.cache[e] = key
	return append([]byte(nil), key...), nil
}

// AdvancePast implements KeyProvider: it replaces the oldest key by the key
// of epoch e+1 and zeroes every key of an epoch <= e.
func (k *MemoryKeys) AdvancePast(e uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e < k.oldest {
		return nil
	}
	if e-k.oldest > maxForward {
		return fmt.Errorf("epoch %d is too far ahead of the oldest live epoch %d", e, k.oldest)
	}
	key := append([]byte(nil), k.key...)
	for i := k.oldest + 1; i <= e+1; i++ {
		n := nextEpochKey(key, i)
		clear(key)
		key = n
	}
	clear(k.key)
	k.key, k.oldest = key, e+1
	for c, ck := range k.cache {
		if c <= e+1 {
			clear(ck)
			delete(k.cache, c)
		}
	}
	return nil
}

// OldestEpoch implements KeyProvider.
func (k *MemoryKeys) OldestEpoch() (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.oldest, nil
}

// String never prints key bytes.
func (k *MemoryKeys) String() string { return "store.MemoryKeys{[redacted]}" }

// GoString never prints key bytes.
func (k *MemoryKeys) GoString() string { return k.String() }

// SensitiveValue marks MemoryKeys for safelog.
func (k *MemoryKeys) SensitiveValue() {}
