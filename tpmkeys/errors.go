package tpmkeys

import (
	"errors"
	"fmt"
)

// Sentinel errors for states a caller acts on. Check them with errors.Is.
var (
	// ErrWrongPIN: the TPM rejected the PIN; the try counted against the
	// dictionary-attack limit.
	ErrWrongPIN = errors.New("tpmkeys: wrong PIN")
	// ErrLockedOut: the TPM is in dictionary-attack lockout; no PIN, not
	// even the right one, is accepted until the recovery time has passed or
	// the lockout is reset with the lockout authorisation.
	ErrLockedOut = errors.New("tpmkeys: TPM is in dictionary-attack lockout; wait for recovery or reset the lockout")
	// ErrNoPIN: no operator PIN has been set yet.
	ErrNoPIN = errors.New("tpmkeys: no operator PIN is set")
	// ErrPINSet: SetPIN was called but a PIN exists; use ChangePIN.
	ErrPINSet = errors.New("tpmkeys: an operator PIN is already set; change it with the old PIN")
	// ErrWeakPIN: the new PIN is shorter than Options.MinPINLength.
	ErrWeakPIN = errors.New("tpmkeys: PIN too short")
	// ErrPCRPolicy: the KEK is bound to PCRs whose values changed since it
	// was sealed (a changed boot chain); the TPM refused to unseal it.
	ErrPCRPolicy = errors.New("tpmkeys: PCR policy not satisfied: the measured boot state differs from the one the KEK was sealed to")
	// ErrWrongTPM: the TPM refused to load a key blob: it was sealed by
	// another TPM (a copied data directory) or it was altered. Fail closed.
	ErrWrongTPM = errors.New("tpmkeys: key blob rejected by this TPM: it belongs to another TPM or was altered")
	// ErrRatchetMissing: key blobs exist but the TPM holds no ratchet NV
	// index: another TPM, or a cleared one. Fail closed.
	ErrRatchetMissing = errors.New("tpmkeys: the erase-ratchet NV index is missing from this TPM")
	// ErrEpochErased: the epoch is older than the oldest live epoch; its key
	// no longer exists anywhere.
	ErrEpochErased = errors.New("tpmkeys: epoch key erased")
	// ErrEpochNotOver: AdvancePast was asked to erase the current or a
	// future epoch.
	ErrEpochNotOver = errors.New("tpmkeys: refusing to erase an epoch that has not ended")
	// ErrNoKEK: no KEK of the requested version is held.
	ErrNoKEK = errors.New("tpmkeys: no KEK of that version")
	// ErrClosed: the Custody was closed.
	ErrClosed = errors.New("tpmkeys: custody closed")
	// ErrHandleInUse: the persistent handle chosen for the storage root holds
	// a key that is not ours.
	ErrHandleInUse = errors.New("tpmkeys: persistent handle holds a different key")
	// ErrBadBlob: a key blob file is not in our format or is corrupt.
	ErrBadBlob = errors.New("tpmkeys: malformed key blob")
)

// PCRPolicyError names the PCRs whose policy failed. It matches
// ErrPCRPolicy with errors.Is.
type PCRPolicyError struct {
	PCRs       []int  // SHA-256 bank
	KEKVersion uint32 // the KEK that could not be unsealed
	Err        error  // the TPM's answer
}

func (e *PCRPolicyError) Error() string {
	return fmt.Sprintf("unsealing KEK v%d: PCR policy over sha256 PCRs %v not satisfied (the boot state changed since sealing, or a PCR was extended): %v",
		e.KEKVersion, e.PCRs, e.Err)
}

// Is makes errors.Is(err, ErrPCRPolicy) true.
func (e *PCRPolicyError) Is(target error) bool { return target == ErrPCRPolicy }

// Unwrap returns the TPM error.
func (e *PCRPolicyError) Unwrap() error { return e.Err }
