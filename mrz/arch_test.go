package mrz

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the parser pure: it imports nothing but
// the standard library and builds without cgo, so it can be reviewed as
// plain Go and cross-compiled anywhere.
func TestStandardLibraryOnly(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "kiosk/mrz" {
			t.Errorf("mrz depends on %s; it must use the standard library only", p)
		}
	}
}
