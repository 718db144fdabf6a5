package evidence

import (
	"crypto/rand"
	"testing"
)

// BenchmarkVerifyAttested: every check of the recorded vectors offline:
// the EK certificate chain, the AK pin, the certification, the report and
// the quote with its nonce and PCR values.
func BenchmarkVerifyAttested(b *testing.B) {
	v := loadAttestVectors(b)
	o, vo := v.opts(), attestVerifyOpts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyAttested(v.envelope, v.bundle, nil, vo, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewActivation: the verifier's side of credential activation
// (EK chain, AK shape, MakeCredential to the simulator's ECC P-256 EK).
func BenchmarkNewActivation(b *testing.B) {
	v := loadAttestVectors(b)
	o := ActivationOptions{Rand: rand.Reader, Now: attestVerifyOpts().Now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewActivation(v.bundle, v.roots, o); err != nil {
			b.Fatal(err)
		}
	}
}
