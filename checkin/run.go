package checkin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"kiosk/capture"
)

// Frame is one camera frame with the flow's state after it. The sink owns
// Frame and must call Frame.Release when done with it.
type Frame struct {
	Frame *capture.Frame
	State Snapshot
	// Greeting is the first name to welcome a passed visitor by (from
	// their document), on the result screen only; empty otherwise.
	Greeting string
}

// CameraStats describe the frame loop for diagnostics and metrics: no
// pixels, no biometric data.
type CameraStats struct {
	Frames  uint64  `json:"frames"`
	Dropped uint64  `json:"dropped"`
	FPS     float64 `json:"fps"`
}

// Loop runs a Flow over a frame source. Stats may be read from any
// goroutine while Run runs.
type Loop struct {
	Flow   *Flow
	Source capture.Source
	// Clock, if set, follows each frame's capture time before the flow
	// steps with it (see FrameClock).
	Clock *FrameClock

	frames  atomic.Uint64
	dropped atomic.Uint64
	fps     atomic.Uint64 // math.Float64bits
}

// Stats returns the loop's recent frame rate and counts.
func (l *Loop) Stats() CameraStats {
	return CameraStats{Frames: l.frames.Load(), Dropped: l.dropped.Load(), FPS: math.Float64frombits(l.fps.Load())}
}

// Run reads frames until ctx ends or the source does, steps the flow with
// each, and hands frame and state to sink on the calling goroutine. It
// returns nil at the end of the source or on cancellation, and the read
// error otherwise. It does not close the source.
func (l *Loop) Run(ctx context.Context, sink func(Frame)) error {
	var stamps []time.Time
	for {
		fr, err := l.Source.Read(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading frames: %w", err)
		}
		if l.Clock != nil {
			l.Clock.Follow(fr.Time)
		}
		st := l.Flow.Step(ctx, fr)
		now := time.Now()
		stamps = append(stamps, now)
		cut := 0
		for cut < len(stamps) && now.Sub(stamps[cut]) > time.Second {
			cut++
		}
		stamps = stamps[cut:]
		if span := now.Sub(stamps[0]); len(stamps) > 1 && span > 0 {
			l.fps.Store(math.Float64bits(float64(len(stamps)-1) / span.Seconds()))
		}
		l.frames.Add(1)
		if dc, ok := l.Source.(dropCounter); ok {
			l.dropped.Store(dc.Dropped())
		}
		var greeting string
		if st.Stage == StageResult && st.Outcome == OutcomePass {
			greeting = l.Flow.Greeting(st.Version)
		}
		sink(Frame{Frame: fr, State: st, Greeting: greeting})
	}
}

// FrameClock is the flow's clock (Options.Now) when frames come from a
// recording or a generator read as fast as they decode: it reads the
// capture time of the latest frame, so every time-out and decision time
// runs on the frames' own clock, and a busy machine slows a check-in down
// without changing its outcome. Before the first frame it reads the wall
// clock; a live camera needs no FrameClock (its frames are stamped with
// the wall clock, and time-outs must run even when it stalls). Safe for
// concurrent use.
type FrameClock struct {
	ns atomic.Int64 // Unix nanoseconds of the latest frame; 0 before the first
}

// Now is the latest frame's capture time, or the wall clock before any.
func (c *FrameClock) Now() time.Time {
	if ns := c.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}

// Follow moves the clock to t, never back: a looped file restarting its
// timestamps does not rewind the flow's time-outs.
func (c *FrameClock) Follow(t time.Time) {
	ns := t.UnixNano()
	for {
		cur := c.ns.Load()
		if ns <= cur || c.ns.CompareAndSwap(cur, ns) {
			return
		}
	}
}
