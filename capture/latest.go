package capture

import (
	"context"
	"sync"
	"sync/atomic"
)

// Latest reads its source on a goroutine of its own, as fast as the source
// produces, and hands the consumer only the newest frame. A frame that is
// replaced before anyone reads it is released and counted as dropped, so a
// slow consumer (a busy detector, a stalled UI) never blocks the camera.
//
// Latest is a Source. Read is for one consumer goroutine; Dropped and Close
// are safe from any goroutine. Close stops the goroutine, closes the wrapped
// source and releases any frame still held.
type Latest struct {
	src     Source
	cancel  context.CancelFunc
	done    chan struct{}
	ready   chan struct{} // 1-buffered: "a new frame is in slot"
	mu      sync.Mutex
	slot    *Frame
	err     error // terminal error from the source, delivered after slot drains
	dropped atomic.Uint64
	closing sync.Once
}

// NewLatest starts reading src. The Latest owns src from now on.
func NewLatest(src Source) *Latest {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Latest{src: src, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{}, 1)}
	go l.pump(ctx)
	return l
}

func (l *Latest) pump(ctx context.Context) {
	defer close(l.done)
	for {
		f, err := l.src.Read(ctx)
		l.mu.Lock()
		if err != nil {
			if ctx.Err() != nil {
				err = ErrClosed // we were closed; the source's view of it is noise
			}
			l.err = err
		} else {
			if l.slot != nil {
				l.slot.Release()
				l.dropped.Add(1)
			}
			l.slot = f
		}
		l.mu.Unlock()
		select {
		case l.ready <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// Read returns the newest frame not yet returned, waiting for one if needed.
// After the source ends, Read returns its error (io.EOF for a finished file).
func (l *Latest) Read(ctx context.Context) (*Frame, error) {
	for {
		l.mu.Lock()
		f, err := l.slot, l.err
		l.slot = nil
		l.mu.Unlock()
		if f != nil {
			return f, nil
		}
		if err != nil {
			return nil, err
		}
		select {
		case <-l.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Dropped is how many frames were replaced before the consumer read them.
func (l *Latest) Dropped() uint64 { return l.dropped.Load() }

// Close stops reading, closes the source, and waits for the reader goroutine.
func (l *Latest) Close() error {
	var err error
	l.closing.Do(func() {
		l.cancel()
		err = l.src.Close()
		<-l.done
		l.mu.Lock()
		l.slot.Release()
		l.slot = nil
		if l.err == nil {
			l.err = ErrClosed
		}
		l.mu.Unlock()
	})
	return err
}
