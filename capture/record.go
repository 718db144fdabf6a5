package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"gocv.io/x/gocv"
)

// Codecs Record can write: lossless FFV1 keeps test clips exactly as
// generated (compression, if wanted, is the generator's JPEGQuality), and
// MJPEG gives small files at a quality OpenCV chooses.
const (
	CodecLossless = "FFV1"
	CodecMJPEG    = "MJPG"
)

// Record writes up to n frames from src (all of them when n <= 0) into an
// AVI at path with the given codec (CodecLossless or CodecMJPEG), for demo
// and test clips. It returns how many frames were written. A partly written
// file is removed on error.
func Record(ctx context.Context, src Source, path, codec string, fps float64, n int) (int, error) {
	var vw *gocv.VideoWriter
	written := 0
	fail := func(err error) (int, error) {
		if vw != nil {
			vw.Close()
		}
		os.Remove(path)
		return written, fmt.Errorf("recording %s: %w", path, err)
	}
	for n <= 0 || written < n {
		f, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if vw == nil {
			vw, err = gocv.VideoWriterFile(path, codec, fps, f.Width, f.Height, true)
			if err != nil || !vw.IsOpened() {
				f.Release()
				return fail(fmt.Errorf("OpenCV cannot write a %s AVI here (%v)", codec, err))
			}
		}
		m, err := gocv.NewMatFromBytes(f.Height, f.Width, gocv.MatTypeCV8UC3, f.Pix)
		if err != nil {
			f.Release()
			return fail(err)
		}
		err = vw.Write(m)
		m.Close()
		f.Release()
		if err != nil {
			return fail(err)
		}
		written++
	}
	if vw == nil {
		return fail(errors.New("the source produced no frames"))
	}
	return written, vw.Close()
}
