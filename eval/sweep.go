package eval

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"kiosk/capture"
)

// Condition is one kind of generated clip: a live visitor under some
// difficulty, or an attack.
type Condition struct {
	Kind  string `json:"kind"`
	Label Label  `json:"label"`
	// Options are the generator's settings (Face, FPS, PulseBPM, Seed and
	// Frames are set per clip).
	Options capture.SyntheticOptions `json:"-"`
}

// SweepConditions are the conditions `kiosk gen-sweep` generates at every
// frame rate. The live ones are the difficulties a kiosk meets: a visitor
// who sways, an MJPEG camera, a dim room, very dark skin; the attacks are a
// printed photo on a stand, one held up by hand, and a photo under
// flickering light.
var SweepConditions = []Condition{
	{Kind: "steady", Label: LabelLive},
	// ±30 px of sway at 0.13/0.21 Hz on a 264-px face: about ±2.5 cm, a
	// fidgety visitor (the default ±12 px is a calm one).
	{Kind: "motion", Label: LabelLive, Options: capture.SyntheticOptions{Motion: 30}},
	// What an MJPEG webcam delivers (quality 80–95 is typical).
	{Kind: "jpeg85", Label: LabelLive, Options: capture.SyntheticOptions{JPEGQuality: 85}},
	// A dim room: the face's mean grey about 60 with twice the sensor noise
	// (a camera raises its gain in the dark).
	{Kind: "dim", Label: LabelLive, Options: capture.SyntheticOptions{Light: 0.45, Noise: 3}},
	{Kind: "dark-skin", Label: LabelLive, Options: capture.SyntheticOptions{SkinTone: 1}},
	{Kind: "photo", Label: LabelAttack, Options: capture.SyntheticOptions{Motion: -1}},
	{Kind: "print-moved", Label: LabelAttack, Options: capture.SyntheticOptions{Tremor: 3}},
	{Kind: "flicker", Label: LabelAttack, Options: capture.SyntheticOptions{FlickerHz: 1.2, FlickerAmplitude: 0.02}},
}

// SweepRates are the heart rates the live clips take in turn, so every
// frame rate sees slow and fast pulses, and a constant guess cannot score.
var SweepRates = []float64{58, 72, 90, 115, 140}

// SweepOptions configures GenerateSweep.
type SweepOptions struct {
	Out     string
	Face    image.Image // a real face photo
	FPS     []float64   // default 12, 15, 24, 30
	Seconds float64     // default 10
	// Conditions default to SweepConditions.
	Conditions []Condition
	// Seeds is how many clips of each condition and frame rate to make,
	// each with its own noise, motion and heart rate; default 1.
	Seeds int
	// FirstSeed numbers the first of them (0 by default): a set made with
	// another FirstSeed shares no clip with the first, for holding out.
	FirstSeed int
	Progress  func(path string)
}

// waveRate is the sample rate of the truth waveform written beside each
// generated live clip: fine enough that beat times are exact at any frame
// rate.
const waveRate = 100

// GenerateSweep writes a generated clip of every condition at every frame
// rate into o.Out (lossless FFV1; compression is the condition's), with,
// beside each live clip, its exact pulse waveform (CLIP.bvp.csv, time in
// seconds from the first frame), and a manifest grouping the clips by
// frame rate. It returns the manifest's path.
func GenerateSweep(ctx context.Context, o SweepOptions) (string, error) {
	if o.Face == nil {
		return "", errors.New("eval.GenerateSweep: a face photo is required")
	}
	if len(o.FPS) == 0 {
		o.FPS = []float64{12, 15, 24, 30}
	}
	if o.Seconds <= 0 {
		o.Seconds = 10
	}
	if len(o.Conditions) == 0 {
		o.Conditions = SweepConditions
	}
	if o.Seeds <= 0 {
		o.Seeds = 1
	}
	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return "", err
	}
	var rows []ManifestEntry
	live := 0
	for fi, fps := range o.FPS {
		if !(fps >= 1 && fps <= 120) {
			return "", fmt.Errorf("frame rate %v: want 1-120", fps)
		}
		group := strconv.FormatFloat(fps, 'f', -1, 64) + "fps"
		for seed := o.FirstSeed; seed < o.FirstSeed+o.Seeds; seed++ {
			for ci, c := range o.Conditions {
				so := c.Options
				so.Face, so.FPS, so.Seed = o.Face, fps, uint64(100000*seed+1000*fi+ci+1)
				n := int(math.Round(o.Seconds * fps))
				so.Frames = n
				var bpm float64
				if c.Label == LabelLive {
					bpm = SweepRates[(fi+live+o.FirstSeed)%len(SweepRates)]
					live++
					so.PulseBPM = bpm
				}
				name := fmt.Sprintf("%s-%s", group, c.Kind)
				if bpm > 0 {
					name += fmt.Sprintf("-%gbpm", bpm)
				}
				if o.Seeds > 1 || o.FirstSeed > 0 {
					name += fmt.Sprintf("-s%d", seed+1)
				}
				path := filepath.Join(o.Out, name+".avi")
				syn := capture.NewSynthetic(so)
				rec := &beatRecorder{src: syn}
				_, err := capture.Record(ctx, rec, path, capture.CodecLossless, fps, n)
				syn.Close()
				if err != nil {
					return "", err
				}
				e := ManifestEntry{File: path, Label: c.Label, Group: group, Kind: c.Kind, BPM: bpm}
				if bpm > 0 {
					e.BVP = filepath.Join(o.Out, name+".bvp.csv")
					if err := rec.writeWaveform(e.BVP, fps); err != nil {
						return "", err
					}
				}
				if o.Progress != nil {
					o.Progress(path)
				}
				rows = append(rows, e)
			}
		}
	}
	return writeManifestFile(o.Out, rows)
}

// beatRecorder notes the generator's beat count at every frame it passes
// on, for the truth waveform.
type beatRecorder struct {
	src   *capture.Synthetic
	beats []float64
}

func (b *beatRecorder) Read(ctx context.Context) (*capture.Frame, error) {
	fr, err := b.src.Read(ctx)
	if err == nil {
		b.beats = append(b.beats, b.src.Beats())
	}
	return fr, err
}

func (b *beatRecorder) Close() error { return b.src.Close() }

// writeWaveform writes the clip's pulse as a waveform CSV at waveRate,
// frame i at i/fps seconds, the beat count interpolated between frames.
func (b *beatRecorder) writeWaveform(path string, fps float64) error {
	if len(b.beats) < 2 {
		return fmt.Errorf("%s: too few frames for a waveform", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "timestamp,bvp")
	end := float64(len(b.beats)-1) / fps
	for k := 0; float64(k)/waveRate <= end; k++ {
		t := float64(k) / waveRate
		x := t * fps
		i := min(int(x), len(b.beats)-2)
		a := x - float64(i)
		beats := b.beats[i]*(1-a) + b.beats[i+1]*a
		fmt.Fprintf(w, "%.4f,%.5f\n", t, capture.PulseWave(beats))
	}
	return errors.Join(w.Flush(), f.Close())
}
