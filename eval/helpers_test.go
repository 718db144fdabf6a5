package eval

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"kiosk/internal/mattest"
	"kiosk/internal/safelog"
	"kiosk/models"
)

func TestMain(m *testing.M) { mattest.Main(m, closeMatcher) }

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func sharedDir() string {
	if d := os.Getenv("KIOSK_SHARED_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), "..", "shared")
}

// dataPath returns a path in ../shared/data, skipping when the shared
// data is absent (it is evaluation data, not part of the project).
func dataPath(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir(), "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s is missing: %v", p, err)
	}
	return p
}

func decodeData(t testing.TB, rel string) image.Image {
	t.Helper()
	b, err := os.ReadFile(dataPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding %s: %v", rel, err)
	}
	return img
}

var (
	matcherOnce sync.Once
	matcher     *models.Matcher
	matcherErr  error
)

// testMatcher loads the kiosk's real models once per test binary.
func testMatcher(t testing.TB) *models.Matcher {
	t.Helper()
	var dir string
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if _, err := os.Stat(filepath.Join(d, models.FeatureModel)); d != "" && err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Fatal("no face models found: run 'make setup' (or set KIOSK_MODELS_DIR)")
	}
	matcherOnce.Do(func() {
		det, err := models.LoadDetector(dir, models.DetectorOptions{})
		if err != nil {
			matcherErr = err
			return
		}
		emb, err := models.LoadEmbedder(dir)
		if err != nil {
			matcherErr = err
			return
		}
		pad, err := models.LoadPAD(dir)
		if err != nil {
			matcherErr = err
			return
		}
		matcher = models.NewMatcher(det, emb, pad)
	})
	if matcherErr != nil {
		t.Fatal(matcherErr)
	}
	return matcher
}

func closeMatcher() {
	if matcher != nil {
		matcher.Det.Close()
		matcher.Emb.Close()
		matcher.PAD.Close()
	}
}

// testLogger logs through t.Log, redacted like production.
func testLogger(t testing.TB) *slog.Logger {
	return safelog.New(tbWriter{t}, safelog.Options{Level: slog.LevelDebug})
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
