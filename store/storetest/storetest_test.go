package storetest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"kiosk/store"
)

func newMemKeys(t testing.TB) *store.MemoryKeys {
	t.Helper()
	k, err := store.NewMemoryKeys(store.MemoryKeysOptions{FirstEpoch: store.EpochOf(time.Now(), time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMemoryKeysContract(t *testing.T) { ProviderContract(t, newMemKeys(t), nil) }

func TestMemoryKeysCryptoErase(t *testing.T) { CryptoErase(t, newMemKeys(t), nil) }

// neverErases is a provider whose AdvancePast does nothing.
type neverErases struct{ *store.MemoryKeys }

func (neverErases) AdvancePast(uint64) error { return nil }

// forgetsForward is a provider whose keys are not deterministic.
type forgetsForward struct{ *store.MemoryKeys }

func (f forgetsForward) EpochKey(e uint64) ([]byte, error) {
	k, err := f.MemoryKeys.EpochKey(e)
	if err == nil {
		k[0] ^= byte(time.Now().UnixNano())
		k[1] ^= 0x5a
	}
	return k, err
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(f, a...))
}
func (r *recorder) Error(a ...any)            { r.Errorf("%s", fmt.Sprint(a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }
func (r *recorder) Fatal(a ...any)            { r.Error(a...); runtime.Goexit() }

func run(t *testing.T, check func(testing.TB, store.KeyProvider, *Clock), p store.KeyProvider) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r, p, nil)
	}()
	<-done
	return r.failed
}

// TestChecksCanFail proves the acceptance checks reject broken providers.
func TestChecksCanFail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(testing.TB, store.KeyProvider, *Clock)
		p     func(t *testing.T) store.KeyProvider
	}{
		{"contract/never erases", ProviderContract, func(t *testing.T) store.KeyProvider { return neverErases{newMemKeys(t)} }},
		{"contract/non-deterministic", ProviderContract, func(t *testing.T) store.KeyProvider { return forgetsForward{newMemKeys(t)} }},
		{"crypto-erase/never erases", CryptoErase, func(t *testing.T) store.KeyProvider { return neverErases{newMemKeys(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if failed := run(t, tc.check, tc.p(t)); len(failed) == 0 {
				t.Errorf("%s passed a broken provider; want a failure", tc.name)
			} else {
				t.Logf("caught: %s", failed[0])
			}
		})
	}
}
