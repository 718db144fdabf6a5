package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	_ "github.com/pion/mediadevices/pkg/driver/camera" // registers V4L2 devices (Linux, cgo)
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// Why mediadevices rather than OpenCV's VideoCapture for cameras: its V4L2
// driver is pure Go over the kernel API, lists devices with stable by-id
// names and their exact modes, decodes YUYV/MJPEG/NV12 without codec
// libraries, and ships a test driver, so the camera path is exercised in CI
// on machines with no camera. OpenCV stays responsible for files.

// CameraInfo names one capture device.
type CameraInfo struct {
	ID    string   `json:"id"`
	Label string   `json:"label"`
	Modes []string `json:"modes,omitempty"`
}

// ListCameras returns the video capture devices the drivers can see.
func ListCameras() []CameraInfo {
	var out []CameraInfo
	for _, d := range cameraDrivers() {
		out = append(out, CameraInfo{ID: d.ID(), Label: d.Info().Label})
	}
	return out
}

func cameraDrivers() []driver.Driver {
	return driver.GetManager().Query(driver.FilterAnd(driver.FilterVideoRecorder(), driver.FilterDeviceType(driver.Camera)))
}

// CameraOptions configures OpenCamera. The zero value opens the first camera
// at the mode closest to 640×480 at 30 fps.
type CameraOptions struct {
	// Device selects a camera by driver ID or by a substring of its label
	// (e.g. "video0"); empty means the first one found.
	Device        string
	Width, Height int
	FPS           float64
}

// Camera is a live video device. Frames are stamped when the driver hands
// them over. Read is for one goroutine; Close may be called from any
// goroutine and unblocks a pending Read.
type Camera struct {
	d      driver.Driver
	r      video.Reader
	mode   prop.Media
	pool   bufPool
	mu     sync.Mutex
	seq    uint64
	closed bool
}

// OpenCamera opens a capture device. It returns an error wrapping
// ErrNoCamera when no device matches or it cannot be opened.
func OpenCamera(o CameraOptions) (*Camera, error) {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 640, 480
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	drivers := cameraDrivers()
	if len(drivers) == 0 {
		return nil, fmt.Errorf("%w: no /dev/video* device (plug in a USB webcam, or run with --demo)", ErrNoCamera)
	}
	var d driver.Driver
	for _, c := range drivers {
		if o.Device == "" || c.ID() == o.Device || strings.Contains(c.Info().Label, o.Device) {
			d = c
			break
		}
	}
	if d == nil {
		return nil, fmt.Errorf("%w: no camera matches %q", ErrNoCamera, o.Device)
	}
	if err := d.Open(); err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v", ErrNoCamera, d.Info().Label, err)
	}
	mode, ok := bestMode(d.Properties(), o)
	if !ok {
		d.Close()
		return nil, fmt.Errorf("%w: %s offers no video mode", ErrNoCamera, d.Info().Label)
	}
	r, err := d.(driver.VideoRecorder).VideoRecord(mode)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: starting %s at %dx%d: %v", ErrNoCamera, d.Info().Label, mode.Width, mode.Height, err)
	}
	return &Camera{d: d, r: r, mode: mode}, nil
}

// bestMode picks the advertised mode closest to the request, preferring a
// matching size, then frame rate.
func bestMode(modes []prop.Media, o CameraOptions) (prop.Media, bool) {
	best, bestCost := prop.Media{}, math.Inf(1)
	for _, m := range modes {
		if m.Width <= 0 || m.Height <= 0 {
			continue
		}
		cost := math.Abs(float64(m.Width*m.Height-o.Width*o.Height)) / float64(o.Width*o.Height)
		if m.FrameRate > 0 {
			cost += 0.1 * math.Abs(float64(m.FrameRate)-o.FPS) / o.FPS
		}
		if cost < bestCost {
			best, bestCost = m, cost
		}
	}
	if math.IsInf(bestCost, 1) {
		return prop.Media{}, false
	}
	if best.FrameRate <= 0 {
		best.FrameRate = float32(o.FPS)
	}
	return best, true
}

// Label is the device's name as the driver reports it.
func (c *Camera) Label() string { return c.d.Info().Label }

// Mode is the negotiated width, height and frame rate.
func (c *Camera) Mode() (w, h int, fps float64) {
	return c.mode.Width, c.mode.Height, float64(c.mode.FrameRate)
}

// Read waits for the next frame from the device.
func (c *Camera) Read(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, release, err := c.r.Read()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if err == nil {
			release()
		}
		return nil, ErrClosed
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("reading camera %s: %w", c.Label(), err)
	}
	defer release()
	c.seq++
	b := img.Bounds()
	fr := c.pool.newFrame(c.seq, now, b.Dx(), b.Dy())
	ImageToBGR(fr.Pix, img)
	return fr, nil
}

// Close stops streaming and releases the device.
func (c *Camera) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	return c.d.Close()
}

// ImageToBGR writes img into dst as packed BGR; dst must hold
// Dx*Dy*3 bytes. Every YCbCr subsampling is handled, because drivers return
// 4:2:2 even when 4:2:0 was asked for.
func ImageToBGR(dst []byte, img image.Image) {
	b := img.Bounds()
	w := b.Dx()
	switch m := img.(type) {
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := (y - b.Min.Y) * w * 3
			for x := b.Min.X; x < b.Max.X; x++ {
				yy := int32(m.Y[m.YOffset(x, y)])
				ci := m.COffset(x, y)
				cb, cr := int32(m.Cb[ci])-128, int32(m.Cr[ci])-128
				yy = yy * 0x10101
				r := (yy + 91881*cr) >> 16
				g := (yy - 22554*cb - 46802*cr) >> 16
				bl := (yy + 116130*cb) >> 16
				i := row + (x-b.Min.X)*3
				dst[i], dst[i+1], dst[i+2] = clampI(bl), clampI(g), clampI(r)
			}
		}
	case *image.RGBA:
		for y := 0; y < b.Dy(); y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+w*4]
			row := dst[y*w*3:]
			for x := 0; x < w; x++ {
				row[x*3], row[x*3+1], row[x*3+2] = src[x*4+2], src[x*4+1], src[x*4]
			}
		}
	case *image.Gray:
		for y := 0; y < b.Dy(); y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			row := dst[y*w*3:]
			for x, v := range src {
				row[x*3], row[x*3+1], row[x*3+2] = v, v, v
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				i := ((y-b.Min.Y)*w + (x - b.Min.X)) * 3
				dst[i], dst[i+1], dst[i+2] = uint8(bl>>8), uint8(g>>8), uint8(r>>8)
			}
		}
	}
}

func clampI(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
