package main

import (
	"context"
	"encoding/json"
	"fmt"

	"kiosk/models"
)

func init() {
	register(command{name: "detect", summary: "find faces in image files (box, 5 landmarks, score)", run: runDetect})
}

type detectResult struct {
	File  string        `json:"file"`
	Faces []models.Face `json:"faces"`
	Error string        `json:"error,omitempty"`
}

func runDetect(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "detect", "detect [--json] IMAGE...\n\nExit status: 0 all images read, 2 if any image is unreadable or not an image.")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	size := fs.Int("input-size", 0, "longest side images are scaled to before detection (default 320)")
	score := fs.Float64("score", 0, "minimum detection score (default 0.7)")
	if ok, code := parseArgs(fs, args, atLeast(1)); !ok {
		return code
	}
	det, err := models.LoadDetector(cfg.modelsDir, models.DetectorOptions{InputSize: *size, ScoreThreshold: float32(*score)})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk detect: %v\n", err)
		return exitFailure
	}
	defer det.Close()
	code := exitOK
	var results []detectResult
	for _, path := range fs.Args() {
		r := detectResult{File: path, Faces: []models.Face{}}
		img, err := readImage(path)
		if err == nil {
			r.Faces, err = det.DetectStill(img)
		}
		if err != nil {
			r.Error = err.Error()
			code = exitBadInput
			fmt.Fprintf(e.stderr, "kiosk detect: %s: %v\n", path, err)
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
		return code
	}
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(e.stdout, "%s: error: %s\n", r.File, r.Error)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d face(s)\n", r.File, len(r.Faces))
		for i, f := range r.Faces {
			b := f.Rect()
			fmt.Fprintf(e.stdout, "  %d: box %d,%d %dx%d score %.3f\n", i+1, b.Min.X, b.Min.Y, b.Dx(), b.Dy(), f.Score)
		}
	}
	return code
}
