package capture

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// FileOptions configures OpenFile. The zero value reads the file once, as
// fast as it decodes, with timestamps taken from the file's frame rate.
type FileOptions struct {
	// Loop restarts the file at its end, continuing timestamps and sequence
	// numbers, so a clip can stand in for a camera.
	Loop bool
	// Pace sleeps so frames arrive at the file's own frame rate, as a
	// camera's would.
	Pace bool
	// Start is the capture time of the first frame; zero means now.
	Start time.Time
}

// File is a video file read through OpenCV (FFmpeg backend on Debian).
// Frames are timestamped Start + index/fps. Read is for one goroutine; Close
// may be called from any goroutine.
type File struct {
	path  string
	opts  FileOptions
	fps   float64
	mu    sync.Mutex
	vc    *gocv.VideoCapture
	mat   gocv.Mat
	pool  bufPool
	seq   uint64
	index int64 // frames read since Start, across loops
	start time.Time
	epoch time.Time // wall time of Start, for pacing
	done  bool
}

// OpenFile opens a video file. A missing or undecodable file is an error
// that names the path.
func OpenFile(path string, opts FileOptions) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening video %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("opening video %s: is a directory", path)
	}
	// FFmpeg explicitly: the default probe order tries GStreamer and image
	// sequences first, which spam stderr on a bad file.
	vc, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("opening video %s: OpenCV cannot decode it (is it a video file?)", path)
	}
	fps := vc.Get(gocv.VideoCaptureFPS)
	if fps <= 0 || fps > 1000 {
		fps = 30
	}
	start := opts.Start
	if start.IsZero() {
		start = time.Now()
	}
	return &File{path: path, opts: opts, fps: fps, vc: vc, mat: gocv.NewMat(), start: start, epoch: time.Now()}, nil
}

// FPS is the file's nominal frame rate.
func (f *File) FPS() float64 { return f.fps }

// Read decodes the next frame. It returns io.EOF at the end of a file that
// does not loop.
func (f *File) Read(ctx context.Context) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.vc == nil {
		return nil, ErrClosed
	}
	if f.done {
		return nil, io.EOF
	}
	if !f.vc.Read(&f.mat) || f.mat.Empty() {
		if !f.opts.Loop || f.index == 0 {
			f.done = true
			return nil, io.EOF
		}
		f.vc.Set(gocv.VideoCapturePosFrames, 0)
		if !f.vc.Read(&f.mat) || f.mat.Empty() {
			f.done = true
			return nil, io.EOF
		}
	}
	offset := time.Duration(float64(f.index) / f.fps * float64(time.Second))
	f.index++
	if f.opts.Pace {
		if wait := time.Until(f.epoch.Add(offset)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
	}
	f.seq++
	fr, err := matToFrame(&f.pool, f.mat, f.seq, f.start.Add(offset))
	if err != nil {
		return nil, fmt.Errorf("reading video %s frame %d: %w", f.path, f.seq, err)
	}
	return fr, nil
}

// Close releases the decoder. Frames already returned stay valid.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.vc == nil {
		return nil
	}
	err := f.vc.Close()
	f.mat.Close()
	f.vc = nil
	return err
}

// matToFrame copies an 8-bit BGR, BGRA or grey Mat into a pooled frame. This
// is the one place a decoded Mat becomes our own type.
func matToFrame(pool *bufPool, m gocv.Mat, seq uint64, t time.Time) (*Frame, error) {
	w, h := m.Cols(), m.Rows()
	fr := pool.newFrame(seq, t, w, h)
	switch m.Type() {
	case gocv.MatTypeCV8UC3:
		src, err := m.DataPtrUint8()
		if err != nil || !continuous(m) {
			c := m.Clone()
			defer c.Close()
			src, err = c.DataPtrUint8()
			if err != nil {
				fr.Release()
				return nil, err
			}
		}
		copy(fr.Pix, src)
	case gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC4:
		bgr := gocv.NewMat()
		defer bgr.Close()
		code := gocv.ColorGrayToBGR
		if m.Type() == gocv.MatTypeCV8UC4 {
			code = gocv.ColorBGRAToBGR
		}
		gocv.CvtColor(m, &bgr, code)
		src, err := bgr.DataPtrUint8()
		if err != nil {
			fr.Release()
			return nil, err
		}
		copy(fr.Pix, src)
	default:
		fr.Release()
		return nil, fmt.Errorf("unsupported pixel type %v", m.Type())
	}
	return fr, nil
}

func continuous(m gocv.Mat) bool { return m.Step() == m.Cols()*m.Channels() }
