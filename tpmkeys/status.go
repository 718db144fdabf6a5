package tpmkeys

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// Status describes the custody for doctor, the UI and `kiosk keys status`.
// It holds no key material.
type Status struct {
	Kind         Kind
	Secure       bool   // Kind.Secure()
	Label        string // Kind.String(): "hardware TPM" or "software TPM: not secure (...)"
	Manufacturer string // TPM vendor ID, e.g. "IFX", "MSFT", "IBM"
	Firmware     string

	SRKHandle  uint32
	KEKVersion uint32   // current
	KEKs       []uint32 // live versions
	SealedAway []uint32 // older versions whose PCR policy failed at Open: their records stay sealed
	PCRs       []int    // PCR binding of the current KEK (SHA-256 bank); empty = none
	KeyID      string   // signing key thumbprint
	PINSet     bool

	DA             DAStatus
	DAConfiguredBy string // "kiosk" or "TPM owner (lockout auth set)" or "unchanged"

	NVIndex            uint32
	OldestEpoch        uint64
	CurrentEpoch       uint64
	EpochLength        time.Duration
	NVWritesThisRun    int
	MaxNVWritesPerYear int

	MemoryLocked bool
	Handles      int // transient objects and sessions loaded (ours: the signing key)
}

// Status queries the TPM for its vendor and dictionary-attack state and
// reports the custody's own state.
func (c *Custody) Status() (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Status{}, ErrClosed
	}
	s := Status{
		Kind: c.opts.Kind, Secure: c.opts.Kind.Secure(), Label: c.opts.Kind.String(),
		SRKHandle: uint32(c.srk.Handle), KEKVersion: c.current, PCRs: maskPCRs(c.kekPCRs[c.current]),
		KeyID: c.keyID, PINSet: fileExists(c.pinPath()),
		NVIndex: uint32(c.nvIndex), OldestEpoch: c.oldest, CurrentEpoch: c.CurrentEpoch(),
		EpochLength: c.opts.EpochLength, NVWritesThisRun: c.nvWrites,
		MaxNVWritesPerYear: MaxNVWritesPerYear(c.opts.EpochLength), MemoryLocked: c.locked,
	}
	for v := range c.keks {
		s.KEKs = append(s.KEKs, v)
	}
	slices.Sort(s.KEKs)
	s.SealedAway = slices.Clone(c.sealedAway)
	props, err := tpmProps(c.tpm, tpm2.TPMPTManufacturer, 1)
	if err != nil {
		return s, err
	}
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], props[tpm2.TPMPTManufacturer])
	s.Manufacturer = strings.TrimRight(string(m[:]), "\x00 ")
	if fw, err := tpmProps(c.tpm, tpm2.TPMPTFirmwareVersion1, 2); err == nil {
		v1, v2 := fw[tpm2.TPMPTFirmwareVersion1], fw[tpm2.TPMPTFirmwareVersion2]
		s.Firmware = fmt.Sprintf("%d.%d.%d.%d", v1>>16, v1&0xffff, v2>>16, v2&0xffff)
	}
	if s.DA, err = readDA(c.tpm); err != nil {
		return s, err
	}
	switch {
	case c.daConfigured:
		s.DAConfiguredBy = "kiosk"
	case s.DA.LockoutAuthSet:
		s.DAConfiguredBy = "TPM owner (lockout auth set)"
	default:
		s.DAConfiguredBy = "unchanged"
	}
	hs, err := LoadedHandles(c.tpm)
	if err != nil {
		return s, err
	}
	s.Handles = len(hs)
	return s, nil
}

// String renders a Custody without key material.
func (c *Custody) String() string {
	return fmt.Sprintf("tpmkeys.Custody{%s, dir=%s, keys=[redacted]}", c.opts.Kind, c.dir)
}

// GoString is String.
func (c *Custody) GoString() string { return c.String() }

// Format prints String for every verb, so %x or %#v cannot leak keys.
func (c *Custody) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// SensitiveValue marks the Custody for safelog.
func (c *Custody) SensitiveValue() {}

// Summary is a one-line status for doctor and logs, without key material.
func (s Status) Summary() string {
	pcrs := "no PCR binding"
	if len(s.PCRs) > 0 {
		pcrs = fmt.Sprintf("PCRs %v", s.PCRs)
	}
	pin := "no PIN set"
	if s.PINSet {
		pin = fmt.Sprintf("PIN set, %d/%d tries left", s.DA.TriesLeft(), s.DA.MaxTries)
	}
	if s.DA.InLockout {
		pin += ", IN LOCKOUT"
	}
	return fmt.Sprintf("%s; KEK v%d (%s); signing key %s; %s; oldest live epoch %d", s.Label, s.KEKVersion, pcrs, s.KeyID, pin, s.OldestEpoch)
}
