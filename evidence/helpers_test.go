package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 is the fixed clock of the golden vectors.
var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// signerOnly hides everything but crypto.Signer, as a TPM-backed signer
// would: go-jose cannot see an *ecdsa.PrivateKey and must go through Sign,
// which returns ASN.1 DER.
type signerOnly struct{ s crypto.Signer }

func (w signerOnly) Public() crypto.PublicKey { return w.s.Public() }
func (w signerOnly) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return w.s.Sign(r, d, o)
}

// fixedKey loads the throwaway golden key from testdata.
func fixedKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "signing-key.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		tb.Fatal("testdata/signing-key.pem: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time      { return c.t }
func (c *fakeClock) Add(d time.Duration) { c.t = c.t.Add(d) }
func newClock(t time.Time) *fakeClock    { return &fakeClock{t: t} }

// chain is a fake purge chain built like the store's: each hash covers the
// run's sequence number, a salt and the previous hash.
type chain struct {
	salt   string
	hashes []Hash
}

func newChain(salt string, runs int) *chain {
	c := &chain{salt: salt}
	for range runs {
		c.add()
	}
	return c
}

func (c *chain) add() {
	var prev Hash
	if n := len(c.hashes); n > 0 {
		prev = c.hashes[n-1]
	}
	b := binary.BigEndian.AppendUint64([]byte(c.salt), uint64(len(c.hashes)+1))
	c.hashes = append(c.hashes, sha256.Sum256(append(b, prev[:]...)))
}

// fork returns a copy whose runs from seq on are rebuilt with another salt,
// as if run seq was deleted or edited and the rest rehashed.
func (c *chain) fork(seq int) *chain {
	f := &chain{salt: c.salt, hashes: append([]Hash{}, c.hashes[:seq-1]...)}
	f.salt = c.salt + "-forged"
	for len(f.hashes) < len(c.hashes) {
		f.add()
	}
	return f
}

// snapshot makes a consistent snapshot of c whose latest run finished at
// finished.
func (c *chain) snapshot(finished time.Time) Snapshot {
	s := Snapshot{
		Policy:                          Policy{RetentionSeconds: 86400, PurgeIntervalSeconds: 900, EpochSeconds: 3600},
		Chain:                           Chain{Runs: int64(len(c.hashes)), Recent: append([]Hash{}, c.hashes...)},
		OldestRemainingRecordAgeSeconds: 7200,
		RecordsHeld:                     5,
	}
	if n := len(c.hashes); n > 0 {
		s.Chain.Head = c.hashes[n-1]
		run := &PurgeRun{Seq: int64(n), Started: finished.Add(-1500 * time.Millisecond), Finished: finished,
			Scanned: 12, Deleted: 7, OldestRemainingAgeSeconds: 6900, RecordsHeld: 5, Hash: c.hashes[n-1]}
		if n > 1 {
			run.PrevHash = c.hashes[n-2]
		}
		s.LatestRun = run
	}
	return s
}

type fixture struct {
	key   *ecdsa.PrivateKey
	clock *fakeClock
	b     *Builder
	v     *Verifier
}

// newFixture returns a hardware-kind builder over key (wrapped so that only
// crypto.Signer shows) and a verifier pinned to its public key, both on one
// fake clock at t0.
func newFixture(tb testing.TB, key *ecdsa.PrivateKey, opts Options) *fixture {
	tb.Helper()
	f := &fixture{key: key, clock: newClock(t0)}
	opts.Now = f.clock.Now
	if opts.TPMKind == "" {
		opts.TPMKind = TPMHardware
	}
	if opts.KioskID == "" {
		opts.KioskID = "kiosk-test-01"
	}
	var err error
	if f.b, err = NewBuilder(signerOnly{key}, opts); err != nil {
		tb.Fatal(err)
	}
	if f.v, err = NewVerifier(&key.PublicKey, VerifyOptions{Now: f.clock.Now}); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fixture) build(tb testing.TB, s Snapshot) *Signed {
	tb.Helper()
	signed, err := f.b.Build(s)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return signed
}

// statusOf returns the status of the named check.
func statusOf(tb testing.TB, res *Result, name string) Check {
	tb.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no %q check in %+v", name, res.Checks)
	return Check{}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func mustCanonical(tb testing.TB, r *Report) []byte {
	tb.Helper()
	if r == nil {
		tb.Fatal("no report")
	}
	b, err := Canonical(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// asn1Marshal encodes an ECDSA-Sig-Value with the given big-endian r and s.
func asn1Marshal(r, s []byte) ([]byte, error) {
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
}
