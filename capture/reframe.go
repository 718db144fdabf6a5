package capture

import (
	"context"
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// ReframeOptions says how Reframe changes each frame: cut Crop out of it,
// resize the cut to Size, then centre that on a Canvas (padding with Fill,
// or cutting when the canvas is smaller). It stands for the same scene seen
// by another camera: closer (a crop scaled up), farther (the frame scaled
// down on a larger canvas), at a lower resolution, or framed tightly. The
// evaluation makes such variants of a real recording, so a visitor framed
// differently is tested on the very same pulse.
type ReframeOptions struct {
	// Crop is the region of the source frame to keep, in its pixels;
	// empty keeps the whole frame. It is clipped to the frame.
	Crop image.Rectangle
	// Size is the size the crop is resized to; zero keeps the crop's size.
	// Shrinking uses area averaging (what a sensor's binning does),
	// enlarging bicubic interpolation (what a camera's digital zoom does).
	Size image.Point
	// Canvas, when non-zero, is the output size: the resized crop is
	// centred on it, padded with Fill where it is smaller.
	Canvas image.Point
	// Fill is the padding's grey level.
	Fill uint8
}

// Reframed is a Source that reframes every frame of another source (see
// ReframeOptions). Timestamps and sequence numbers pass through unchanged.
// Like every Source, Read is for one goroutine; Close closes the wrapped
// source too.
type Reframed struct {
	src  Source
	o    ReframeOptions
	pool bufPool
}

// Reframe wraps src; the Reframed owns src from now on.
func Reframe(src Source, o ReframeOptions) *Reframed { return &Reframed{src: src, o: o} }

// Read reads and reframes the next frame.
func (r *Reframed) Read(ctx context.Context) (*Frame, error) {
	fr, err := r.src.Read(ctx)
	if err != nil {
		return nil, err
	}
	defer fr.Release()
	out, err := reframe(&r.pool, fr, r.o)
	if err != nil {
		return nil, fmt.Errorf("reframing frame %d: %w", fr.Seq, err)
	}
	return out, nil
}

// Close closes the wrapped source.
func (r *Reframed) Close() error { return r.src.Close() }

// ReframeSize is the size of the frames Reframe makes from w×h frames.
func ReframeSize(w, h int, o ReframeOptions) (image.Point, error) {
	_, _, out, err := geometry(w, h, o)
	return out, err
}

// geometry is what Reframe does to a w×h frame: the part it keeps, the
// size that part is scaled to, and the size of the frame it makes.
func geometry(w, h int, o ReframeOptions) (crop image.Rectangle, size, out image.Point, err error) {
	crop = o.Crop.Intersect(image.Rect(0, 0, w, h))
	if o.Crop.Empty() {
		crop = image.Rect(0, 0, w, h)
	}
	if crop.Dx() < 2 || crop.Dy() < 2 {
		return crop, size, out, fmt.Errorf("crop %v leaves nothing of a %dx%d frame", o.Crop, w, h)
	}
	size = o.Size
	if size == (image.Point{}) {
		size = crop.Size()
	}
	if size.X < 2 || size.Y < 2 || size.X > 8192 || size.Y > 8192 {
		return crop, size, out, fmt.Errorf("output size %v: want 2-8192 pixels a side", size)
	}
	if o.Canvas == (image.Point{}) {
		return crop, size, size, nil
	}
	if o.Canvas.X < 2 || o.Canvas.Y < 2 || o.Canvas.X > 8192 || o.Canvas.Y > 8192 {
		return crop, size, out, fmt.Errorf("canvas %v: want 2-8192 pixels a side", o.Canvas)
	}
	return crop, size, o.Canvas, nil
}

func reframe(pool *bufPool, fr *Frame, o ReframeOptions) (*Frame, error) {
	crop, size, outSize, err := geometry(fr.Width, fr.Height, o)
	if err != nil {
		return nil, err
	}
	src, err := gocv.NewMatFromBytes(fr.Height, fr.Width, gocv.MatTypeCV8UC3, fr.Pix)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	roi := src.Region(crop)
	defer roi.Close()
	scaled := gocv.NewMat()
	defer scaled.Close()
	interp := gocv.InterpolationCubic
	if size.X*size.Y < crop.Dx()*crop.Dy() {
		interp = gocv.InterpolationArea
	}
	gocv.Resize(roi, &scaled, size, 0, 0, interp)
	if outSize == size {
		return matToFrame(pool, scaled, fr.Seq, fr.Time)
	}
	// Resize writes a fresh, continuous Mat, so its bytes are the picture
	// row after row.
	b, err := scaled.DataPtrUint8()
	if err != nil {
		return nil, err
	}
	out := pool.newFrame(fr.Seq, fr.Time, outSize.X, outSize.Y)
	// Centre the scaled picture on the canvas: where it is larger, cut it;
	// where smaller, pad.
	for i := range out.Pix {
		out.Pix[i] = o.Fill
	}
	dx, dy := (outSize.X-size.X)/2, (outSize.Y-size.Y)/2
	for y := 0; y < size.Y; y++ {
		Y := y + dy
		if Y < 0 || Y >= outSize.Y {
			continue
		}
		x0, x1 := max(0, -dx), min(size.X, outSize.X-dx)
		if x1 <= x0 {
			continue
		}
		copy(out.Pix[(Y*outSize.X+x0+dx)*3:(Y*outSize.X+x1+dx)*3], b[(y*size.X+x0)*3:(y*size.X+x1)*3])
	}
	return out, nil
}
