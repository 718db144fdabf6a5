package store

import (
	"bytes"
	"errors"
	"testing"
)

var envelopeCases = []struct {
	name      string
	ctx       Context
	plaintext []byte
}{
	{"empty", Context{Table: "checkins", Column: "photo", RecordID: 1, KeyID: 1}, nil},
	{"one byte", Context{Table: "checkins", Column: "name", RecordID: 2, KeyID: 1}, []byte{0}},
	{"text", Context{Table: "people", Column: "name", RecordID: 1 << 62, KeyID: 7}, []byte("Ada Lovelace")},
	{"block", Context{Table: "checkins", Column: "embedding", RecordID: 99, KeyID: 1}, bytes.Repeat([]byte{0xab}, 4096)},
}

func TestSealOpen(t *testing.T) {
	k := NewDataKey()
	for _, tc := range envelopeCases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("dst-prefix")
			env := k.Seal(append([]byte(nil), prefix...), tc.ctx, tc.plaintext)
			if !bytes.HasPrefix(env, prefix) {
				t.Fatalf("Seal did not append to dst")
			}
			env = env[len(prefix):]
			if len(env) != len(tc.plaintext)+EnvelopeOverhead {
				t.Errorf("len(Seal(%q)) = %d; want %d", tc.plaintext, len(env), len(tc.plaintext)+EnvelopeOverhead)
			}
			if v, id, _, _, err := ParseEnvelope(env); err != nil || v != EnvelopeVersion || id != tc.ctx.KeyID {
				t.Errorf("ParseEnvelope = %d, %d, %v; want %d, %d", v, id, err, EnvelopeVersion, tc.ctx.KeyID)
			}
			got, err := k.Open([]byte("x"), tc.ctx, env)
			if err != nil || !bytes.Equal(got[1:], tc.plaintext) || got[0] != 'x' {
				t.Errorf("Open(Seal(%q)) = %q, %v; want x+plaintext", tc.plaintext, got, err)
			}
			if again := k.Seal(nil, tc.ctx, tc.plaintext); bytes.Equal(again[5:17], env[5:17]) {
				t.Errorf("two Seals reused nonce %x", env[5:17])
			}
		})
	}
}

// TestTamperEnvelope flips every bit and truncates at every length of a
// sealed field, and opens it under every neighbouring context: 100% must fail.
func TestTamperEnvelope(t *testing.T) {
	k := NewDataKey()
	c := Context{Table: "checkins", Column: "photo", RecordID: 42, KeyID: 1}
	env := k.Seal(nil, c, []byte("MARKER-photo-bytes-0123456789"))
	var tried, detected int
	check := func(what string, e []byte, ctx Context) {
		t.Helper()
		tried++
		dst := make([]byte, 0, 256)
		got, err := k.Open(dst, ctx, e)
		if errors.Is(err, ErrUnreadable) && len(got) == 0 {
			detected++
			if bytes.Contains(dst[:cap(dst)], []byte("MARKER")) {
				t.Errorf("%s: plaintext left in dst's spare capacity", what)
			}
			return
		}
		t.Errorf("Open(%s) = %q, %v; want ErrUnreadable", what, got, err)
	}
	for i := range len(env) * 8 {
		e := bytes.Clone(env)
		e[i/8] ^= 1 << (i % 8)
		check("bit flip", e, c)
	}
	for n := range len(env) {
		check("truncation", env[:n], c)
	}
	check("extension", append(bytes.Clone(env), 0), c)
	for _, other := range []Context{
		{Table: "people", Column: "photo", RecordID: 42, KeyID: 1},
		{Table: "checkins", Column: "embedding", RecordID: 42, KeyID: 1},
		{Table: "checkins", Column: "photo", RecordID: 43, KeyID: 1},
		{Table: "checkins", Column: "photo", RecordID: 42, KeyID: 2},
		{Table: "checkin", Column: "sphoto", RecordID: 42, KeyID: 1}, // length-prefix ambiguity
	} {
		check("moved context", env, other)
	}
	if _, err := NewDataKey().Open(nil, c, env); !errors.Is(err, ErrUnreadable) {
		t.Errorf("Open under another DataKey = %v; want ErrUnreadable", err)
	}
	if _, err := k.Open(nil, c, env); err != nil {
		t.Fatalf("control Open = %v; want success", err)
	}
	if detected != tried {
		t.Errorf("detected %d of %d tampered envelopes; want all", detected, tried)
	}
}

func TestWrapDEK(t *testing.T) {
	keys := newTestKeys(t)
	e, _ := keys.OldestEpoch()
	dek := NewDataKey()
	w, err := wrapDEK(nil, keys, "checkins", 5, 1, e+3, dek)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unwrapDEK(keys, "checkins", 5, 1, e+3, w)
	if err != nil || got.raw != dek.raw {
		t.Fatalf("unwrapDEK = %v; want the same key", err)
	}
	for _, tc := range []struct {
		name  string
		table string
		id    int64
		v     uint32
		epoch uint64
	}{
		{"other table", "people", 5, 1, e + 3},
		{"other id", "checkins", 6, 1, e + 3},
		{"other version", "checkins", 5, 2, e + 3},
		{"other epoch", "checkins", 5, 1, e + 4},
	} {
		if _, err := unwrapDEK(keys, tc.table, tc.id, tc.v, tc.epoch, w); !errors.Is(err, ErrUnreadable) {
			t.Errorf("unwrapDEK(%s) = %v; want ErrUnreadable", tc.name, err)
		}
	}
	if err := keys.AdvancePast(e + 3); err != nil {
		t.Fatal(err)
	}
	if _, err := unwrapDEK(keys, "checkins", 5, 1, e+3, w); !errors.Is(err, ErrUnreadable) {
		t.Errorf("unwrapDEK after the epoch was erased = %v; want ErrUnreadable", err)
	}
}

func TestMemoryKeysRatchet(t *testing.T) {
	a, b := newTestKeys(t), newTestKeys(t)
	first, _ := a.OldestEpoch()
	k5, err := a.EpochKey(first + 5)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := a.EpochKey(first + 2) // derived after a later one: cache must not matter
	if b5, _ := b.EpochKey(first + 5); !bytes.Equal(k5, b5) {
		t.Errorf("same options derived different keys for epoch %d", first+5)
	}
	if bytes.Equal(k2, k5) {
		t.Errorf("epochs %d and %d share a key", first+2, first+5)
	}
	if err := a.AdvancePast(first + 2); err != nil {
		t.Fatal(err)
	}
	if o, _ := a.OldestEpoch(); o != first+3 {
		t.Errorf("OldestEpoch after AdvancePast(%d) = %d; want %d", first+2, o, first+3)
	}
	for e := first; e <= first+2; e++ {
		if _, err := a.EpochKey(e); !errors.Is(err, ErrEpochErased) {
			t.Errorf("EpochKey(%d) after erase = %v; want ErrEpochErased", e, err)
		}
	}
	if a5, err := a.EpochKey(first + 5); err != nil || !bytes.Equal(a5, k5) {
		t.Errorf("EpochKey(%d) after erasing older epochs = %v; want the same key", first+5, err)
	}
	// Nothing the provider still holds equals an erased key.
	a.mu.Lock()
	held := [][]byte{a.key}
	for _, ck := range a.cache {
		held = append(held, ck)
	}
	a.mu.Unlock()
	for e := first; e <= first+2; e++ {
		old, _ := b.EpochKey(e)
		for _, h := range held {
			if bytes.Equal(h, old) {
				t.Errorf("provider still holds the key of erased epoch %d", e)
			}
		}
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	k, _ := dataKeyFrom(bytes.Repeat([]byte{7}, 32))
	for _, tc := range envelopeCases {
		f.Add(k.Seal(nil, tc.ctx, tc.plaintext), tc.ctx.Table, tc.ctx.Column, tc.ctx.RecordID, tc.ctx.KeyID)
	}
	f.Add([]byte{}, "", "", int64(0), uint32(0))
	f.Fuzz(func(t *testing.T, env []byte, table, column string, id int64, keyID uint32) {
		c := Context{Table: table, Column: column, RecordID: id, KeyID: keyID}
		got, err := k.Open(nil, c, env)
		if err != nil {
			if got != nil {
				t.Fatalf("Open failed but returned %d bytes", len(got))
			}
			if !errors.Is(err, ErrUnreadable) {
				t.Fatalf("Open error = %v; want ErrUnreadable", err)
			}
			return
		}
		// Whatever opened must re-seal and open to the same bytes.
		if again, err := k.Open(nil, c, k.Seal(nil, c, got)); err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-seal round trip failed: %v", err)
		}
		if _, _, _, _, err := ParseEnvelope(env); err != nil {
			t.Fatalf("Open accepted an envelope ParseEnvelope rejects")
		}
	})
}

func FuzzDecodeFields(f *testing.F) {
	f.Add(appendFields(nil, field{1, []byte{1}}, field{2, []byte("{}")}, field{3, nil}))
	f.Add(appendFields(nil, field{1, []byte("name")}, field{2, []byte("doc")}))
	f.Add([]byte{1, 0x80})
	f.Add([]byte{2, 1, 'a', 1, 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out [4][]byte
		if err := decodeFields(b, 3, out[:]); err != nil {
			return
		}
		// A valid list re-encodes to exactly its input.
		var fs []field
		for tag := byte(1); tag <= 3; tag++ {
			if out[tag] != nil {
				fs = append(fs, field{tag, out[tag]})
			}
		}
		if re := appendFields(nil, fs...); !bytes.Equal(re, b) {
			t.Fatalf("decode/encode not canonical: %x -> %x", b, re)
		}
	})
}
