package tpmkeys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// The erase ratchet. One NV index holds epoch(8, big endian) || K(epoch),
// the key of the oldest live retention epoch. Later keys derive forward:
//
//	K(e+1) = HMAC-SHA256(K(e), "kiosk/tpmkeys/epoch/v1" || be64(e+1))
//
// which cannot be run backwards. AdvancePast(e) overwrites the index with
// (e+1, K(e+1)); from then on no key of an epoch <= e exists anywhere: not
// in the TPM, not in memory, and never on disk (the index lives only in the
// TPM's NV). The index is read once at Open; EpochKey derives in memory.

const (
	ratchetLabel = "kiosk/tpmkeys/epoch/v1"
	nvSize       = 8 + 32
	// maxForward bounds one derivation, so a garbage epoch cannot stall.
	maxForward = 1 << 20
)

// NextEpochKey computes K(next) from K(next-1) into dst (32 bytes).
func NextEpochKey(dst, key []byte, next uint64) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ratchetLabel))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], next)
	m.Write(b[:])
	m.Sum(dst[:0])
}

func (c *Custody) epochOf(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint64(s) / uint64(c.opts.EpochLength/time.Second)
}

// CurrentEpoch is the epoch that contains the clock's now.
func (c *Custody) CurrentEpoch() uint64 { return c.epochOf(c.now()) }

func (c *Custody) now() time.Time {
	c.clockMu.Lock()
	defer c.clockMu.Unlock()
	return c.opts.Now()
}

// SetClock replaces the clock AdvancePast uses to tell which epochs have
// ended. Give it the store's clock (store.Store.Now, which never runs
// behind its persisted high-water mark) once the store is open, so that a
// wall clock set back does not hold erasure back.
func (c *Custody) SetClock(now func() time.Time) {
	if now == nil {
		return
	}
	c.clockMu.Lock()
	defer c.clockMu.Unlock()
	c.opts.Now = now
}

func (c *Custody) nvNamed() (tpm2.NamedHandle, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: c.nvIndex}.Execute(c.tpm)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return tpm2.NamedHandle{}, fmt.Errorf("NV index 0x%08x: %w", uint32(c.nvIndex), ErrRatchetMissing)
		}
		return tpm2.NamedHandle{}, fmt.Errorf("reading NV index 0x%08x public area: %w", uint32(c.nvIndex), err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return tpm2.NamedHandle{}, err
	}
	if pub.DataSize == nvSize && pub.Attributes.AuthRead && pub.Attributes.AuthWrite && !pub.Attributes.Written {
		return tpm2.NamedHandle{}, fmt.Errorf("NV index 0x%08x: %w", uint32(c.nvIndex), errNVUnwritten)
	}
	if pub.DataSize != nvSize || !pub.Attributes.AuthRead || !pub.Attributes.AuthWrite {
		return tpm2.NamedHandle{}, fmt.Errorf("NV index 0x%08x is not a kiosk erase ratchet (size %d, attributes %+v); choose another index",
			uint32(c.nvIndex), pub.DataSize, pub.Attributes)
	}
	return tpm2.NamedHandle{Handle: c.nvIndex, Name: rsp.NVName}, nil
}

// errNVUnwritten: our index is defined but was never written (a
// provisioning interrupted between define and first write).
var errNVUnwritten = errors.New("defined but never written")

// defineRatchet defines the NV index (or reuses one defined but never
// written) and writes a random key for the current epoch.
func (c *Custody) defineRatchet() error {
	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(c.opts.OwnerAuth)},
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: c.nvIndex,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				AuthRead:  true,
				AuthWrite: true,
				NoDA:      true,
				NT:        tpm2.TPMNTOrdinary,
			},
			DataSize: nvSize,
		}),
	}.Execute(c.tpm)
	if errors.Is(err, tpm2.TPMRCNVDefined) {
		if _, nerr := c.nvNamed(); !errors.Is(nerr, errNVUnwritten) {
			return fmt.Errorf("defining the erase-ratchet NV index 0x%08x: %w", uint32(c.nvIndex), err)
		}
	} else if err != nil {
		return fmt.Errorf("defining the erase-ratchet NV index 0x%08x: %w", uint32(c.nvIndex), err)
	}
	e := c.CurrentEpoch()
	key := c.slot(scratchSlot)
	defer clear(key)
	if _, err := io.ReadFull(c.opts.Rand, key); err != nil {
		return err
	}
	if err := c.nvWrite(e, key, true); err != nil {
		return err
	}
	copy(c.slot(baseSlot), key)
	c.oldest = e
	c.log.Info("defined the erase-ratchet NV index", "nv_handle", fmt.Sprintf("0x%08x", uint32(c.nvIndex)), "first_epoch", e)
	return nil
}

func (c *Custody) nvWrite(e uint64, key []byte, first bool) error {
	h := tpm2.NamedHandle{Handle: c.nvIndex}
	if first {
		rsp, err := tpm2.NVReadPublic{NVIndex: c.nvIndex}.Execute(c.tpm)
		if err != nil {
			return fmt.Errorf("reading NV index 0x%08x public area: %w", uint32(c.nvIndex), err)
		}
		h.Name = rsp.NVName
	} else {
		var err error
		if h, err = c.nvNamed(); err != nil {
			return err
		}
	}
	var data [nvSize]byte
	defer clear(data[:])
	binary.BigEndian.PutUint64(data[:8], e)
	copy(data[8:], key)
	_, err := tpm2.NVWrite{
		AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: c.sessIn(nil)},
		NVIndex:    h,
		Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[:]},
	}.Execute(c.tpm)
	if err != nil {
		return fmt.Errorf("writing the erase-ratchet NV index: %w", err)
	}
	c.nvWrites++
	return nil
}

// nvRead reads (epoch, key) from the index into dst.
func (c *Custody) nvRead(dst []byte) (uint64, error) {
	h, err := c.nvNamed()
	if err != nil {
		return 0, err
	}
	rsp, err := tpm2.NVRead{
		AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: c.sessOut(nil)},
		NVIndex:    h,
		Size:       nvSize,
	}.Execute(c.tpm)
	if err != nil {
		return 0, fmt.Errorf("reading the erase-ratchet NV index: %w", err)
	}
	defer clear(rsp.Data.Buffer)
	if len(rsp.Data.Buffer) != nvSize {
		return 0, fmt.Errorf("erase-ratchet NV index returned %d bytes; want %d", len(rsp.Data.Buffer), nvSize)
	}
	copy(dst, rsp.Data.Buffer[8:])
	return binary.BigEndian.Uint64(rsp.Data.Buffer[:8]), nil
}

// loadRatchet reads the NV index once. If it is missing and the TPM is
// volatile, it defines a new one (earlier records become unreadable).
func (c *Custody) loadRatchet() error {
	e, err := c.nvRead(c.slot(baseSlot))
	if errors.Is(err, ErrRatchetMissing) && c.opts.VolatileTPM && c.current != 0 {
		c.log.Warn("VOLATILE TPM: the erase-ratchet NV index did not survive the restart; defining a new one. " +
			"Every record sealed before this start is now unreadable (crypto-erased).")
		return c.defineRatchet()
	}
	if err != nil {
		return err
	}
	c.oldest = e
	return nil
}

// EpochKey returns the 32-byte key of retention epoch e, derived in memory
// from the oldest live key (no TPM command). It fails with ErrEpochErased
// for epochs before OldestEpoch. The returned slice is a copy the caller owns.
func (c *Custody) EpochKey(e uint64) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	k, err := c.epochKeyLocked(e)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), k...), nil
}

// epochKeyLocked returns the cache slot holding K(e) (or the base slot).
func (c *Custody) epochKeyLocked(e uint64) ([]byte, error) {
	if e < c.oldest {
		return nil, fmt.Errorf("epoch %d (oldest live is %d): %w", e, c.oldest, ErrEpochErased)
	}
	if e-c.oldest > maxForward {
		return nil, fmt.Errorf("tpmkeys: epoch %d is more than %d epochs after the oldest live epoch %d", e, maxForward, c.oldest)
	}
	c.useClock++
	if e == c.oldest {
		return c.slot(baseSlot), nil
	}
	if s, ok := c.cache[e]; ok {
		c.cacheUse[e] = c.useClock
		return c.slot(s), nil
	}
	dst := c.slot(c.cacheSlotFor(e)) // may evict; pick the source after
	from, src := c.oldest, c.slot(baseSlot)
	for ce, s := range c.cache {
		if ce < e && ce > from {
			from, src = ce, c.slot(s)
		}
	}
	copy(dst, src)
	for i := from + 1; i <= e; i++ {
		NextEpochKey(dst, dst, i)
	}
	return dst, nil
}

// cacheSlotFor assigns a cache slot to epoch e, evicting the least
// recently used entry when full.
func (c *Custody) cacheSlotFor(e uint64) int {
	used := map[int]bool{}
	for _, s := range c.cache {
		used[s] = true
	}
	slot := -1
	for i := firstCache; i < firstCache+cacheSlots; i++ {
		if !used[i] {
			slot = i
			break
		}
	}
	if slot < 0 {
		var victim uint64
		first := true
		for ce := range c.cache {
			if first || c.cacheUse[ce] < c.cacheUse[victim] {
				victim, first = ce, false
			}
		}
		slot = c.cache[victim]
		clear(c.slot(slot))
		delete(c.cache, victim)
		delete(c.cacheUse, victim)
	}
	c.cache[e], c.cacheUse[e] = slot, c.useClock
	return slot
}

// AdvancePast erases every epoch <= e: it overwrites the NV index with
// (e+1, K(e+1)) and zeroes every key in memory of an epoch <= e. It is one
// NV write, however many epochs it erases, and a no-op if e is already
// erased. It refuses (ErrEpochNotOver) to erase the current or a future
// epoch by the injected clock.
func (c *Custody) AdvancePast(e uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if e < c.oldest {
		return nil
	}
	if cur := c.CurrentEpoch(); e >= cur {
		return fmt.Errorf("erasing epoch %d (current epoch is %d): %w", e, cur, ErrEpochNotOver)
	}
	k, err := c.epochKeyLocked(e + 1)
	if err != nil {
		return err
	}
	next := c.slot(scratchSlot)
	copy(next, k)
	defer clear(next)
	start := time.Now()
	if err := c.nvWrite(e+1, next, false); err != nil {
		return err
	}
	copy(c.slot(baseSlot), next)
	c.oldest = e + 1
	for ce, s := range c.cache {
		if ce <= e+1 {
			clear(c.slot(s))
			delete(c.cache, ce)
			delete(c.cacheUse, ce)
		}
	}
	c.log.Info("erased retention epochs", "through_epoch", e, "oldest_epoch", c.oldest, "nv_write_ms", time.Since(start).Milliseconds())
	return nil
}

// OldestEpoch is the oldest epoch whose key still derives.
func (c *Custody) OldestEpoch() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	return c.oldest, nil
}

// MaxNVWritesPerYear is the most NV writes the ratchet makes in a year
// with epochs of length l: one per ended epoch.
func MaxNVWritesPerYear(l time.Duration) int {
	if l < MinEpochLength {
		l = MinEpochLength
	}
	year := 365*24*time.Hour + 6*time.Hour
	return int((year + l - 1) / l)
}
