package tpmkeys

import (
	"testing"
	"time"

	"kiosk/evidence"
)

// attestBenchBackends runs a benchmark on swtpm manufactured with EK
// certificates (the reference in the bench report: RSA 2048 EK persistent
// at 0x81010001) and on the simulator with a provisioned ECC P-256 EK.
func attestBenchBackends(b *testing.B, f func(b *testing.B, k *attestKiosk)) {
	b.Run("swtpm", func(b *testing.B) {
		p, rootsDir := manufacturedSWTPM(b, b.TempDir())
		roots, err := evidence.LoadEKRoots(rootsDir)
		if err != nil {
			b.Fatal(err)
		}
		o := swOpts(b, newClock())
		o.Logger = nil
		f(b, newAttestKiosk(b, dialSWTPM(b, p), o, roots))
	})
	b.Run("sim", func(b *testing.B) {
		ca := newTestEKCA(b, "bench")
		tpm := newSim(b, 97)
		provisionEKCert(b, tpm, ca)
		o := testOpts(b, newClock())
		o.Logger = nil
		f(b, newAttestKiosk(b, tpm, o, ca.roots(b)))
	})
}

// BenchmarkCertify: load the AK blob, TPM2_Certify of the signing key,
// flush. A kiosk does this once per start; every GET /api/attestation
// after that is served from memory.
func BenchmarkCertify(b *testing.B) {
	attestBenchBackends(b, func(b *testing.B, k *attestKiosk) {
		c := k.c
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			ak, err := c.loadAK()
			if err == nil {
				_, _, err = c.certifySigner(ak)
				flush(c.tpm, ak.Handle)
			}
			c.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQuote: what GET /api/retention?nonce= adds to a cached report:
// load the AK, read PCR 7, TPM2_Quote, flush.
func BenchmarkQuote(b *testing.B) {
	attestBenchBackends(b, func(b *testing.B, k *attestKiosk) {
		n := newNonce(b)
		qd := evidence.QuoteQualifyingData(n, []byte("payload"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.c.Quote(n, qd); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkActivateCredential: one credential activation (load the AK,
// the EK with its policy session, TPM2_ActivateCredential, flush), the
// kiosk's side of a verifier's one-time AK pinning. The credential is made
// outside the timer.
func BenchmarkActivateCredential(b *testing.B) {
	attestBenchBackends(b, func(b *testing.B, k *attestKiosk) {
		act, err := evidence.NewActivation(k.bundle, k.roots, evidence.ActivationOptions{Now: func() time.Time { return attestNow }})
		if err != nil {
			b.Fatal(err)
		}
		ch := act.Challenge()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.c.ActivateCredential(ch.CredentialBlob, ch.EncryptedSecret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAttestationCold: the first Attestation of a process: read the
// EK certificate from NV, find the EK, load the AK, certify.
func BenchmarkAttestationCold(b *testing.B) {
	attestBenchBackends(b, func(b *testing.B, k *attestKiosk) {
		c := k.c
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			c.att = attestState{}
			c.mu.Unlock()
			if _, err := c.Attestation(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
