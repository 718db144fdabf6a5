package liveness

import (
	"math"
	"math/rand/v2"
	"time"
)

// Challenge is a screen-light challenge: the kiosk fills the screen with a
// random sequence of colours, and the light reflected by the face must
// follow it. A replayed video cannot, because the sequence is drawn fresh
// for each check-in and shown only once.
type Challenge struct {
	Start   time.Time
	Slot    time.Duration
	Colours []RGB
}

// challengePalette are saturated colours whose chromaticities differ in
// both red and blue share, so either axis carries the sequence.
var challengePalette = []RGB{{R: 255, G: 40, B: 40}, {R: 40, G: 255, B: 40}, {R: 40, G: 40, B: 255}, {R: 255, G: 255, B: 60}, {R: 255, G: 60, B: 255}, {R: 60, G: 255, B: 255}}

// NewChallenge draws slots colours, never the same twice in a row, from a
// seeded source (use crypto-random seeds in production).
func NewChallenge(seed [32]byte, start time.Time, slots int, slot time.Duration) Challenge {
	rng := rand.New(rand.NewChaCha8(seed))
	c := Challenge{Start: start, Slot: slot}
	prev := -1
	for i := 0; i < slots; i++ {
		k := rng.IntN(len(challengePalette))
		if k == prev {
			k = (k + 1 + rng.IntN(len(challengePalette)-1)) % len(challengePalette)
		}
		prev = k
		c.Colours = append(c.Colours, challengePalette[k])
	}
	return c
}

// ColourAt is the colour on screen at t, and whether the challenge is on.
func (c Challenge) ColourAt(t time.Time) (RGB, bool) {
	if c.Slot <= 0 || t.Before(c.Start) {
		return RGB{}, false
	}
	i := int(t.Sub(c.Start) / c.Slot)
	if i >= len(c.Colours) {
		return RGB{}, false
	}
	return c.Colours[i], true
}

// End is when the last colour goes off.
func (c Challenge) End() time.Time { return c.Start.Add(time.Duration(len(c.Colours)) * c.Slot) }

// ChallengeResult is how well the face followed the sequence.
type ChallengeResult struct {
	Correlation float64       `json:"correlation"`
	Lag         time.Duration `json:"lag_ns"`
	Samples     int           `json:"samples"`
}

// maxChallengeLag covers camera and display latency.
const maxChallengeLag = 200 * time.Millisecond

// Check correlates the displayed chromaticity with the skin's, over the
// challenge period, at the best lag up to 200 ms.
func (c Challenge) Check(samples []Sample) ChallengeResult {
	best := ChallengeResult{Correlation: math.Inf(-1)}
	for lag := time.Duration(0); lag <= maxChallengeLag; lag += 20 * time.Millisecond {
		var er, eb, mr, mb []float64
		for _, s := range samples {
			col, ok := c.ColourAt(s.Time.Add(-lag))
			if !ok {
				continue
			}
			skin, ok := meanSkin(s)
			if !ok {
				continue
			}
			er, eb = append(er, chroma(col, 0)), append(eb, chroma(col, 2))
			mr, mb = append(mr, chroma(skin, 0)), append(mb, chroma(skin, 2))
		}
		if len(er) < 4 {
			continue
		}
		corr := (correlation(er, mr) + correlation(eb, mb)) / 2
		if corr > best.Correlation {
			best = ChallengeResult{Correlation: corr, Lag: lag, Samples: len(er)}
		}
	}
	if math.IsInf(best.Correlation, -1) {
		best.Correlation = 0
	}
	return best
}

// chroma is a colour's share of channel ch (0 = red, 2 = blue).
func chroma(c RGB, ch int) float64 {
	sum := c.R + c.G + c.B
	if sum <= 0 {
		return 0
	}
	return [3]float64{c.R, c.G, c.B}[ch] / sum
}

func meanSkin(s Sample) (RGB, bool) {
	var m RGB
	n := 0
	for _, c := range s.Patches {
		if c.valid() {
			m.R += c.R
			m.G += c.G
			m.B += c.B
			n++
		}
	}
	if n == 0 {
		return RGB{}, false
	}
	return RGB{R: m.R / float64(n), G: m.G / float64(n), B: m.B / float64(n)}, true
}
