package api

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// TokenFileName is the token file's name in the kiosk's data directory.
const TokenFileName = "api-tokens"

// Token limits.
const (
	// TokenBytes is how much randomness a token carries (256 bits).
	TokenBytes = 32
	// MaxTokenName is the longest token name.
	MaxTokenName = 64
	// maxTokenLen bounds a presented token before it is hashed; a real
	// one is 43 characters.
	maxTokenLen = 256
	// maxTokens bounds the entries in one file (and the cost of Verify,
	// which compares against every entry).
	maxTokens = 1024
)

// ErrBadTokenFile means the token file cannot be parsed; the wrapped
// message names the line.
var ErrBadTokenFile = errors.New("bad API token file")

// tokenEntry is one stored token: its name and the SHA-256 of the token.
type tokenEntry struct {
	name string
	hash [sha256.Size]byte
}

// TokenSet is the set of API tokens an integration may present. It holds
// only each token's SHA-256, never a token. The zero value is an empty set.
// A TokenSet is not safe for concurrent mutation; Verify, Len and Names
// may run concurrently with each other.
type TokenSet struct {
	entries []tokenEntry
}

// ParseTokens parses the token file format: one `NAME SHA256HEX` per line,
// NAME being 1–64 of [A-Za-z0-9._-], SHA256HEX 64 lower-case hex digits.
// Blank lines and lines starting with '#' are ignored. Duplicate names are
// an error. Errors wrap ErrBadTokenFile and never quote the line.
func ParseTokens(data []byte) (*TokenSet, error) {
	s := &TokenSet{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 256), 4096)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: want NAME SHA256HEX", ErrBadTokenFile, n)
		}
		if err := checkTokenName(f[0]); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadTokenFile, n, err)
		}
		var e tokenEntry
		e.name = f[0]
		if len(f[1]) != 2*sha256.Size || strings.ToLower(f[1]) != f[1] {
			return nil, fmt.Errorf("%w: line %d: the hash is not 64 lower-case hex digits", ErrBadTokenFile, n)
		}
		if _, err := hex.Decode(e.hash[:], []byte(f[1])); err != nil {
			return nil, fmt.Errorf("%w: line %d: the hash is not 64 lower-case hex digits", ErrBadTokenFile, n)
		}
		if s.index(e.name) >= 0 {
			return nil, fmt.Errorf("%w: line %d: name %q appears twice", ErrBadTokenFile, n, e.name)
		}
		if len(s.entries) >= maxTokens {
			return nil, fmt.Errorf("%w: more than %d tokens", ErrBadTokenFile, maxTokens)
		}
		s.entries = append(s.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrBadTokenFile, n+1, err)
	}
	return s, nil
}

func checkTokenName(name string) error {
	if name == "" || len(name) > MaxTokenName {
		return fmt.Errorf("a token name has 1 to %d characters", MaxTokenName)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return errors.New("a token name uses only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// AppendText appends the file form of s to dst (a header comment, then one
// line per token in the order added).
func (s *TokenSet) AppendText(dst []byte) ([]byte, error) {
	dst = append(dst, "# kiosk API tokens: NAME SHA256(token) per line. Managed by 'kiosk api-token'.\n"...)
	for _, e := range s.entries {
		dst = append(dst, e.name...)
		dst = append(dst, ' ')
		dst = hex.AppendEncode(dst, e.hash[:])
		dst = append(dst, '\n')
	}
	return dst, nil
}

func (s *TokenSet) index(name string) int {
	return slices.IndexFunc(s.entries, func(e tokenEntry) bool { return e.name == name })
}

// Len is the number of tokens.
func (s *TokenSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// Names lists the tokens' names with a short fingerprint of each hash
// (the first 8 hex digits), in the order added.
func (s *TokenSet) Names() (names, fingerprints []string) {
	if s == nil {
		return nil, nil
	}
	for _, e := range s.entries {
		names = append(names, e.name)
		fingerprints = append(fingerprints, hex.EncodeToString(e.hash[:4]))
	}
	return names, fingerprints
}

// Add makes a new random token called name and returns it: 32 random bytes,
// base64url without padding. The caller shows it once; only its hash is kept.
func (s *TokenSet) Add(name string) (string, error) {
	if err := checkTokenName(name); err != nil {
		return "", err
	}
	if s.index(name) >= 0 {
		return "", fmt.Errorf("a token called %q exists; revoke it first", name)
	}
	if len(s.entries) >= maxTokens {
		return "", fmt.Errorf("there are already %d tokens", maxTokens)
	}
	var raw [TokenBytes]byte
	rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	clear(raw[:])
	s.entries = append(s.entries, tokenEntry{name: name, hash: sha256.Sum256([]byte(tok))})
	return tok, nil
}

// Revoke removes the token called name and reports whether there was one.
func (s *TokenSet) Revoke(name string) bool {
	i := s.index(name)
	if i < 0 {
		return false
	}
	s.entries = slices.Delete(s.entries, i, i+1)
	return true
}

// Verify reports whether token is one of the set's, and its name. It
// hashes the token and compares the hash with every stored hash in
// constant time, without stopping at a match, so the time taken says
// nothing about which entry matched or how much of a hash did.
func (s *TokenSet) Verify(token string) (name string, ok bool) {
	if s == nil || token == "" || len(token) > maxTokenLen {
		return "", false
	}
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(h[:], s.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return s.entries[found].name, true
}

// TokenSet makes a *TokenSet a TokenSource of itself.
func (s *TokenSet) TokenSet() (*TokenSet, error) { return s, nil }

// TokenSource gives the handler the current tokens. *TokenFile re-reads
// the file when it changes; a *TokenSet is a fixed set.
type TokenSource interface {
	TokenSet() (*TokenSet, error)
}

// ReadTokenFile reads and parses a token file. A missing file is an empty
// set. A file that others may write is refused: anyone who can write it
// can let themselves in.
func ReadTokenFile(path string) (*TokenSet, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &TokenSet{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by group or others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%w: %s is over 1 MB", ErrBadTokenFile, path)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, err
	}
	return ParseTokens(data)
}

// WriteTokenFile writes s to path atomically (a temporary file in the same
// directory, synced, then renamed), with mode 0600.
func WriteTokenFile(path string, s *TokenSet) error {
	data, _ := s.AppendText(nil)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// TokenFile is a token file that the running server re-reads when it
// changes, so `kiosk api-token add` and `revoke` take effect without a
// restart. It stats the file at most once per second. Safe for concurrent
// use; it owns no resource and has no Close.
type TokenFile struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	set     *TokenSet
	err     error
	stamp   fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// NewTokenFile returns a TokenFile for path (usually
// filepath.Join(dataDir, TokenFileName)). now may be nil (time.Now).
func NewTokenFile(path string, now func() time.Time) *TokenFile {
	if now == nil {
		now = time.Now
	}
	return &TokenFile{path: path, now: now}
}

// TokenSet returns the tokens as of the file's last change. A file that
// cannot be read or parsed is an error until it is fixed.
func (f *TokenFile) TokenSet() (*TokenSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.set != nil || f.err != nil {
		if d := now.Sub(f.checked); d >= 0 && d < time.Second {
			return f.set, f.err
		}
	}
	f.checked = now
	var st fileStamp
	if fi, err := os.Stat(f.path); err == nil {
		st = fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
	}
	if (f.set != nil || f.err != nil) && st == f.stamp {
		return f.set, f.err
	}
	f.stamp = st
	f.set, f.err = ReadTokenFile(f.path)
	return f.set, f.err
}
