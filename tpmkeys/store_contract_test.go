package tpmkeys

import (
	"testing"
	"time"

	"kiosk/store/storetest"
)

// The store's acceptance on the TPM-backed path: the key provider contract
// and crypto-erase of a copied data directory, with Custody on the TPM
// simulator as the store's KeyProvider. The store cannot import tpmkeys, so
// the check lives here.
func TestCustodyMeetsTheStoreContract(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(testing.TB, *Custody, *storetest.Clock)
	}{
		{"provider contract", func(tb testing.TB, c *Custody, clk *storetest.Clock) { storetest.ProviderContract(tb, c, clk) }},
		{"crypto-erase", func(tb testing.TB, c *Custody, clk *storetest.Clock) { storetest.CryptoErase(tb, c, clk) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := storetest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
			opts := Options{Kind: KindSimulator, Logger: testLogger(t), Now: clk.Now}
			c, err := Open(newSim(t, 7), t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.run(t, c, clk)
		})
	}
}
