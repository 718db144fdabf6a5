package evidence

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// FleetFile is the list of kiosks `kiosk evidence verify --fleet FILE`
// checks, in JSON. Paths are relative to the file's directory. Each kiosk
// needs a pinned key, or EK roots and an AK pin (attestation), or both.
//
//	{"kiosks": [
//	  {"name": "lobby", "url": "https://kiosk-lobby.example:8443",
//	   "ek_roots": "roots/", "ak_pin": "pins/lobby.json", "pcrs": "golden-pcrs.json"},
//	  {"name": "ward3", "url": "https://kiosk-ward3.example:8443", "pubkey": "keys/ward3.pem"}
//	]}
type FleetFile struct {
	Kiosks []FleetEntry `json:"kiosks"`
}

// FleetEntry is one kiosk of a FleetFile.
type FleetEntry struct {
	Name             string `json:"name"`
	URL              string `json:"url"`                // the kiosk's base URL; reports are at /api/retention
	PubKey           string `json:"pubkey,omitempty"`   // pinned signing key (PEM or JWK)
	EKRoots          string `json:"ek_roots,omitempty"` // directory of trusted EK CA certificates
	AKPin            string `json:"ak_pin,omitempty"`   // the AK pin from a credential activation
	PCRs             string `json:"pcrs,omitempty"`     // expected PCR values
	AllowSoftwareTPM bool   `json:"allow_software_tpm,omitempty"`
}

// FleetKiosk is a FleetEntry with its trust anchors loaded.
type FleetKiosk struct {
	Name string
	URL  *url.URL
	// Attested is true when the kiosk is checked through its attestation
	// (EK roots and AK pin given): fetch /api/attestation, and the report
	// with ?nonce=.
	Attested bool
	// PinnedKey is the pinned signing key, if any.
	PinnedKey        *ecdsa.PublicKey
	Attest           AttestOptions // Nonce left empty: set it per fetch
	AllowSoftwareTPM bool
}

// maxFleet bounds a fleet file.
const maxFleet = 10000

// LoadFleet reads a fleet file and every key, root directory, pin and PCR
// file it names. Any error names the kiosk and the file.
func LoadFleet(path string) ([]FleetKiosk, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evidence: reading the fleet file: %w", err)
	}
	f, err := ParseFleet(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	base := filepath.Dir(path)
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	seen := map[string]bool{}
	out := make([]FleetKiosk, 0, len(f.Kiosks))
	for i, e := range f.Kiosks {
		k, err := loadFleetEntry(e, rel)
		if err != nil {
			return nil, fmt.Errorf("evidence: fleet file %s, kiosk %d (%q): %w", path, i+1, e.Name, err)
		}
		if seen[k.Name] {
			return nil, fmt.Errorf("evidence: fleet file %s names kiosk %q twice", path, k.Name)
		}
		seen[k.Name] = true
		out = append(out, k)
	}
	return out, nil
}

// ParseFleet decodes a fleet file strictly (no unknown field, 1 to 10,000
// kiosks); it loads none of the files it names (LoadFleet does).
func ParseFleet(data []byte) (*FleetFile, error) {
	if len(data) > MaxInputBytes*16 {
		return nil, fmt.Errorf("evidence: fleet file is %d bytes", len(data))
	}
	var f FleetFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("evidence: fleet file: %v", err)
	}
	if len(f.Kiosks) == 0 || len(f.Kiosks) > maxFleet {
		return nil, fmt.Errorf("evidence: fleet file lists %d kiosks; want 1..%d", len(f.Kiosks), maxFleet)
	}
	return &f, nil
}

func loadFleetEntry(e FleetEntry, rel func(string) string) (FleetKiosk, error) {
	k := FleetKiosk{Name: e.Name, AllowSoftwareTPM: e.AllowSoftwareTPM}
	if err := checkKioskID(e.Name); err != nil {
		return k, fmt.Errorf("name: %v", err)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return k, fmt.Errorf("url %q is not an http(s) URL with a host", e.URL)
	}
	k.URL = u
	if e.PubKey != "" {
		b, err := os.ReadFile(rel(e.PubKey))
		if err != nil {
			return k, err
		}
		if k.PinnedKey, err = ParsePublicKey(b); err != nil {
			return k, err
		}
		k.Attest.PinnedKey = k.PinnedKey
	}
	if (e.EKRoots == "") != (e.AKPin == "") {
		return k, errors.New("attestation needs both ek_roots and ak_pin")
	}
	if e.EKRoots != "" {
		k.Attested = true
		if k.Attest.EKRoots, err = LoadEKRoots(rel(e.EKRoots)); err != nil {
			return k, err
		}
		b, err := os.ReadFile(rel(e.AKPin))
		if err != nil {
			return k, err
		}
		if k.Attest.AKPin, err = ParseAKPin(b); err != nil {
			return k, err
		}
	}
	if e.PCRs != "" {
		if !k.Attested {
			return k, errors.New("pcrs needs attestation (ek_roots and ak_pin): only the AK signs quotes")
		}
		b, err := os.ReadFile(rel(e.PCRs))
		if err != nil {
			return k, err
		}
		if k.Attest.ExpectedPCRs, err = ParseExpectedPCRs(b); err != nil {
			return k, err
		}
	}
	if k.PinnedKey == nil && !k.Attested {
		return k, errors.New("no trust anchor: give pubkey, or ek_roots and ak_pin")
	}
	return k, nil
}

// Verify checks one kiosk's fetched report: through its attestation when
// the kiosk is Attested (attestation is the body of GET /api/attestation,
// nonce the one sent with ?nonce=), else against the pinned key. vo.Now
// and vo.MaxAge apply; AllowSoftwareTPM comes from the entry.
func (k *FleetKiosk) Verify(report, attestation, nonce []byte, vo VerifyOptions) (*Result, error) {
	vo.AllowSoftwareTPM = k.AllowSoftwareTPM
	if vo.Now == nil {
		vo.Now = time.Now
	}
	if k.Attested {
		ao := k.Attest
		ao.Nonce = nonce
		return VerifyAttested(report, attestation, nil, vo, ao)
	}
	v, err := NewVerifier(k.PinnedKey, vo)
	if err != nil {
		return nil, err
	}
	return v.Verify(report, nil)
}
