package evidence

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fleetDir lays out a fleet's trust anchors: the recorded vectors' EK
// root, AK pin and PCRs, and a pinned key.
func fleetDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", "attest")
	for _, f := range []string{"pin.json", "pcrs.json", "roots/root.pem"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o700)
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	der, _ := x509.MarshalPKIXPublicKey(&fixedKey(t).PublicKey)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	return dir
}

func TestLoadFleet(t *testing.T) {
	dir := fleetDir(t)
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"attested and pinned", `{"kiosks":[
			{"name":"lobby","url":"https://lobby:8443","ek_roots":"roots","ak_pin":"pin.json","pcrs":"pcrs.json","allow_software_tpm":true},
			{"name":"ward3","url":"http://127.0.0.1:8080","pubkey":"pub.pem"}]}`, ""},
		{"no anchor", `{"kiosks":[{"name":"a","url":"https://a"}]}`, "no trust anchor"},
		{"roots without pin", `{"kiosks":[{"name":"a","url":"https://a","ek_roots":"roots"}]}`, "both ek_roots and ak_pin"},
		{"pcrs without attestation", `{"kiosks":[{"name":"a","url":"https://a","pubkey":"pub.pem","pcrs":"pcrs.json"}]}`, "pcrs needs attestation"},
		{"bad url", `{"kiosks":[{"name":"a","url":"ftp://a","pubkey":"pub.pem"}]}`, "not an http(s) URL"},
		{"bad name", `{"kiosks":[{"name":"a b","url":"https://a","pubkey":"pub.pem"}]}`, "name"},
		{"twice", `{"kiosks":[{"name":"a","url":"https://a","pubkey":"pub.pem"},{"name":"a","url":"https://b","pubkey":"pub.pem"}]}`, "twice"},
		{"missing file", `{"kiosks":[{"name":"a","url":"https://a","pubkey":"nope.pem"}]}`, "nope.pem"},
		{"unknown field", `{"kiosks":[{"name":"a","url":"https://a","pubkey":"pub.pem","x":1}]}`, "unknown field"},
		{"empty", `{"kiosks":[]}`, "0 kiosks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "fleet.json")
			os.WriteFile(p, []byte(tc.file), 0o600)
			ks, err := LoadFleet(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("LoadFleet = %v; want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(ks) != 2 || !ks[0].Attested || ks[1].Attested || ks[1].PinnedKey == nil {
				t.Fatalf("LoadFleet = %+v, %v", ks, err)
			}
			v := loadAttestVectors(t)
			res, err := ks[0].Verify(v.envelope, v.bundle, v.nonce, attestVerifyOpts())
			if err != nil {
				t.Errorf("FleetKiosk.Verify(vectors) = %v", err)
			}
			if c := statusOf(t, res, CheckPCRs); c.Status != Pass {
				t.Errorf("pcrs check = %v; want PASS from the fleet's expected values", c.Status)
			}
			res, _ = ks[1].Verify(v.envelope, nil, nil, attestVerifyOpts())
			if c := statusOf(t, res, CheckSignature); c.Status != Fail {
				t.Errorf("a pinned kiosk verifying another kiosk's report: signature = %v; want FAIL", c.Status)
			}
		})
	}
}

func FuzzParseFleet(f *testing.F) {
	f.Add([]byte(`{"kiosks":[{"name":"a","url":"https://a","pubkey":"p.pem","ek_roots":"r","ak_pin":"x","pcrs":"y","allow_software_tpm":true}]}`))
	f.Add([]byte(`{"kiosks":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ff, err := ParseFleet(b)
		if err == nil && (len(ff.Kiosks) == 0 || len(ff.Kiosks) > maxFleet) {
			t.Fatalf("ParseFleet accepted %d kiosks", len(ff.Kiosks))
		}
	})
}
