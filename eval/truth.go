package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The liveness manifest: one CSV per folder of face videos, naming each
// video and its truth. Columns (header required, in any order; # starts a
// comment line):
//
//	file         the video, relative to the manifest's folder (or absolute)
//	label        live or attack
//	group        a name to total the videos by (a camera, a frame rate, a
//	             source recording); optional
//	kind         a short word for the condition or attack species
//	             (photo, print-moved, flicker, 12fps-motion, …); optional.
//	             APCER is reported per kind, as ISO/IEC 30107-3 asks.
//	bpm          the mean heart rate over the video; optional
//	bvp          a pulse waveform CSV (timestamp,bvp: seconds and any unit),
//	             relative like file; optional. The reference heart rate is
//	             then measured on the waveform over each judged window.
//	frame_times  a CSV of frame,timestamp on the waveform's clock (as a
//	             recorder writes it); optional. Without it, frame i of a
//	             video is at i/fps seconds on that clock.
//
// A live row should carry bpm or bvp (else its heart rate is not scored);
// an attack row needs neither. ManifestName is the file the evaluation
// looks for in a folder.
const ManifestName = "manifest.csv"

// Label is what a video shows: a live person or an attack.
type Label string

// The two labels.
const (
	LabelLive   Label = "live"
	LabelAttack Label = "attack"
)

// ManifestEntry is one row of a liveness manifest, with its paths resolved.
type ManifestEntry struct {
	File       string  `json:"file"`
	Label      Label   `json:"label"`
	Group      string  `json:"group,omitempty"`
	Kind       string  `json:"kind,omitempty"`
	BPM        float64 `json:"bpm,omitempty"` // 0: not given
	BVP        string  `json:"bvp,omitempty"`
	FrameTimes string  `json:"frame_times,omitempty"`
}

// maxManifestRows bounds a manifest: an evaluation folder holds tens or
// hundreds of videos, never millions.
const maxManifestRows = 100000

// ReadManifest reads a liveness manifest; relative paths are resolved
// against dir.
func ReadManifest(r io.Reader, dir string) ([]ManifestEntry, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("manifest: want a header line (file,label,group,kind,bpm,bvp,frame_times): %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("manifest: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{"file", "label"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("manifest: no %q column in the header %q", need, strings.Join(header, ","))
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	resolve := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var out []ManifestEntry
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if len(out) >= maxManifestRows {
			return nil, fmt.Errorf("manifest: more than %d rows", maxManifestRows)
		}
		e := ManifestEntry{File: get(rec, "file"), Label: Label(strings.ToLower(get(rec, "label"))), Group: get(rec, "group"), Kind: get(rec, "kind"),
			BVP: get(rec, "bvp"), FrameTimes: get(rec, "frame_times")}
		line, _ := cr.FieldPos(0) // the file's own line, comments and all
		where := fmt.Sprintf("manifest line %d (%s)", line, e.File)
		if e.File == "" {
			return nil, fmt.Errorf("manifest line %d: no file", line)
		}
		if e.Label != LabelLive && e.Label != LabelAttack {
			return nil, fmt.Errorf("%s: label %q: want live or attack", where, get(rec, "label"))
		}
		if s := get(rec, "bpm"); s != "" {
			e.BPM, err = strconv.ParseFloat(s, 64)
			if err != nil || !(e.BPM >= 20 && e.BPM <= 300) {
				return nil, fmt.Errorf("%s: bpm %q: want a heart rate of 20-300", where, s)
			}
		}
		if e.FrameTimes != "" && e.BVP == "" {
			return nil, fmt.Errorf("%s: frame_times without bvp: the frame times only place the video on a waveform's clock", where)
		}
		e.File, e.BVP, e.FrameTimes = resolve(e.File), resolve(e.BVP), resolve(e.FrameTimes)
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errors.New("manifest: no videos listed")
	}
	return out, nil
}

// Waveform is a pulse waveform: samples at increasing times, in seconds on
// the recorder's clock (Unix time for a finger oximeter's log).
type Waveform struct {
	T, V []float64
}

// maxSeries bounds the rows of a waveform or frame-time CSV (a day of a
// 100 Hz waveform), so a stray huge file fails rather than fills memory.
const maxSeries = 10_000_000

// ReadWaveform reads a CSV of timestamp,value rows with a header (the
// PhysRecorder BVP.csv layout). Times must increase.
func ReadWaveform(r io.Reader) (Waveform, error) {
	t, v, err := readSeries(r, "timestamp,bvp", true)
	if err != nil {
		return Waveform{}, err
	}
	if len(t) < 4 {
		return Waveform{}, fmt.Errorf("waveform: %d samples; want a pulse waveform of several seconds", len(t))
	}
	return Waveform{T: t, V: v}, nil
}

// ReadFrameTimes reads a CSV of frame,timestamp rows with a header (the
// PhysRecorder frames_timestamp.csv layout): frame indices must run 0, 1,
// 2, … and times must increase. It returns each frame's time.
func ReadFrameTimes(r io.Reader) ([]float64, error) {
	idx, t, err := readSeries(r, "frame,timestamp", false)
	if err != nil {
		return nil, err
	}
	for i, f := range idx {
		if f != float64(i) {
			return nil, fmt.Errorf("frame times: row %d is frame %v; want %d (frames in order from 0, none missing)", i+1, f, i)
		}
	}
	if len(t) < 2 {
		return nil, errors.New("frame times: fewer than 2 frames")
	}
	for i := 1; i < len(t); i++ {
		if !(t[i] > t[i-1]) {
			return nil, fmt.Errorf("frame times: frame %d at %v is not after frame %d at %v", i, t[i], i-1, t[i-1])
		}
	}
	return t, nil
}

// readSeries reads two numeric columns under a header; with increasing,
// the first column must increase strictly.
func readSeries(r io.Reader, want string, increasing bool) (a, b []float64, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil {
		return nil, nil, fmt.Errorf("want a header line (%s): %w", want, err)
	}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if len(a) >= maxSeries {
			return nil, nil, fmt.Errorf("more than %d rows", maxSeries)
		}
		if len(rec) < 2 {
			return nil, nil, fmt.Errorf("row %d: want %s", row, want)
		}
		x, err1 := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if err1 != nil || err2 != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, nil, fmt.Errorf("row %d: %q,%q: want two finite numbers (%s)", row, rec[0], rec[1], want)
		}
		if n := len(a); n > 0 && increasing && !(x > a[n-1]) {
			return nil, nil, fmt.Errorf("row %d: time %v is not after %v", row, x, a[n-1])
		}
		a, b = append(a, x), append(b, y)
	}
	return a, b, nil
}

func readWaveformFile(path string) (Waveform, error) {
	f, err := os.Open(path)
	if err != nil {
		return Waveform{}, err
	}
	defer f.Close()
	w, err := ReadWaveform(f)
	if err != nil {
		return Waveform{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

func readFrameTimesFile(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadFrameTimes(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Reference is the heart rate a waveform shows over one span.
type Reference struct {
	// BPM is the heart rate from the beats: how many there were between
	// the span's ends, fractions counted from the systolic peaks around
	// each end, per minute. It is the reference an estimate is scored
	// against (NaN when the beats are too few to tell).
	BPM float64 `json:"bpm"`
	// Beats is how many peaks lay inside the span.
	Beats int `json:"beats"`
	// Spectral is the strongest frequency of the waveform over the span,
	// 42–240 bpm: a second opinion. When the two differ by more than a few
	// bpm the heart rate changed within the span, or the waveform is poor.
	Spectral float64 `json:"spectral_bpm"`
}

// HeartRate measures the waveform's heart rate between t0 and t1 (seconds
// on its clock) by its beats, with the spectral peak beside it. Peaks are
// found on the whole waveform, so the beats around the span's ends are
// there to count its fractions of a beat.
func (w Waveform) HeartRate(t0, t1 float64) Reference {
	ref := Reference{BPM: math.NaN(), Spectral: math.NaN()}
	if !(t1 > t0) || len(w.T) < 4 {
		return ref
	}
	// The refractory period comes from the spectral rate around the span
	// (a beat is 60/rate s): 60 % of a beat, within 0.2–1 s.
	margin := 4.0
	rate := w.spectralPeak(math.Max(t0-margin, w.T[0]), math.Min(t1+margin, w.T[len(w.T)-1]))
	refractory := 0.3
	if !math.IsNaN(rate) {
		refractory = math.Max(0.2, math.Min(1, 0.6*60/rate))
	}
	beats := w.peaks(t0-margin, t1+margin, refractory)
	for _, p := range beats {
		if p >= t0 && p <= t1 {
			ref.Beats++
		}
	}
	// The beats' phase, interpolated linearly between peaks, counts the
	// heartbeats between t0 and t1 exactly, fractions included: the mean
	// rate over the span, which is what an estimate over the same frames
	// measures. (The mean interval of the beats inside the span covers
	// only part of it and, with heart-rate variability, differs by a bpm
	// or more over 5 s.) Without a beat on each side of the span, the
	// beats inside it are all there is.
	first, last := slices.IndexFunc(beats, func(p float64) bool { return p > t0 }), -1
	for i, p := range beats {
		if p < t1 {
			last = i
		}
	}
	switch {
	case first > 0 && last >= 0 && last+1 < len(beats) && last >= first-1:
		phase := func(t float64, k int) float64 { return float64(k) + (t-beats[k])/(beats[k+1]-beats[k]) }
		ref.BPM = 60 * (phase(t1, last) - phase(t0, first-1)) / (t1 - t0)
	case ref.Beats >= 3:
		var in []float64
		for _, p := range beats {
			if p >= t0 && p <= t1 {
				in = append(in, p)
			}
		}
		ref.BPM = 60 * float64(len(in)-1) / (in[len(in)-1] - in[0])
	}
	ref.Spectral = w.spectralPeak(t0, t1)
	return ref
}

// baselineSpan is the span, in seconds, of the moving mean taken as the
// waveform's baseline: a peak must rise above it.
const baselineSpan = 1.5

// peaks returns the times of the waveform's systolic peaks between t0 and
// t1: samples above the local baseline that are the highest within
// ±refractory s, refined by a parabola through the sample and its
// neighbours. A refractory period of about half a beat keeps a slow
// heart's diastolic wave, a local maximum of its own a third of a second
// after the systolic peak, from counting as a beat.
func (w Waveform) peaks(t0, t1, refractory float64) []float64 {
	lo0, _ := slices.BinarySearch(w.T, t0)
	hi0, _ := slices.BinarySearch(w.T, t1)
	hi0 = min(hi0+1, len(w.T))
	T, V := w.T[lo0:hi0], w.V[lo0:hi0]
	n := len(T)
	base := make([]float64, n)
	lo, hi := 0, 0
	var sum float64
	for i := range n {
		for hi < n && T[hi] <= T[i]+baselineSpan/2 {
			sum += V[hi]
			hi++
		}
		for T[lo] < T[i]-baselineSpan/2 {
			sum -= V[lo]
			lo++
		}
		base[i] = sum / float64(hi-lo)
	}
	var out []float64
	for i := 1; i+1 < n; i++ {
		v := V[i]
		if v <= base[i] || v < V[i-1] || v <= V[i+1] {
			continue
		}
		highest := true
		for j := i - 1; j >= 0 && T[i]-T[j] < refractory; j-- {
			if V[j] > v {
				highest = false
				break
			}
		}
		for j := i + 1; highest && j < n && T[j]-T[i] < refractory; j++ {
			if V[j] >= v {
				highest = false
			}
		}
		if !highest {
			continue
		}
		// Parabola through the three samples (uneven spacing allowed).
		t := T[i]
		x0, x1 := T[i-1]-t, T[i+1]-t
		y0, y1 := V[i-1]-v, V[i+1]-v
		if den := x0 * x1 * (x0 - x1); den != 0 {
			a := (y0*x1 - y1*x0) / den
			b := (y1*x0*x0 - y0*x1*x1) / den
			if a < 0 {
				if off := -b / (2 * a); off > x0 && off < x1 {
					t += off
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// spectralPeak is the strongest frequency, in bpm, of the waveform's
// samples between t0 and t1: linearly resampled at 30 Hz, the mean and a
// straight line removed, a Hann taper, then a DFT scanned in 0.1 bpm steps
// over 42–240 bpm.
func (w Waveform) spectralPeak(t0, t1 float64) float64 {
	const fs = 30.0
	// Spans beyond ten minutes are not heart-rate windows (and a fuzzed
	// clock could ask for an absurd allocation).
	if !(t1-t0 <= 600) {
		return math.NaN()
	}
	n := int((t1-t0)*fs) + 1
	if n < 16 {
		return math.NaN()
	}
	x := make([]float64, n)
	j := 0
	for i := range x {
		t := t0 + float64(i)/fs
		for j+1 < len(w.T) && w.T[j+1] < t {
			j++
		}
		switch {
		case t <= w.T[0]:
			x[i] = w.V[0]
		case j+1 >= len(w.T):
			x[i] = w.V[len(w.V)-1]
		default:
			a := (t - w.T[j]) / (w.T[j+1] - w.T[j])
			x[i] = w.V[j]*(1-a) + w.V[j+1]*a
		}
	}
	scale := 0.0
	for _, v := range x {
		scale = max(scale, math.Abs(v))
	}
	// Remove a straight line (least squares), then taper.
	var st, sx, stt, stx float64
	for i, v := range x {
		t := float64(i)
		st, sx, stt, stx = st+t, sx+v, stt+t*t, stx+t*v
	}
	fn := float64(n)
	slope := (fn*stx - st*sx) / (fn*stt - st*st)
	icpt := (sx - slope*st) / fn
	for i := range x {
		hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		x[i] = (x[i] - icpt - slope*float64(i)) * hann
	}
	// A flat span (a straight line, or the recorder's log ended) has no
	// peak: NaN, not the band's first rate picked from rounding noise.
	residue := 0.0
	for _, v := range x {
		residue = max(residue, math.Abs(v))
	}
	if !(residue > 1e-9*scale) {
		return math.NaN()
	}
	best, bestP := math.NaN(), 0.0
	for bpm := 42.0; bpm <= 240; bpm += 0.1 {
		wv := 2 * math.Pi * bpm / 60 / fs
		var re, im float64
		for i, v := range x {
			s, c := math.Sincos(wv * float64(i))
			re += v * c
			im += v * s
		}
		if p := re*re + im*im; p > bestP {
			best, bestP = bpm, p
		}
	}
	return best
}
