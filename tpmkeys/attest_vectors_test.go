package tpmkeys

import (
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"kiosk/evidence"
)

var updateAttest = flag.Bool("update-attest", false, "rewrite evidence/testdata/attest from the simulator")

// TestRecordAttestVectors records, from the simulator, the attestation
// vectors the evidence package checks offline (and seeds its fuzzers
// with): a bundle, the CA root of its EK certificate, an AK pin from a real
// credential activation, a report served with a nonce and its quote, and
// the expected PCR values. Run it with -update-attest; without the flag it
// checks that the committed vectors still verify.
func TestRecordAttestVectors(t *testing.T) {
	dir := filepath.Join("..", "evidence", "testdata", "attest")
	if !*updateAttest {
		bundle, err := os.ReadFile(filepath.Join(dir, "bundle.json"))
		if err != nil {
			t.Fatalf("%v (run go test ./tpmkeys -run RecordAttestVectors -update-attest)", err)
		}
		if _, err := evidence.ParseAttestation(bundle); err != nil {
			t.Errorf("committed bundle.json does not parse: %v", err)
		}
		return
	}
	ca := newTestEKCA(t, "Kiosk Test TPM Maker Root")
	tpm := newSim(t, 4242)
	provisionEKCert(t, tpm, ca)
	k := newAttestKiosk(t, tpm, testOpts(t, newClock()), ca.roots(t))
	pin := k.activate(t)
	nonce, _ := hex.DecodeString("6b696f736b2d746573742d6e6f6e6365")
	body := k.fetch(t, nonce)
	q := quoteOf(t, body)
	pinJSON, _ := json.MarshalIndent(pin, "", "  ")
	pcrs, _ := json.MarshalIndent(q.PCRs, "", "  ")
	files := map[string][]byte{
		"bundle.json":    append(k.bundle, '\n'),
		"envelope.json":  body,
		"nonce.hex":      []byte(hex.EncodeToString(nonce) + "\n"),
		"pin.json":       append(pinJSON, '\n'),
		"pcrs.json":      append(pcrs, '\n'),
		"roots/root.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := evidence.VerifyAttested(body, k.bundle, nil, verifyOpts(),
		evidence.AttestOptions{EKRoots: k.roots, AKPin: pin, Nonce: nonce, ExpectedPCRs: q.PCRs})
	if err != nil {
		t.Fatalf("the recorded vectors do not verify: %v", err)
	}
	t.Logf("wrote %d files to %s; %d checks", len(files), dir, len(res.Checks))
}
