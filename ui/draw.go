package ui

import (
	"image"
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// placeLayout lays out drawn shapes with a function of the space given,
// so pictograms scale with their container.
type placeLayout struct {
	min   fyne.Size
	place func(fyne.Size)
}

func (l placeLayout) Layout(_ []fyne.CanvasObject, s fyne.Size) { l.place(s) }
func (l placeLayout) MinSize([]fyne.CanvasObject) fyne.Size     { return l.min }

// square is the largest centred square in s: its origin and side.
func square(s fyne.Size) (fyne.Position, float32) {
	side := min(s.Width, s.Height)
	return fyne.NewPos((s.Width-side)/2, (s.Height-side)/2), side
}

// newPadlock draws a closed padlock, the placeholder for a locked photo.
func newPadlock(minSide float32, col color.Color) fyne.CanvasObject {
	body := canvas.NewRectangle(col)
	shackle := canvas.NewArc(-90, 90, 0.62, col)
	left, right := canvas.NewRectangle(col), canvas.NewRectangle(col)
	hole := canvas.NewCircle(colPanel)
	place := func(s fyne.Size) {
		o, d := square(s)
		bw, bh := d*0.7, d*0.5
		bx, by := o.X+(d-bw)/2, o.Y+d*0.45
		body.Move(fyne.NewPos(bx, by))
		body.Resize(fyne.NewSize(bw, bh))
		body.CornerRadius = d * 0.06
		r := bw * 0.36 // shackle outer radius
		cy := by - d*0.12
		shackle.Move(fyne.NewPos(o.X+d/2-r, cy-r))
		shackle.Resize(fyne.NewSize(2*r, 2*r))
		legW := r * (1 - 0.62)
		left.Move(fyne.NewPos(o.X+d/2-r, cy))
		left.Resize(fyne.NewSize(legW, by-cy+1))
		right.Move(fyne.NewPos(o.X+d/2+r-legW, cy))
		right.Resize(fyne.NewSize(legW, by-cy+1))
		hr := d * 0.07
		hole.Move(fyne.NewPos(o.X+d/2-hr, by+bh*0.38-hr))
		hole.Resize(fyne.NewSize(2*hr, 2*hr))
	}
	return container.New(placeLayout{fyne.NewSize(minSide, minSide), place}, shackle, left, right, body, hole)
}

// newTick draws the pass mark: a white tick in a green disc.
func newTick(minSide float32) fyne.CanvasObject {
	disc := canvas.NewCircle(colPass)
	a, b := canvas.NewLine(colText), canvas.NewLine(colText)
	place := func(s fyne.Size) {
		o, d := square(s)
		disc.Move(o)
		disc.Resize(fyne.NewSize(d, d))
		w := d * 0.09
		a.StrokeWidth, b.StrokeWidth = w, w
		p := func(x, y float32) fyne.Position { return fyne.NewPos(o.X+d*x, o.Y+d*y) }
		a.Position1, a.Position2 = p(0.27, 0.52), p(0.44, 0.69)
		b.Position1, b.Position2 = p(0.42, 0.69), p(0.75, 0.34)
	}
	return container.New(placeLayout{fyne.NewSize(minSide, minSide), place}, disc, a, b)
}

// newBang draws the fail mark: a dark "!" in an amber disc.
func newBang(minSide float32) fyne.CanvasObject {
	disc := canvas.NewCircle(colFail)
	bar := canvas.NewRectangle(colBackground)
	dot := canvas.NewCircle(colBackground)
	place := func(s fyne.Size) {
		o, d := square(s)
		disc.Move(o)
		disc.Resize(fyne.NewSize(d, d))
		w := d * 0.11
		bar.CornerRadius = w / 2
		bar.Move(fyne.NewPos(o.X+d/2-w/2, o.Y+d*0.2))
		bar.Resize(fyne.NewSize(w, d*0.4))
		dot.Move(fyne.NewPos(o.X+d/2-w*0.65, o.Y+d*0.68))
		dot.Resize(fyne.NewSize(w*1.3, w*1.3))
	}
	return container.New(placeLayout{fyne.NewSize(minSide, minSide), place}, disc, bar, dot)
}

// newStaffMark draws the referral mark: a person in a blue disc, for
// "please see a member of staff" (neither the pass tick nor the fail sign:
// the visitor did nothing wrong).
func newStaffMark(minSide float32) fyne.CanvasObject {
	disc := canvas.NewCircle(colPrimary)
	head := canvas.NewCircle(colText)
	shoulders := canvas.NewArc(-90, 90, 0, colText)
	place := func(s fyne.Size) {
		o, d := square(s)
		disc.Move(o)
		disc.Resize(fyne.NewSize(d, d))
		hr := d * 0.13
		head.Move(fyne.NewPos(o.X+d/2-hr, o.Y+d*0.36-hr))
		head.Resize(fyne.NewSize(2*hr, 2*hr))
		sr := d * 0.26
		shoulders.Move(fyne.NewPos(o.X+d/2-sr, o.Y+d*0.80-sr))
		shoulders.Resize(fyne.NewSize(2*sr, 2*sr))
	}
	return container.New(placeLayout{fyne.NewSize(minSide, minSide), place}, disc, head, shoulders)
}

// ring is a progress ring: a grey track with a green arc from the top,
// clockwise, for the fraction done.
type ring struct {
	track, done *canvas.Arc
	obj         fyne.CanvasObject
}

func newRing(minSide float32) *ring {
	r := &ring{track: canvas.NewArc(0, 360, 0.72, colTrack), done: canvas.NewArc(0, 0, 0.72, colPass)}
	place := func(s fyne.Size) {
		o, d := square(s)
		for _, a := range []*canvas.Arc{r.track, r.done} {
			a.Move(o)
			a.Resize(fyne.NewSize(d, d))
		}
	}
	r.obj = container.New(placeLayout{fyne.NewSize(minSide, minSide), place}, r.track, r.done)
	return r
}

// Set shows fraction p (clamped to 0–1).
func (r *ring) Set(p float64) {
	if math.IsNaN(p) || p < 0 {
		p = 0
	}
	end := float32(min(p, 1) * 360)
	if r.done.EndAngle != end {
		r.done.EndAngle = end
		r.done.Refresh()
	}
}

// guideShape is what the live screen outlines over the video.
type guideShape int

const (
	guideOval guideShape = iota // the face
	guideCard                   // an ID-1 card (85.6 × 54 mm)
)

// guide shades the video outside a face oval (or a card outline) and
// strokes the outline, so visitors see where to put their face or card.
type guide struct {
	raster *canvas.Raster
	shape  guideShape
	col    color.NRGBA
}

func newGuide() *guide {
	g := &guide{col: colGuide}
	g.raster = canvas.NewRaster(g.draw)
	g.raster.ScaleMode = canvas.ImageScaleFastest
	return g
}

// Set changes the shape and colour, redrawing only on a change.
func (g *guide) Set(shape guideShape, col color.NRGBA) {
	if g.shape != shape || g.col != col {
		g.shape, g.col = shape, col
		g.raster.Refresh()
	}
}

// draw renders the overlay at w×h pixels.
func (g *guide) draw(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w <= 0 || h <= 0 {
		return img
	}
	cx, cy := float64(w)/2, float64(h)/2
	stroke := math.Max(3, float64(h)/90)
	// inside(x, y) returns a signed distance-like value: < 0 inside the
	// outline, 0 on it, > 0 outside, in pixels (approximately).
	var inside func(x, y float64) float64
	switch g.shape {
	case guideCard:
		cw := math.Min(float64(w)*0.7, float64(h)*0.62*1.585)
		ch := cw / 1.585
		rad := ch * 0.08
		inside = func(x, y float64) float64 {
			dx := math.Abs(x-cx) - (cw/2 - rad)
			dy := math.Abs(y-cy) - (ch/2 - rad)
			out := math.Hypot(math.Max(dx, 0), math.Max(dy, 0))
			return out + math.Min(math.Max(dx, dy), 0) - rad
		}
	default:
		ry := float64(h) * 0.38
		rx := ry * 0.76
		inside = func(x, y float64) float64 {
			nx, ny := (x-cx)/rx, (y-cy)/ry
			r := math.Hypot(nx, ny)
			return (r - 1) * math.Min(rx, ry)
		}
	}
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			d := inside(float64(x)+0.5, float64(y)+0.5)
			var c color.NRGBA
			switch {
			case math.Abs(d) <= stroke/2:
				c = g.col
			case d > 0:
				c = colShade
			default:
				continue
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, c.A
		}
	}
	return img
}

// tapArea is an invisible widget that makes whatever lies under it one
// big touch target.
type tapArea struct {
	widget.BaseWidget
	onTap func()
}

func newTapArea(onTap func()) *tapArea {
	t := &tapArea{onTap: onTap}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tapArea) Tapped(*fyne.PointEvent) {
	if t.onTap != nil {
		t.onTap()
	}
}

func (t *tapArea) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

// sized gives obj a minimum size (touch targets, photo slots); it grows
// with obj's own minimum, which depends on the theme it is drawn with.
func sized(obj fyne.CanvasObject, w, h float32) fyne.CanvasObject {
	return container.New(minLayout{fyne.NewSize(w, h)}, obj)
}

// minLayout stretches its objects over its area and is at least min big.
type minLayout struct{ min fyne.Size }

func (l minLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(s)
	}
}

func (l minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := l.min
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

// wrapped holds a word-wrapped label at a fixed width, so its minimum
// height is that of the wrapped lines (a wrapped label alone reports the
// height for whatever width it had last).
func wrapped(l *widget.Label, width float32) fyne.CanvasObject {
	return container.New(wrapLayout{width}, l)
}

type wrapLayout struct{ width float32 }

func (w wrapLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(s)
	}
}

func (w wrapLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := fyne.NewSize(w.width, 0)
	for _, o := range objs {
		if o.Size().Width != w.width {
			o.Resize(fyne.NewSize(w.width, o.Size().Height))
		}
		m = m.Max(fyne.NewSize(w.width, o.MinSize().Height))
	}
	return m
}

// newText is a canvas text in the kiosk's colours.
func newText(s string, size float32, bold bool, col color.Color) *canvas.Text {
	t := canvas.NewText(s, col)
	t.TextSize = size
	t.TextStyle.Bold = bold
	t.Alignment = fyne.TextAlignCenter
	return t
}

// newWrapped is a word-wrapped, centred label.
func newWrapped(s string, size fyne.ThemeSizeName, bold bool) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	l.SizeName = size
	l.TextStyle.Bold = bold
	return l
}

// setText updates a canvas text only when it changed.
func setText(t *canvas.Text, s string) {
	if t.Text != s {
		t.Text = s
		t.Refresh()
	}
}

// setLabel updates a label only when it changed, and reports a change.
func setLabel(l *widget.Label, s string) bool {
	if l.Text == s {
		return false
	}
	l.SetText(s)
	return true
}

// gap is an empty space of a minimum size.
func gap(w, h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(w, h))
	return r
}

// faceGreen marks the tracked face on the video: pure green, which no
// skin, theme colour or guide uses, so screenshots can find it.
var faceGreen = color.RGBA{0, 255, 0, 255}

// drawFaceCorners draws corner brackets around the tracked face r (frame
// pixels) into img, so the visitor sees their face was found. An empty r
// draws nothing.
func drawFaceCorners(img *image.RGBA, r image.Rectangle) {
	r = r.Intersect(img.Bounds())
	if r.Dx() < 8 || r.Dy() < 8 {
		return
	}
	t := max(2, img.Bounds().Dx()/320)
	lx, ly := r.Dx()/4, r.Dy()/4
	fill := func(x0, y0, x1, y1 int) {
		for y := max(y0, r.Min.Y); y < min(y1, r.Max.Y); y++ {
			for x := max(x0, r.Min.X); x < min(x1, r.Max.X); x++ {
				img.SetRGBA(x, y, faceGreen)
			}
		}
	}
	for _, c := range []image.Point{r.Min, {r.Max.X - lx, r.Min.Y}, {r.Min.X, r.Max.Y - t}, {r.Max.X - lx, r.Max.Y - t}} {
		fill(c.X, c.Y, c.X+lx, c.Y+t) // horizontal arm
	}
	for _, c := range []image.Point{r.Min, {r.Max.X - t, r.Min.Y}, {r.Min.X, r.Max.Y - ly}, {r.Max.X - t, r.Max.Y - ly}} {
		fill(c.X, c.Y, c.X+t, c.Y+ly) // vertical arm
	}
}
