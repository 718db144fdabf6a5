package evidence

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary bytes to the whole verifier (envelope, compact
// JWS, header, payload). No input may panic, and a report is only ever
// returned when the signature and format checks passed.
func FuzzVerify(f *testing.F) {
	key := fixedKey(f)
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "report.jws"))
	if err != nil {
		f.Fatal(err)
	}
	fx := newFixture(f, key, Options{})
	signed := fx.build(f, goldenSnapshot())
	env := mustJSON(f, signed)
	f.Add(golden)
	f.Add([]byte(signed.JWS))
	f.Add(env)
	f.Add(bytes.Replace(env, []byte(`"records_held":5`), []byte(`"records_held":6`), 1))
	f.Add([]byte(signed.JWS[:len(signed.JWS)/2]))
	f.Add([]byte("a.b.c"))
	f.Add([]byte(`{"jws":"","report":null}`))
	f.Add([]byte("{"))
	v, err := NewVerifier(&key.PublicKey, VerifyOptions{Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := v.Verify(data, nil)
		if res == nil {
			t.Fatal("Verify returned no result")
		}
		if res.Report != nil {
			if statusOf(t, res, CheckSignature).Status != Pass || statusOf(t, res, CheckFormat).Status != Pass {
				t.Fatalf("Verify returned a report with checks %+v", res.Checks)
			}
			if err := res.Report.validate(); err != nil {
				t.Fatalf("Verify returned an inconsistent report: %v", err)
			}
		} else if err == nil {
			t.Fatal("Verify returned neither a report nor an error")
		}
	})
}

// FuzzDecodeReport feeds arbitrary payloads to the strict report decoder:
// no panic, and whatever it accepts is canonical and re-encodes to itself.
func FuzzDecodeReport(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "report.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(bytes.Replace(golden, []byte(`"schema":1`), []byte(`"schema":1.0`), 1))
	f.Add(bytes.Replace(golden, []byte(`"runs":3`), []byte(`"runs":3,"runs":4`), 1))
	f.Add([]byte(strings.Replace(string(golden), `"latest_run":{`, `"latest_run":null,"x":{`, 1)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"schema":1}` + " "))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := decodeReport(payload)
		if err != nil {
			return
		}
		canon, err := Canonical(r)
		if err != nil || !bytes.Equal(canon, payload) {
			t.Fatalf("decodeReport accepted %q, which re-encodes to %q, %v", payload, canon, err)
		}
	})
}
