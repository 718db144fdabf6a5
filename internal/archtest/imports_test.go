// Package archtest enforces the architecture of DESIGN.md: cgo stays at the
// edges, and the privacy-critical packages cannot reach OpenCV or Fyne.
package archtest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// listPackages runs go list over the whole module.
func listPackages(t *testing.T, env ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "libsqlite3", "-json", "./...")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, "kiosk"), "/") }

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	const gocv, fyne = "gocv.io/x/gocv", "fyne.io/fyne/v2"
	pure := []string{"liveness", "store", "evidence", "mrz"}
	gocvAllowed := []string{"capture", "models", "cmd/kiosk", "internal/mattest"}
	fyneAllowed := []string{"ui", "cmd/kiosk"}
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		r := rel(p.ImportPath)
		if hasPrefixAny(r, pure...) {
			for _, d := range p.Deps {
				if hasPrefixAny(d, gocv, fyne) {
					t.Errorf("%s depends on %s; liveness, store, evidence and mrz must stay free of OpenCV and Fyne", r, d)
				}
			}
		}
		for _, imp := range p.Imports {
			if hasPrefixAny(imp, gocv) && !hasPrefixAny(r, gocvAllowed...) {
				t.Errorf("%s imports %s directly; only capture and models may (cgo stays at the edges)", r, imp)
			}
			if hasPrefixAny(imp, fyne) && !hasPrefixAny(r, fyneAllowed...) {
				t.Errorf("%s imports %s; only ui and cmd/kiosk may", r, imp)
			}
			if imp == "flag" && r != "cmd/kiosk" {
				t.Errorf("%s imports flag; only cmd/kiosk parses flags", r)
			}
		}
	}
}

// TestPurePackagesBuildWithoutCgo keeps liveness and evidence free of cgo,
// so they cross-compile anywhere and can be reviewed as plain Go.
func TestPurePackagesBuildWithoutCgo(t *testing.T) {
	for _, p := range []string{"./liveness/...", "./evidence/...", "./internal/safelog/..."} {
		matches, _ := filepath.Glob(filepath.Join(repoRoot(), strings.TrimSuffix(p, "/..."), "*.go"))
		if len(matches) == 0 {
			continue // package not written yet
		}
		cmd := exec.Command("go", "build", p)
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("CGO_ENABLED=0 go build %s: %v\n%s", p, err, out)
		}
	}
}
