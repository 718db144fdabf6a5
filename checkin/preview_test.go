package checkin

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/models"
)

func loadDetector(t *testing.T) *models.Detector {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(filepath.Dir(file), "..", "..", "shared", "models")} {
		if d == "" {
			continue
		}
		if det, err := models.LoadDetector(d, models.DetectorOptions{}); err == nil {
			t.Cleanup(func() { det.Close() })
			return det
		}
	}
	t.Fatal("no verified face detector model: run make setup")
	return nil
}

func TestRunPreviewFindsAndAnnotatesTheFace(t *testing.T) {
	det := loadDetector(t)
	src := capture.NewSynthetic(capture.SyntheticOptions{Frames: 20, Seed: 3})
	n, withFace := 0, 0
	st, err := RunPreview(context.Background(), src, det, PreviewOptions{}, func(pf PreviewFrame) {
		defer pf.Frame.Release()
		n++
		if len(pf.Faces) != 1 {
			return
		}
		withFace++
		// The box outline must be drawn in pure green on the frame itself.
		r := pf.Faces[0].Rect()
		i := (r.Min.Y*pf.Frame.Width + (r.Min.X+r.Max.X)/2) * 3
		if p := pf.Frame.Pix[i : i+3]; p[0] != 0 || p[1] != 255 || p[2] != 0 {
			t.Errorf("frame %d: box edge pixel = %v; want green", pf.Frame.Seq, p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 || st.Frames != 20 || !st.Finished {
		t.Errorf("sink saw %d frames, stats %+v; want 20 and finished", n, st)
	}
	if withFace < 19 {
		t.Errorf("one face in %d of 20 frames; want ≥ 19", withFace)
	}
}

// clockedDetector takes a fixed time per frame on a fake clock, so the
// loop's frame-rate arithmetic can be checked exactly.
type clockedDetector struct {
	now  *time.Time
	cost time.Duration
	fail uint64 // fail on this call number
	n    uint64
}

func (d *clockedDetector) Detect(models.Image) ([]models.Face, error) {
	d.n++
	if d.n == d.fail {
		return nil, errors.New("inference failed")
	}
	*d.now = d.now.Add(d.cost)
	return nil, nil
}

func TestRunPreviewMeasuresFPSOnTheInjectedClock(t *testing.T) {
	now := time.Unix(1000, 0)
	det := &clockedDetector{now: &now, cost: 40 * time.Millisecond} // 25 fps
	src := capture.NewSynthetic(capture.SyntheticOptions{Width: 32, Height: 32, Frames: 100})
	var last PreviewStats
	st, err := RunPreview(context.Background(), src, det, PreviewOptions{Now: func() time.Time { return now }}, func(pf PreviewFrame) {
		pf.Frame.Release()
		last = pf.Stats
	})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(last.FPS-25) > 0.01 {
		t.Errorf("FPS = %.3f; want 25", last.FPS)
	}
	if last.Detect != 40*time.Millisecond || st.Elapsed != 4*time.Second {
		t.Errorf("Detect = %v, Elapsed = %v; want 40ms, 4s", last.Detect, st.Elapsed)
	}
}

func TestRunPreviewStopsOnDetectorError(t *testing.T) {
	now := time.Unix(0, 0)
	det := &clockedDetector{now: &now, fail: 3}
	src := capture.NewSynthetic(capture.SyntheticOptions{Width: 32, Height: 32, Frames: 10})
	n := 0
	_, err := RunPreview(context.Background(), src, det, PreviewOptions{}, func(pf PreviewFrame) { pf.Frame.Release(); n++ })
	if err == nil || n != 2 {
		t.Fatalf("RunPreview with failing detector: err=%v after %d frames; want an error after 2", err, n)
	}
}

func TestRunPreviewStopsOnCancel(t *testing.T) {
	det := &clockedDetector{now: new(time.Time)}
	src := capture.NewSynthetic(capture.SyntheticOptions{Width: 32, Height: 32})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := RunPreview(ctx, src, det, PreviewOptions{}, func(pf PreviewFrame) {
		pf.Frame.Release()
		if n++; n == 5 {
			cancel()
		}
	})
	if err != nil || n != 5 {
		t.Fatalf("cancelled preview: err=%v, %d frames; want nil after 5", err, n)
	}
}
