package tpmkeys

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func validBlob(p purpose) *keyBlob {
	b := &keyBlob{purpose: p, private: bytes.Repeat([]byte{0x5a}, 80)}
	switch p {
	case purposeKEK:
		b.version, b.pcrMask = 3, 1<<7
		b.public = tpm2.Marshal(sealTemplate(false, true, bytes.Repeat([]byte{1}, 32)))
	case purposePIN:
		b.salt = bytes.Repeat([]byte{9}, 16)
		b.public = tpm2.Marshal(sealTemplate(true, false, nil))
	case purposeSigner:
		b.public = tpm2.Marshal(signerTemplate)
	}
	return b
}

// reseal fixes the checksum after a test edits the body.
func reseal(data []byte) []byte {
	body := data[:len(data)-sha256.Size]
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func blobCases() map[string][]byte {
	kek := validBlob(purposeKEK).marshal()
	edit := func(f func(b []byte) []byte) []byte { return reseal(f(bytes.Clone(kek))) }
	return map[string][]byte{
		"empty":           nil,
		"short":           []byte("KTPMBLOB"),
		"bad checksum":    append(bytes.Clone(kek[:len(kek)-1]), kek[len(kek)-1]^1),
		"truncated":       kek[:len(kek)-5],
		"bad magic":       edit(func(b []byte) []byte { b[0] = 'X'; return b }),
		"bad format":      edit(func(b []byte) []byte { b[8] = 9; return b }),
		"bad purpose":     edit(func(b []byte) []byte { b[9] = 77; return b }),
		"kek version 0":   edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[10:], 0); return b }),
		"pcr 24":          edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], 1<<24); return b }),
		"salt on kek":     edit(func(b []byte) []byte { b[18] = 4; return b }),
		"public too long": edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[19:], 0xffff); return b }),
		"trailing bytes": edit(func(b []byte) []byte {
			return append(append(b[:len(b)-sha256.Size], 0, 0), make([]byte, sha256.Size)...)
		}),
		"signer as kek":    edit(func(b []byte) []byte { b[9] = byte(purposeSigner); return b }),
		"garbage public":   (&keyBlob{purpose: purposeKEK, version: 1, public: []byte{1, 2, 3}, private: []byte{1}}).marshal(),
		"empty private":    reseal((&keyBlob{purpose: purposeKEK, version: 1, public: validBlob(purposeKEK).public}).marshal()),
		"pin without salt": reseal((&keyBlob{purpose: purposePIN, public: validBlob(purposePIN).public, private: []byte{1}}).marshal()),
	}
}

func TestParseBlob(t *testing.T) {
	for _, p := range []purpose{purposeKEK, purposeSigner, purposePIN} {
		t.Run("valid "+p.String(), func(t *testing.T) {
			want := validBlob(p)
			got, err := parseBlob(want.marshal())
			if err != nil {
				t.Fatalf("parseBlob(valid %v) = %v", p, err)
			}
			if got.purpose != want.purpose || got.version != want.version || got.pcrMask != want.pcrMask ||
				!bytes.Equal(got.salt, want.salt) || !bytes.Equal(got.public, want.public) || !bytes.Equal(got.private, want.private) {
				t.Errorf("parseBlob round trip = %+v; want %+v", got, want)
			}
			if !bytes.Equal(got.marshal(), want.marshal()) {
				t.Errorf("marshal(parseBlob(x)) != x")
			}
		})
	}
	for name, data := range blobCases() {
		t.Run(name, func(t *testing.T) {
			if b, err := parseBlob(data); !errors.Is(err, ErrBadBlob) {
				t.Errorf("parseBlob(%s) = %+v, %v; want ErrBadBlob", name, b, err)
			}
		})
	}
}

func FuzzParseBlob(f *testing.F) {
	for _, p := range []purpose{purposeKEK, purposeSigner, purposePIN} {
		f.Add(validBlob(p).marshal())
	}
	for _, d := range blobCases() {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBlob(data)
		if err != nil {
			if !errors.Is(err, ErrBadBlob) {
				t.Fatalf("parseBlob error %v is not ErrBadBlob", err)
			}
			return
		}
		// Accepted blobs round-trip exactly and decode their public area.
		if !bytes.Equal(b.marshal(), data) {
			t.Fatalf("accepted blob does not round-trip")
		}
		_ = b.pubArea()
	})
}

// FuzzParseBlobBody appends a valid checksum to the input, so the fuzzer
// explores the structure behind the checksum.
func FuzzParseBlobBody(f *testing.F) {
	for _, p := range []purpose{purposeKEK, purposeSigner, purposePIN} {
		d := validBlob(p).marshal()
		f.Add(d[:len(d)-sha256.Size])
	}
	for _, d := range blobCases() {
		if len(d) > sha256.Size {
			f.Add(d[:len(d)-sha256.Size])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha256.Sum256(body)
		data := append(bytes.Clone(body), sum[:]...)
		b, err := parseBlob(data)
		if err != nil {
			if !errors.Is(err, ErrBadBlob) {
				t.Fatalf("parseBlob error %v is not ErrBadBlob", err)
			}
			return
		}
		if !bytes.Equal(b.marshal(), data) {
			t.Fatalf("accepted blob does not round-trip")
		}
		_ = b.pubArea()
	})
}
