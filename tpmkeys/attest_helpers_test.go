package tpmkeys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"kiosk/evidence"
	"kiosk/tpmkeys/swtpm"
)

// testEKCA plays a TPM manufacturer: a root CA that signs EK certificates.
type testEKCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string // holds root.pem only: a verifier's --ek-roots
}

func newTestEKCA(tb testing.TB, cn string) *testEKCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test TPM Maker"}},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &testEKCA{cert: cert, key: key, dir: dir}
}

func (ca *testEKCA) roots(tb testing.TB) *evidence.EKRoots {
	tb.Helper()
	r, err := evidence.LoadEKRoots(ca.dir)
	if err != nil {
		tb.Fatalf("LoadEKRoots(%s) = %v", ca.dir, err)
	}
	return r
}

// ekSAN is the subject alternative name of a TPM EK certificate: a
// critical directoryName with the TPM's manufacturer, model and version.
func ekSAN(tb testing.TB) pkix.Extension {
	tb.Helper()
	rdn := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:4B494F53"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 2}, Value: "simulator"}},
		{{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 3}, Value: "id:00010002"}},
	}
	name, err := asn1.Marshal(rdn)
	if err != nil {
		tb.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		tb.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}
}

// provisionEKCert does what a manufacturer does: create the ECC P-256 EK
// (template L-2), sign a certificate for it as real EK certificates look
// (empty subject, critical TPM directoryName SAN, tcg-kp-EKCertificate),
// and write it at NV EKCertIndexECCP256 with zero padding after it.
func provisionEKCert(tb testing.TB, t transport.TPM, ca *testEKCA) {
	tb.Helper()
	h, pub, err := createEK(t, tpm2.ECCEKTemplate, nil)
	if err != nil {
		tb.Fatal(err)
	}
	flush(t, h.Handle)
	key, err := tpm2.Pub(*pub)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(time.Now().UnixNano()),
		NotBefore:          time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:           time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:           x509.KeyUsageKeyAgreement,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}},
		ExtraExtensions:    []pkix.Extension{ekSAN(tb)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	data := append(der, make([]byte, 37)...) // chips pad the NV area
	_, err = tpm2.NVDefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex:    EKCertIndexECCP256,
			NameAlg:    tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true, AuthRead: true, NoDA: true, NT: tpm2.TPMNTOrdinary},
			DataSize:   uint16(len(data)),
		}),
	}.Execute(t)
	if err != nil {
		tb.Fatalf("defining the EK certificate index: %v", err)
	}
	rp, err := tpm2.NVReadPublic{NVIndex: EKCertIndexECCP256}.Execute(t)
	if err != nil {
		tb.Fatal(err)
	}
	for off := 0; off < len(data); off += 512 {
		end := min(off+512, len(data))
		_, err := tpm2.NVWrite{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: EKCertIndexECCP256, Name: rp.NVName},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off:end]},
			Offset:     uint16(off),
		}.Execute(t)
		if err != nil {
			tb.Fatalf("writing the EK certificate: %v", err)
		}
	}
}

// attestKiosk is one kiosk under test: its custody and what it publishes.
type attestKiosk struct {
	c       *Custody
	tpm     transport.TPM
	roots   *evidence.EKRoots
	bundle  []byte
	builder *evidence.Builder
	handler *evidence.Handler
}

// attestNow is the verifier's clock in every attestation test (reports,
// freshness, certificate validity). It is fixed, and after today, because
// swtpm_localca's certificates are valid from the moment they are made.
var attestNow = time.Date(2100, 1, 1, 10, 30, 0, 0, time.UTC)

func newAttestKiosk(tb testing.TB, tpm transport.TPM, o Options, roots *evidence.EKRoots) *attestKiosk {
	tb.Helper()
	c := mustOpen(tb, tpm, tb.TempDir(), o)
	a, err := c.Attestation()
	if err != nil {
		tb.Fatalf("Attestation = %v", err)
	}
	bundle, err := json.Marshal(a)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := evidence.NewBuilder(c.Signer(), evidence.Options{Now: func() time.Time { return attestNow }, KioskID: "kiosk-attest", TPMKind: evidence.TPMSoftware})
	if err != nil {
		tb.Fatal(err)
	}
	k := &attestKiosk{c: c, tpm: tpm, roots: roots, bundle: bundle, builder: b}
	k.handler = evidence.NewHandler(b, func(context.Context) (evidence.Snapshot, error) { return attestSnapshot(), nil },
		evidence.HandlerOptions{Now: func() time.Time { return attestNow }, Logger: testLogger(tb),
			Quote: func(_ context.Context, nonce, qd []byte) (any, error) { return c.Quote(nonce, qd) }})
	return k
}

// attestSnapshot is a retention state that passes every report check at
// attestNow.
func attestSnapshot() evidence.Snapshot {
	h := evidence.Hash(sha256.Sum256([]byte("run 1")))
	return evidence.Snapshot{
		Policy: evidence.Policy{RetentionSeconds: 86400, PurgeIntervalSeconds: 900, EpochSeconds: 3600},
		LatestRun: &evidence.PurgeRun{Seq: 1, Started: attestNow.Add(-61 * time.Second), Finished: attestNow.Add(-60 * time.Second),
			Scanned: 3, Deleted: 3, Hash: h},
		Chain: evidence.Chain{Runs: 1, Head: h, Recent: []evidence.Hash{h}},
	}
}

// activate runs credential activation as a verifier would: a challenge
// made in software from the bundle, answered by the kiosk's TPM.
func (k *attestKiosk) activate(tb testing.TB) *evidence.AKPin {
	tb.Helper()
	act, err := evidence.NewActivation(k.bundle, k.roots, evidence.ActivationOptions{Now: func() time.Time { return attestNow }})
	if err != nil {
		tb.Fatalf("NewActivation = %v", err)
	}
	ch := act.Challenge()
	secret, err := k.c.ActivateCredential(ch.CredentialBlob, ch.EncryptedSecret)
	if err != nil {
		tb.Fatalf("ActivateCredential = %v", err)
	}
	pin, err := act.Finish(secret, attestNow)
	if err != nil {
		tb.Fatalf("Finish = %v", err)
	}
	return pin
}

// fetch serves GET /api/retention (with ?nonce= when nonce is set).
func (k *attestKiosk) fetch(tb testing.TB, nonce []byte) []byte {
	tb.Helper()
	url := "/api/retention"
	if nonce != nil {
		url += "?nonce=" + hexString(nonce)
	}
	rec := httptest.NewRecorder()
	k.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s = %d %s", url, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func newNonce(tb testing.TB) []byte {
	tb.Helper()
	n := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func verifyOpts() evidence.VerifyOptions {
	return evidence.VerifyOptions{Now: func() time.Time { return attestNow }, AllowSoftwareTPM: true}
}

// checkOf returns the named check of a result.
func checkOf(tb testing.TB, checks []evidence.Check, name string) evidence.Check {
	tb.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no %q check in %v", name, checks)
	return evidence.Check{}
}

// wantAllPass fails unless every check passed (a software TPM is a WARN).
func wantAllPass(tb testing.TB, checks []evidence.Check, skipOK ...string) {
	tb.Helper()
	for _, c := range checks {
		ok := c.Status == evidence.Pass || (c.Name == evidence.CheckTPM && c.Status == evidence.Warn)
		for _, s := range skipOK {
			if c.Name == s && c.Status == evidence.Skip {
				ok = true
			}
		}
		if !ok {
			tb.Errorf("check %s = %v (%s); want PASS", c.Name, c.Status, c.Detail)
		}
	}
}

// wantFail asserts the named check failed with the sentinel.
func wantFail(tb testing.TB, checks []evidence.Check, name string, sentinel error) {
	tb.Helper()
	c := checkOf(tb, checks, name)
	if c.Status != evidence.Fail || !errors.Is(c.Err, sentinel) {
		tb.Errorf("check %s = %v, %v (%s); want FAIL with %v", name, c.Status, c.Err, c.Detail, sentinel)
		return
	}
	tb.Logf("%s fails as it should: %s", name, c.Detail)
}

// manufacturedSWTPM makes an swtpm with EK certificates from a throwaway
// local CA (swtpm_setup --create-ek-cert with swtpm_localca) and starts it.
func manufacturedSWTPM(tb testing.TB, caDir string) (*swtpm.Process, string) {
	tb.Helper()
	needSWTPM(tb)
	if !swtpm.SetupAvailable() {
		tb.Skip("swtpm_setup, swtpm_localca or certtool missing (apt-get install swtpm-tools): cannot make an EK certificate")
	}
	state := tb.TempDir()
	m, err := swtpm.Manufacture(context.Background(), swtpm.ManufactureOptions{StateDir: state, CADir: caDir})
	if err != nil {
		tb.Fatalf("Manufacture = %v", err)
	}
	return startSWTPM(tb, state), m.RootsDir
}
