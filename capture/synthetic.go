package capture

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	xdraw "golang.org/x/image/draw"
)

// SyntheticOptions configures NewSynthetic. The zero value gives a 640×480,
// 30 fps clip of a procedurally drawn face drifting slowly, with mild sensor
// noise and no pulse, delivered as fast as it renders.
type SyntheticOptions struct {
	Width, Height int     // default 640×480
	FPS           float64 // nominal frame rate; default 30
	// Face is a real face photo to composite; nil draws a simple face.
	Face image.Image
	// FaceHeight is the face's height as a fraction of the frame; default 0.55.
	FaceHeight float64
	// Motion is the amplitude of the head's drift in pixels; default 12.
	// Negative means none.
	Motion float64
	// PulseBPM, when > 0, modulates skin pixels with a PPG-like waveform at
	// this rate (with a few percent of heart-rate variability), so the clip
	// carries a known pulse.
	PulseBPM float64
	// PulseAmplitude is the peak relative change of skin brightness in the
	// green channel; default 0.01 (real skin shows roughly 0.2–2 %).
	PulseAmplitude float64
	// Noise is the standard deviation of additive sensor noise in grey
	// levels; default 1.5. Negative means none.
	Noise float64
	// FlickerHz and FlickerAmplitude modulate the brightness of the whole
	// frame, face and background alike, as mains lighting or a screen's
	// refresh does: the look-alike a liveness check must reject.
	FlickerHz, FlickerAmplitude float64
	// Drift is the amplitude of a slow (20 s period) relative change of the
	// whole scene's illumination, as clouds or an auto-exposure loop cause.
	Drift float64
	// Light scales the whole scene's illumination before sensor noise is
	// added: 0.4 is a dim room (the face's mean grey falls to about 55,
	// just above the quality gate's 50), where the same sensor noise
	// weighs more against the pulse. 0 means 1.
	Light float64
	// SkinTone darkens the face's skin, 0 (the photo as it is) to 1 (very
	// dark skin, Fitzpatrick type VI): skin pixels keep 45 % of their red,
	// 35 % of their green and 32 % of their blue at 1 (melanin absorbs
	// short wavelengths most), and the pulse's relative amplitude drops to
	// 60 %, since melanin absorbs light before it reaches the blood; both
	// scale linearly in between. A modelling assumption for tests, not a
	// measurement: real dark-skinned faces are the evaluation that counts.
	SkinTone float64
	// Tremor moves the face as a hand holding a print does: an unsteady
	// sum of 1.3, 2.9 and 4.7 Hz wobbles of this many pixels, with the
	// print's brightness following its tilt (TremorLight). Meant for
	// attack clips (a photo held up by hand), so it lies in the pulse band.
	Tremor float64
	// TremorLight is the print's relative brightness change at the
	// tremor's full amplitude, as it tilts towards and away from the light;
	// default 0.03 when Tremor is set.
	TremorLight float64
	// JPEGQuality, when 1–100, passes every frame through JPEG at that
	// quality, as an MJPEG webcam does (80–95 is typical). 0 means none.
	JPEGQuality int
	// ScreenLight, when set, is the light the kiosk's screen casts on the
	// face at a frame's capture time (0–255 per channel; ok false when the
	// screen casts none): each face pixel's channels gain ScreenReflect ×
	// colour/255, as skin reflects a coloured screen a few tens of
	// centimetres away. The screen-light challenge is tested with it.
	ScreenLight func(time.Time) (r, g, b float64, ok bool)
	// ScreenReflect is how strongly the face reflects ScreenLight; default 0.08.
	ScreenReflect float64
	// Frames stops the source with io.EOF after this many frames; 0 = never.
	Frames int
	// Pace delivers frames in real time at FPS, like a camera.
	Pace bool
	// Start is the timestamp of frame 1; zero means now.
	Start time.Time
	// Seed makes noise repeatable.
	Seed uint64
}

// Synthetic renders frames in pure Go. Its timestamps are nominal
// (Start + seq/FPS), so tests get exact timing without sleeping.
// Read is for one goroutine; Close may be called from any goroutine.
type Synthetic struct {
	o      SyntheticOptions
	bg     []byte  // BGR background
	face   []byte  // BGR face patch, fw×fh
	alpha  []uint8 // face blend mask, 0–255
	skin   []bool  // pixels the pulse modulates
	fw, fh int
	rng    *rand.Rand
	pool   bufPool
	mu     sync.Mutex
	seq    uint64
	phase  float64
	beats  float64 // heartbeats since the first frame (the unwrapped phase)
	// tremorPhase are the random phases of Tremor's wobbles.
	tremorPhase [3]float64
	closed      bool
	start       time.Time
	wall        time.Time
}

// NewSynthetic prepares the background and the face patch once; per-frame
// work is compositing, pulse and noise.
func NewSynthetic(o SyntheticOptions) *Synthetic {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 640, 480
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	if o.FaceHeight <= 0 {
		o.FaceHeight = 0.55
	}
	if o.Motion == 0 {
		o.Motion = 12
	}
	if o.PulseAmplitude == 0 {
		o.PulseAmplitude = 0.01
	}
	if o.Noise == 0 {
		o.Noise = 1.5
	}
	if o.Light <= 0 {
		o.Light = 1
	}
	o.SkinTone = math.Max(0, math.Min(1, o.SkinTone))
	if o.Tremor > 0 && o.TremorLight == 0 {
		o.TremorLight = 0.03
	}
	s := &Synthetic{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6b696f736b))}
	// The tremor's phases come from a generator of their own, so clips
	// without tremor keep the noise they always had.
	tr := rand.New(rand.NewPCG(o.Seed, 0x7472656d6f72))
	for k := range s.tremorPhase {
		s.tremorPhase[k] = 2 * math.Pi * tr.Float64()
	}
	s.start = o.Start
	if s.start.IsZero() {
		s.start = time.Now()
	}
	s.wall = time.Now()
	s.bg = renderBackground(o.Width, o.Height)
	face := o.Face
	if face == nil {
		face = DrawFace(400, 500)
	}
	s.prepareFace(face)
	return s
}

// FPS is the nominal frame rate.
func (s *Synthetic) FPS() float64 { return s.o.FPS }

func renderBackground(w, h int) []byte {
	b := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			// A soft wall-like gradient with a darker floor band.
			v := 150 + 40*float64(x)/float64(w) - 30*float64(y)/float64(h)
			b[i], b[i+1], b[i+2] = clamp8(v+10), clamp8(v), clamp8(v-12)
		}
	}
	return b
}

func (s *Synthetic) prepareFace(img image.Image) {
	fh := int(float64(s.o.Height) * s.o.FaceHeight)
	sb := img.Bounds()
	fw := fh * sb.Dx() / max(sb.Dy(), 1)
	if fw > s.o.Width*9/10 {
		fw = s.o.Width * 9 / 10
		fh = fw * sb.Dy() / max(sb.Dx(), 1)
	}
	fw, fh = max(fw, 8), max(fh, 8)
	dst := image.NewRGBA(image.Rect(0, 0, fw, fh))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, sb, xdraw.Src, nil)
	s.fw, s.fh = fw, fh
	s.face = make([]byte, fw*fh*3)
	s.alpha = make([]uint8, fw*fh)
	s.skin = make([]bool, fw*fh)
	for y := 0; y < fh; y++ {
		for x := 0; x < fw; x++ {
			i := y*fw + x
			r, g, b := dst.Pix[i*4], dst.Pix[i*4+1], dst.Pix[i*4+2]
			skin := isSkin(r, g, b)
			if t := s.o.SkinTone; t > 0 && skin {
				r = clamp8(float64(r) * (1 - 0.55*t))
				g = clamp8(float64(g) * (1 - 0.65*t))
				b = clamp8(float64(b) * (1 - 0.68*t))
			}
			s.face[i*3], s.face[i*3+1], s.face[i*3+2] = b, g, r
			// Feathered ellipse so the photo's own background blends away.
			dx := (float64(x) - float64(fw)/2) / (float64(fw) / 2)
			dy := (float64(y) - float64(fh)/2) / (float64(fh) / 2)
			d := math.Sqrt(dx*dx + dy*dy)
			a := 1.0
			if d > 0.92 {
				a = math.Max(0, 1-(d-0.92)/0.08)
			}
			s.alpha[i] = uint8(a * 255)
			s.skin[i] = a > 0.99 && skin
		}
	}
}

// isSkin is the classic YCbCr box rule, with grey skin accepted for
// greyscale photos; good enough to keep the pulse off hair and background.
func isSkin(r, g, b uint8) bool {
	R, G, B := float64(r), float64(g), float64(b)
	y := 0.299*R + 0.587*G + 0.114*B
	cb := 128 - 0.168736*R - 0.331264*G + 0.5*B
	cr := 128 + 0.5*R - 0.418688*G - 0.081312*B
	if r == g && g == b {
		return y > 60 && y < 235
	}
	return y > 40 && cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173
}

// ppg is a PPG-like pulse shape over one beat (phase in [0,1)): a systolic
// peak and a smaller diastolic wave, zero-mean over the beat.
func ppg(phase float64) float64 {
	g := func(mu, sd float64) float64 { d := (phase - mu) / sd; return math.Exp(-d * d) }
	return g(0.22, 0.09) + 0.45*g(0.5, 0.12) - 0.276
}

// Read renders the next frame.
func (s *Synthetic) Read(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.o.Frames > 0 && s.seq >= uint64(s.o.Frames) {
		return nil, io.EOF
	}
	t := float64(s.seq) / s.o.FPS
	if s.o.Pace {
		at := s.wall.Add(time.Duration(t * float64(time.Second)))
		if wait := time.Until(at); wait > 0 {
			tm := time.NewTimer(wait)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
				return nil, ctx.Err()
			}
		}
	}
	s.seq++
	fr := s.pool.newFrame(s.seq, s.start.Add(time.Duration(t*float64(time.Second))), s.o.Width, s.o.Height)
	copy(fr.Pix, s.bg)

	var pulse float64
	if s.o.PulseBPM > 0 {
		bpm := s.o.PulseBPM * (1 + 0.03*math.Sin(2*math.Pi*0.1*t))
		s.phase += bpm / 60 / s.o.FPS
		s.beats += bpm / 60 / s.o.FPS
		s.phase -= math.Floor(s.phase)
		pulse = ppg(s.phase) * s.o.PulseAmplitude * (1 - 0.4*s.o.SkinTone)
	}
	// Per-channel pulse gains (B, G, R): haemoglobin absorbs green most.
	gain := [3]float64{1 + 0.69*pulse, 1 + pulse, 1 + 0.43*pulse}
	// The screen's light on the face (all of it, skin or not).
	lit := [3]float64{1, 1, 1}
	if s.o.ScreenLight != nil {
		if r, g, b, ok := s.o.ScreenLight(fr.Time); ok {
			k := s.o.ScreenReflect
			if k <= 0 {
				k = 0.08
			}
			lit = [3]float64{1 + k*b/255, 1 + k*g/255, 1 + k*r/255}
		}
	}

	// Sub-pixel head position: a real head moves continuously, and
	// whole-pixel jumps would add steps no camera records.
	ox := float64(s.o.Width-s.fw)/2 + math.Max(s.o.Motion, 0)*math.Sin(2*math.Pi*0.13*t)
	oy := float64(s.o.Height-s.fh)/2 + math.Max(s.o.Motion, 0)*0.6*math.Sin(2*math.Pi*0.21*t+1)
	if s.o.Tremor > 0 {
		// A hand's unsteadiness: incommensurate wobbles, so it never
		// repeats within a clip, with the print tilting as it moves.
		var wx, wy float64
		for k, f := range [3]float64{1.3, 2.9, 4.7} {
			wx += math.Sin(2*math.Pi*f*t+s.tremorPhase[k]) / 3
			wy += math.Sin(2*math.Pi*f*1.07*t+s.tremorPhase[k]+2) / 3
		}
		ox += s.o.Tremor * wx
		oy += s.o.Tremor * wy
		tilt := 1 + s.o.TremorLight*wx
		for c := range lit {
			lit[c] *= tilt
		}
	}
	ix, iy := int(math.Floor(ox)), int(math.Floor(oy))
	fx, fy := ox-float64(ix), oy-float64(iy)
	w := [4]float64{(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}
	for y := 0; y <= s.fh; y++ {
		Y := iy + y
		if Y < 0 || Y >= s.o.Height {
			continue
		}
		for x := 0; x <= s.fw; x++ {
			X := ix + x
			if X < 0 || X >= s.o.Width {
				continue
			}
			// Bilinear gather of the four face pixels that land here.
			var acc [3]float64
			var alpha float64
			for k, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				sx, sy := x-d[0], y-d[1]
				if sx < 0 || sy < 0 || sx >= s.fw || sy >= s.fh || w[k] == 0 {
					continue
				}
				i := sy*s.fw + sx
				a := float64(s.alpha[i]) / 255 * w[k]
				if a == 0 {
					continue
				}
				alpha += a
				for c := 0; c < 3; c++ {
					v := float64(s.face[i*3+c]) * lit[c]
					if s.skin[i] {
						v *= gain[c]
					}
					acc[c] += a * v
				}
			}
			if alpha == 0 {
				continue
			}
			d := (Y*s.o.Width + X) * 3
			for c := 0; c < 3; c++ {
				fr.Pix[d+c] = clamp8(acc[c] + (1-alpha)*float64(fr.Pix[d+c]))
			}
		}
	}
	light := s.o.Light
	if s.o.FlickerAmplitude > 0 && s.o.FlickerHz > 0 {
		light += s.o.FlickerAmplitude * math.Sin(2*math.Pi*s.o.FlickerHz*t)
	}
	if s.o.Drift > 0 {
		light += s.o.Drift * math.Sin(2*math.Pi*t/20)
	}
	if s.o.Noise > 0 || light != 1 {
		noise := max(s.o.Noise, 0)
		for i := range fr.Pix {
			fr.Pix[i] = clamp8(float64(fr.Pix[i])*light + s.rng.NormFloat64()*noise)
		}
	}
	if q := s.o.JPEGQuality; q > 0 && q <= 100 {
		if err := jpegRoundTrip(fr, q); err != nil {
			fr.Release()
			return nil, err
		}
	}
	return fr, nil
}

// Beats is how many heartbeats the pulse has gone through by the last
// frame read (its phase, unwrapped): the exact truth of the clip's heart
// rate between two frames is 60 × the beats between them over the time.
func (s *Synthetic) Beats() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats
}

// PulseWave is the pulse's shape at a phase in beats (any real number;
// only the fraction counts): the waveform Pulse samples.
func PulseWave(beats float64) float64 { return ppg(beats - math.Floor(beats)) }

// Close stops the source.
func (s *Synthetic) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// jpegRoundTrip compresses and decompresses the frame in place.
func jpegRoundTrip(fr *Frame, quality int) error {
	img := fr.RGBA(nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return err
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		return err
	}
	ImageToBGR(fr.Pix, dec)
	return nil
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// DrawFace draws a simple, shaded frontal face on a plain background, for
// demos on machines without a camera or a face photo. Real-photo clips are
// better for anything that measures accuracy.
func DrawFace(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	skin := [3]float64{224, 172, 138}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			X, Y := float64(x)/fw, float64(y)/fh
			c := [3]float64{70, 62, 58} // hair and background
			// Face oval with side shading.
			if e := sq((X-0.5)/0.36) + sq((Y-0.55)/0.42); e < 1 {
				shade := 1 - 0.25*sq((X-0.5)/0.36) - 0.1*(Y-0.55)
				c = [3]float64{skin[0] * shade, skin[1] * shade, skin[2] * shade}
			}
			// Hairline.
			if sq((X-0.5)/0.4)+sq((Y-0.2)/0.2) < 1 && Y < 0.26 {
				c = [3]float64{52, 40, 34}
			}
			for _, ex := range []float64{0.36, 0.64} {
				// Brows.
				if sq((X-ex)/0.09)+sq((Y-0.4)/0.018) < 1 {
					c = [3]float64{60, 45, 38}
				}
				// Eye white, iris, pupil.
				if d := sq((X-ex)/0.075) + sq((Y-0.47)/0.032); d < 1 {
					c = [3]float64{235, 235, 230}
					if sq((X-ex)/0.028)+sq((Y-0.47)/0.03) < 1 {
						c = [3]float64{70, 50, 35}
					}
					if sq((X-ex)/0.012)+sq((Y-0.47)/0.013) < 1 {
						c = [3]float64{15, 10, 10}
					}
				}
			}
			// Nose shadow and nostrils.
			if math.Abs(X-0.53) < 0.012 && Y > 0.5 && Y < 0.64 {
				c = mul(c, 0.8)
			}
			for _, nx := range []float64{0.46, 0.54} {
				if sq((X-nx)/0.022)+sq((Y-0.655)/0.012) < 1 {
					c = [3]float64{110, 70, 60}
				}
			}
			// Lips.
			if sq((X-0.5)/0.11)+sq((Y-0.76)/0.028) < 1 {
				c = [3]float64{170, 80, 80}
			}
			img.SetRGBA(x, y, color.RGBA{clamp8(c[0]), clamp8(c[1]), clamp8(c[2]), 255})
		}
	}
	return img
}

func sq(v float64) float64 { return v * v }

func mul(c [3]float64, k float64) [3]float64 { return [3]float64{c[0] * k, c[1] * k, c[2] * k} }
