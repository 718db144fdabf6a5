package checkin

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
	"kiosk/models"
)

// TestWindowKeepsSpreadPicks: the window keeps the best quality-passed
// frame of each second; Picks spreads its choice over the whole window
// (not five near-copies of one good moment), Best is the single best, and
// Reset wipes the kept pixels.
func TestWindowKeepsSpreadPicks(t *testing.T) {
	w := NewWindow(WindowOptions{})
	w.opened = t0
	// 6.5 s at 10 fps. Quality peaks in the middle of each second, and the
	// third second holds the best frame of all.
	for i := range 65 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		score := 50 - float64((i%10-5)*(i%10-5))
		if i == 25 {
			score = 99
		}
		fr := &capture.Frame{Seq: uint64(i), Time: at, Width: 2, Height: 1, Pix: []byte{byte(i), 1, 2, 3, 4, 5}}
		w.keep(fr, models.Face{Score: float32(i)}, score)
	}
	if len(w.kept) != 7 {
		t.Fatalf("kept %d slots; want one per second (7)", len(w.kept))
	}
	best, face, ok := w.Best()
	if !ok || best.Seq != 25 || face.Score != 25 {
		t.Fatalf("Best() = frame %v; want frame 25, the best of all", best)
	}
	frames, faces := w.Picks(LivePicks)
	if len(frames) != LivePicks || len(faces) != LivePicks {
		t.Fatalf("Picks(%d) = %d frames; want %d", LivePicks, len(frames), LivePicks)
	}
	seconds := map[int]bool{}
	for i, fr := range frames {
		s := int(fr.Time.Sub(t0) / time.Second)
		if seconds[s] {
			t.Errorf("two picks from second %d", s)
		}
		seconds[s] = true
		if i > 0 && !fr.Time.After(frames[i-1].Time) {
			t.Errorf("picks out of time order: %v after %v", fr.Time, frames[i-1].Time)
		}
		if fr.Seq%10 != 5 && fr.Seq != 25 {
			t.Errorf("pick %d is frame %d, not its second's best (the middle one)", i, fr.Seq)
		}
		if float32(fr.Seq) != faces[i].Score {
			t.Errorf("pick %d: frame %d carries face %v", i, fr.Seq, faces[i].Score)
		}
		if fr.Pix[0] != byte(fr.Seq) {
			t.Errorf("pick %d holds another frame's pixels", i)
		}
	}
	if first, last := frames[0].Time.Sub(t0), frames[len(frames)-1].Time.Sub(t0); first > 2*time.Second || last < 4*time.Second {
		t.Errorf("picks span %v to %v; want them spread over the 6.5 s window", first, last)
	}
	pix := best.Pix
	w.Reset()
	if _, _, ok := w.Best(); ok || len(w.kept) != 0 || pix[0] != 0 {
		t.Errorf("after Reset: best kept %v, %d slots, pixels %v; want nothing and wiped pixels", ok, len(w.kept), pix)
	}
}

// TestWindowPADNeverSettlesUpwards: an anti-spoof median between the edges
// at a decision time keeps the window open while a clear pulse is found,
// and later samples can lower the score the window decides on but never
// raise it to a pass: the lowest judged median stands until Reset. With
// the screen-light challenge shown, a score still in doubt goes to staff.
func TestWindowPADNeverSettlesUpwards(t *testing.T) {
	w := NewWindow(WindowOptions{})
	if !math.IsNaN(w.PAD()) {
		t.Fatalf("PAD() of an empty window = %v; want NaN", w.PAD())
	}
	th := liveness.DefaultThresholds
	doubt := (th.PADFailEdge + th.MinPAD) / 2
	// Six skin patches carrying one 72 bpm pulse (stronger in green, as in
	// skin), each with its own small noise, at 30 fps for 5 s.
	rng := rand.New(rand.NewPCG(1, 2))
	w.open, w.opened = true, t0
	var last time.Time
	for i := 0; i <= 150; i++ {
		last = t0.Add(time.Duration(i) * time.Second / 30)
		p := math.Sin(2 * math.Pi * 1.2 * float64(i) / 30)
		s := liveness.Sample{Time: last, Patches: map[string]liveness.RGB{}, Motion: -1}
		for k := range 6 {
			s.Patches[fmt.Sprint("patch", k)] = liveness.RGB{R: 150 * (1 + 0.003*p + 0.0005*rng.NormFloat64()),
				G: 110 * (1 + 0.01*p + 0.0005*rng.NormFloat64()), B: 90 * (1 + 0.005*p + 0.0005*rng.NormFloat64())}
		}
		w.est.Add(s)
	}
	w.pads = append(w.pads, doubt, doubt, doubt)
	d, due, final := w.Judge(last)
	if !due || final || d.Verdict != liveness.Retry || !strings.Contains(d.Reason, "anti-spoof model is unsure") {
		t.Fatalf("Judge with a pulse and the score in doubt = %s (due %v, final %v): %s; want a retry on the anti-spoof doubt that keeps the window open",
			d.Verdict, due, final, d.Reason)
	}
	w.pads = append(w.pads, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95)
	if got := w.PAD(); got != doubt {
		t.Errorf("PAD() after higher samples = %.2f; want the judged %.2f: waiting must not turn doubt into a pass", got, doubt)
	}
	if d := w.DecideWith(d.RPPG, &liveness.ChallengeResult{Correlation: 0.9}); d.Verdict != liveness.Refer {
		t.Errorf("after a passed challenge with the score in doubt: %s (%s); want refer, the window's last decision", d.Verdict, d.Reason)
	}
	w.pads = append(w.pads[:0], 0.05, 0.05, 0.05)
	if got := w.PAD(); got != 0.05 {
		t.Errorf("PAD() after lower samples = %.2f; want 0.05: a lower median still counts", got)
	}
	w.Reset()
	w.pads = append(w.pads, 0.95)
	if got := w.PAD(); got != 0.95 {
		t.Errorf("PAD() after Reset = %.2f; want the new window's own 0.95", got)
	}
}
