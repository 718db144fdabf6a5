package tpmkeys

import (
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"
)

// backends runs a benchmark on swtpm (the reference in the bench report)
// and on the in-process simulator.
func backends(b *testing.B, f func(b *testing.B, c *Custody)) {
	b.Run("swtpm", func(b *testing.B) {
		needSWTPM(b)
		p := startSWTPM(b, b.TempDir())
		tpm := dialSWTPM(b, p)
		o := swOpts(b, newClock())
		o.Logger = nil
		f(b, benchOpen(b, tpm, o))
	})
	b.Run("sim", func(b *testing.B) {
		tpm := newSim(b, 99)
		o := testOpts(b, newClock())
		o.Logger = nil
		f(b, benchOpen(b, tpm, o))
	})
}

func benchOpen(b *testing.B, tpm transport.TPM, o Options) *Custody {
	o.DA.MaxTries = 1000 // wrong-PIN benchmarks must not lock out
	c := mustOpen(b, tpm, b.TempDir(), o)
	if err := c.SetPIN("2580"); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkUnseal: load the KEK blob, unseal over a salted session with
// response encryption, flush (what Open does once per KEK version).
func BenchmarkUnseal(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		blob, err := readBlob(kekPath(c.dir, 1), purposeKEK)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, KEKSize)
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			err := c.unsealInto(blob, dst)
			c.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		d := sha256.Sum256([]byte("retention report"))
		s := c.Signer()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyPIN: load the PIN object, unseal with the PIN's HMAC
// session salted to the SRK, flush.
func BenchmarkVerifyPIN(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.VerifyPIN("2580"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNVRead: NV_ReadPublic + NV_Read over an encrypted session (what
// Open does once).
func BenchmarkNVRead(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		dst := make([]byte, 32)
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			_, err := c.nvRead(dst)
			c.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNVWrite: NV_ReadPublic + NV_Write of the current ratchet value
// (what AdvancePast does once per ended epoch).
func BenchmarkNVWrite(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			err := c.nvWrite(c.oldest, c.slot(baseSlot), false)
			c.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEpochKey is the per-record cost: no TPM command.
func BenchmarkEpochKey(b *testing.B) {
	tpm := newSim(b, 98)
	o := testOpts(b, newClock())
	o.Logger = nil
	c := mustOpen(b, tpm, b.TempDir(), o)
	e := c.CurrentEpoch()
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.EpochKey(e + 5); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 720 one-hour epochs = 30 days of retention, derived from the oldest
	// key each time (cache defeated).
	b.Run("derive-720", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.mu.Lock()
			for k, s := range c.cache {
				clear(c.slot(s))
				delete(c.cache, k)
			}
			_, err := c.epochKeyLocked(e + 720)
			c.mu.Unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOpen is the start-up cost on a provisioned directory: SRK
// check, KEK unseal, signing-key load, NV read, DA read.
func BenchmarkOpen(b *testing.B) {
	backends(b, func(b *testing.B, c *Custody) {
		dir, o, tpm := c.dir, c.opts, c.tpm
		o.Logger = nil
		// Open flushes what it finds loaded (no resource manager): close
		// the first custody so the loop measures a clean start.
		c.Close()
		b.ReportAllocs()
		for b.Loop() {
			c2, err := Open(tpm, dir, o)
			if err != nil {
				b.Fatal(err)
			}
			c2.Close()
		}
	})
}
