package tpmkeys

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	legacy "github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// The operator PIN is a sealed data object whose authValue is
// SHA-256(label || salt || PIN). It is DA-protected (noDA clear): checking
// a PIN is a TPM2_Unseal authorised by an HMAC session keyed with that
// authValue, so every wrong PIN counts in the TPM's dictionary-attack
// counter, and past the limit the TPM refuses every PIN, the right one
// included, until recovery. The session is salted to the SRK, so a bus
// transcript does not allow guessing the PIN offline.

const pinLabel = "kiosk/tpmkeys/pin/v1"

// pinAuth derives the PIN object's authValue: 32 ASCII characters, the
// base64url of 24 bytes of SHA-256(label || salt || PIN). It is text on
// purpose: go-tpm v0.9.8's HMAC session (hmacKeyFromAuthValue) cuts an
// authValue at its first zero byte instead of trimming only trailing
// zeros, so a binary authValue containing 0x00 (one in eight) would never
// match. Base64 has no zero bytes.
func pinAuth(salt []byte, pin string) []byte {
	h := sha256.New()
	h.Write([]byte(pinLabel))
	h.Write(salt)
	h.Write([]byte(pin))
	sum := h.Sum(nil)
	defer clear(sum)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(24))
	base64.RawURLEncoding.Encode(out, sum[:24])
	return out
}

func (c *Custody) pinPath() string { return filepath.Join(c.dir, "pin.blob") }

func (c *Custody) checkPINStrength(pin string) error {
	if len([]rune(pin)) < c.opts.MinPINLength {
		return fmt.Errorf("%w: %d characters, want at least %d", ErrWeakPIN, len([]rune(pin)), c.opts.MinPINLength)
	}
	return nil
}

// HasPIN reports whether an operator PIN is set.
func (c *Custody) HasPIN() bool { return fileExists(c.pinPath()) }

// SetPIN sets the first operator PIN. It fails with ErrPINSet if one exists.
func (c *Custody) SetPIN(pin string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if fileExists(c.pinPath()) {
		return ErrPINSet
	}
	if err := c.checkPINStrength(pin); err != nil {
		return err
	}
	salt := make([]byte, 16)
	if _, err := io.ReadFull(c.opts.Rand, salt); err != nil {
		return err
	}
	data := make([]byte, 16)
	if _, err := io.ReadFull(c.opts.Rand, data); err != nil {
		return err
	}
	auth := pinAuth(salt, pin)
	defer clear(auth)
	pub, priv, err := c.seal(sealTemplate(true, false, nil), data, auth)
	if err != nil {
		return fmt.Errorf("creating the PIN object: %w", err)
	}
	b := &keyBlob{purpose: purposePIN, salt: salt, public: pub, private: priv}
	if err := writeFileAtomic(c.pinPath(), b.marshal()); err != nil {
		return fmt.Errorf("writing the PIN blob: %w", err)
	}
	c.log.Info("operator PIN set")
	return nil
}

// pinError maps the TPM's answer to a PIN check.
func pinError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tpm2.TPMRCLockout):
		return ErrLockedOut
	case errors.Is(err, tpm2.TPMRCAuthFail), errors.Is(err, tpm2.TPMRCBadAuth):
		return ErrWrongPIN
	}
	return fmt.Errorf("checking the PIN in the TPM: %w", err)
}

// VerifyPIN checks pin in the TPM. It returns nil, ErrWrongPIN (counted by
// the TPM), ErrLockedOut (no PIN accepted until recovery), ErrNoPIN, or
// another error.
func (c *Custody) VerifyPIN(pin string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	b, h, err := c.loadPIN()
	if err != nil {
		return err
	}
	defer flush(c.tpm, h.Handle)
	auth := pinAuth(b.salt, pin)
	defer clear(auth)
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: c.sessOut(auth)}}.Execute(c.tpm)
	if err == nil {
		clear(rsp.OutData.Buffer)
	}
	return pinError(err)
}

func (c *Custody) loadPIN() (*keyBlob, tpm2.NamedHandle, error) {
	b, err := readBlob(c.pinPath(), purposePIN)
	if errors.Is(err, os.ErrNotExist) {
		return nil, tpm2.NamedHandle{}, ErrNoPIN
	}
	if err != nil {
		return nil, tpm2.NamedHandle{}, err
	}
	if b.pubArea().ObjectAttributes.NoDA {
		return nil, tpm2.NamedHandle{}, fmt.Errorf("PIN object: %w: it is not DA-protected", ErrBadBlob)
	}
	h, err := c.load(b)
	if err != nil {
		return nil, tpm2.NamedHandle{}, fmt.Errorf("PIN object: %w", err)
	}
	return b, h, nil
}

// ChangePIN replaces the PIN; the old one must be given and is checked by
// the TPM (a wrong old PIN counts as a failure). The object gets a new
// salt and authValue through TPM2_ObjectChangeAuth.
//
// Limitation: the TPM cannot revoke the previous blob. Someone with write
// access to the data directory who saved a copy of pin.blob and knows the
// old PIN could put it back; such a person can bypass the UI anyway. See
// docs/tpm.md.
func (c *Custody) ChangePIN(oldPIN, newPIN string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if err := c.checkPINStrength(newPIN); err != nil {
		return err
	}
	b, h, err := c.loadPIN()
	if err != nil {
		return err
	}
	defer flush(c.tpm, h.Handle)
	salt := make([]byte, 16)
	if _, err := io.ReadFull(c.opts.Rand, salt); err != nil {
		return err
	}
	oldAuth, newAuth := pinAuth(b.salt, oldPIN), pinAuth(salt, newPIN)
	defer clear(oldAuth)
	defer clear(newAuth)
	rsp, err := tpm2.ObjectChangeAuth{
		ObjectHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: c.sessIn(oldAuth)},
		ParentHandle: c.srk,
		NewAuth:      tpm2.TPM2BAuth{Buffer: newAuth},
	}.Execute(c.tpm)
	if err != nil {
		return pinError(err)
	}
	nb := &keyBlob{purpose: purposePIN, salt: salt, public: b.public, private: rsp.OutPrivate.Buffer}
	if err := writeFileAtomic(c.pinPath(), nb.marshal()); err != nil {
		return fmt.Errorf("writing the new PIN blob: %w", err)
	}
	c.log.Info("operator PIN changed")
	return nil
}

// lockoutAuth is the password session for the lockout hierarchy (legacy API).
func lockoutAuth(auth []byte) legacy.AuthCommand {
	return legacy.AuthCommand{Session: legacy.HandlePasswordSession, Attributes: legacy.AttrContinueSession, Auth: auth}
}

// configureDA applies Options.DA when the TPM allows it: only if the
// lockout hierarchy has no authorisation set. A chip whose owner set a
// lockout authorisation keeps the owner's parameters: we do not even try,
// because a failed lockout authorisation locks the lockout hierarchy for
// lockoutRecovery. Failures are logged, not fatal: the PIN still works
// under whatever parameters the TPM has.
func (c *Custody) configureDA() {
	if c.opts.SkipDAConfig {
		return
	}
	da, err := readDA(c.tpm)
	if err != nil {
		c.log.Warn("could not read dictionary-attack parameters", "err", err)
		return
	}
	want := c.opts.DA
	if da.LockoutAuthSet {
		c.log.Info("the TPM owner set a lockout authorisation; keeping the owner's dictionary-attack parameters",
			"max_tries", da.MaxTries, "recovery_s", int(da.RecoveryTime.Seconds()))
		return
	}
	if da.MaxTries == want.MaxTries && da.RecoveryTime == want.RecoveryTime.Truncate(time.Second) &&
		da.LockoutRecovery == want.LockoutRecovery.Truncate(time.Second) {
		c.daConfigured = true
		return
	}
	err = legacy.DictionaryAttackParameters(&legacyRW{t: c.tpm}, lockoutAuth(nil),
		want.MaxTries, uint32(want.RecoveryTime/time.Second), uint32(want.LockoutRecovery/time.Second))
	if err != nil {
		c.log.Warn("could not set dictionary-attack parameters; the TPM's own apply", "err", err)
		return
	}
	c.daConfigured = true
	c.log.Info("set dictionary-attack parameters", "max_tries", want.MaxTries, "recovery_s", int(want.RecoveryTime.Seconds()),
		"lockout_recovery_s", int(want.LockoutRecovery.Seconds()))
}

// ResetLockout clears the TPM's dictionary-attack counter and lockout
// (TPM2_DictionaryAttackLockReset) with the lockout hierarchy's
// authorisation (empty unless the owner set one). A wrong lockoutAuth
// locks the lockout hierarchy itself for the lockout-recovery time.
func (c *Custody) ResetLockout(lockoutAuthValue []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if err := legacy.DictionaryAttackLockReset(&legacyRW{t: c.tpm}, lockoutAuth(lockoutAuthValue)); err != nil {
		return fmt.Errorf("resetting the dictionary-attack lockout: %w", err)
	}
	c.log.Warn("dictionary-attack lockout reset with the lockout authorisation")
	return nil
}

// DAStatus is the TPM's dictionary-attack state.
type DAStatus struct {
	Counter         uint32        // failures currently counted
	MaxTries        uint32        // failures before lockout
	RecoveryTime    time.Duration // one failure forgotten per interval
	LockoutRecovery time.Duration // after a failed lockout authorisation
	InLockout       bool
	LockoutAuthSet  bool // the owner set a lockout authorisation
}

// TriesLeft is how many wrong PINs the TPM still accepts before lockout.
func (d DAStatus) TriesLeft() uint32 {
	if d.InLockout || d.Counter >= d.MaxTries {
		return 0
	}
	return d.MaxTries - d.Counter
}

func readDA(t transport.TPM) (DAStatus, error) {
	var d DAStatus
	props, err := tpmProps(t, tpm2.TPMPTPermanent, 1)
	if err != nil {
		return d, err
	}
	perm := props[tpm2.TPMPTPermanent]
	d.LockoutAuthSet = perm&(1<<2) != 0
	d.InLockout = perm&(1<<9) != 0
	props, err = tpmProps(t, tpm2.TPMPTLockoutCounter, 4)
	if err != nil {
		return d, err
	}
	d.Counter = props[tpm2.TPMPTLockoutCounter]
	d.MaxTries = props[tpm2.TPMPTMaxAuthFail]
	d.RecoveryTime = time.Duration(props[tpm2.TPMPTLockoutInterval]) * time.Second
	d.LockoutRecovery = time.Duration(props[tpm2.TPMPTLockoutRecovery]) * time.Second
	return d, nil
}

func tpmProps(t transport.TPM, first tpm2.TPMPT, n uint32) (map[tpm2.TPMPT]uint32, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(first), PropertyCount: n}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("reading TPM properties: %w", err)
	}
	ps, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return nil, err
	}
	out := map[tpm2.TPMPT]uint32{}
	for _, p := range ps.TPMProperty {
		out[p.Property] = p.Value
	}
	return out, nil
}
