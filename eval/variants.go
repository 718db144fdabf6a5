package eval

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"kiosk/capture"
	"kiosk/models"
)

// Variant is one way of reframing a recorded face video: the same person
// and pulse, seen closer, farther, at a lower resolution or cropped.
type Variant struct {
	Name string `json:"name"`
	// Zoom > 1 brings the face closer: a crop of 1/Zoom of the frame around
	// the face, scaled back up to the frame's size (a camera's digital
	// zoom, or a visitor that much nearer). Zoom < 1 moves it away: the
	// whole frame scaled by Zoom, centred on a canvas of the frame's size.
	Zoom float64 `json:"zoom,omitempty"`
	// FaceFrac zooms so the face box is this fraction of the frame's
	// height (the quality gate asks a visitor to move back above 0.85).
	FaceFrac float64 `json:"face_frac,omitempty"`
	// Scale resizes the whole frame: a lower-resolution camera.
	Scale float64 `json:"scale,omitempty"`
	// Crop cuts a square this many face heights wide around the face, at
	// the camera's resolution: a face-tracking crop (face_ffv1.avi is about
	// 2 face heights).
	Crop float64 `json:"crop,omitempty"`
}

// DefaultVariants are the reframings `kiosk gen-variants` makes.
// The closer ones are set by the face's share of the frame, so both forms
// of a recording (a face crop and the full frame) come out alike: 0.6 and
// 0.8 lie under the quality gate's 0.85, 0.95 over it (the kiosk asks that
// visitor to move back; a recording cannot, so it never opens a window).
var DefaultVariants = []Variant{
	{Name: "farther-0.5x", Zoom: 0.5},
	{Name: "closer-face0.6", FaceFrac: 0.6},
	{Name: "closer-face0.8", FaceFrac: 0.8},
	{Name: "closer-face0.95", FaceFrac: 0.95},
	{Name: "half-res", Scale: 0.5},
	{Name: "crop-2face", Crop: 2},
	{Name: "crop-1.4face", Crop: 1.4},
}

// reframing is the capture.ReframeOptions that make v from a w×h video
// whose face box is face.
func (v Variant) reframing(w, h int, face image.Rectangle) (capture.ReframeOptions, error) {
	c := image.Pt((face.Min.X+face.Max.X)/2, (face.Min.Y+face.Max.Y)/2)
	frame := image.Rect(0, 0, w, h)
	// around returns a cw×ch rectangle centred on the face, shifted to lie
	// inside the frame.
	around := func(cw, ch int) image.Rectangle {
		cw, ch = min(cw, w), min(ch, h)
		x0 := min(max(c.X-cw/2, 0), w-cw)
		y0 := min(max(c.Y-ch/2, 0), h-ch)
		return image.Rect(x0, y0, x0+cw, y0+ch)
	}
	if v.FaceFrac > 0 {
		if face.Dy() < 2 {
			return capture.ReframeOptions{}, fmt.Errorf("variant %s: no face to zoom on", v.Name)
		}
		v.Zoom = v.FaceFrac / (float64(face.Dy()) / float64(h))
	}
	switch {
	case v.Crop > 0:
		side := int(math.Round(v.Crop * float64(face.Dy())))
		if side < 16 {
			return capture.ReframeOptions{}, fmt.Errorf("variant %s: a %d-pixel crop is too small", v.Name, side)
		}
		return capture.ReframeOptions{Crop: around(side, side)}, nil
	case v.Scale > 0:
		return capture.ReframeOptions{Size: image.Pt(even(float64(w)*v.Scale), even(float64(h)*v.Scale))}, nil
	case v.Zoom > 1:
		return capture.ReframeOptions{Crop: around(int(float64(w)/v.Zoom), int(float64(h)/v.Zoom)), Size: image.Pt(w, h)}, nil
	case v.Zoom > 0 && v.Zoom <= 1:
		return capture.ReframeOptions{Crop: frame, Size: image.Pt(even(float64(w)*v.Zoom), even(float64(h)*v.Zoom)),
			Canvas: image.Pt(w, h), Fill: 118}, nil
	}
	return capture.ReframeOptions{}, fmt.Errorf("variant %q: set one of Zoom, FaceFrac, Scale or Crop", v.Name)
}

func even(x float64) int { return max(2, int(math.Round(x/2))*2) }

// VariantOptions configures GenerateVariants.
type VariantOptions struct {
	// Detector finds the face that crops and zooms centre on.
	Detector *models.Detector
	// Out is the folder the variants and their manifest are written to.
	Out string
	// Seconds is how much of each video to keep (0: all of it).
	Seconds float64
	// Variants to make; DefaultVariants if empty.
	Variants []Variant
	// Progress, when set, is told about each file written.
	Progress func(path string)
}

// GenerateVariants writes every variant of each live video in entries
// (losslessly, FFV1, so only the reframing differs) into o.Out, and a
// manifest listing the originals and the variants with the originals'
// truth (a variant keeps every frame, so the frame times and the waveform
// still apply). It returns the manifest's path. The files hold face video:
// write them only under a cache folder, never into the repository.
func GenerateVariants(ctx context.Context, entries []ManifestEntry, o VariantOptions) (string, error) {
	if o.Detector == nil {
		return "", errors.New("eval.GenerateVariants: a face detector is required")
	}
	if len(o.Variants) == 0 {
		o.Variants = DefaultVariants
	}
	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return "", err
	}
	var rows []ManifestEntry
	for _, e := range entries {
		if e.Label != LabelLive {
			continue
		}
		src, err := capture.OpenFile(e.File, capture.FileOptions{})
		if err != nil {
			return "", err
		}
		fps := src.FPS()
		w, h, face, err := findFace(ctx, src, o.Detector)
		src.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", e.File, err)
		}
		base := strings.TrimSuffix(filepath.Base(e.File), filepath.Ext(e.File))
		orig := e
		orig.Group, orig.Kind = base, "as-recorded"
		rows = append(rows, orig)
		n := 0
		if o.Seconds > 0 {
			n = int(math.Ceil(o.Seconds * fps))
		}
		for _, v := range o.Variants {
			rf, err := v.reframing(w, h, face)
			if err != nil {
				return "", err
			}
			out := filepath.Join(o.Out, base+"."+v.Name+".avi")
			src, err := capture.OpenFile(e.File, capture.FileOptions{})
			if err != nil {
				return "", err
			}
			_, err = capture.Record(ctx, capture.Reframe(src, rf), out, capture.CodecLossless, fps, n)
			src.Close()
			if err != nil {
				return "", err
			}
			if o.Progress != nil {
				o.Progress(out)
			}
			ve := e
			ve.File, ve.Group, ve.Kind = out, base, v.Name
			rows = append(rows, ve)
		}
	}
	if len(rows) == 0 {
		return "", errors.New("no live video to make variants of")
	}
	return writeManifestFile(o.Out, rows)
}

// findFace returns the frame size and the median face box over the first
// second of the video.
func findFace(ctx context.Context, src capture.Source, det *models.Detector) (w, h int, face image.Rectangle, err error) {
	var xs, ys, xe, ye []int
	for i := 0; i < 30; i++ {
		fr, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, face, err
		}
		w, h = fr.Width, fr.Height
		faces, err := det.Detect(models.Image{Width: fr.Width, Height: fr.Height, Pix: fr.Pix})
		fr.Release()
		if err != nil {
			return 0, 0, face, err
		}
		if len(faces) == 1 {
			r := faces[0].Rect()
			xs, ys, xe, ye = append(xs, r.Min.X), append(ys, r.Min.Y), append(xe, r.Max.X), append(ye, r.Max.Y)
		}
	}
	if len(xs) == 0 {
		return 0, 0, face, errors.New("no single face found in the first second")
	}
	med := func(v []int) int { slices.Sort(v); return v[len(v)/2] }
	return w, h, image.Rect(med(xs), med(ys), med(xe), med(ye)), nil
}

// writeManifestFile writes rows as dir/manifest.csv, with paths relative
// to dir where they lie inside it.
func writeManifestFile(dir string, rows []ManifestEntry) (string, error) {
	p := filepath.Join(dir, ManifestName)
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriter(f)
	if err := WriteManifest(bw, dir, rows); err != nil {
		f.Close()
		return "", err
	}
	if err := errors.Join(bw.Flush(), f.Close()); err != nil {
		return "", err
	}
	return p, nil
}

// WriteManifest writes rows in the manifest format ReadManifest reads, with
// paths made relative to dir where they lie inside it.
func WriteManifest(w io.Writer, dir string, rows []ManifestEntry) error {
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") && !filepath.IsAbs(r) {
			return r
		}
		return p
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"file", "label", "group", "kind", "bpm", "bvp", "frame_times"})
	for _, r := range rows {
		bpm := ""
		if r.BPM > 0 {
			bpm = strconv.FormatFloat(r.BPM, 'f', -1, 64)
		}
		cw.Write([]string{rel(r.File), string(r.Label), r.Group, r.Kind, bpm, rel(r.BVP), rel(r.FrameTimes)})
	}
	cw.Flush()
	return cw.Error()
}
