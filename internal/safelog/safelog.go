// Package safelog builds the kiosk's structured logger. Its ReplaceAttr hook
// is the single place that decides what may reach a log: attributes whose key
// names personal or secret data are replaced by "[redacted]", and so is any
// value that declares itself sensitive by implementing Sensitive.
//
// Packages never build loggers themselves; they take a *slog.Logger in their
// Options. Start with New.
package safelog

import (
	"io"
	"log/slog"
	"strings"
)

// Redacted replaces every value the hook removes.
const Redacted = "[redacted]"

// Sensitive marks a value that must never be logged, whatever its key.
// Key, template and image types implement it.
type Sensitive interface {
	// SensitiveValue is a marker; it is never called by the logger.
	SensitiveValue()
}

// personalKeys are attribute keys (lower case, compared after folding)
// whose values are always dropped. Matching is on whole key segments
// separated by '.', '_' or '-', so "visitor.name" and "doc_number" match
// while "frame_count" does not.
var personalKeys = map[string]bool{
	"name": true, "firstname": true, "lastname": true, "fullname": true,
	"photo": true, "image": true, "img": true, "frame": true, "pixels": true,
	"embedding": true, "template": true, "feature": true, "features": true,
	"document": true, "doc": true, "passport": true, "dob": true, "birth": true,
	"birthdate": true, "email": true, "phone": true, "address": true,
	"pin": true, "password": true, "secret": true, "key": true, "kek": true,
	"dek": true, "plaintext": true, "mrz": true,
}

// allowedKeys are segments that look personal but are not: counts,
// identifiers and paths are fine to log.
var allowedSuffixes = []string{"count", "id", "ids", "path", "file", "size", "bytes", "ms", "fps", "version", "kind", "sha256", "status", "handle"}

// IsPersonalKey reports whether an attribute key names data that must not
// be logged.
func IsPersonalKey(key string) bool {
	segs := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool {
		return r == '.' || r == '_' || r == '-'
	})
	if len(segs) == 0 {
		return false
	}
	last := segs[len(segs)-1]
	for _, s := range allowedSuffixes {
		if last == s {
			return false
		}
	}
	for _, s := range segs {
		if personalKeys[s] {
			return true
		}
	}
	return false
}

// ReplaceAttr is the slog hook that redacts personal attributes.
// It is safe for concurrent use.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	if IsPersonalKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if IsPersonalKey(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	if a.Value.Kind() == slog.KindAny {
		switch a.Value.Any().(type) {
		case Sensitive:
			return slog.String(a.Key, Redacted)
		case []byte:
			// Raw bytes are never useful in a log and may be pixels or key
			// material; log their length instead.
			return slog.Int(a.Key+"_bytes", len(a.Value.Any().([]byte)))
		}
	}
	return a
}

// Options configures New. The zero value logs text at Info level.
type Options struct {
	Level slog.Leveler
	JSON  bool
}

// New returns a logger writing to w with the redacting hook installed.
func New(w io.Writer, opts Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: ReplaceAttr}
	if opts.JSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Discard returns a logger that drops everything; for packages given no logger.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
