package tpmkeys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

func TestNextEpochKeyIsOneWayChain(t *testing.T) {
	k0 := bytes.Repeat([]byte{7}, 32)
	k1, k1b, k2 := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	NextEpochKey(k1, k0, 1)
	NextEpochKey(k1b, k0, 2) // the epoch number is bound in
	NextEpochKey(k2, k1, 2)
	if bytes.Equal(k1, k0) || bytes.Equal(k1, k1b) || bytes.Equal(k2, k1) {
		t.Errorf("NextEpochKey outputs collide: k0=%x k1=%x k1b=%x k2=%x", k0, k1, k1b, k2)
	}
	in := bytes.Clone(k1)
	NextEpochKey(in, in, 2) // in place
	if !bytes.Equal(in, k2) {
		t.Errorf("NextEpochKey in place = %x; want %x", in, k2)
	}
}

// TestRatchet: derive e..e+3, advance past e+1; e and e+1 are gone, e+2
// and e+3 derive to the same bytes; a copy of the data directory taken
// before the advance brings nothing back, because the only copy of the
// ratchet key is in the TPM's NV.
func TestRatchet(t *testing.T) {
	tpm := newSim(t, 40)
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "keys")
	c := mustOpen(t, tpm, dir, testOpts(t, clk))
	e := must(c.OldestEpoch())
	if e != c.CurrentEpoch() {
		t.Fatalf("OldestEpoch = %d; want the provisioning epoch %d", e, c.CurrentEpoch())
	}
	keys := map[uint64][]byte{}
	for i := uint64(0); i < 4; i++ {
		keys[e+i] = must(c.EpochKey(e + i))
	}
	for i := uint64(1); i < 4; i++ {
		if bytes.Equal(keys[e+i], keys[e+i-1]) {
			t.Fatalf("EpochKey(%d) equals EpochKey(%d)", e+i, e+i-1)
		}
	}
	snapshot := filepath.Join(t.TempDir(), "snapshot")
	copyDir(t, dir, snapshot)

	if err := c.AdvancePast(e + 1); !errors.Is(err, ErrEpochNotOver) {
		t.Errorf("AdvancePast(%d) while epoch %d is current = %v; want ErrEpochNotOver", e+1, e, err)
	}
	// The store's clock takes over (SetClock); it is 3 hours on.
	storeClk := newClock()
	storeClk.Advance(3 * time.Hour) // now in epoch e+3
	c.SetClock(storeClk.Now)
	writes := must(c.Status()).NVWritesThisRun
	if err := c.AdvancePast(e + 1); err != nil {
		t.Fatalf("AdvancePast(%d) = %v", e+1, err)
	}
	clk.Advance(3 * time.Hour)
	if got := must(c.Status()).NVWritesThisRun - writes; got != 1 {
		t.Errorf("NV writes for one advance over two epochs = %d; want 1", got)
	}
	checkRatchet := func(t *testing.T, c *Custody) {
		t.Helper()
		if got := must(c.OldestEpoch()); got != e+2 {
			t.Errorf("OldestEpoch = %d; want %d", got, e+2)
		}
		for _, tc := range []struct {
			epoch  uint64
			erased bool
		}{{e, true}, {e + 1, true}, {e + 2, false}, {e + 3, false}} {
			got, err := c.EpochKey(tc.epoch)
			if tc.erased {
				if !errors.Is(err, ErrEpochErased) || got != nil {
					t.Errorf("EpochKey(e+%d) = %x, %v; want ErrEpochErased", tc.epoch-e, got, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, keys[tc.epoch]) {
				t.Errorf("EpochKey(e+%d) = %x, %v; want the key derived before the advance %x", tc.epoch-e, got, err, keys[tc.epoch])
			}
		}
	}
	checkRatchet(t, c)

	// No-ops and refusals.
	writes = must(c.Status()).NVWritesThisRun
	if err := c.AdvancePast(e); err != nil {
		t.Errorf("AdvancePast(already erased) = %v; want nil", err)
	}
	if err := c.AdvancePast(e + 3); !errors.Is(err, ErrEpochNotOver) {
		t.Errorf("AdvancePast(current epoch) = %v; want ErrEpochNotOver", err)
	}
	if got := must(c.Status()).NVWritesThisRun - writes; got != 0 {
		t.Errorf("NV writes for a no-op and a refusal = %d; want 0", got)
	}

	// The TPM holds the only copy: NV has (e+2, K(e+2)), and nothing on
	// disk holds an epoch key.
	nv := make([]byte, 32)
	c.mu.Lock()
	nvEpoch, err := c.nvRead(nv)
	c.mu.Unlock()
	if err != nil || nvEpoch != e+2 || !bytes.Equal(nv, keys[e+2]) {
		t.Errorf("NV = epoch %d key %x, %v; want epoch %d key %x", nvEpoch, nv, err, e+2, keys[e+2])
	}
	for _, d := range []string{dir, snapshot} {
		ents, _ := os.ReadDir(d)
		for _, ent := range ents {
			data, _ := os.ReadFile(filepath.Join(d, ent.Name()))
			for ep, k := range keys {
				if bytes.Contains(data, k) {
					t.Errorf("%s holds the key of epoch e+%d", ent.Name(), ep-e)
				}
			}
		}
	}
	closeAndCheck(t, c, tpm)

	t.Run("reopen", func(t *testing.T) {
		c := mustOpen(t, tpm, dir, testOpts(t, clk))
		checkRatchet(t, c)
	})
	t.Run("restored data dir snapshot", func(t *testing.T) {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		copyDir(t, snapshot, dir)
		c := mustOpen(t, tpm, dir, testOpts(t, clk))
		checkRatchet(t, c)
	})
}

func TestEpochKeyCacheEviction(t *testing.T) {
	tpm := newSim(t, 41)
	clk := newClock()
	c := mustOpen(t, tpm, t.TempDir(), testOpts(t, clk))
	e := must(c.OldestEpoch())
	// Reference chain computed independently.
	c.mu.Lock()
	k := bytes.Clone(c.slot(baseSlot))
	c.mu.Unlock()
	want := map[uint64][]byte{e: bytes.Clone(k)}
	for i := uint64(1); i <= 300; i++ {
		NextEpochKey(k, k, e+i)
		want[e+i] = bytes.Clone(k)
	}
	// Far more epochs than cache slots, in a scattered order.
	for j := 0; j < 3; j++ {
		for i := uint64(0); i <= 300; i += 7 {
			ep := e + (i*37+uint64(j)*11)%301
			if got := must(c.EpochKey(ep)); !bytes.Equal(got, want[ep]) {
				t.Fatalf("EpochKey(e+%d) = %x; want %x", ep-e, got, want[ep])
			}
		}
	}
	if len(c.cache) > cacheSlots {
		t.Errorf("cache holds %d keys; want at most %d", len(c.cache), cacheSlots)
	}
	if _, err := c.EpochKey(e + maxForward + 1); err == nil {
		t.Errorf("EpochKey(far future) = nil error; want a refusal")
	}
}

// TestProvisionAfterInterruptedDefine: a provisioning that died between
// NV_DefineSpace and the first NV_Write leaves an unwritten index; the next
// Open adopts and writes it instead of failing forever.
func TestProvisionAfterInterruptedDefine(t *testing.T) {
	tpm := newSim(t, 42)
	clk := newClock()
	dir := t.TempDir()
	c := mustOpen(t, tpm, dir, testOpts(t, clk))
	// Simulate the crash: undefine, define again, never write; no KEK blob.
	closeAndCheck(t, c, tpm)
	if _, err := (tpm2.NVUndefineSpace{AuthHandle: tpm2.TPMRHOwner, NVIndex: tpm2.NamedHandle{Handle: DefaultNVIndex, Name: must(tpm2.NVReadPublic{NVIndex: DefaultNVIndex}.Execute(tpm)).NVName}}).Execute(tpm); err != nil {
		t.Fatalf("NVUndefineSpace = %v", err)
	}
	if _, err := (tpm2.NVDefineSpace{
		AuthHandle: tpm2.TPMRHOwner,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{NVIndex: DefaultNVIndex, NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{AuthRead: true, AuthWrite: true, NoDA: true, NT: tpm2.TPMNTOrdinary}, DataSize: nvSize}),
	}).Execute(tpm); err != nil {
		t.Fatalf("NVDefineSpace = %v", err)
	}
	os.Remove(kekPath(dir, 1))
	c = mustOpen(t, tpm, dir, testOpts(t, clk))
	if got := must(c.OldestEpoch()); got != c.CurrentEpoch() {
		t.Errorf("OldestEpoch after re-provisioning = %d; want %d", got, c.CurrentEpoch())
	}
	if _, err := c.EpochKey(c.CurrentEpoch()); err != nil {
		t.Errorf("EpochKey after re-provisioning = %v", err)
	}
}
