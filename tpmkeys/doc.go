// Package tpmkeys keeps the kiosk's keys in a TPM 2.0: the storage root
// (a persistent ECC P-256 primary), the sealed key-encryption keys (KEKs),
// the non-exportable ECDSA P-256 signing key, the operator PIN object under
// the TPM's dictionary-attack lockout, and the NV-backed forward-secure
// erase ratchet that crypto-erases retention epochs.
//
// Start with Open, which takes a transport.TPM the caller opened (the
// package never opens devices itself) and a directory for the key blobs,
// and returns a *Custody. Custody implements the store's KeyProvider
// (CurrentKEKVersion, KEK, EpochKey, AdvancePast, OldestEpoch), exposes the
// signing key as a crypto.Signer (Signer, PublicKeyPEM, PublicJWK, KeyID),
// checks PINs in the TPM (VerifyPIN, ChangePIN) and reports a Status.
//
// Attestation (attest.go, ek.go): Attestation certifies the signing key
// with a restricted attestation key and returns the bundle for
// GET /api/attestation, with the endorsement key's certificate from NV;
// Quote signs the configured PCRs with a verifier's nonce; and
// ActivateCredential answers a verifier's credential activation, which
// ties the attestation key to the endorsement key. The evidence package
// verifies all of it offline.
//
// Transports: NewStreamTransport speaks raw TPM frames over a byte stream
// (swtpm's TCP server port), and the subpackage swtpm starts and stops an
// swtpm process. Anything that is not a hardware TPM is software and not
// secure; Kind carries that label.
package tpmkeys
