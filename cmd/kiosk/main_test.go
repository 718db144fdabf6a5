package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"kiosk/internal/mattest"
	"kiosk/models"
)

// TestMain lets the test binary act as the kiosk itself when re-executed
// with KIOSK_AS_MAIN=1, so integration tests run the real binary (Fyne on
// the main thread included) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("KIOSK_AS_MAIN") == "1" {
		main()
		return
	}
	mattest.Main(m)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func sharedDir() string { return filepath.Join(repoRoot(), "..", "shared") }

// testModelsDir returns a directory with verified models: the provisioned
// cache when make test set it, else the shared folder.
func testModelsDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if d == "" {
			continue
		}
		e, _ := models.Lookup(models.YuNet)
		if models.VerifyFile(filepath.Join(d, models.YuNet), e) == nil {
			return d
		}
	}
	t.Fatal("no verified models: run 'make setup'")
	return ""
}

func sharedData(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(sharedDir(), "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s missing: %v", p, err)
	}
	return p
}

// kiosk runs a subcommand in-process with a controlled environment.
func kiosk(t testing.TB, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code = dispatch(context.Background(), e, args)
	return out.String(), errb.String(), code
}

func baseVars(t testing.TB) map[string]string {
	return map[string]string{
		"KIOSK_MODELS_DIR": testModelsDir(t),
		"KIOSK_DATA_DIR":   filepath.Join(t.TempDir(), "data"),
	}
}

func TestDetectCommand(t *testing.T) {
	vars := baseVars(t)
	scene := filepath.Join(sharedData(t, "faces/scenes"), "bbt1.jpg")
	ids, _ := filepath.Glob(filepath.Join(sharedData(t, "faces/identities"), "*", "*.png"))
	if len(ids) != 40 {
		t.Fatalf("found %d identity photos; want 40", len(ids))
	}
	out, errs, code := kiosk(t, vars, append([]string{"detect", "--json", scene}, ids...)...)
	if code != exitOK {
		t.Fatalf("kiosk detect exit %d; stderr: %s", code, errs)
	}
	var res []detectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("detect --json output is not JSON: %v\n%s", err, out)
	}
	if len(res) != 41 {
		t.Fatalf("got %d results; want 41", len(res))
	}
	if n := len(res[0].Faces); n != 4 {
		t.Errorf("bbt1.jpg: %d faces; want 4", n)
	}
	for _, r := range res[1:] {
		if len(r.Faces) != 1 {
			t.Errorf("%s: %d faces; want exactly 1", filepath.Base(r.File), len(r.Faces))
		}
	}
}

func TestDetectBadInputExitsTwo(t *testing.T) {
	vars := baseVars(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jpg")
	os.WriteFile(empty, nil, 0o600)
	corrupt := filepath.Join(dir, "corrupt.jpg")
	good, err := os.ReadFile(filepath.Join(sharedData(t, "spoof"), "image_T1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(corrupt, good[:len(good)/3], 0o600)
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("just text"), 0o600)
	for _, tc := range []struct{ name, path, want string }{
		{"empty", empty, "empty file"},
		{"truncated", corrupt, "truncated"},
		{"not an image", text, "not a JPEG, PNG or WebP"},
		{"missing", filepath.Join(dir, "nope.jpg"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := kiosk(t, vars, "detect", tc.path)
			if code != exitBadInput {
				t.Errorf("kiosk detect %s exit %d; want 2", tc.name, code)
			}
			if !bytes.Contains([]byte(errs), []byte(tc.want)) {
				t.Errorf("stderr %q does not say %q", errs, tc.want)
			}
		})
	}
}

func TestModelsVerify(t *testing.T) {
	vars := baseVars(t)
	out, _, code := kiosk(t, vars, "models", "verify", "--json")
	if code != exitOK {
		t.Fatalf("models verify exit %d: %s", code, out)
	}
	var rep struct {
		Models []modelStatus `json:"models"`
		OK     bool          `json:"ok"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Models) != len(models.Manifest()) {
		t.Fatalf("models verify = %+v", rep)
	}
	for _, m := range rep.Models {
		if m.Recipe.Optional && m.Status == statusAbsent {
			continue // an optional model this machine does not have
		}
		if m.Status != "ok" || m.SHA256 != m.Pinned || m.Licence == "" || m.Bytes <= 0 {
			t.Errorf("model %s: %+v", m.File, m)
		}
	}

	// A tampered copy must be reported and fail the command.
	bad := t.TempDir()
	for _, m := range rep.Models {
		if m.Status == statusAbsent {
			continue
		}
		b, _ := os.ReadFile(m.Path)
		if m.File == models.YuNet {
			b[len(b)/2] ^= 1
		}
		os.WriteFile(filepath.Join(bad, m.File), b, 0o600)
	}
	vars["KIOSK_MODELS_DIR"] = bad
	out, _, code = kiosk(t, vars, "models", "verify")
	if code != exitFailure || !bytes.Contains([]byte(out), []byte("mismatch")) {
		t.Errorf("models verify on a tampered file: exit %d, output %q; want exit 1 and 'mismatch'", code, out)
	}
}

func TestDoctorJSON(t *testing.T) {
	vars := baseVars(t)
	out, _, code := kiosk(t, vars, "doctor", "--json", "--mode", "demo")
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	names := map[string]check{}
	for _, c := range rep.Checks {
		names[c.Name] = c
	}
	for _, n := range []string{"camera", "tpm", "models", "display", "data-dir", "opencv", "ocr"} {
		if _, ok := names[n]; !ok {
			t.Errorf("doctor report lacks %q", n)
		}
	}
	if c := names["ocr"]; !c.OK || !strings.HasPrefix(c.Detail, "Tesseract 5.") || !strings.HasSuffix(c.Detail, " with "+models.MRZModel) {
		t.Errorf("ocr check: %+v; want ok, \"Tesseract 5.x with %s\"", c, models.MRZModel)
	}
	if !rep.CanRun || code != exitOK {
		t.Errorf("demo mode with verified models: can_run=%v exit %d; want true, 0\n%s", rep.CanRun, code, out)
	}
	if st, err := os.Stat(vars["KIOSK_DATA_DIR"]); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("data dir not created 0700: %v %v", st, err)
	}

	// Without models the kiosk cannot run, and doctor says so.
	vars["KIOSK_MODELS_DIR"] = t.TempDir()
	_, _, code = kiosk(t, vars, "doctor", "--mode", "demo")
	if code != exitFailure {
		t.Errorf("doctor with no models: exit %d; want 1", code)
	}
}

func TestRunWithoutCameraNeedsDemo(t *testing.T) {
	if _, err := os.Stat("/dev/video0"); err == nil {
		t.Skip("this machine has a camera")
	}
	vars := baseVars(t)
	_, errs, code := kiosk(t, vars, "run", "--headless", "--duration", "1s")
	if code != exitFailure || !bytes.Contains([]byte(errs), []byte("--demo")) {
		t.Errorf("run without camera: exit %d, stderr %q; want 1 and a hint to use --demo", code, errs)
	}
}
