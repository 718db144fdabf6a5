package capture

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"sync"
)

// DocumentClipOptions configures NewDocumentClip: a generated face clip
// with an identity document raised in front of the camera, held, and
// lowered again. Document is required; the rest has working defaults.
type DocumentClipOptions struct {
	// Scene is the generated face clip behind the card. Its Noise and
	// JPEGQuality are applied after the card is drawn, as a camera would.
	Scene SyntheticOptions
	// Document is the flat document, from RenderDocument.
	Document image.Image
	// Timing, in frames: the card rises into view from frame Start over
	// Enter frames, is held still for Hold frames, then lowered out of view
	// over Leave frames. Defaults 10, 12, 60 and 12. Negative Start means 0.
	Start, Enter, Hold, Leave int
	// Fill is the card's width as a fraction of the frame's while held;
	// default 0.6.
	Fill float64
	// Tilt is the card's tilt toward the camera in degrees; default 6.
	// Rotate turns it in the frame's plane; default 2.
	Tilt, Rotate float64
	// Tremor is the hand's unsteadiness while holding, in pixels;
	// default 1.2, negative for none.
	Tremor float64
	// Glare adds a lamp's reflection of this strength (0–1) on the card.
	Glare float64
	// Seed makes the tremor and glare repeatable.
	Seed uint64
}

func (o *DocumentClipOptions) defaults() {
	if o.Start == 0 {
		o.Start = 10
	}
	o.Start = max(o.Start, 0)
	if o.Enter <= 0 {
		o.Enter = 12
	}
	if o.Hold <= 0 {
		o.Hold = 60
	}
	if o.Leave <= 0 {
		o.Leave = 12
	}
	if o.Fill <= 0 {
		o.Fill = 0.6
	}
	if o.Tilt == 0 {
		o.Tilt = 6
	}
	if o.Rotate == 0 {
		o.Rotate = 2
	}
	if o.Tremor == 0 {
		o.Tremor = 1.2
	}
}

// DocumentClip is a Source: the generated face clip with a card held up
// in front of it. Timestamps are the scene's (nominal, no sleeping unless
// Scene.Pace). Read is for one goroutine; Close may be called from any.
type DocumentClip struct {
	o              DocumentClipOptions
	scene          *Synthetic
	doc            image.Image // scaled to about its size in the frame
	noise          float64
	jpeg           int
	mu             sync.Mutex
	rng            *rand.Rand
	glareX, glareY float64
}

// NewDocumentClip prepares the scene and the card once; each frame then
// warps the card into place.
func NewDocumentClip(o DocumentClipOptions) (*DocumentClip, error) {
	if o.Document == nil || o.Document.Bounds().Empty() {
		return nil, errors.New("document clip: no document image")
	}
	o.defaults()
	c := &DocumentClip{o: o, noise: o.Scene.Noise, jpeg: o.Scene.JPEGQuality}
	if c.noise == 0 {
		c.noise = 1.5
	}
	scene := o.Scene
	scene.Noise, scene.JPEGQuality = -1, 0
	c.scene = NewSynthetic(scene)
	c.rng = rand.New(rand.NewPCG(o.Seed, 0x636c6970))
	c.glareX, c.glareY = 0.3+0.4*c.rng.Float64(), 0.2+0.6*c.rng.Float64()
	w := c.scene.o.Width
	c.doc = prescale(o.Document, [4][2]float64{{0, 0}, {o.Fill * float64(w), 0}})
	return c, nil
}

// FPS is the scene's nominal frame rate.
func (c *DocumentClip) FPS() float64 { return c.scene.FPS() }

// Held reports whether the card is raised and still in frame seq (1-based,
// as Frame.Seq): the frames a reader should read it from.
func (c *DocumentClip) Held(seq uint64) bool {
	i := int(seq) - 1
	s := c.o.Start + c.o.Enter
	return i >= s && i < s+c.o.Hold
}

// raised is how far the card is up (0 out of view below the frame, 1
// held) at frame index i, and its speed in frame heights per frame.
func (c *DocumentClip) raised(i int) (pos, speed float64) {
	o := c.o
	ease := func(t float64) float64 { return t * t * (3 - 2*t) }
	switch t := i - o.Start; {
	case t < 0:
		return 0, 0
	case t < o.Enter:
		return ease(float64(t) / float64(o.Enter)), 1.5 / float64(o.Enter)
	case t < o.Enter+o.Hold:
		return 1, 0
	case t < o.Enter+o.Hold+o.Leave:
		return 1 - ease(float64(t-o.Enter-o.Hold)/float64(o.Leave)), 1.5 / float64(o.Leave)
	}
	return 0, 0
}

// Read renders the next frame: the scene, the card over it, then the
// camera's blur, noise and compression.
func (c *DocumentClip) Read(ctx context.Context) (*Frame, error) {
	f, err := c.scene.Read(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := int(f.Seq) - 1
	pos, speed := c.raised(i)
	if pos > 0 {
		t := float64(i) / c.scene.FPS()
		tr := math.Max(c.o.Tremor, 0)
		pose := docPose{
			Fill:    c.o.Fill,
			OffsetX: (tr * math.Sin(2*math.Pi*1.7*t)) / float64(f.Width),
			OffsetY: 0.12 + (1-pos)*0.8 + tr*math.Sin(2*math.Pi*2.3*t+1)/float64(f.Height),
			Rotate:  c.o.Rotate + 0.3*tr*math.Sin(2*math.Pi*0.9*t),
			TiltX:   c.o.Tilt,
		}
		b := c.doc.Bounds()
		quad := pose.quad(b.Dx(), b.Dy(), f.Width, f.Height)
		w := f.Width
		warpEach(image.Rect(0, 0, f.Width, f.Height), c.doc, quad, func(x, y int, s [4]float64, a float64) {
			d := (y*w + x) * 3
			f.Pix[d] = clamp8(s[2] + (1-a)*float64(f.Pix[d]))
			f.Pix[d+1] = clamp8(s[1] + (1-a)*float64(f.Pix[d+1]))
			f.Pix[d+2] = clamp8(s[0] + (1-a)*float64(f.Pix[d+2]))
		})
		if c.o.Glare > 0 {
			h := homography(rectCorners(b.Dx(), b.Dy()), quad)
			gx, gy := h.apply(c.glareX*float64(b.Dx()), c.glareY*float64(b.Dy()))
			glareBGR(f, gx, gy, 0.12*c.o.Fill*float64(f.Width), c.o.Glare)
		}
		if blur := speed * float64(f.Height) * 0.5; blur > 1 {
			motionBlurBGR(f, quad, int(blur))
		}
	}
	if c.noise > 0 {
		for j := range f.Pix {
			f.Pix[j] = clamp8(float64(f.Pix[j]) + c.rng.NormFloat64()*c.noise)
		}
	}
	if q := c.jpeg; q > 0 && q <= 100 {
		if err := jpegRoundTrip(f, q); err != nil {
			f.Release()
			return nil, err
		}
	}
	return f, nil
}

// Close stops the clip.
func (c *DocumentClip) Close() error { return c.scene.Close() }

var _ Source = (*DocumentClip)(nil)

func glareBGR(f *Frame, cx, cy, r, strength float64) {
	for y := max(0, int(cy-3*r)); y < min(f.Height, int(cy+3*r)+1); y++ {
		for x := max(0, int(cx-3*r)); x < min(f.Width, int(cx+3*r)+1); x++ {
			dx, dy := (float64(x)-cx)/r, (float64(y)-cy)/r
			g := math.Min(1, strength*1.6*math.Exp(-(dx*dx+dy*dy)/1.2))
			d := (y*f.Width + x) * 3
			for c := 0; c < 3; c++ {
				f.Pix[d+c] = clamp8(float64(f.Pix[d+c])*(1-g) + 255*g)
			}
		}
	}
}

// motionBlurBGR smears the card's area vertically over n pixels: a card
// moving up or down during the exposure.
func motionBlurBGR(f *Frame, quad [4][2]float64, n int) {
	y0, y1, x0, x1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range quad {
		x0, x1, y0, y1 = math.Min(x0, p[0]), math.Max(x1, p[0]), math.Min(y0, p[1]), math.Max(y1, p[1])
	}
	r := image.Rect(int(x0), int(y0)-n, int(x1)+1, int(y1)+n+1).Intersect(image.Rect(0, 0, f.Width, f.Height))
	col := make([]float64, r.Dy())
	for x := r.Min.X; x < r.Max.X; x++ {
		for c := 0; c < 3; c++ {
			for y := r.Min.Y; y < r.Max.Y; y++ {
				col[y-r.Min.Y] = float64(f.Pix[(y*f.Width+x)*3+c])
			}
			// A running box sum over [y−n/2, y+n/2], clipped to the area.
			lo, hi, sum := r.Min.Y, r.Min.Y, 0.0
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for ; hi <= min(r.Max.Y-1, y+n/2); hi++ {
					sum += col[hi-r.Min.Y]
				}
				for ; lo < y-n/2; lo++ {
					sum -= col[lo-r.Min.Y]
				}
				f.Pix[(y*f.Width+x)*3+c] = clamp8(sum / float64(hi-lo))
			}
		}
	}
}
