package evidence

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gowebpki/jcs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenSnapshot is the fixed input of the golden vectors: three runs, the
// latest finished a minute before t0.
func goldenSnapshot() Snapshot {
	return newChain("golden", 3).snapshot(t0.Add(-time.Minute))
}

func readGolden(tb testing.TB, name string, got []byte) []byte {
	tb.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test ./evidence -run Golden -update to create it)", err)
	}
	return want
}

// TestGolden pins the exact canonical bytes and the exact JWS signing input
// for a fixed key and clock, and checks that the stored JWS (whose ECDSA
// signature is randomised, so it cannot be re-derived) still verifies.
func TestGolden(t *testing.T) {
	f := newFixture(t, fixedKey(t), Options{})
	signed := f.build(t, goldenSnapshot())

	want := readGolden(t, "report.json", signed.Payload)
	if !bytes.Equal(signed.Payload, want) {
		t.Fatalf("canonical payload =\n%s\nwant\n%s", signed.Payload, want)
	}
	wantJWS := strings.TrimSpace(string(readGolden(t, "report.jws", []byte(signed.JWS+"\n"))))
	gotInput := signed.JWS[:strings.LastIndexByte(signed.JWS, '.')]
	wantInput := wantJWS[:strings.LastIndexByte(wantJWS, '.')]
	if gotInput != wantInput {
		t.Fatalf("signing input =\n%s\nwant\n%s", gotInput, wantInput)
	}
	wantKid := strings.TrimSpace(string(readGolden(t, "key-id.txt", []byte(f.b.KeyID()+"\n"))))
	if f.b.KeyID() != wantKid {
		t.Errorf("KeyID() = %q; want %q", f.b.KeyID(), wantKid)
	}
	// The pinned forms of the golden key, for CLI tests and other tools.
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: &f.key.PublicKey, KeyID: f.b.KeyID(), Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"pub.jwk": append(jwk, '\n'),
	} {
		pub, err := ParsePublicKey(readGolden(t, name, b))
		if err != nil || !pub.Equal(&f.key.PublicKey) {
			t.Errorf("ParsePublicKey(golden %s) = %v; want the golden key", name, err)
		}
	}
	for name, data := range map[string][]byte{"stored": []byte(wantJWS), "fresh": []byte(signed.JWS)} {
		res, err := f.v.Verify(data, nil)
		if err != nil {
			t.Errorf("Verify(%s golden JWS) = %v; want nil", name, err)
			continue
		}
		if !bytes.Equal(mustCanonical(t, res.Report), want) {
			t.Errorf("Verify(%s golden JWS) returned a report that does not re-encode to the golden bytes", name)
		}
	}
}

// TestRFC7638KeyID recomputes the EC thumbprint by hand (RFC 7638 section
// 3.2: the required members crv, kty, x, y in lexicographic order, no
// whitespace), since the RFC's own example is an RSA key.
func TestRFC7638KeyID(t *testing.T) {
	k := fixedKey(t)
	pt, err := k.PublicKey.Bytes() // 0x04 || x || y
	if err != nil || len(pt) != 65 {
		t.Fatalf("PublicKey.Bytes() = %d bytes, %v", len(pt), err)
	}
	x, y := pt[1:33], pt[33:]
	input := `{"crv":"P-256","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`
	want := b64(sha256Sum([]byte(input)))
	got, err := KeyID(&k.PublicKey)
	if err != nil || got != want {
		t.Fatalf("KeyID() = %q, %v; want %q", got, err, want)
	}
}

// TestRFC8785Vectors runs the RFC 8785 sample cases through the same
// canonicaliser the report uses.
func TestRFC8785Vectors(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "rfc8785", "input", "*.json"))
	if err != nil || len(inputs) < 5 {
		t.Fatalf("RFC 8785 vectors: %d files, %v", len(inputs), err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "rfc8785", "output", filepath.Base(in)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jcs.Transform(src)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("jcs.Transform(%s) = %s, %v; want %s", in, got, err, want)
			}
		})
	}
}

// TestCanonicalIgnoresLayout: a report written with keys reordered and
// extra whitespace canonicalises to the same bytes, and those bytes are
// sorted by key at every level.
func TestCanonicalIgnoresLayout(t *testing.T) {
	f := newFixture(t, fixedKey(t), Options{})
	signed := f.build(t, goldenSnapshot())
	var m map[string]any
	if err := json.Unmarshal(signed.Payload, &m); err != nil {
		t.Fatal(err)
	}
	pretty, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	// Reverse the top-level key order by hand.
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	var rev bytes.Buffer
	rev.WriteString("{ ")
	for i := len(keys) - 1; i >= 0; i-- {
		v, _ := json.Marshal(m[keys[i]])
		kb, _ := json.Marshal(keys[i])
		rev.Write(kb)
		rev.WriteString(" :\n")
		rev.Write(v)
		if i > 0 {
			rev.WriteString(" ,\t")
		}
	}
	rev.WriteString(" }")
	for name, in := range map[string][]byte{"indented": pretty, "reversed": rev.Bytes()} {
		got, err := jcs.Transform(in)
		if err != nil || !bytes.Equal(got, signed.Payload) {
			t.Errorf("jcs.Transform(%s) = %s, %v; want %s", name, got, err, signed.Payload)
		}
	}
	if !strings.HasPrefix(string(signed.Payload), `{"chain":{"head":`) {
		t.Errorf("payload starts %.30q; want keys sorted (chain first, head first)", signed.Payload)
	}
}
