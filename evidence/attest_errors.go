package evidence

import "errors"

// Names of the attestation checks, in the order VerifyAttested runs them:
// the bundle's own checks before the report's, the quote's after.
const (
	CheckAttestation = "attestation" // the bundle decodes
	CheckEKCert      = "ek-cert"     // EK certificate -> trusted roots
	CheckAK          = "ak"          // EK -> AK (credential activation pin)
	CheckCertify     = "certify"     // AK -> signing key
	CheckQuote       = "quote"       // the quote is the AK's, over the PCR values listed
	CheckNonce       = "nonce"       // the quote answers the verifier's nonce, for this report
	CheckPCRs        = "pcrs"        // the quoted PCRs are the expected values
)

// Sentinels of the attestation checks; each failure is a *CheckError
// wrapping one of them.
var (
	// ErrNoEKCert: the TPM holds no endorsement-key certificate, so nothing
	// ties it to a manufacturer (the in-process simulator).
	ErrNoEKCert = errors.New("no EK certificate")
	// ErrUntrustedEK: the EK certificate does not chain to a trusted root.
	ErrUntrustedEK = errors.New("EK certificate not trusted")
	// ErrEKMismatch: the EK public area is not the certificate's key, or
	// not shaped like an endorsement key.
	ErrEKMismatch = errors.New("EK does not match its certificate")
	// ErrBadAK: the attestation key is not a restricted signing key bound
	// to its TPM.
	ErrBadAK = errors.New("attestation key is not a restricted TPM-bound signing key")
	// ErrAKNotActivated: no credential activation pins this AK to this EK
	// certificate (no pin, a pin for another TPM, or a recreated AK).
	ErrAKNotActivated = errors.New("attestation key not activated against this EK")
	// ErrActivationFailed: the kiosk did not return the activation secret.
	ErrActivationFailed = errors.New("credential activation failed")
	// ErrBadCertify: the certification is not the AK's (forged, altered, or
	// made by another key) or not a certification of this purpose.
	ErrBadCertify = errors.New("certification not made by the attestation key")
	// ErrKeyNotCertified: the certification does not cover the bundle's
	// signing key as a non-exportable key of this TPM.
	ErrKeyNotCertified = errors.New("signing key not certified")
	// ErrNoQuote: the verifier sent a nonce but the report has no quote.
	ErrNoQuote = errors.New("no quote")
	// ErrBadQuote: the quote is not the AK's, or its PCR values do not
	// match the quoted digest.
	ErrBadQuote = errors.New("quote not made by the attestation key")
	// ErrWrongNonce: the quote does not answer the verifier's nonce for
	// this report (a replayed or swapped quote).
	ErrWrongNonce = errors.New("quote is not for this nonce")
	// ErrPCRMismatch: the quoted PCRs differ from the expected ones: the
	// machine booted something else.
	ErrPCRMismatch = errors.New("PCR values differ from the expected ones")
)
