package safelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

type secretKey [4]byte

func (secretKey) SensitiveValue() {}

func TestIsPersonalKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"name", true},
		{"visitor.name", true},
		{"doc_number", true},
		{"photo", true},
		{"embedding", true},
		{"template", true},
		{"pin", true},
		{"kek", true},
		{"frame_count", false},
		{"record_id", false},
		{"model_file", false},
		{"photo_bytes", false},
		{"fps", false},
		{"faces", false},
		{"source", false},
		{"", false},
	} {
		if got := IsPersonalKey(tc.key); got != tc.want {
			t.Errorf("IsPersonalKey(%q) = %v; want %v", tc.key, got, tc.want)
		}
	}
}

func TestLoggerRedacts(t *testing.T) {
	for _, json := range []bool{false, true} {
		var buf bytes.Buffer
		log := New(&buf, Options{JSON: json})
		log.Info("check-in",
			"name", "MARKER-NAME-Ada Lovelace",
			"record_id", 42,
			slog.Group("visitor", "document", "MARKER-DOC-X1234"),
			"k", secretKey{1, 2, 3, 4},
			"raw", []byte("MARKER-RAW-BYTES"),
			"faces", 1,
		)
		out := buf.String()
		for _, marker := range []string{"MARKER-NAME", "MARKER-DOC", "MARKER-RAW", "[1 2 3 4]"} {
			if strings.Contains(out, marker) {
				t.Errorf("json=%v: log leaks %q: %s", json, marker, out)
			}
		}
		for _, keep := range []string{"record_id", "42", "faces", "raw_bytes", Redacted} {
			if !strings.Contains(out, keep) {
				t.Errorf("json=%v: log lost %q: %s", json, keep, out)
			}
		}
	}
}

func TestLoggerRedactsWithAttrsAndGroups(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{}).With("photo", "MARKER-PHOTO").WithGroup("embedding")
	log.Info("x", "values", "MARKER-EMB")
	if s := buf.String(); strings.Contains(s, "MARKER") {
		t.Errorf("redaction missed With/WithGroup attributes: %s", s)
	}
}
