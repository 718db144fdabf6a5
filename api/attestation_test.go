package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kiosk/evidence"
)

// TestAttestationRoutes: the bundle is public; activation answers the
// TPM's secret, 422 for a credential made for another TPM, 404 where the
// TPM cannot attest, 400/415 for bad requests; and both the activation and
// the retention report's ?nonce= (a TPM command each) are rate-limited
// per address, while the cached report is not.
func TestAttestationRoutes(t *testing.T) {
	var activateErr error
	h := NewHandler(Options{
		Retention:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"jws":"x"}`)) }),
		Attestation: func() (any, error) { return map[string]string{"schema": "1"}, nil },
		Activate: func(ch evidence.ActivationChallenge) (evidence.ActivationResponse, error) {
			if activateErr != nil {
				return evidence.ActivationResponse{}, activateErr
			}
			return evidence.ActivationResponse{Secret: append([]byte("secret:"), ch.CredentialBlob...)}, nil
		},
		Limits: Limits{PerIP: Rate{PerSecond: 0.001, Burst: 4}, PerToken: Rate{1, 1}, MaxFailures: 5},
		Now:    newClock().Now,
	})
	if w := serve(h, "GET", "/api/attestation", "192.0.2.7:1", "", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"schema":"1"`) {
		t.Fatalf("GET /api/attestation = %d %s", w.Code, w.Body)
	}
	challenge := []byte(`{"credential_blob":"AQI=","encrypted_secret":"AwQ="}`)
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		err         error
		code        int
		want        string
	}{
		{"activates", "application/json", challenge, nil, 200, `"secret":"c2VjcmV0OgEC"`},
		{"another TPM's credential", "application/json", challenge, fmt.Errorf("%w: tpm says no", ErrActivationRejected), 422, "activation_rejected"},
		{"no EK certificate", "application/json", challenge, fmt.Errorf("%w: no EK", ErrNoAttestation), 404, "no_attestation"},
		{"not json", "text/plain", challenge, nil, 415, "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			activateErr = tc.err
			w := serve(h, "POST", "/api/attestation/activate", fmt.Sprintf("192.0.2.%d:1", 20+len(tc.name)), "", tc.ctype, tc.body)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("POST activate = %d %s; want %d with %s", w.Code, w.Body, tc.code, tc.want)
			}
		})
	}
	activateErr = nil
	if w := serve(h, "POST", "/api/attestation/activate", "192.0.2.99:1", "", "application/json", []byte(`{"credential_blob":"AQI="}`)); w.Code != 400 {
		t.Errorf("POST activate without the secret = %d %s; want 400", w.Code, w.Body)
	}
	// The burst is 4 per address: the fifth quote is refused, the cached
	// report is not.
	codes := []int{}
	for range 5 {
		codes = append(codes, serve(h, "GET", "/api/retention?nonce=0011223344556677", "192.0.2.50:1", "", "", nil).Code)
	}
	if codes[3] != 200 || codes[4] != http.StatusTooManyRequests {
		t.Errorf("five ?nonce= requests = %v; want the fifth refused with 429", codes)
	}
	if w := serve(h, "GET", "/api/retention", "192.0.2.50:1", "", "", nil); w.Code != 200 {
		t.Errorf("the cached report after the nonce limit = %d; want 200", w.Code)
	}
}
