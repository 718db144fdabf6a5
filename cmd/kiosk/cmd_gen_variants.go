package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "gen-variants", summary: "write closer, farther, lower-resolution and cropped copies of recorded face videos, with a manifest for kiosk eval liveness", run: runGenVariants})
	register(command{name: "gen-sweep", summary: "write generated face clips at several frame rates (live under motion, compression, dim light, dark skin; photo, moved print and flicker attacks), with a manifest for kiosk eval liveness", run: runGenSweep})
}

// Both generators write face video: their default folders lie under the
// repository's .cache/ (ignored by git), never among the sources.

func runGenVariants(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "gen-variants", "gen-variants [--out DIR] [--seconds 12] SOURCE_DIR\n\nSOURCE_DIR holds manifest.csv or is a recorder's folder (see kiosk eval liveness). Each live video is written\nagain, losslessly, closer (zoomed about the face), farther, at half resolution and cropped to the face, every frame\nkept so its waveform and frame times still apply; the manifest in DIR lists the originals and the variants.")
	cfg := addCommonFlags(fs, e)
	out := fs.String("out", filepath.Join(".cache", "eval", "variants"), "output folder (face video: keep it under a git-ignored cache)")
	seconds := fs.Float64("seconds", 12, "seconds of each video to keep (0: all)")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	entries, err := eval.LoadLivenessSet(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-variants: %v\n", err)
		return exitBadInput
	}
	det, err := models.LoadDetector(cfg.modelsDir, models.DetectorOptions{})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-variants: %v\n", err)
		return exitFailure
	}
	defer det.Close()
	manifest, err := eval.GenerateVariants(ctx, entries, eval.VariantOptions{Detector: det, Out: *out, Seconds: *seconds,
		Progress: func(p string) { fmt.Fprintf(e.stderr, "wrote %s\n", p) }})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-variants: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "wrote %s: run kiosk eval liveness %s\n", manifest, *out)
	return exitOK
}

func sweepKinds() string {
	var k []string
	for _, c := range eval.SweepConditions {
		k = append(k, c.Kind)
	}
	return strings.Join(k, ",")
}

func runGenSweep(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "gen-sweep", "gen-sweep [--out DIR] [--face PHOTO] [--fps 12,15,24,30] [--seconds 10]")
	cfg := addCommonFlags(fs, e)
	out := fs.String("out", filepath.Join(".cache", "eval", "sweep"), "output folder (face video: keep it under a git-ignored cache)")
	face := fs.String("face", "", "face photo (default: the shared sample faces/pairs/img20.jpg)")
	rates := fs.String("fps", "12,15,24,30", "frame rates, comma-separated")
	seconds := fs.Float64("seconds", 10, "clip length")
	seeds := fs.Int("seeds", 1, "clips of each condition and frame rate, each with its own noise, motion and heart rate")
	firstSeed := fs.Int("first-seed", 0, "number of the first seed: a set made with another shares no clip with the default one (for holding out)")
	kinds := fs.String("kinds", "", "only these conditions, comma-separated (default all: "+sweepKinds()+")")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	var conds []eval.Condition
	for _, k := range strings.Split(*kinds, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		i := slices.IndexFunc(eval.SweepConditions, func(c eval.Condition) bool { return c.Kind == k })
		if i < 0 {
			fmt.Fprintf(e.stderr, "kiosk gen-sweep: --kinds: no condition %q (have %s)\n", k, sweepKinds())
			return exitBadInput
		}
		conds = append(conds, eval.SweepConditions[i])
	}
	var fps []float64
	for _, s := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v < 1 || v > 120 {
			fmt.Fprintf(e.stderr, "kiosk gen-sweep: --fps %q: want frame rates of 1-120, comma-separated\n", *rates)
			return exitBadInput
		}
		fps = append(fps, v)
	}
	if *face == "" {
		if cfg.sharedDir == "" {
			fmt.Fprintln(e.stderr, "kiosk gen-sweep: no --face and no shared folder with the sample face: pass --face PHOTO")
			return exitBadInput
		}
		*face = filepath.Join(cfg.sharedDir, "data", "faces", "pairs", "img20.jpg")
	}
	img, err := readImage(*face)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-sweep: --face %s: %v\n", *face, err)
		return exitBadInput
	}
	manifest, err := eval.GenerateSweep(ctx, eval.SweepOptions{Out: *out, Face: bgrToRGBA(img), FPS: fps, Seconds: *seconds, Seeds: *seeds, FirstSeed: *firstSeed, Conditions: conds,
		Progress: func(p string) { fmt.Fprintf(e.stderr, "wrote %s\n", p) }})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk gen-sweep: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "wrote %s: run kiosk eval liveness %s\n", manifest, *out)
	return exitOK
}
