package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	_ "github.com/pion/mediadevices/pkg/driver/videotest" // a real driver that needs no device
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"kiosk/internal/mattest"
)

func TestMain(m *testing.M) { mattest.Main(m) }

func TestLatestDropsFramesForSlowConsumer(t *testing.T) {
	src := NewSynthetic(SyntheticOptions{Width: 64, Height: 48, Frames: 400, Noise: -1})
	l := NewLatest(src)
	defer l.Close()
	ctx := context.Background()
	var got []uint64
	for {
		f, err := l.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, f.Seq)
		f.Release()
		time.Sleep(2 * time.Millisecond) // a slow consumer; the producer must not wait for it
	}
	if len(got) == 0 {
		t.Fatal("no frames delivered")
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("sequence went backwards: %d after %d", got[i], got[i-1])
		}
	}
	if got[len(got)-1] != 400 {
		t.Errorf("last frame = %d; want the newest, 400", got[len(got)-1])
	}
	if d := l.Dropped(); d == 0 || int(d)+len(got) != 400 {
		t.Errorf("Dropped() = %d with %d delivered; want >0 and a sum of 400", d, len(got))
	}
}

func TestLatestCloseUnblocksRead(t *testing.T) {
	src := NewSynthetic(SyntheticOptions{Width: 32, Height: 32, FPS: 1, Pace: true})
	l := NewLatest(src)
	f, err := l.Read(context.Background()) // frame 1 comes at once
	if err != nil {
		t.Fatal(err)
	}
	f.Release()
	done := make(chan error, 1)
	go func() { _, err := l.Read(context.Background()); done <- err }()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close = %v; want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Read still blocked a minute after Close")
	}
}

func TestSyntheticTimestampsAndPulse(t *testing.T) {
	const fps, bpm = 30.0, 72.0
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := NewSynthetic(SyntheticOptions{Width: 160, Height: 120, FPS: fps, PulseBPM: bpm, PulseAmplitude: 0.02, Noise: -1, Motion: -1, Start: start, Frames: 300})
	defer src.Close()
	var greens []float64
	for i := 0; ; i++ {
		f, err := src.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := start.Add(time.Duration(float64(i) / fps * float64(time.Second)))
		if !f.Time.Equal(want) || f.Seq != uint64(i+1) {
			t.Fatalf("frame %d: Seq=%d Time=%v; want %d %v", i, f.Seq, f.Time, i+1, want)
		}
		// Mean green of the cheek area of the centred face.
		var sum float64
		for y := 60; y < 70; y++ {
			for x := 70; x < 90; x++ {
				sum += float64(f.Pix[(y*f.Width+x)*3+1])
			}
		}
		greens = append(greens, sum/200)
		f.Release()
	}
	if len(greens) != 300 {
		t.Fatalf("got %d frames; want 300", len(greens))
	}
	var mean float64
	for _, g := range greens {
		mean += g / float64(len(greens))
	}
	for i := range greens {
		greens[i] -= mean
	}
	// The strongest frequency in 0.7–4 Hz must be the pulse.
	best, bestP := 0.0, 0.0
	for hz := 0.7; hz <= 4; hz += 0.01 {
		var re, im float64
		for i, g := range greens {
			a := 2 * math.Pi * hz * float64(i) / fps
			re += g * math.Cos(a)
			im += g * math.Sin(a)
		}
		if p := re*re + im*im; p > bestP {
			best, bestP = hz, p
		}
	}
	if math.Abs(best*60-bpm) > 4 {
		t.Errorf("dominant skin frequency = %.1f bpm; want %.0f ± 4", best*60, bpm)
	}
}

// With flicker, the background carries the same periodic signal as the
// face: the clip a liveness check must reject.
func TestSyntheticFlickerLightsTheBackground(t *testing.T) {
	const fps, hz = 30.0, 1.5
	src := NewSynthetic(SyntheticOptions{Width: 160, Height: 120, FPS: fps, FlickerHz: hz, FlickerAmplitude: 0.03, Noise: -1, Motion: -1, Frames: 150})
	var bg []float64
	for {
		f, err := src.Read(context.Background())
		if err != nil {
			break
		}
		bg = append(bg, float64(f.Pix[(10*f.Width+5)*3+1]))
		f.Release()
	}
	lo, hi := 255.0, 0.0
	for _, v := range bg {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi-lo < 5 {
		t.Errorf("background swings %.0f grey levels under 3%% flicker; want ≥ 5", hi-lo)
	}
}

func TestFileSourceReadsWhatWasWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.avi")
	writeClip(t, path, 45, 15)

	f, err := OpenFile(path, FileOptions{Start: time.Unix(100, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if math.Abs(f.FPS()-15) > 0.01 {
		t.Errorf("FPS() = %v; want 15", f.FPS())
	}
	n := 0
	for {
		fr, err := f.Read(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := time.Unix(100, 0).Add(time.Duration(n) * time.Second / 15)
		if d := fr.Time.Sub(want); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("frame %d time = %v; want %v", n, fr.Time, want)
		}
		if fr.Width != 160 || fr.Height != 120 || len(fr.Pix) != 160*120*3 {
			t.Fatalf("frame %d is %dx%d (%d bytes); want 160x120", n, fr.Width, fr.Height, len(fr.Pix))
		}
		n++
		fr.Release()
	}
	if n != 45 {
		t.Errorf("read %d frames; want 45", n)
	}
}

func TestFileSourceLoops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.avi")
	writeClip(t, path, 10, 30)
	f, err := OpenFile(path, FileOptions{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last *Frame
	for i := 0; i < 25; i++ {
		fr, err := f.Read(context.Background())
		if err != nil {
			t.Fatalf("frame %d: %v; a looping file must not end", i, err)
		}
		if last != nil && !fr.Time.After(last.Time) {
			t.Fatalf("frame %d time %v not after %v", i, fr.Time, last.Time)
		}
		last.Release()
		last = fr
	}
	if last.Seq != 25 {
		t.Errorf("Seq after 25 reads = %d", last.Seq)
	}
	last.Release()
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.avi")
	os.WriteFile(garbage, []byte("this is not a video at all"), 0o600)
	for _, tc := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "nope.avi")},
		{"directory", dir},
		{"garbage", garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := OpenFile(tc.path, FileOptions{})
			if err == nil {
				f.Close()
				t.Fatalf("OpenFile(%q) = nil error; want one", tc.path)
			}
		})
	}
}

func TestCameraWithTestDriver(t *testing.T) {
	cams := ListCameras()
	found := false
	for _, c := range cams {
		found = found || c.Label == "VideoTest"
	}
	if !found {
		t.Fatalf("ListCameras() = %v; want the VideoTest driver", cams)
	}
	cam, err := OpenCamera(CameraOptions{Device: "VideoTest"})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := cam.Mode()
	w, h := m.Width, m.Height
	// The test driver offers YUYV 640×480 at 30 fps: uncompressed, taken.
	if m.Format != "YUYV" || m.Compressed || w != 640 || h != 480 || m.FPS != 30 {
		t.Errorf("Mode() = %+v; want uncompressed YUYV 640x480 at 30 fps", m)
	}
	var prev time.Time
	for i := 1; i <= 3; i++ {
		fr, err := cam.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fr.Seq != uint64(i) || fr.Width != w || fr.Height != h || !fr.Time.After(prev) {
			t.Fatalf("frame %d: seq %d %dx%d at %v", i, fr.Seq, fr.Width, fr.Height, fr.Time)
		}
		// The first colour bar is grey (Y=176, neutral chroma).
		if p := fr.Pix[:3]; absDiff(p[0], 176) > 2 || absDiff(p[1], 176) > 2 || absDiff(p[2], 176) > 2 {
			t.Errorf("top-left pixel = %v; want grey 176", p)
		}
		prev = fr.Time
		fr.Release()
	}
}

func TestOpenCameraNoMatch(t *testing.T) {
	_, err := OpenCamera(CameraOptions{Device: "no-such-camera-anywhere"})
	if !errors.Is(err, ErrNoCamera) {
		t.Fatalf("OpenCamera(no match) = %v; want ErrNoCamera", err)
	}
}

func TestImageToBGRMatchesStdlib(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444} {
		img := image.NewYCbCr(image.Rect(0, 0, 8, 6), ratio)
		for i := range img.Y {
			img.Y[i] = uint8(i * 37)
		}
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uint8(i*53), uint8(255-i*29)
		}
		dst := make([]byte, 8*6*3)
		ImageToBGR(dst, img)
		for y := 0; y < 6; y++ {
			for x := 0; x < 8; x++ {
				c := img.YCbCrAt(x, y)
				r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				i := (y*8 + x) * 3
				if absDiff(dst[i], b) > 1 || absDiff(dst[i+1], g) > 1 || absDiff(dst[i+2], r) > 1 {
					t.Fatalf("ratio %v (%d,%d): BGR %v; want %d %d %d", ratio, x, y, dst[i:i+3], b, g, r)
				}
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// writeClip records n synthetic frames into an MJPEG AVI.
func writeClip(t testing.TB, path string, n int, fps float64) {
	t.Helper()
	src := NewSynthetic(SyntheticOptions{Width: 160, Height: 120, FPS: fps, Frames: n})
	got, err := Record(context.Background(), src, path, CodecMJPEG, fps, 0)
	if err != nil || got != n {
		t.Fatalf("Record = %d, %v; want %d frames", got, err, n)
	}
}

// TestSyntheticScreenLight: a screen casting red light makes the face
// redder, and only while it shines; the background is not lit.
func TestSyntheticScreenLight(t *testing.T) {
	on := time.Unix(0, 0).Add(100 * time.Millisecond)
	light := func(at time.Time) (r, g, b float64, ok bool) { return 255, 40, 40, !at.Before(on) }
	src := NewSynthetic(SyntheticOptions{Width: 320, Height: 240, FPS: 10, Noise: -1, Motion: -1, Start: time.Unix(0, 0), ScreenLight: light})
	defer src.Close()
	redShare := func(f *Frame, x0, y0, x1, y1 int) float64 {
		var r, sum float64
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				i := (y*f.Width + x) * 3
				r += float64(f.Pix[i+2])
				sum += float64(f.Pix[i]) + float64(f.Pix[i+1]) + float64(f.Pix[i+2])
			}
		}
		return r / sum
	}
	dark, err := src.Read(context.Background()) // t = 0: the screen is off
	if err != nil {
		t.Fatal(err)
	}
	defer dark.Release()
	lit, err := src.Read(context.Background()) // t = 100 ms: red
	if err != nil {
		t.Fatal(err)
	}
	defer lit.Release()
	face := func(f *Frame) float64 { return redShare(f, 140, 100, 180, 140) }
	corner := func(f *Frame) float64 { return redShare(f, 0, 0, 20, 20) }
	if face(lit) <= face(dark)+0.005 {
		t.Errorf("face red share %.4f lit vs %.4f dark; want the red screen to show on the face", face(lit), face(dark))
	}
	if corner(lit) != corner(dark) {
		t.Errorf("background red share changed (%.4f vs %.4f); want only the face lit", corner(lit), corner(dark))
	}
}

// TestChooseModePrefersUncompressed: a raw YUV mode at the needed size and
// rate wins over MJPEG, even a closer MJPEG; MJPEG is taken, and said so,
// only when no raw mode has the pixels and the rate the pulse needs.
func TestChooseModePrefersUncompressed(t *testing.T) {
	mode := func(f frame.Format, w, h int, fps float32) prop.Media {
		return prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: fps, FrameFormat: f}}
	}
	webcam := []prop.Media{
		mode(frame.FormatMJPEG, 640, 480, 30), mode(frame.FormatMJPEG, 1280, 720, 30), mode(frame.FormatMJPEG, 1920, 1080, 30),
		mode(frame.FormatYUYV, 640, 480, 30), mode(frame.FormatYUYV, 1280, 720, 10), mode(frame.FormatYUYV, 320, 240, 30),
	}
	for _, tc := range []struct {
		name           string
		modes          []prop.Media
		o              CameraOptions
		want           string
		wantCompressed bool
	}{
		{"kiosk default", webcam, CameraOptions{}, "YUYV 640x480 at 30 fps", false},
		{"720p asked: YUYV is too slow", webcam, CameraOptions{Width: 1280, Height: 720}, "MJPEG 1280x720 at 30 fps", true},
		{"720p at 10 fps is enough", webcam, CameraOptions{Width: 1280, Height: 720, FPS: 10, MinFPS: 10}, "YUYV 1280x720 at 10 fps", false},
		{"MJPEG only", []prop.Media{mode(frame.FormatMJPEG, 640, 480, 30)}, CameraOptions{}, "MJPEG 640x480 at 30 fps", true},
		{"raw too small beats nothing raw", []prop.Media{mode(frame.FormatNV12, 320, 240, 30), mode(frame.FormatMJPEG, 320, 200, 5)}, CameraOptions{},
			"NV12 320x240 at 30 fps", false},
		{"no rate listed", []prop.Media{mode(frame.FormatYUYV, 640, 480, 0)}, CameraOptions{}, "YUYV 640x480 at 30 fps", false},
		{"a depth mode is never taken", []prop.Media{mode(frame.FormatZ16, 640, 480, 30), mode(frame.FormatMJPEG, 640, 480, 30)}, CameraOptions{},
			"MJPEG 640x480 at 30 fps", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, ok := ChooseMode(tc.modes, tc.o)
			if !ok || m.String() != tc.want || m.Compressed != tc.wantCompressed || m.Why == "" {
				t.Errorf("ChooseMode = %+v, %v; want %s (compressed %v) with a reason", m, ok, tc.want, tc.wantCompressed)
			}
		})
	}
	if _, _, ok := ChooseMode([]prop.Media{{}}, CameraOptions{}); ok {
		t.Error("ChooseMode(no usable mode) = ok; want not ok")
	}
	if _, m, ok := ChooseMode([]prop.Media{mode(frame.FormatZ16, 640, 480, 30)}, CameraOptions{}); ok {
		t.Errorf("ChooseMode(depth only) = %v; want not ok: a depth picture has no skin colour", m)
	}
}

// mjpegOnly is a camera driver that, like some cheap webcams, offers only
// MJPEG; it streams the mediadevices test driver's frames.
type mjpegOnly struct{ inner driver.Driver }

func (m *mjpegOnly) Open() error  { return m.inner.Open() }
func (m *mjpegOnly) Close() error { return m.inner.Close() }
func (m *mjpegOnly) Properties() []prop.Media {
	return []prop.Media{{Video: prop.Video{Width: 640, Height: 480, FrameRate: 30, FrameFormat: frame.FormatMJPEG}}}
}
func (m *mjpegOnly) VideoRecord(p prop.Media) (video.Reader, error) {
	p.FrameFormat = frame.FormatYUYV
	return m.inner.(driver.VideoRecorder).VideoRecord(p)
}

// TestCameraFallsBackToMJPEGWithAWarning: a camera with only MJPEG opens
// (the kiosk still runs), says it is compressed, and logs why.
func TestCameraFallsBackToMJPEGWithAWarning(t *testing.T) {
	var inner driver.Driver
	for _, d := range cameraDrivers() {
		if d.Info().Label == "VideoTest" {
			inner = d
		}
	}
	if inner == nil {
		t.Fatal("no VideoTest driver")
	}
	registerMJPEGOnce.Do(func() {
		driver.GetManager().Register(&mjpegOnly{inner: inner}, driver.Info{Label: "MJPEGOnlyTest", DeviceType: driver.Camera})
	})
	var logs bytes.Buffer
	cam, err := OpenCamera(CameraOptions{Device: "MJPEGOnlyTest", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	m := cam.Mode()
	fr, err := cam.Read(context.Background())
	cam.Close()
	if err != nil {
		t.Fatalf("reading the MJPEG-only camera: %v", err)
	}
	fr.Release()
	if !m.Compressed || m.Format != "MJPEG" {
		t.Errorf("Mode() = %+v; want MJPEG, compressed", m)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "compressed") {
		t.Errorf("log %q; want a warning about compressed frames", logs.String())
	}
	label, m, err := ProbeCamera(CameraOptions{Device: "MJPEGOnlyTest"})
	if err != nil || label != "MJPEGOnlyTest" || !m.Compressed {
		t.Errorf("ProbeCamera = %q, %+v, %v; want the MJPEG mode", label, m, err)
	}
}

var registerMJPEGOnce sync.Once

// TestReframe: a crop scaled up keeps the crop's content, a frame scaled
// down sits in the middle of its canvas with the padding around it, and
// times and sequence numbers pass through.
func TestReframe(t *testing.T) {
	// A 64×48 frame: left half dark (40), right half bright (200).
	src := func() Source {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				v := uint8(40)
				if x >= 32 {
					v = 200
				}
				img.Set(x, y, color.RGBA{v, v, v, 255})
			}
		}
		return &stillFrames{img: img, n: 2, start: time.Unix(100, 0)}
	}
	for _, tc := range []struct {
		name     string
		o        ReframeOptions
		size     image.Point
		at       image.Point // a pixel to check
		want     uint8
		wantSize error
	}{
		{"crop of the bright half, doubled", ReframeOptions{Crop: image.Rect(40, 10, 56, 30), Size: image.Pt(32, 40)}, image.Pt(32, 40), image.Pt(16, 20), 200, nil},
		{"half size on a canvas", ReframeOptions{Size: image.Pt(32, 24), Canvas: image.Pt(64, 48), Fill: 118}, image.Pt(64, 48), image.Pt(2, 2), 118, nil},
		{"half size, left half inside", ReframeOptions{Size: image.Pt(32, 24), Canvas: image.Pt(64, 48), Fill: 118}, image.Pt(64, 48), image.Pt(20, 24), 40, nil},
		{"double size on a smaller canvas: the middle kept, dark left", ReframeOptions{Size: image.Pt(128, 96), Canvas: image.Pt(64, 48), Fill: 118}, image.Pt(64, 48), image.Pt(20, 24), 40, nil},
		{"double size on a smaller canvas, bright right", ReframeOptions{Size: image.Pt(128, 96), Canvas: image.Pt(64, 48), Fill: 118}, image.Pt(64, 48), image.Pt(44, 24), 200, nil},
		{"crop outside the frame", ReframeOptions{Crop: image.Rect(100, 100, 120, 120)}, image.Point{}, image.Point{}, 0, errors.New("leaves nothing")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reframe(src(), tc.o)
			defer r.Close()
			fr, err := r.Read(context.Background())
			if tc.wantSize != nil {
				if err == nil || !strings.Contains(err.Error(), "leaves nothing") {
					t.Fatalf("Read = %v; want an error saying the crop leaves nothing", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Release()
			if fr.Width != tc.size.X || fr.Height != tc.size.Y || fr.Seq != 1 || !fr.Time.Equal(time.Unix(100, 0)) {
				t.Fatalf("frame %dx%d seq %d at %v; want %v, seq 1 at the source's time", fr.Width, fr.Height, fr.Seq, fr.Time, tc.size)
			}
			if got := fr.Pix[(tc.at.Y*fr.Width+tc.at.X)*3]; absDiff(got, tc.want) > 2 {
				t.Errorf("pixel %v = %d; want %d", tc.at, got, tc.want)
			}
		})
	}
}

// stillFrames yields n copies of an image, 1/30 s apart.
type stillFrames struct {
	img   image.Image
	n     int
	seq   uint64
	start time.Time
}

func (s *stillFrames) Read(ctx context.Context) (*Frame, error) {
	if int(s.seq) >= s.n {
		return nil, io.EOF
	}
	s.seq++
	b := s.img.Bounds()
	fr := &Frame{Seq: s.seq, Time: s.start.Add(time.Duration(s.seq-1) * time.Second / 30), Width: b.Dx(), Height: b.Dy(), Pix: make([]byte, b.Dx()*b.Dy()*3)}
	ImageToBGR(fr.Pix, s.img)
	return fr, nil
}

func (s *stillFrames) Close() error { return nil }
