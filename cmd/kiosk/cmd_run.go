package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"time"

	"kiosk/capture"
	"kiosk/models"
)

func init() {
	register(command{name: "run", summary: "run the kiosk: camera, check-in flow, touchscreen UI (or --headless), operator mode and the local API", run: runRun})
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
	light          float64
	skinTone       float64
	tremor         float64
	// screenLight lights the generated face with the kiosk's screen (the
	// screen-light challenge's colours), as a real face in front of it is.
	screenLight func(time.Time) (r, g, b float64, ok bool)
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
	fs.Float64Var(&s.light, "light", 0, "generated source: scene illumination, e.g. 0.45 for a dim room (default 1)")
	fs.Float64Var(&s.skinTone, "skin-tone", 0, "generated source: darken the face's skin, 0 (as photographed) to 1 (very dark), with a weaker pulse")
	fs.Float64Var(&s.tremor, "tremor", 0, "generated source: a hand's unsteadiness in pixels, as a print held up by hand (an attack clip)")
}

// open returns the chosen source, a label for logs, and whether it is a
// stand-in for a camera.
func (s *sourceFlags) open(log *slog.Logger) (capture.Source, string, bool, error) {
	kind, arg, _ := strings.Cut(s.spec, ":")
	switch kind {
	case "auto", "camera":
		cam, err := capture.OpenCamera(capture.CameraOptions{Device: arg, Width: s.width, Height: s.height, FPS: s.fps, Logger: log})
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
		FlickerHz: s.flickerHz, FlickerAmplitude: s.flickerAmp, Drift: s.drift, Noise: s.noise, Motion: s.motion, JPEGQuality: s.jpegQuality,
		Light: s.light, SkinTone: s.skinTone, Tremor: s.tremor,
		ScreenLight: s.screenLight}
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
