package capture

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"sync"

	xdraw "golang.org/x/image/draw"
)

// PhotoOptions are the camera effects of Photograph. The zero value gives
// a 1280×960 picture of the document filling 70 % of the width, square to
// the camera, with mild sensor noise.
type PhotoOptions struct {
	Width, Height int // default 1280×960
	// Fill is the document's width as a fraction of the picture's.
	Fill float64
	// OffsetX and OffsetY move the document's centre, as fractions of
	// the picture's width and height.
	OffsetX, OffsetY float64
	// Rotate turns the document in the picture's plane, in degrees
	// clockwise (180 is upside down).
	Rotate float64
	// TiltX and TiltY tip the document out of the picture's plane, in
	// degrees, about its horizontal and vertical axes: perspective.
	TiltX, TiltY float64
	// Blur is the Gaussian blur's sigma in pixels (focus or motion).
	Blur float64
	// Noise is the sensor noise's standard deviation in grey levels;
	// default 2, negative for none.
	Noise float64
	// Glare adds a specular spot of this peak strength (0–1; 1 saturates
	// its centre) at GlareX, GlareY (fractions of the document's width and
	// height) with radius GlareRadius (fraction of the document's width,
	// default 0.12).
	Glare, GlareX, GlareY, GlareRadius float64
	// Light scales the scene's brightness; default 1.
	Light float64
	// JPEGQuality, when 1–100, compresses the picture as a camera would.
	JPEGQuality int
	// Background is the surface behind the document; nil paints a desk.
	Background image.Image
	// Seed makes the noise repeatable.
	Seed uint64
}

func (o *PhotoOptions) defaults() {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 960
	}
	if o.Fill <= 0 {
		o.Fill = 0.7
	}
	if o.Noise == 0 {
		o.Noise = 2
	}
	if o.GlareRadius <= 0 {
		o.GlareRadius = 0.12
	}
	if o.Light <= 0 {
		o.Light = 1
	}
}

// Photograph pictures a flat document (from RenderDocument) as a camera
// would: placed, turned and tilted in perspective over a background, then
// glare, blur, noise and JPEG. The result is deterministic for the same
// inputs. Quad gives where the document's corners (top-left, top-right,
// bottom-right, bottom-left) landed.
func Photograph(doc image.Image, o PhotoOptions) (img *image.RGBA, quad [4][2]float64, err error) {
	o.defaults()
	if doc == nil || doc.Bounds().Empty() {
		return nil, quad, errors.New("photograph: no document image")
	}
	pose := docPose{Fill: o.Fill, OffsetX: o.OffsetX, OffsetY: o.OffsetY, Rotate: o.Rotate, TiltX: o.TiltX, TiltY: o.TiltY}
	quad = pose.quad(doc.Bounds().Dx(), doc.Bounds().Dy(), o.Width, o.Height)
	img = image.NewRGBA(image.Rect(0, 0, o.Width, o.Height))
	if o.Background != nil {
		xdraw.ApproxBiLinear.Scale(img, img.Bounds(), o.Background, o.Background.Bounds(), xdraw.Src, nil)
	} else {
		paintDesk(img)
	}
	src := prescale(doc, quad)
	warpOnto(img, src, quad)
	rng := rand.New(rand.NewPCG(o.Seed, 0x70686f746f))
	if o.Glare > 0 {
		// The spot's centre and radius, mapped through the pose.
		h := homography(rectCorners(src.Bounds().Dx(), src.Bounds().Dy()), quad)
		gx, gy := h.apply(o.GlareX*float64(src.Bounds().Dx()), o.GlareY*float64(src.Bounds().Dy()))
		r := o.GlareRadius * math.Hypot(quad[1][0]-quad[0][0], quad[1][1]-quad[0][1])
		addGlare(img, gx, gy, r, o.Glare)
	}
	if o.Blur > 0 {
		gaussianBlur(img, o.Blur)
	}
	if o.Light != 1 || o.Noise > 0 {
		for i := 0; i < len(img.Pix); i += 4 {
			for c := 0; c < 3; c++ {
				v := float64(img.Pix[i+c]) * o.Light
				if o.Noise > 0 {
					v += rng.NormFloat64() * o.Noise
				}
				img.Pix[i+c] = clamp8(v)
			}
		}
	}
	if q := o.JPEGQuality; q > 0 && q <= 100 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			return nil, quad, err
		}
		dec, err := jpeg.Decode(&buf)
		if err != nil {
			return nil, quad, err
		}
		xdraw.Draw(img, img.Bounds(), dec, image.Point{}, xdraw.Src)
	}
	return img, quad, nil
}

// docPose places a document in a picture.
type docPose struct {
	Fill, OffsetX, OffsetY, Rotate, TiltX, TiltY float64
}

// quad projects the document's corners: the document is a plane tilted
// about its axes, seen by a pinhole camera whose focal length is about the
// picture's width (a webcam's field of view), then scaled so its width
// fills Fill of the picture.
func (p docPose) quad(dw, dh, W, H int) [4][2]float64 {
	w, h := 1.0, float64(dh)/float64(dw)
	tx, ty := p.TiltX*math.Pi/180, p.TiltY*math.Pi/180
	rz := p.Rotate * math.Pi / 180
	f := 1.2 // focal length in document widths: a mild perspective
	var q [4][2]float64
	for i, c := range [4][2]float64{{-w / 2, -h / 2}, {w / 2, -h / 2}, {w / 2, h / 2}, {-w / 2, h / 2}} {
		x, y, z := c[0], c[1], 0.0
		// Tilt about the vertical axis, then the horizontal one.
		x, z = x*math.Cos(ty)+z*math.Sin(ty), -x*math.Sin(ty)+z*math.Cos(ty)
		y, z = y*math.Cos(tx)-z*math.Sin(tx), y*math.Sin(tx)+z*math.Cos(tx)
		// Project from distance f.
		x, y = x*f/(f+z), y*f/(f+z)
		// Turn in the picture's plane (clockwise on screen, y down).
		x, y = x*math.Cos(rz)-y*math.Sin(rz), x*math.Sin(rz)+y*math.Cos(rz)
		s := p.Fill * float64(W)
		q[i] = [2]float64{float64(W)/2 + p.OffsetX*float64(W) + x*s, float64(H)/2 + p.OffsetY*float64(H) + y*s}
	}
	return q
}

func rectCorners(w, h int) [4][2]float64 {
	return [4][2]float64{{0, 0}, {float64(w), 0}, {float64(w), float64(h)}, {0, float64(h)}}
}

// prescale shrinks the document to about the size it will have in the
// picture, with a proper filter, so the perspective warp does not alias.
func prescale(doc image.Image, quad [4][2]float64) image.Image {
	b := doc.Bounds()
	side := math.Max(math.Hypot(quad[1][0]-quad[0][0], quad[1][1]-quad[0][1]), math.Hypot(quad[2][0]-quad[3][0], quad[2][1]-quad[3][1]))
	if side >= float64(b.Dx())*0.9 {
		return doc
	}
	w := max(8, int(side*1.1))
	h := max(8, w*b.Dy()/b.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), doc, b, xdraw.Src, nil)
	return dst
}

// h3 is a 3×3 homography, row-major.
type h3 [9]float64

func (h h3) apply(x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// homography maps the four points from onto the four points to, by the
// direct linear transform (8 unknowns, Gaussian elimination).
func homography(from, to [4][2]float64) h3 {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := from[i][0], from[i][1], to[i][0], to[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if a[c][c] == 0 {
			return h3{1, 0, 0, 0, 1, 0, 0, 0, 1}
		}
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			k := a[r][c] / a[c][c]
			for j := c; j < 9; j++ {
				a[r][j] -= k * a[c][j]
			}
		}
	}
	var h h3
	for i := 0; i < 8; i++ {
		h[i] = a[i][8] / a[i][i]
	}
	h[8] = 1
	return h
}

// warpOnto draws src onto dst so that its corners land on quad, sampling
// bilinearly and blending by src's alpha (premultiplied).
func warpOnto(dst *image.RGBA, src image.Image, quad [4][2]float64) {
	warpEach(dst.Bounds(), src, quad, func(x, y int, s [4]float64, a float64) {
		i := dst.PixOffset(x, y)
		for c := 0; c < 3; c++ {
			dst.Pix[i+c] = clamp8(s[c] + (1-a)*float64(dst.Pix[i+c]))
		}
		dst.Pix[i+3] = 255
	})
}

// warpEach maps src through the homography that puts its corners on quad
// and calls put for every pixel of bounds it covers, with the bilinear
// sample (premultiplied RGBA, 0–255) and its alpha (0–1).
func warpEach(bounds image.Rectangle, src image.Image, quad [4][2]float64, put func(x, y int, s [4]float64, a float64)) {
	rgba, ok := src.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(src.Bounds())
		xdraw.Draw(rgba, rgba.Bounds(), src, src.Bounds().Min, xdraw.Src)
	}
	sw, sh := rgba.Bounds().Dx(), rgba.Bounds().Dy()
	inv := homography(quad, rectCorners(sw, sh))
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range quad {
		x0, y0, x1, y1 = math.Min(x0, p[0]), math.Min(y0, p[1]), math.Max(x1, p[0]), math.Max(y1, p[1])
	}
	if math.IsNaN(x0+y0+x1+y1) || math.IsInf(x0+y0+x1+y1, 0) {
		return
	}
	r := image.Rect(int(math.Floor(max(x0, -1))), int(math.Floor(max(y0, -1))), int(math.Ceil(min(x1, 1e6)))+1, int(math.Ceil(min(y1, 1e6)))+1).Intersect(bounds)
	at := func(x, y int) [4]float64 {
		if x < 0 || y < 0 || x >= sw || y >= sh {
			return [4]float64{}
		}
		i := rgba.PixOffset(x+rgba.Rect.Min.X, y+rgba.Rect.Min.Y)
		p := rgba.Pix[i : i+4]
		return [4]float64{float64(p[0]), float64(p[1]), float64(p[2]), float64(p[3])}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			u, v := inv.apply(float64(x)+0.5, float64(y)+0.5)
			u, v = u-0.5, v-0.5
			if !(u >= -1 && v >= -1 && u <= float64(sw) && v <= float64(sh)) {
				continue
			}
			iu, iv := int(math.Floor(u)), int(math.Floor(v))
			fu, fv := u-float64(iu), v-float64(iv)
			p00, p10, p01, p11 := at(iu, iv), at(iu+1, iv), at(iu, iv+1), at(iu+1, iv+1)
			var s [4]float64
			for c := 0; c < 4; c++ {
				s[c] = (p00[c]*(1-fu)+p10[c]*fu)*(1-fv) + (p01[c]*(1-fu)+p11[c]*fu)*fv
			}
			if a := s[3] / 255; a > 0 {
				put(x, y, s, a)
			}
		}
	}
}

// addGlare brightens a soft disc toward white, as a lamp's reflection on a
// laminated card does.
func addGlare(img *image.RGBA, cx, cy, r, strength float64) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		dy := (float64(y) - cy) / r
		if math.Abs(dy) > 3 {
			continue
		}
		for x := b.Min.X; x < b.Max.X; x++ {
			dx := (float64(x) - cx) / r
			g := strength * 1.6 * math.Exp(-(dx*dx+dy*dy)/1.2)
			if g < 0.005 {
				continue
			}
			g = math.Min(g, 1)
			i := img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = clamp8(float64(img.Pix[i+c])*(1-g) + 255*g)
			}
		}
	}
}

// gaussianBlur blurs in place with a separable Gaussian kernel of the
// given sigma, one colour plane at a time.
func gaussianBlur(img *image.RGBA, sigma float64) {
	rad := int(math.Ceil(3 * sigma))
	if rad < 1 {
		return
	}
	k := make([]float32, 2*rad+1)
	sum := 0.0
	for i := range k {
		d := float64(i - rad)
		v := math.Exp(-d * d / (2 * sigma * sigma))
		k[i] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := make([]float32, w*h)
	line := make([]float32, max(w, h)+2*rad)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				plane[y*w+x] = float32(img.Pix[img.PixOffset(x+b.Min.X, y+b.Min.Y)+c])
			}
		}
		for y := 0; y < h; y++ {
			convolveLine(plane[y*w:], 1, w, k, line)
		}
		for x := 0; x < w; x++ {
			convolveLine(plane[x:], w, h, k, line)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Pix[img.PixOffset(x+b.Min.X, y+b.Min.Y)+c] = clamp8(float64(plane[y*w+x]))
			}
		}
	}
}

// convolveLine convolves n values, stride apart, with kernel k (edges
// clamped), using tmp (n + len(k) − 1 long) as scratch.
func convolveLine(v []float32, stride, n int, k, tmp []float32) {
	rad := len(k) / 2
	for i := -rad; i < n+rad; i++ {
		tmp[i+rad] = v[min(max(i, 0), n-1)*stride]
	}
	for i := 0; i < n; i++ {
		acc := float32(0)
		for j, kv := range k {
			acc += kv * tmp[i+j]
		}
		v[i*stride] = acc
	}
}

// paintDesk fills a wood-like desk surface, drawn once per size.
func paintDesk(img *image.RGBA) {
	b := img.Bounds()
	deskMu.Lock()
	defer deskMu.Unlock()
	if desk == nil || desk.Bounds().Size() != b.Size() {
		desk = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				X, Y := float64(x)/float64(b.Dx()), float64(y)/float64(b.Dy())
				grain := 8 * math.Sin(60*Y+4*math.Sin(7*X)+2*math.Sin(23*X*Y))
				v := 120 + grain - 30*X
				desk.SetRGBA(x, y, color.RGBA{clamp8(v + 30), clamp8(v + 5), clamp8(v - 25), 255})
			}
		}
	}
	xdraw.Draw(img, b, desk, image.Point{}, xdraw.Src)
}

var (
	deskMu sync.Mutex
	desk   *image.RGBA
)
