// Package capture owns frame sources: a V4L2 camera, a video file, and a
// generated face clip for demos and tests. Every source yields *Frame values
// stamped with a capture time and a sequence number. Latest wraps any source
// so that a slow consumer drops frames instead of stalling the camera.
//
// Start with Source and Frame, then OpenCamera, OpenFile or NewSynthetic.
package capture

import (
	"context"
	"errors"
	"image"
	"sync"
	"time"
)

// Source yields frames in capture order. Read blocks until the next frame is
// ready, the context ends, or the source is exhausted (io.EOF). The caller owns
// the returned frame and must call its Release when done. A Source is used by
// one goroutine at a time; Close may be called from any goroutine and makes a
// blocked Read return.
type Source interface {
	Read(ctx context.Context) (*Frame, error)
	Close() error
}

// Sentinel errors a caller acts on.
var (
	// ErrNoCamera means no video capture device was found or it could not be
	// opened. The kiosk falls back to the generated source with --demo.
	ErrNoCamera = errors.New("no camera found")
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("capture source closed")
)

// Frame is one captured picture in packed 8-bit BGR order (OpenCV's native
// layout), Width*3 bytes per row with no padding. Pixels are personal data:
// they live in RAM only and are never logged or written by this package.
type Frame struct {
	Seq    uint64    // 1-based, per source; gaps mean frames were dropped
	Time   time.Time // capture time (monotonic clock reading when live)
	Width  int
	Height int
	Pix    []byte

	release func([]byte)
}

// Release returns the frame's buffer to its source's pool. The frame must not
// be used afterwards. Release on a nil frame, or twice, is harmless.
func (f *Frame) Release() {
	if f == nil || f.Pix == nil {
		return
	}
	if f.release != nil {
		f.release(f.Pix)
	}
	f.Pix = nil
}

// Clone returns a deep copy that owns its own buffer; its Release is a no-op
// for any pool.
func (f *Frame) Clone() *Frame {
	c := *f
	c.Pix = append([]byte(nil), f.Pix...)
	c.release = nil
	return &c
}

// RGBA converts the frame for display. dst is reused when its bounds match.
func (f *Frame) RGBA(dst *image.RGBA) *image.RGBA {
	r := image.Rect(0, 0, f.Width, f.Height)
	if dst == nil || dst.Rect != r {
		dst = image.NewRGBA(r)
	}
	p := dst.Pix
	s := f.Pix
	for i, j := 0, 0; i+2 < len(s) && j+3 < len(p); i, j = i+3, j+4 {
		p[j], p[j+1], p[j+2], p[j+3] = s[i+2], s[i+1], s[i], 0xff
	}
	return dst
}

// bufPool recycles pixel buffers of one size so a steady stream allocates
// nothing per frame.
type bufPool struct {
	mu   sync.Mutex
	size int
	free [][]byte
}

func (p *bufPool) get(size int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if size != p.size {
		p.size, p.free = size, nil
	}
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, size)
}

func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(b) == p.size && len(p.free) < 8 {
		p.free = append(p.free, b)
	}
}

func (p *bufPool) newFrame(seq uint64, t time.Time, w, h int) *Frame {
	return &Frame{Seq: seq, Time: t, Width: w, Height: h, Pix: p.get(w * h * 3), release: p.put}
}
