package evidence

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the package pure: it builds with CGO_ENABLED=0 and
// reaches no camera, UI, store or TPM code, so the verifier can be
// shipped alone.
func TestImports(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps with CGO_ENABLED=0: %v\n%s", err, out)
	}
	forbidden := []string{"gocv.io/", "fyne.io/", "github.com/mattn/go-sqlite3", "github.com/google/go-tpm",
		"github.com/pion/", "kiosk/store", "kiosk/tpmkeys", "kiosk/capture", "kiosk/models", "kiosk/ui", "kiosk/api", "kiosk/checkin"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed only %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("evidence depends on %s", d)
			}
		}
	}
}
