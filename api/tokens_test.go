package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var hashA = strings.Repeat("ab", 32)

var tokenFileCases = []struct {
	name, text string
	n          int  // tokens parsed
	bad        bool // want ErrBadTokenFile
}{
	{"empty", "", 0, false},
	{"comments and blanks", "# header\n\n   \n# more\n", 0, false},
	{"one", "frontdesk " + hashA + "\n", 1, false},
	{"no final newline", "frontdesk " + hashA, 1, false},
	{"crlf and spaces", "  frontdesk\t" + hashA + "  \r\n", 1, false},
	{"two", "a " + hashA + "\nb.x-1_2 " + strings.Repeat("0", 64) + "\n", 2, false},
	{"duplicate name", "a " + hashA + "\na " + hashA + "\n", 0, true},
	{"upper-case hex", "a " + strings.ToUpper(hashA) + "\n", 0, true},
	{"short hash", "a abcd\n", 0, true},
	{"not hex", "a " + strings.Repeat("zz", 32) + "\n", 0, true},
	{"one field", "a\n", 0, true},
	{"three fields", "a " + hashA + " extra\n", 0, true},
	{"bad name", "a/b " + hashA + "\n", 0, true},
	{"long name", strings.Repeat("n", 65) + " " + hashA + "\n", 0, true},
	{"long line", strings.Repeat("#", 5000) + "\n", 0, true},
}

func TestParseTokens(t *testing.T) {
	for _, tc := range tokenFileCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseTokens([]byte(tc.text))
			if tc.bad {
				if !errors.Is(err, ErrBadTokenFile) {
					t.Errorf("ParseTokens(%q) = %v; want ErrBadTokenFile", tc.text, err)
				}
				return
			}
			if err != nil || s.Len() != tc.n {
				t.Errorf("ParseTokens(%q) = %d tokens, %v; want %d", tc.text, s.Len(), err, tc.n)
			}
		})
	}
}

// FuzzParseTokens: no input panics, and whatever parses survives a round
// trip through AppendText unchanged.
func FuzzParseTokens(f *testing.F) {
	for _, tc := range tokenFileCases {
		f.Add([]byte(tc.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseTokens(data)
		if err != nil {
			if !errors.Is(err, ErrBadTokenFile) {
				t.Fatalf("ParseTokens error %v does not wrap ErrBadTokenFile", err)
			}
			return
		}
		text, _ := s.AppendText(nil)
		s2, err := ParseTokens(text)
		if err != nil {
			t.Fatalf("ParseTokens(AppendText(%q)) = %v", data, err)
		}
		text2, _ := s2.AppendText(nil)
		if !bytes.Equal(text, text2) {
			t.Fatalf("round trip changed the file:\n%s\n%s", text, text2)
		}
	})
}

// TestTokenFileRoundTrip: tokens are 32 random bytes in base64url, only
// their SHA-256 reaches the file (mode 0600), and they verify after a
// read back; revoking one stops it.
func TestTokenFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFileName)
	s := &TokenSet{}
	a, err := s.Add("frontdesk")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Add("hr-system")
	if raw, err := base64.RawURLEncoding.DecodeString(a); err != nil || len(raw) != TokenBytes {
		t.Errorf("token %q decodes to %d bytes, %v; want %d bytes of base64url", a, len(raw), err, TokenBytes)
	}
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if _, err := s.Add("frontdesk"); err == nil {
		t.Error("Add of an existing name succeeded; want an error")
	}
	if _, err := s.Add("bad name"); err == nil {
		t.Error("Add(\"bad name\") succeeded; want an error")
	}
	if err := WriteTokenFile(path, s); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v; want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(a)) || bytes.Contains(data, []byte(b)) {
		t.Fatal("the token file holds a token; want only hashes")
	}
	h := sha256.Sum256([]byte(a))
	if !bytes.Contains(data, []byte("frontdesk "+hex.EncodeToString(h[:]))) {
		t.Errorf("token file %q lacks frontdesk's SHA-256", data)
	}
	got, err := ReadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tok, name string
		ok        bool
	}{{a, "frontdesk", true}, {b, "hr-system", true}, {a + "x", "", false}, {"", "", false}, {a[:42], "", false}} {
		if name, ok := got.Verify(tc.tok); name != tc.name || ok != tc.ok {
			t.Errorf("Verify(%q) = %q, %v; want %q, %v", tc.tok, name, ok, tc.name, tc.ok)
		}
	}
	if !got.Revoke("frontdesk") || got.Revoke("frontdesk") {
		t.Error("Revoke(frontdesk) twice; want true then false")
	}
	if _, ok := got.Verify(a); ok {
		t.Error("a revoked token still verifies")
	}
	names, fps := got.Names()
	if len(names) != 1 || names[0] != "hr-system" || len(fps[0]) != 8 {
		t.Errorf("Names() = %v %v; want [hr-system] with an 8-digit fingerprint", names, fps)
	}

	// A file others may write is refused.
	os.Chmod(path, 0o622)
	if _, err := ReadTokenFile(path); err == nil {
		t.Error("ReadTokenFile of a group-writable file succeeded; want an error")
	}
	os.Chmod(path, 0o600)
	// A missing file is an empty set.
	if s, err := ReadTokenFile(path + ".none"); err != nil || s.Len() != 0 {
		t.Errorf("ReadTokenFile(missing) = %d, %v; want an empty set", s.Len(), err)
	}
}

// TestTokenFileReloads: a running server sees tokens added and revoked
// after it started, once a second has passed on its clock.
func TestTokenFileReloads(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), TokenFileName)
	tf := NewTokenFile(path, clock.Now)
	if s, err := tf.TokenSet(); err != nil || s.Len() != 0 {
		t.Fatalf("TokenSet() before the file exists = %d, %v; want empty", s.Len(), err)
	}
	s := &TokenSet{}
	tok, _ := s.Add("late")
	if err := WriteTokenFile(path, s); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	got, err := tf.TokenSet()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Verify(tok); !ok {
		t.Fatal("a token added after start does not verify")
	}
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	clock.Advance(time.Second)
	if _, err := tf.TokenSet(); !errors.Is(err, ErrBadTokenFile) {
		t.Errorf("TokenSet() of a broken file = %v; want ErrBadTokenFile", err)
	}
	s.Revoke("late")
	WriteTokenFile(path, s)
	clock.Advance(time.Second)
	if got, err := tf.TokenSet(); err != nil || got.Len() != 0 {
		t.Errorf("TokenSet() after revoke = %d, %v; want empty", got.Len(), err)
	}
}
