package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"kiosk/capture"
	"kiosk/models"
)

// FusionOptions configures EvalFusion. The zero value makes, for every
// photo, a 3-second clip at 30 fps of the photo's face moving in front of
// a webcam (drift, sensor noise, MJPEG compression) and fuses 5 frames.
type FusionOptions struct {
	// Frames per clip; default 90.
	Frames int
	// Picks is how many frames are fused, spread over the clip; default 5.
	Picks int
	// Clip is the generated camera's options; Face, Frames, Start and Seed
	// are set per photo. Zero fields take capture's defaults, except Noise
	// (default 4 grey levels), JPEGQuality (default 75) and Drift (0.1).
	Clip capture.SyntheticOptions
	// Limit keeps only the pairs whose photos are among the first Limit
	// photos (0: all), so a test can run a small slice.
	Limit int
}

func (o *FusionOptions) defaults() {
	if o.Frames <= 0 {
		o.Frames = 90
	}
	if o.Picks <= 0 {
		o.Picks = 5
	}
	if o.Clip.Noise == 0 {
		o.Clip.Noise = 4
	}
	if o.Clip.JPEGQuality == 0 {
		o.Clip.JPEGQuality = 75
	}
	if o.Clip.Drift == 0 {
		o.Clip.Drift = 0.1
	}
}

// The live templates EvalFusion compares, one row each in the report.
const (
	FusionPhoto   = "photo itself (no clip)" // the upper bound: the still photo, not a camera frame
	FusionSingle  = "single best frame"      // what checkin.Window keeps today
	FusionMean    = "mean of picks"          // models.FuseMean
	FusionMedoid  = "medoid of picks"        // models.FuseMedoid
	FusionAligned = "best-aligned pick"      // models.BestAligned
)

var fusionRows = []string{FusionPhoto, FusionSingle, FusionMean, FusionMedoid, FusionAligned}

// FusionRow is one way of making the live template, over every labelled
// pair (in both directions: a clip of A against the photo B, and of B
// against A).
type FusionRow struct {
	Method            string
	Genuine, Impostor int
	MeanGenuine       float64
	MinGenuine        float64 // 0 without same-person comparisons
	MaxImpostor       float64 // 0 without different-person comparisons
	Outcomes          OutcomeRates
	// Better and Worse count same-person comparisons scoring above or below
	// the single best frame on the same clip and reference: the baseline.
	Better, Worse int
}

// FusionReport is the effect of fusing several live frames.
type FusionReport struct {
	Clips, Frames, Picks int
	// Usable is the mean number of frames per clip that passed the live
	// quality gate; Fused the mean number of picks fused.
	Usable, Fused float64
	Bands         models.Bands
	Rows          []FusionRow
}

// clipTemplates are one photo's live templates, by method.
type clipTemplates map[string]models.Template

func (c clipTemplates) wipe() {
	for _, t := range c {
		t.Wipe()
	}
}

// EvalFusion measures multi-frame fusion on generated clips of a labelled
// folder's photos (LoadPairs): each photo becomes a clip (capture.Synthetic
// with the photo as the face, head motion, noise, compression); the live
// gate and detector run on every frame as in the kiosk; the single best
// frame, and Picks frames spread over the clip (models.PickSpread), are
// embedded; and each way of making the live template is scored against
// the pair's other photo as the reference, at bands.
//
// What it can show is limited: a generated clip moves one photo about, so
// frames differ by noise, compression, sub-pixel position and
// illumination drift, not by pose or expression as a real visitor's do.
// Nothing is written to disk; templates are wiped when done.
func EvalFusion(ctx context.Context, m *models.Matcher, dir string, bands models.Bands, o FusionOptions, log *slog.Logger) (FusionReport, error) {
	o.defaults()
	pairs, err := LoadPairs(dir)
	if err != nil {
		return FusionReport{}, err
	}
	if o.Limit > 0 {
		keep := map[string]bool{}
		for _, p := range pairs {
			for _, ph := range []string{p.A, p.B} {
				if len(keep) < o.Limit {
					keep[ph] = true
				}
			}
		}
		var in []Pair
		for _, p := range pairs {
			if keep[p.A] && keep[p.B] {
				in = append(in, p)
			}
		}
		pairs = in
	}
	rep := FusionReport{Frames: o.Frames, Picks: o.Picks, Bands: bands}
	refs := map[string]models.Template{}
	clips := map[string]clipTemplates{}
	defer func() {
		for _, t := range refs {
			t.Wipe()
		}
		for _, c := range clips {
			c.wipe()
		}
	}()
	bad := map[string]bool{}
	var seed uint64
	prepare := func(name string) bool {
		if bad[name] {
			return false
		}
		if _, ok := clips[name]; ok {
			return true
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			var img models.Image
			if img, err = models.DecodeImage(data); err == nil {
				var ref models.Template
				if ref, _, err = m.Reference(img); err == nil {
					refs[name] = ref
					seed++
					var c clipTemplates
					var usable, fused int
					c, usable, fused, err = fuseClip(ctx, m, data, ref, o, seed)
					if err == nil {
						clips[name] = c
						rep.Clips++
						rep.Usable += float64(usable)
						rep.Fused += float64(fused)
						return true
					}
				}
			}
		}
		bad[name] = true
		log.Warn("photo skipped for the fusion clips", "file", name, "err", err)
		return false
	}
	rows := map[string]*FusionRow{}
	for _, k := range fusionRows {
		rows[k] = &FusionRow{Method: k, MinGenuine: math.Inf(1), MaxImpostor: math.Inf(-1)}
	}
	for _, p := range pairs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if !prepare(p.A) || !prepare(p.B) {
			continue
		}
		for _, dirn := range [][2]string{{p.A, p.B}, {p.B, p.A}} {
			live, ref := clips[dirn[0]], refs[dirn[1]]
			single := float64(live[FusionSingle].Similarity(ref))
			for _, k := range fusionRows {
				r := rows[k]
				s := float64(live[k].Similarity(ref))
				o := bands.Outcome(float32(s))
				if p.Same {
					r.Genuine++
					r.MeanGenuine += s
					r.MinGenuine = min(r.MinGenuine, s)
					r.Outcomes.Same.Add(o)
					switch {
					case s > single+1e-6:
						r.Better++
					case s < single-1e-6:
						r.Worse++
					}
				} else {
					r.Impostor++
					r.MaxImpostor = max(r.MaxImpostor, s)
					r.Outcomes.Different.Add(o)
				}
			}
		}
	}
	if rep.Clips == 0 {
		return rep, errors.New("no photo could be made into a clip")
	}
	rep.Usable /= float64(rep.Clips)
	rep.Fused /= float64(rep.Clips)
	for _, k := range fusionRows {
		r := rows[k]
		if r.Genuine > 0 {
			r.MeanGenuine /= float64(r.Genuine)
		} else {
			r.MinGenuine = 0 // none: 0, which JSON can carry
		}
		if r.Impostor == 0 {
			r.MaxImpostor = 0
		}
		rep.Rows = append(rep.Rows, *r)
	}
	return rep, nil
}

// fuseClip renders one photo's clip, runs detection and the live gate on
// every frame, keeps the best frame overall and the best of each of Picks
// equal runs (models.PickSpread's rule, applied as frames arrive, so only
// Picks+1 frames are held), and embeds them.
func fuseClip(ctx context.Context, m *models.Matcher, photo []byte, still models.Template, o FusionOptions, seed uint64) (c clipTemplates, usable, fused int, err error) {
	face, _, err := image.Decode(bytes.NewReader(photo))
	if err != nil {
		return nil, 0, 0, err
	}
	so := o.Clip
	so.Face, so.Frames, so.Seed = face, o.Frames, seed
	so.Start = time.Unix(0, 0)
	src := capture.NewSynthetic(so)
	defer src.Close()
	type kept struct {
		fr    *capture.Frame
		face  models.Face
		score float64
	}
	best := kept{}
	runs := make([]kept, o.Picks)
	defer func() {
		best.fr.Release()
		for _, k := range runs {
			k.fr.Release()
		}
	}()
	for i := 0; i < o.Frames; i++ {
		fr, err := src.Read(ctx)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("clip frame %d: %w", i, err)
		}
		img := models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix}
		faces, err := m.Det.Detect(img)
		if err != nil {
			fr.Release()
			return nil, 0, 0, err
		}
		q, err := models.AssessQuality(img, faces, m.Quality)
		if err != nil || !q.OK() {
			fr.Release()
			if err != nil {
				return nil, 0, 0, err
			}
			continue
		}
		usable++
		r := min(i*o.Picks/o.Frames, o.Picks-1)
		if q.Score > best.score {
			best.fr.Release()
			best = kept{fr.Clone(), faces[0], q.Score}
		}
		if q.Score > runs[r].score {
			runs[r].fr.Release()
			runs[r] = kept{fr.Clone(), faces[0], q.Score}
		}
		fr.Release()
	}
	if best.fr == nil {
		return nil, usable, 0, errors.New("no frame of the clip passed the live quality gate")
	}
	embed := func(k kept) (models.Template, error) {
		return m.Emb.EmbedFace(models.Image{Width: k.fr.Width, Height: k.fr.Height, Pix: k.fr.Pix}, k.face)
	}
	c = clipTemplates{}
	ok := false
	defer func() {
		if !ok {
			c.wipe()
		}
	}()
	if c[FusionSingle], err = embed(best); err != nil {
		return nil, 0, 0, err
	}
	var picks []models.Template
	var faces []models.Face
	defer func() {
		for _, t := range picks {
			t.Wipe()
		}
	}()
	for _, k := range runs {
		if k.fr == nil {
			continue
		}
		t, err := embed(k)
		if err != nil {
			return nil, 0, 0, err
		}
		picks = append(picks, t)
		faces = append(faces, k.face)
	}
	if c[FusionMean], err = models.FuseTemplates(picks, models.FuseMean); err != nil {
		return nil, 0, 0, err
	}
	if c[FusionMedoid], err = models.FuseTemplates(picks, models.FuseMedoid); err != nil {
		return nil, 0, 0, err
	}
	c[FusionAligned] = picks[models.BestAligned(faces)].Clone()
	c[FusionPhoto] = still.Clone()
	ok = true
	return c, usable, len(picks), nil
}
