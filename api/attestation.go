package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"kiosk/evidence"
)

// Sentinels the attestation functions wrap, so the routes answer with the
// right status without knowing the TPM.
var (
	// ErrNoAttestation: this kiosk's TPM cannot attest (no EK
	// certificate, or attestation is off).
	ErrNoAttestation = errors.New("attestation is not available on this kiosk")
	// ErrActivationRejected: the TPM did not recover the credential's
	// secret: it was made for another TPM's EK or another AK, or forged.
	ErrActivationRejected = errors.New("the TPM rejected the credential")
)

// maxActivationBytes caps a credential-activation request: a credential
// blob and an encrypted seed are a few hundred bytes each.
const maxActivationBytes = 16 << 10

// attestation serves the TPM attestation routes: the bundle that ties the
// evidence signing key to this TPM (public, cached by the caller), and
// credential activation, which a verifier runs once to trust the AK.
type attestation struct {
	bundle   func() (any, error)
	activate func(evidence.ActivationChallenge) (evidence.ActivationResponse, error)
	limits   *addressLimit // a TPM command per request: rate-limited per client address
	log      *slog.Logger
}

// addressLimit rate-limits a public route that costs a TPM command per
// request (a quote, an activation), per client address.
type addressLimit struct {
	lim *limiter
	now func() time.Time
}

// allow answers 429 with Retry-After and returns false when the client is
// over its rate.
func (l *addressLimit) allow(w http.ResponseWriter, r *http.Request) bool {
	ok, d := l.lim.allow(clientKey(r.RemoteAddr), l.now())
	if !ok {
		w.Header().Set("Retry-After", retryAfter(d))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; slow down")
	}
	return ok
}

// limitNonce rate-limits the retention report's ?nonce= requests, each a
// TPM quote; the cached report without a nonce is not limited.
func (l *addressLimit) limitNonce(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("nonce") && !l.allow(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *attestation) get(w http.ResponseWriter, r *http.Request) {
	b, err := a.bundle()
	if err != nil {
		a.fail(w, err, "reading the attestation failed")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *attestation) post(w http.ResponseWriter, r *http.Request) {
	if !a.limits.allow(w, r) {
		return
	}
	if mt := r.Header.Get("Content-Type"); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the challenge as application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActivationBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the challenge is over 16 KiB")
		return
	}
	var ch evidence.ActivationChallenge
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil || len(ch.CredentialBlob) == 0 || len(ch.EncryptedSecret) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "want {\"credential_blob\": base64, \"encrypted_secret\": base64}")
		return
	}
	resp, err := a.activate(ch)
	if err != nil {
		a.fail(w, err, "credential activation failed")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *attestation) fail(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, ErrNoAttestation):
		writeError(w, http.StatusNotFound, "no_attestation", err.Error())
	case errors.Is(err, ErrActivationRejected):
		writeError(w, http.StatusUnprocessableEntity, "activation_rejected", "the TPM did not recover the secret: the credential is not for this TPM's EK and AK")
	default:
		a.log.Error("api: "+what, "err", err.Error())
		writeError(w, http.StatusServiceUnavailable, "tpm_unavailable", what+"; see the kiosk's log")
	}
}
