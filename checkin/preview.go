// Package checkin owns the check-in flow shared by the UI and the API. Its
// first piece is the live preview loop: frames from a capture.Source go
// through face detection and are handed, annotated, to a sink (the Fyne
// preview or the headless logger), with the measured frame rate.
//
// Start with RunPreview.
package checkin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"kiosk/capture"
	"kiosk/models"
)

// Detector finds faces in pixels; *models.Detector is the real one.
type Detector interface {
	Detect(models.Image) ([]models.Face, error)
}

// PreviewStats describes the loop's recent performance. It holds no pixels
// and no biometric data, so it may be logged and exported as metrics.
type PreviewStats struct {
	Frames   uint64        `json:"frames"`    // frames processed so far
	Dropped  uint64        `json:"dropped"`   // frames the source produced that the loop skipped
	FPS      float64       `json:"fps"`       // processed frames per second over the last window
	Faces    int           `json:"faces"`     // faces in the latest frame
	Detect   time.Duration `json:"detect_ns"` // detection time of the latest frame
	Elapsed  time.Duration `json:"elapsed_ns"`
	LastSeq  uint64        `json:"last_seq"`
	Finished bool          `json:"finished"`
}

// PreviewFrame is one processed frame. The sink owns Frame and must call
// Frame.Release when done with it.
type PreviewFrame struct {
	Frame *capture.Frame
	Faces []models.Face
	Stats PreviewStats
}

// PreviewOptions configures RunPreview. The zero value annotates frames,
// and measures fps over one second.
type PreviewOptions struct {
	// NoAnnotate leaves the pixels untouched (no boxes drawn).
	NoAnnotate bool
	// Window is the span fps is averaged over; default 1 s.
	Window time.Duration
	// Now is the clock used for fps; default time.Now.
	Now func() time.Time
}

// dropCounter is implemented by sources that skip frames (capture.Latest).
type dropCounter interface{ Dropped() uint64 }

// RunPreview reads src until it ends or ctx is cancelled, detecting faces in
// each frame and passing the result to sink on the calling goroutine. It
// returns nil when the source ends (io.EOF) or ctx is cancelled, and the
// error otherwise. It does not close src.
func RunPreview(ctx context.Context, src capture.Source, det Detector, o PreviewOptions, sink func(PreviewFrame)) (PreviewStats, error) {
	if o.Window <= 0 {
		o.Window = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var st PreviewStats
	start := o.Now()
	var stamps []time.Time // processing times within the window
	for {
		f, err := src.Read(ctx)
		if err != nil {
			st.Finished = true
			st.Elapsed = o.Now().Sub(start)
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return st, nil
			}
			return st, fmt.Errorf("reading frames: %w", err)
		}
		t0 := o.Now()
		img := models.Image{Width: f.Width, Height: f.Height, Pix: f.Pix}
		faces, err := det.Detect(img)
		if err != nil {
			f.Release()
			return st, fmt.Errorf("detecting faces in frame %d: %w", f.Seq, err)
		}
		now := o.Now()
		if !o.NoAnnotate {
			models.Annotate(img, faces)
		}
		st.Frames++
		st.Faces = len(faces)
		st.Detect = now.Sub(t0)
		st.LastSeq = f.Seq
		st.Elapsed = now.Sub(start)
		if dc, ok := src.(dropCounter); ok {
			st.Dropped = dc.Dropped()
		}
		stamps = append(stamps, now)
		cut := 0
		for cut < len(stamps) && now.Sub(stamps[cut]) > o.Window {
			cut++
		}
		stamps = stamps[cut:]
		if span := now.Sub(stamps[0]); len(stamps) > 1 && span > 0 {
			st.FPS = float64(len(stamps)-1) / span.Seconds()
		}
		sink(PreviewFrame{Frame: f, Faces: faces, Stats: st})
	}
}
