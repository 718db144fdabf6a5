// Package evidence owns the kiosk's public retention report: it builds the
// report from plain aggregate values, canonicalises it (RFC 8785 JCS), signs
// it as a compact JWS with ES256 through any crypto.Signer (the TPM signing
// key on a real box), verifies it offline against a pinned public key, and
// serves it over HTTP.
//
// Start with Builder (NewBuilder, Build) on the kiosk side, and Verifier
// (NewVerifier, Verify) on the side of whoever checks the kiosk. NewHandler
// serves GET /api/retention with a signature cached until the purge chain
// or the counts change.
//
// With TPM attestation, VerifyAttested checks the report through the
// kiosk's attestation bundle instead of a pinned key: EK certificate ->
// trusted roots (EKRoots), EK -> attestation key (an AKPin from a
// credential activation, NewActivation), attestation key -> certified
// signing key, and the quote of the boot state for the verifier's nonce
// (ExpectedPCRs). LoadFleet reads a list of kiosks to check at once. The
// TPM structures are decoded here, in pure Go.
//
// The report carries only policy values, counts, ages, times and hashes; it
// has no field that can hold personal data. It says what the kiosk's own
// software claims, signed by a key that cannot leave its TPM; it does not
// prove that the operator did not change that software. See docs/evidence.md.
//
// The package is pure Go: it imports no cgo, camera, UI, store or TPM
// package (not even a TPM library). The lead maps store statistics to Snapshot.
package evidence
