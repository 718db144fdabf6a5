package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfCommand runs this test binary as the kiosk.
func selfCommand(t testing.TB, vars map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KIOSK_AS_MAIN=1", "LANG=en_US.UTF-8", "XDG_CONFIG_HOME="+t.TempDir())
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func TestRunHeadlessDemo(t *testing.T) {
	vars := baseVars(t)
	vars["DISPLAY"] = ""
	vars["WAYLAND_DISPLAY"] = ""
	cmd := selfCommand(t, vars, "run", "--demo", "--duration", "3s", "--stats-interval", "500ms")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kiosk run --demo: %v\n%s", err, errb.String())
	}
	m := regexp.MustCompile(`processed (\d+) frames`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary line in %q", out.String())
	}
	if n, _ := strconv.Atoi(m[1]); n < 30 {
		t.Errorf("processed %d frames in 3 s of a 30 fps demo; want ≥ 30", n)
	}
	logs := errb.String()
	for _, want := range []string{"Software TPM: not secure", "generated demo video", "msg=preview", "faces=1"} {
		if !strings.Contains(logs, want) {
			t.Errorf("headless log lacks %q:\n%s", want, logs)
		}
	}
}

func TestRunFileSourceProcessesEveryFrame(t *testing.T) {
	vars := baseVars(t)
	clip := filepath.Join(t.TempDir(), "clip.avi")
	if _, errs, code := kiosk(t, vars, "gen-clip", "--out", clip, "--seconds", "2", "--fps", "15", "--width", "320", "--height", "240"); code != exitOK {
		t.Fatalf("gen-clip exit %d: %s", code, errs)
	}
	// Unpaced and unlooped, a 30-frame file ends after its last frame, and
	// every frame is processed: nothing is dropped when nothing is live.
	out, errs, code := kiosk(t, vars, "run", "--headless", "--source", "file:"+clip, "--pace=false")
	if code != exitOK {
		t.Fatalf("run on file: exit %d: %s", code, errs)
	}
	var frames, dropped, faces int
	if _, err := fmt.Sscanf(out[strings.Index(out, "processed"):], "processed %d frames", &frames); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	fmt.Sscanf(out[strings.Index(out, "sustained, ")+len("sustained, "):], "%d dropped, %d face(s)", &dropped, &faces)
	if frames != 30 || dropped != 0 || faces != 1 {
		t.Errorf("file run: %d processed, %d dropped, %d faces; want 30, 0, 1\n%s", frames, dropped, faces, out)
	}
}

// TestUIPreviewUnderXvfb runs the real kiosk window on a virtual X server,
// screenshots the screen, and checks the preview shows a face box.
func TestUIPreviewUnderXvfb(t *testing.T) {
	xvfb, err1 := exec.LookPath("Xvfb")
	imp, err2 := exec.LookPath("import")
	if err1 != nil || err2 != nil {
		if os.Getenv("KIOSK_REQUIRE_XVFB") == "1" {
			t.Fatalf("Xvfb or ImageMagick import missing (%v, %v); run make setup", err1, err2)
		}
		t.Skip("Xvfb or ImageMagick import not installed")
	}
	display := startXvfb(t, xvfb)

	vars := baseVars(t)
	vars["DISPLAY"] = display
	vars["LIBGL_ALWAYS_SOFTWARE"] = "1"
	cmd := selfCommand(t, vars, "run", "--demo", "--duration", "60s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	shot := filepath.Join(t.TempDir(), "screen.png")
	var box image.Rectangle
	var n int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if err := exec.Command(imp, "-display", display, "-window", "root", shot).Run(); err != nil {
			continue
		}
		if box, n = findGreenBox(t, shot); n > 0 {
			break
		}
	}
	if n == 0 {
		t.Fatalf("no face box on screen after 30 s; screenshot at %s\nkiosk log:\n%s", shot, errb.String())
	}
	if box.Dx() < 60 || box.Dy() < 60 || box.Dx() > 600 || box.Dy() > 600 {
		t.Errorf("face box %v (%d green pixels) is not face-sized", box, n)
	}
	if !strings.Contains(errb.String(), "faces=1") {
		t.Errorf("kiosk log does not report one face:\n%s", errb.String())
	}

	// A SIGTERM stops the frame loop, closes the window and exits 0.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("kiosk exit after SIGTERM: %v\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kiosk did not exit within 10 s of SIGTERM")
	}
	if !strings.Contains(errb.String(), "window closed") {
		t.Errorf("no orderly shutdown in log:\n%s", errb.String())
	}

	// --duration closes the window by itself, also exiting 0.
	timed := selfCommand(t, vars, "run", "--demo", "--duration", "2s")
	if out, err := timed.CombinedOutput(); err != nil {
		t.Errorf("kiosk run --duration 2s under Xvfb: %v\n%s", err, out)
	}
}

// startXvfb starts a private X server and returns its display name.
func startXvfb(t *testing.T, bin string) string {
	t.Helper()
	for n := 90; n < 140; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		d := fmt.Sprintf(":%d", n)
		x := exec.Command(bin, d, "-screen", "0", "1024x768x24", "-nolisten", "tcp")
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Process.Kill(); x.Wait() })
		for i := 0; i < 50; i++ {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				return d
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("Xvfb %s did not come up", d)
	}
	t.Fatal("no free X display number")
	return ""
}

// findGreenBox returns the bounds of the pure-green pixels the annotator
// draws, and how many there are.
func findGreenBox(t *testing.T, path string) (image.Rectangle, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return image.Rectangle{}, 0
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return image.Rectangle{}, 0
	}
	var box image.Rectangle
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if g>>8 > 200 && r>>8 < 90 && bl>>8 < 90 {
				p := image.Rect(x, y, x+1, y+1)
				if n == 0 {
					box = p
				} else {
					box = box.Union(p)
				}
				n++
			}
		}
	}
	if n < 200 {
		return box, 0 // a few stray pixels are not a box
	}
	return box, n
}
