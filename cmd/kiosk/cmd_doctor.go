package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"gocv.io/x/gocv"

	"kiosk/capture"
	"kiosk/models"
)

func init() {
	register(command{name: "doctor", summary: "check cameras, TPM, models, display, data directory, OpenCV and the OCR", run: runDoctor})
}

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Needed bool   `json:"needed"` // whether the chosen mode needs it to pass
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

type doctorReport struct {
	Mode   string  `json:"mode"`
	CanRun bool    `json:"can_run"`
	Checks []check `json:"checks"`
}

// minFreeBytes is the free space below which the data directory is flagged:
// enough for the database, its WAL and a day of sealed records.
const minFreeBytes = 200 << 20

func runDoctor(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "doctor", "doctor [--json] [--mode MODE]\n\nExit status 0 when the chosen mode can run, 1 when it cannot.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	mode := fs.String("mode", "auto", "mode to check for: ui, headless, demo (generated video, no camera needed) or auto")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	r := diagnose(e, cfg, *mode)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		for _, c := range r.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
				if !c.Needed {
					mark = "warn"
				}
			}
			fmt.Fprintf(e.stdout, "[%s] %-10s %s\n", mark, c.Name, c.Detail)
			if !c.OK && c.Fix != "" {
				fmt.Fprintf(e.stdout, "           fix: %s\n", c.Fix)
			}
		}
		verdict := "can run"
		if !r.CanRun {
			verdict = "cannot run"
		}
		fmt.Fprintf(e.stdout, "mode %s: %s\n", r.Mode, verdict)
	}
	if !r.CanRun {
		return exitFailure
	}
	return exitOK
}

func diagnose(e *env, cfg *config, mode string) doctorReport {
	display := hasDisplay(e)
	if mode == "auto" || mode == "" {
		mode = "headless"
		if display {
			mode = "ui"
		}
	}
	r := doctorReport{Mode: mode}

	cams := capture.ListCameras()
	camCheck := check{Name: "camera", OK: len(cams) > 0, Needed: mode != "demo"}
	if len(cams) > 0 {
		labels := make([]string, len(cams))
		for i, c := range cams {
			labels[i] = c.Label
		}
		camCheck.Detail = fmt.Sprintf("%d found: %s", len(cams), strings.Join(labels, ", "))
		// The mode the kiosk would capture in: compressed frames weaken
		// the pulse check, so say so (it still runs).
		if label, m, err := capture.ProbeCamera(capture.CameraOptions{}); err != nil {
			camCheck.Detail += "; mode unknown: " + err.Error()
		} else {
			camCheck.Detail += fmt.Sprintf("; %s captures %s (%s)", label, m, m.Why)
			if m.Compressed {
				camCheck.Detail += "; warning: compressed frames make the pulse check less reliable (a camera with YUYV at 640x480, 30 fps is better)"
			}
		}
	} else {
		camCheck.Detail = "no /dev/video* device"
		camCheck.Fix = "plug in a USB webcam, or run with --demo to use the generated video"
	}
	r.Checks = append(r.Checks, camCheck)

	r.Checks = append(r.Checks, tpmCheck())

	var bad []string
	for _, s := range checkModels(cfg.modelsDir) {
		if s.Status != "ok" {
			bad = append(bad, s.File+" "+s.Status)
		}
	}
	mc := check{Name: "models", OK: len(bad) == 0, Needed: true, Detail: "all pinned hashes match in " + cfg.modelsDir}
	if len(bad) > 0 {
		mc.Detail = strings.Join(bad, "; ") + " in " + cfg.modelsDir
		mc.Fix = "run 'kiosk models fetch' (or 'make setup'); 'kiosk models verify' shows each hash"
	}
	r.Checks = append(r.Checks, mc)

	dc := check{Name: "display", OK: display, Needed: mode == "ui"}
	if display {
		dc.Detail = "available (" + firstNonEmpty(e.getenv("WAYLAND_DISPLAY"), e.getenv("DISPLAY")) + ")"
	} else {
		dc.Detail = "none (no DISPLAY or WAYLAND_DISPLAY)"
		dc.Fix = "run headless with 'kiosk run --headless', or start the kiosk session (see build/rpi/README.md)"
	}
	r.Checks = append(r.Checks, dc)

	r.Checks = append(r.Checks, dataDirCheck(cfg.dataDir))
	r.Checks = append(r.Checks, check{Name: "opencv", OK: true, Needed: true, Detail: "OpenCV " + gocv.OpenCVVersion() + ", gocv " + gocv.Version()})
	r.Checks = append(r.Checks, ocrCheck(cfg.modelsDir))

	r.CanRun = true
	for _, c := range r.Checks {
		if c.Needed && !c.OK {
			r.CanRun = false
		}
	}
	return r
}

// hasDisplay reports whether a graphical session is reachable.
func hasDisplay(e *env) bool {
	if w := e.getenv("WAYLAND_DISPLAY"); w != "" {
		dir := e.getenv("XDG_RUNTIME_DIR")
		if filepath.IsAbs(w) {
			dir = ""
		}
		if _, err := os.Stat(filepath.Join(dir, w)); err == nil {
			return true
		}
	}
	d := e.getenv("DISPLAY")
	if d == "" {
		return false
	}
	// Local X displays ":N" have a socket; remote ones we trust.
	if strings.HasPrefix(d, ":") {
		n := strings.SplitN(d[1:], ".", 2)[0]
		_, err := os.Stat("/tmp/.X11-unix/X" + n)
		return err == nil
	}
	return true
}

// tpmCheck reports which TPM the kiosk would use. A software TPM works but
// is not secure, so it passes with a loud label rather than failing.
func tpmCheck() check {
	if st, err := os.Stat("/dev/tpmrm0"); err == nil && st.Mode()&os.ModeDevice != 0 {
		f, err := os.OpenFile("/dev/tpmrm0", os.O_RDWR, 0)
		if err != nil {
			return check{Name: "tpm", OK: false, Needed: false, Detail: "hardware TPM /dev/tpmrm0 present but not usable: " + err.Error(),
				Fix: "add the kiosk user to the tss group (the package does this), or run as the service user"}
		}
		f.Close()
		return check{Name: "tpm", OK: true, Needed: true, Detail: "hardware TPM 2.0 at /dev/tpmrm0"}
	}
	if p, err := exec.LookPath("swtpm"); err == nil {
		return check{Name: "tpm", OK: true, Needed: true, Detail: "software TPM: NOT SECURE (no /dev/tpmrm0; swtpm at " + p + " will be used, state in the data directory)"}
	}
	return check{Name: "tpm", OK: true, Needed: true, Detail: "software TPM: NOT SECURE (no /dev/tpmrm0 and no swtpm; the in-process simulator will be used)",
		Fix: "install swtpm (apt-get install swtpm) for a persistent software TPM, or fit a TPM 2.0 module"}
}

// ocrCheck starts the machine-readable zone reader as a check-in would: the
// pinned model's bytes checked, Tesseract initialised on them (it reads a
// blank line to load the model), then closed. It proves the Tesseract and
// Leptonica libraries load and work on this machine, and names the version.
func ocrCheck(modelsDir string) check {
	c := check{Name: "ocr", Needed: true}
	r, err := models.LoadMRZReader(modelsDir, models.MRZOptions{})
	if err != nil {
		c.Detail = fmt.Sprintf("Tesseract %s cannot start with %s: %v", models.OCRVersion(), models.MRZModel, err)
		c.Fix = "run 'kiosk models fetch' (or 'make setup'); 'kiosk models verify' shows each hash"
		return c
	}
	if err := r.Close(); err != nil {
		c.Detail = fmt.Sprintf("Tesseract %s with %s: closing: %v", models.OCRVersion(), models.MRZModel, err)
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("Tesseract %s with %s", models.OCRVersion(), models.MRZModel)
	return c
}

// dataDirCheck creates the data directory if needed and checks it is
// private (0700) and has room.
func dataDirCheck(dir string) check {
	c := check{Name: "data-dir", Needed: true}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.Detail = fmt.Sprintf("%s cannot be created: %v", dir, err)
		c.Fix = "choose a writable --data-dir"
		return c
	}
	st, err := os.Stat(dir)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		c.Detail = fmt.Sprintf("%s has mode %04o; want 0700 so no other user can read sealed blobs", dir, perm)
		c.Fix = "chmod 700 " + dir
		return c
	}
	free, err := freeBytes(dir)
	if err != nil {
		c.OK = true
		c.Detail = fmt.Sprintf("%s (0700); free space unknown: %v", dir, err)
		return c
	}
	c.Detail = fmt.Sprintf("%s (0700), %.1f GiB free", dir, float64(free)/(1<<30))
	if free < minFreeBytes {
		c.Detail = fmt.Sprintf("%s has only %.0f MiB free; want at least %d MiB", dir, float64(free)/(1<<20), minFreeBytes>>20)
		c.Fix = "free space or move --data-dir"
		return c
	}
	c.OK = true
	return c
}
