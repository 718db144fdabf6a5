package testclock

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	c := New(t0)
	c.Advance(time.Minute)
	c.Follow(t0.Add(30 * time.Second)) // behind: no move
	c.Follow(t0.Add(2 * time.Minute))
	c.SetWall(t0.Add(-time.Hour))
	if got, want := c.Now(), t0.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("Now() = %v; want %v", got, want)
	}
	if got := c.Elapsed(); got != 2*time.Minute {
		t.Errorf("Elapsed() = %v; want 2m (SetWall does not move it)", got)
	}
}
