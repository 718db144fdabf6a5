package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	_ "github.com/pion/mediadevices/pkg/driver/camera" // registers V4L2 devices (Linux, cgo)
	"github.com/pion/mediadevices/pkg/frame"
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
// in an uncompressed mode near 640×480 at 30 fps (see ChooseMode).
type CameraOptions struct {
	// Device selects a camera by driver ID or by a substring of its label
	// (e.g. "video0"); empty means the first one found.
	Device        string
	Width, Height int
	FPS           float64
	// MinFPS is the slowest frame rate the pulse needs; default 12 (what a
	// Raspberry Pi 4 processes, and enough for heart rates to 240 bpm).
	MinFPS float64
	// Logger gets the warning when only a compressed (MJPEG) mode will do;
	// nil logs nowhere.
	Logger *slog.Logger
}

func (o *CameraOptions) defaults() {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 640, 480
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	if o.MinFPS <= 0 {
		o.MinFPS = min(12, o.FPS)
	}
}

// Mode is a camera's negotiated video mode.
type Mode struct {
	Width, Height int
	FPS           float64
	// Format is the pixel format the camera delivers (YUYV, NV12, MJPEG, …).
	Format string
	// Compressed is true for MJPEG: every frame went through JPEG in the
	// camera, whose block errors change as the face moves and bury a
	// pulse of 1 % (docs/liveness.md).
	Compressed bool
	// Why says how the mode was chosen, for logs and kiosk doctor.
	Why string
}

func (m Mode) String() string {
	return fmt.Sprintf("%s %dx%d at %.0f fps", m.Format, m.Width, m.Height, m.FPS)
}

// Camera is a live video device. Frames are stamped when the driver hands
// them over. Read is for one goroutine; Close may be called from any
// goroutine and unblocks a pending Read.
type Camera struct {
	d      driver.Driver
	r      video.Reader
	chosen Mode
	pool   bufPool
	mu     sync.Mutex
	seq    uint64
	closed bool
}

// OpenCamera opens a capture device in the mode ChooseMode picks, and logs
// a warning when that mode is compressed. It returns an error wrapping
// ErrNoCamera when no device matches or it cannot be opened.
func OpenCamera(o CameraOptions) (*Camera, error) {
	o.defaults()
	d, err := findCamera(o)
	if err != nil {
		return nil, err
	}
	if err := d.Open(); err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v", ErrNoCamera, d.Info().Label, err)
	}
	mode, chosen, ok := ChooseMode(d.Properties(), o)
	if !ok {
		d.Close()
		return nil, fmt.Errorf("%w: %s offers no video mode", ErrNoCamera, d.Info().Label)
	}
	if chosen.Compressed && o.Logger != nil {
		o.Logger.Warn("camera delivers compressed frames: the pulse check is less reliable with a moving face",
			"camera", d.Info().Label, "mode", chosen.String(), "why", chosen.Why)
	}
	r, err := d.(driver.VideoRecorder).VideoRecord(mode)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: starting %s at %dx%d: %v", ErrNoCamera, d.Info().Label, mode.Width, mode.Height, err)
	}
	return &Camera{d: d, r: r, chosen: chosen}, nil
}

// ProbeCamera opens a capture device only to read its modes, and says
// which one OpenCamera would choose (kiosk doctor reports it). A camera
// another process is using cannot be probed.
func ProbeCamera(o CameraOptions) (string, Mode, error) {
	o.defaults()
	d, err := findCamera(o)
	if err != nil {
		return "", Mode{}, err
	}
	if err := d.Open(); err != nil {
		return d.Info().Label, Mode{}, fmt.Errorf("%w: opening %s: %v (is the kiosk running?)", ErrNoCamera, d.Info().Label, err)
	}
	defer d.Close()
	_, chosen, ok := ChooseMode(d.Properties(), o)
	if !ok {
		return d.Info().Label, Mode{}, fmt.Errorf("%w: %s offers no video mode", ErrNoCamera, d.Info().Label)
	}
	return d.Info().Label, chosen, nil
}

func findCamera(o CameraOptions) (driver.Driver, error) {
	drivers := cameraDrivers()
	if len(drivers) == 0 {
		return nil, fmt.Errorf("%w: no /dev/video* device (plug in a USB webcam, or run with --demo)", ErrNoCamera)
	}
	for _, c := range drivers {
		if o.Device == "" || c.ID() == o.Device || strings.Contains(c.Info().Label, o.Device) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no camera matches %q", ErrNoCamera, o.Device)
}

// compressed reports whether a camera format is a compressed one.
func compressed(f frame.Format) bool { return f == frame.FormatMJPEG }

// colour reports whether a camera format carries a colour picture: raw
// YUV or RGB, or MJPEG. Others a driver may list, such as a depth
// camera's Z16, hold no skin colour and are never chosen.
func colour(f frame.Format) bool {
	switch f {
	case frame.FormatI420, frame.FormatI444, frame.FormatNV12, frame.FormatNV21, frame.FormatYUY2,
		frame.FormatYUYV, frame.FormatUYVY, frame.FormatRGBA, frame.FormatMJPEG:
		return true
	}
	return false
}

// ChooseMode picks the camera mode: an uncompressed one (YUYV, NV12, …)
// at the needed size and rate when the camera has one, else MJPEG, since
// JPEG compression with a moving face buries the pulse (docs/liveness.md).
// "Needed" is at least half the requested pixels and at least MinFPS;
// among the modes that qualify, the closest to the request wins (size
// first, then rate). A webcam typically offers YUYV at 640×480 and 30 fps,
// but at 1280×720 only 10 fps over USB 2: asked for 720p, it gets MJPEG
// 720p with a warning. When no mode qualifies, the closest of all is
// taken, again preferring an uncompressed one. Formats without a colour
// picture (a depth camera's Z16) are never taken. ok is false when the
// camera lists no usable mode.
func ChooseMode(modes []prop.Media, o CameraOptions) (prop.Media, Mode, bool) {
	o.defaults()
	want := float64(o.Width * o.Height)
	cost := func(m prop.Media) float64 {
		c := math.Abs(float64(m.Width*m.Height)-want) / want
		if m.FrameRate > 0 {
			c += 0.1 * math.Abs(float64(m.FrameRate)-o.FPS) / o.FPS
		}
		return c
	}
	needed := func(m prop.Media) bool {
		return float64(m.Width*m.Height) >= want/2 && (m.FrameRate <= 0 || float64(m.FrameRate) >= o.MinFPS)
	}
	best := func(keep func(prop.Media) bool) (prop.Media, bool) {
		var b prop.Media
		bc := math.Inf(1)
		for _, m := range modes {
			if m.Width <= 0 || m.Height <= 0 || !colour(m.FrameFormat) || !keep(m) {
				continue
			}
			if c := cost(m); c < bc {
				b, bc = m, c
			}
		}
		return b, !math.IsInf(bc, 1)
	}
	var m prop.Media
	var why string
	var ok bool
	if m, ok = best(func(m prop.Media) bool { return needed(m) && !compressed(m.FrameFormat) }); ok {
		why = "uncompressed, at the needed size and rate"
	} else if m, ok = best(func(m prop.Media) bool { return needed(m) }); ok {
		why = fmt.Sprintf("no uncompressed mode of %d pixels or more at %.0f fps or faster", o.Width*o.Height/2, o.MinFPS)
	} else if m, ok = best(func(m prop.Media) bool { return !compressed(m.FrameFormat) }); ok {
		why = "no mode reaches the needed size and rate; the closest uncompressed one"
	} else if m, ok = best(func(prop.Media) bool { return true }); ok {
		why = "no mode reaches the needed size and rate, and none is uncompressed"
	}
	if !ok {
		return prop.Media{}, Mode{}, false
	}
	if m.FrameRate <= 0 {
		m.FrameRate = float32(o.FPS)
	}
	format := string(m.FrameFormat)
	if format == "" {
		format = "unknown format"
	}
	return m, Mode{Width: m.Width, Height: m.Height, FPS: float64(m.FrameRate), Format: format, Compressed: compressed(m.FrameFormat), Why: why}, true
}

// Label is the device's name as the driver reports it.
func (c *Camera) Label() string { return c.d.Info().Label }

// Mode is the negotiated mode: size, rate, pixel format and why.
func (c *Camera) Mode() Mode { return c.chosen }

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
