package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/models"
	"kiosk/ui"
)

func init() {
	register(command{name: "run", summary: "run the kiosk: live preview with face detection (UI, or --headless)", run: runRun})
	register(command{name: "gen-clip", summary: "write a generated face video (optionally with a known pulse) to an AVI file", run: runGenClip})
}

type sourceFlags struct {
	spec, face     string
	demo, pace     bool
	width, height  int
	fps            float64
	loop           bool
	bpm, amplitude float64
	jpegQuality    int
	flickerHz      float64
	flickerAmp     float64
	drift, noise   float64
	motion         float64
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.spec, "source", "auto", "frame source: auto, camera[:DEVICE], file:PATH, or synthetic")
	fs.BoolVar(&s.demo, "demo", false, "fall back to the generated demo video when there is no camera")
	fs.BoolVar(&s.pace, "pace", true, "deliver file and generated frames in real time (false: as fast as they decode)")
	fs.BoolVar(&s.loop, "loop", false, "restart a file source at its end")
	fs.StringVar(&s.face, "face", "", "face photo for the generated source (default: a drawn face)")
	fs.IntVar(&s.width, "width", 640, "capture width")
	fs.IntVar(&s.height, "height", 480, "capture height")
	fs.Float64Var(&s.fps, "fps", 30, "capture frame rate")
	fs.Float64Var(&s.bpm, "bpm", 0, "generated source: pulse rate carried by the skin (0 = none)")
	fs.Float64Var(&s.amplitude, "pulse-amplitude", 0, "generated source: relative pulse amplitude (default 0.01)")
	fs.IntVar(&s.jpegQuality, "jpeg-quality", 0, "generated source: JPEG each frame at this quality, as an MJPEG webcam does (0 = none)")
	fs.Float64Var(&s.flickerHz, "flicker-hz", 0, "generated source: whole-scene brightness flicker frequency")
	fs.Float64Var(&s.flickerAmp, "flicker-amplitude", 0, "generated source: relative flicker amplitude, e.g. 0.02")
	fs.Float64Var(&s.drift, "drift", 0, "generated source: relative slow illumination drift, e.g. 0.05")
	fs.Float64Var(&s.noise, "noise", 0, "generated source: sensor noise in grey levels (default 1.5; negative for none)")
	fs.Float64Var(&s.motion, "motion", 0, "generated source: head drift amplitude in pixels (default 12; negative for none)")
}

// open returns the chosen source, a label for logs, and whether it is a
// stand-in for a camera.
func (s *sourceFlags) open(log *slog.Logger) (capture.Source, string, bool, error) {
	kind, arg, _ := strings.Cut(s.spec, ":")
	switch kind {
	case "auto", "camera":
		cam, err := capture.OpenCamera(capture.CameraOptions{Device: arg, Width: s.width, Height: s.height, FPS: s.fps})
		if err == nil {
			return cam, "camera " + cam.Label(), false, nil
		}
		if kind == "auto" && s.demo && errors.Is(err, capture.ErrNoCamera) {
			log.Warn("no camera: using the generated demo video", "reason", err.Error())
			syn, err := s.synthetic()
			return syn, "generated demo video", true, err
		}
		if errors.Is(err, capture.ErrNoCamera) && !s.demo {
			err = fmt.Errorf("%w; add --demo to run on the generated video instead", err)
		}
		return nil, "", false, err
	case "file":
		if arg == "" {
			return nil, "", false, errors.New("--source file:PATH needs a path")
		}
		f, err := capture.OpenFile(arg, capture.FileOptions{Loop: s.loop, Pace: s.pace})
		return f, "video file " + arg, true, err
	case "synthetic":
		syn, err := s.synthetic()
		return syn, "generated video", true, err
	}
	return nil, "", false, fmt.Errorf("unknown --source %q: want auto, camera[:DEVICE], file:PATH or synthetic", s.spec)
}

func (s *sourceFlags) synthetic() (*capture.Synthetic, error) {
	o := capture.SyntheticOptions{Width: s.width, Height: s.height, FPS: s.fps, Pace: s.pace, PulseBPM: s.bpm, PulseAmplitude: s.amplitude,
		FlickerHz: s.flickerHz, FlickerAmplitude: s.flickerAmp, Drift: s.drift, Noise: s.noise, Motion: s.motion, JPEGQuality: s.jpegQuality}
	if s.face != "" {
		img, err := readImage(s.face)
		if err != nil {
			return nil, fmt.Errorf("--face %s: %w", s.face, err)
		}
		o.Face = bgrToRGBA(img)
	}
	return capture.NewSynthetic(o), nil
}

func bgrToRGBA(img models.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i < len(img.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = img.Pix[i+2], img.Pix[i+1], img.Pix[i], 0xff
	}
	return out
}

func runRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "run", "")
	cfg := addCommonFlags(fs, e)
	var sf sourceFlags
	sf.register(fs)
	headless := fs.Bool("headless", false, "no window: log the frame rate and face count (automatic when there is no display)")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted or the source ends)")
	every := fs.Duration("stats-interval", 5*time.Second, "headless: how often to log the frame rate")
	fullscreen := fs.Bool("fullscreen", false, "UI: fill the screen (kiosk mode)")
	inputSize := fs.Int("input-size", 320, "longest side frames are scaled to for face detection")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	det, err := models.LoadDetector(cfg.modelsDir, models.DetectorOptions{InputSize: *inputSize})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk run: %v\n", err)
		return exitFailure
	}
	defer det.Close()
	raw, label, standIn, err := sf.open(log)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk run: %v\n", err)
		return exitFailure
	}
	// Live sources (a camera, or a clip delivered in real time) go through
	// Latest so a slow detector drops frames instead of stalling capture;
	// an unpaced file is read at the loop's own speed and every frame counts.
	src := raw
	if !standIn || sf.pace {
		src = capture.NewLatest(raw)
	}
	defer src.Close()

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var warnings []string
	if t := tpmCheck(); strings.HasPrefix(t.Detail, "software TPM") {
		warnings = append(warnings, "Software TPM: not secure")
	}
	if standIn {
		warnings = append(warnings, "Demo: "+label+", not a camera")
	}
	log.Info("kiosk starting", "source", label, "version", version, "ui", !(*headless || !hasDisplay(e)))
	for _, w := range warnings {
		log.Warn(w)
	}

	var st checkin.PreviewStats
	if *headless || !hasDisplay(e) {
		st, err = runHeadless(ctx, src, det, log, *every)
	} else {
		st, err = runWindow(ctx, src, det, log, warnings, *fullscreen)
	}
	fps := 0.0
	if st.Elapsed > 0 {
		fps = float64(st.Frames) / st.Elapsed.Seconds()
	}
	fmt.Fprintf(e.stdout, "processed %d frames in %.1f s: %.1f fps sustained, %d dropped, %d face(s) in the last frame\n",
		st.Frames, st.Elapsed.Seconds(), fps, st.Dropped, st.Faces)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func runHeadless(ctx context.Context, src capture.Source, det checkin.Detector, log *slog.Logger, every time.Duration) (checkin.PreviewStats, error) {
	var next time.Time
	return checkin.RunPreview(ctx, src, det, checkin.PreviewOptions{}, func(pf checkin.PreviewFrame) {
		pf.Frame.Release()
		if now := time.Now(); now.After(next) {
			next = now.Add(every)
			s := pf.Stats
			log.Info("preview", "fps", fmt.Sprintf("%.1f", s.FPS), "faces", s.Faces, "frame_count", s.Frames,
				"dropped", s.Dropped, "detect_ms", fmt.Sprintf("%.1f", float64(s.Detect.Microseconds())/1000))
		}
	})
}

func runWindow(ctx context.Context, src capture.Source, det checkin.Detector, log *slog.Logger, warnings []string, fullscreen bool) (checkin.PreviewStats, error) {
	a := app.NewWithID("dev.kiosk.checkin")
	w := a.NewWindow("Check-in kiosk")
	p := ui.NewPreview(ui.PreviewOptions{Warnings: warnings})
	w.SetContent(p.Content())
	w.Resize(fyne.NewSize(800, 640))
	w.SetFullScreen(fullscreen)

	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	w.SetOnClosed(stop)
	var st checkin.PreviewStats
	var err error
	done := make(chan struct{})
	var next time.Time
	go func() {
		defer close(done)
		st, err = checkin.RunPreview(loopCtx, src, det, checkin.PreviewOptions{}, func(pf checkin.PreviewFrame) {
			if now := time.Now(); now.After(next) {
				next = now.Add(5 * time.Second)
				log.Info("preview", "fps", fmt.Sprintf("%.1f", pf.Stats.FPS), "faces", pf.Stats.Faces, "frame_count", pf.Stats.Frames, "dropped", pf.Stats.Dropped)
			}
			p.Update(pf)
		})
	}()
	// Fyne catches SIGINT and SIGTERM itself and quits the app; quitting it
	// a second time after GLFW has shut down panics. So the app is quit
	// here only for our own reasons (the duration ran out, the source
	// failed), never for a signal, and never once it has stopped.
	var stopped atomic.Bool
	a.Lifecycle().SetOnStopped(func() { stopped.Store(true) })
	shown := make(chan struct{})
	go func() {
		select {
		case <-shown:
			return
		case <-loopCtx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return // a signal or the window closing: Fyne is quitting
			}
		case <-done:
			if err == nil {
				return // a finished file leaves its last frame on screen
			}
		}
		// Stop the frame goroutine before quitting the app.
		stop()
		<-done
		fyne.Do(func() {
			if !stopped.Load() {
				a.Quit()
			}
		})
	}()
	w.ShowAndRun()
	close(shown)
	stop()
	<-done
	log.Info("window closed", "frames_shown", p.Shown())
	return st, err
}

func runGenClip(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "gen-clip", "")
	var sf sourceFlags
	sf.register(fs)
	out := fs.String("out", "", "output AVI file (required)")
	seconds := fs.Float64("seconds", 10, "clip length")
	codec := fs.String("codec", "lossless", "lossless (FFV1: the clip exactly as generated; add --jpeg-quality for camera compression) or mjpeg (small files, OpenCV's quality)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "kiosk gen-clip: --out FILE is required")
		return exitBadInput
	}
	sf.pace = false
	syn, err := sf.synthetic()
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-clip: %v\n", err)
		return exitBadInput
	}
	defer syn.Close()
	n := int(*seconds * sf.fps)
	fourcc := capture.CodecLossless
	switch *codec {
	case "lossless":
	case "mjpeg":
		fourcc = capture.CodecMJPEG
	default:
		fmt.Fprintf(e.stderr, "kiosk gen-clip: unknown --codec %q: want lossless or mjpeg\n", *codec)
		return exitBadInput
	}
	got, err := capture.Record(ctx, syn, *out, fourcc, sf.fps, n)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-clip: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "wrote %d frames (%.1f s at %.0f fps) to %s\n", got, float64(got)/sf.fps, sf.fps, *out)
	return exitOK
}
