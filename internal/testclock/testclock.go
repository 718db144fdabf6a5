// Package testclock is the settable clock tests step instead of sleeping
// (STYLE.md: purge timers, liveness windows and UI time-outs are tested by
// stepping a fake clock). It keeps a wall clock and a monotonic clock that
// move together, unless the wall clock is set on its own, as an operator or
// NTP would. Start with New.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use; its zero value starts at the zero time.
type Clock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{wall: start} }

// Now is the wall clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// Elapsed is the monotonic clock: how far Advance and Follow have moved it.
func (c *Clock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Advance moves both clocks forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.mono += d
}

// Follow moves both clocks forward to t, and never back: tests that run on
// recorded frames follow each frame's capture time.
func (c *Clock) Follow(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := t.Sub(c.wall); d > 0 {
		c.wall, c.mono = t, c.mono+d
	}
}

// SetWall jumps the wall clock only (an operator or NTP changing the time);
// the monotonic clock does not move.
func (c *Clock) SetWall(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = t
}
