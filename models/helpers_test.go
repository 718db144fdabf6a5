package models

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// repoRoot is the project root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// sharedDir is ../shared beside the project.
func sharedDir() string { return filepath.Join(repoRoot(), "..", "shared") }

// modelDir finds verified model files: $KIOSK_MODELS_DIR (set by make test
// to the provisioned cache), else the shared models folder. A test that needs
// models fails (not skips) when none are found, unless the shared folder is
// missing entirely, since make test always provisions them.
func modelDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if d == "" {
			continue
		}
		if err := VerifyFile(filepath.Join(d, YuNet), mustLookup(t, YuNet)); err == nil {
			return d
		}
	}
	t.Fatalf("no verified %s found: run 'make setup' (or set KIOSK_MODELS_DIR)", YuNet)
	return ""
}

// dataDir returns a folder of ../shared/data, skipping when the shared data
// is absent (it is evaluation data, not part of the project).
func dataDir(t testing.TB, rel string) string {
	t.Helper()
	d := filepath.Join(sharedDir(), "data", rel)
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared test data %s is missing: %v", d, err)
	}
	return d
}

func mustLookup(t testing.TB, file string) Entry {
	t.Helper()
	e, ok := Lookup(file)
	if !ok {
		t.Fatalf("Lookup(%q): not in manifest", file)
	}
	return e
}

func newTestDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := LoadDetector(modelDir(t), DetectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func decodeFile(t testing.TB, path string) Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(b)
	if err != nil {
		t.Fatalf("DecodeImage(%s): %v", path, err)
	}
	return img
}

func newTestMatcher(t testing.TB) *Matcher {
	t.Helper()
	dir := modelDir(t)
	emb, err := LoadEmbedder(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	pad, err := LoadPAD(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pad.Close() })
	return NewMatcher(newTestDetector(t), emb, pad)
}
