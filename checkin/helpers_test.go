package checkin

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	"io/fs"
	"kiosk/internal/testclock"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/internal/safelog"
	"kiosk/models"
	"kiosk/store"
)

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

// dataFile returns a file of ../shared/data, skipping when the shared data
// is absent (it is evaluation data, not part of the project).
func dataFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir(), "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s is missing: %v", p, err)
	}
	return p
}

func readData(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(dataFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeData(t testing.TB, rel string) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(readData(t, rel)))
	if err != nil {
		t.Fatalf("decoding %s: %v", rel, err)
	}
	return img
}

// modelsDir finds the provisioned models; make test always provisions them.
func modelsDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, models.FeatureModel)); err == nil {
			return d
		}
	}
	t.Fatalf("no face models found: run 'make setup' (or set KIOSK_MODELS_DIR)")
	return ""
}

var (
	matcherOnce sync.Once
	matcher     *models.Matcher
	matcherErr  error
)

// testMatcher loads the real models once per test binary.
func testMatcher(t testing.TB) *models.Matcher {
	t.Helper()
	dir := modelsDir(t)
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

// clock is a fake clock that the frame source steps to each frame's time.
type clock = testclock.Clock

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func newClock() *clock { return testclock.New(t0) }

// clockedSource moves the clock to each frame's capture time, so time-outs
// run on recorded time, not on how fast the test machine is.
type clockedSource struct {
	capture.Source
	clk *clock
}

func (s clockedSource) Read(ctx context.Context) (*capture.Frame, error) {
	f, err := s.Source.Read(ctx)
	if err == nil {
		s.clk.Follow(f.Time)
	}
	return f, err
}

// stillSource repeats one image as frames at fps with nominal timestamps.
type stillSource struct {
	img  models.Image
	fps  float64
	seq  uint64
	max  uint64
	from time.Time
}

func newStillSource(img image.Image, fps float64, frames int, start time.Time) *stillSource {
	return &stillSource{img: models.FromImage(img), fps: fps, max: uint64(frames), from: start}
}

func (s *stillSource) Read(ctx context.Context) (*capture.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.max > 0 && s.seq >= s.max {
		return nil, errEOF
	}
	s.seq++
	return &capture.Frame{Seq: s.seq, Time: s.from.Add(time.Duration(float64(s.seq-1) / s.fps * float64(time.Second))),
		Width: s.img.Width, Height: s.img.Height, Pix: bytes.Clone(s.img.Pix)}, nil
}

func (s *stillSource) Close() error { return nil }

// testStore opens a real SQLite store in a temporary directory on the
// fake clock; retention 0 is ephemeral mode.
func testStore(t testing.TB, clk *clock, retention time.Duration) *store.Store {
	t.Helper()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{FirstEpoch: store.EpochOf(t0, 0) - 24})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(t.TempDir(), store.Options{Keys: mk, Retention: retention, Now: clk.Now, Logger: testLogger(t), DisablePurge: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// scannedStore is testStore (retention 1 h) in a directory the test
// scans afterwards, logging through the production redaction into logs,
// which the test scans too: the privacy tests' store.
func scannedStore(t testing.TB, clk *clock) (st *store.Store, dir string, log *slog.Logger, logs *bytes.Buffer) {
	t.Helper()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{FirstEpoch: store.EpochOf(t0, 0) - 24})
	if err != nil {
		t.Fatal(err)
	}
	dir, logs = t.TempDir(), &bytes.Buffer{}
	log = safelog.New(logs, safelog.Options{Level: slog.LevelDebug})
	st, err = store.Open(dir, store.Options{Keys: mk, Retention: time.Hour, Now: clk.Now, Logger: log, DisablePurge: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir, log, logs
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

// apiConsent is an integration's attestation that the visitor agreed to
// the built-in notice.
func apiConsent() Consent {
	return Consent{Notice: DefaultNotice().Version(), At: t0, Language: English, Via: ConsentViaAPI}
}

// agreed attaches apiConsent to ref, for check-ins started from idle as
// the API starts them.
func agreed(ref *Reference) *Reference {
	c := apiConsent()
	ref.Consent = &c
	return ref
}

// assertNotStored scans every file under dir, and the logs when given, for
// each marker (a name, a document number, samples of pixels or of a
// template), failing for every one found in plaintext. A scan that read no
// file, or a marker of zeros (a wiped buffer, found everywhere), proves
// nothing and fails too. Close the store first, so its WAL is flushed
// into the files scanned.
func assertNotStored(t *testing.T, dir string, logs []byte, markers map[string][]byte) {
	t.Helper()
	for what, mk := range markers {
		if len(bytes.Trim(mk, "\x00")) == 0 {
			t.Fatalf("marker %s is empty or zeros: the scan would prove nothing", what)
		}
	}
	scanned := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for what, mk := range markers {
			if bytes.Contains(b, mk) {
				t.Errorf("%s found in plaintext in %s", what, path)
			}
		}
		return nil
	})
	if err != nil || scanned == 0 {
		t.Fatalf("scanned %d files: %v", scanned, err)
	}
	for what, mk := range markers {
		if bytes.Contains(logs, mk) {
			t.Errorf("%s found in the logs", what)
		}
	}
}
