package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"kiosk/checkin"
	"kiosk/internal/safelog"
)

// config holds the settings every subcommand shares. Flags win over the
// environment, which wins over the embedded defaults.
type config struct {
	dataDir   string
	modelsDir string
	sharedDir string
	logFormat string
	logLevel  string
	notice    string
}

// addCommonFlags registers the shared flags on fs, with defaults read from
// the environment.
func addCommonFlags(fs *flag.FlagSet, e *env) *config {
	c := &config{}
	fs.StringVar(&c.dataDir, "data-dir", firstNonEmpty(e.getenv("KIOSK_DATA_DIR"), e.getenv("STATE_DIRECTORY"), defaultDataDir(e)),
		"data directory for sealed records and key blobs (env KIOSK_DATA_DIR)")
	fs.StringVar(&c.modelsDir, "models-dir", firstNonEmpty(e.getenv("KIOSK_MODELS_DIR"), defaultModelsDir(e)),
		"model cache directory (env KIOSK_MODELS_DIR)")
	fs.StringVar(&c.sharedDir, "shared-dir", firstNonEmpty(e.getenv("KIOSK_SHARED_DIR"), findSharedDir(sharedDirCandidates())),
		"shared folder holding models/ and data/: a model source and the demo's sample face (env KIOSK_SHARED_DIR; default ../shared beside the repository)")
	fs.StringVar(&c.notice, "notice", firstNonEmpty(e.getenv("KIOSK_NOTICE"), ""),
		"the privacy notice visitors agree to, JSON in every visitor language (docs/consent.md); default DATA_DIR/notice.json if present, else the built-in one (env KIOSK_NOTICE)")
	fs.StringVar(&c.logFormat, "log-format", firstNonEmpty(e.getenv("KIOSK_LOG_FORMAT"), "text"), "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", firstNonEmpty(e.getenv("KIOSK_LOG_LEVEL"), "info"), "log level: debug, info, warn, error")
	return c
}

// logger builds the redacting logger; logs go to stderr so stdout stays
// machine-readable.
func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: want debug, info, warn or error", c.logLevel)
	}
	switch c.logFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("bad --log-format %q: want text or json", c.logFormat)
	}
	return safelog.New(w, safelog.Options{Level: lvl, JSON: c.logFormat == "json"}), nil
}

// sharedModelsDir is the shared models folder, if a shared dir is known.
func (c *config) sharedModelsDir() string {
	if c.sharedDir == "" {
		return ""
	}
	return filepath.Join(c.sharedDir, "models")
}

// sharedDirCandidates are where the shared folder sits when kiosk runs
// from a checkout, as the Makefile expects it: ../shared beside the
// repository, found from the binary (bin/kiosk) and from the working
// directory (the repository root).
func sharedDirCandidates() []string {
	var c []string
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			c = append(c, filepath.Join(filepath.Dir(exe), "..", "..", "shared"))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		c = append(c, filepath.Join(wd, "..", "shared"))
	}
	return c
}

// findSharedDir returns the first candidate holding data/ or models/, or
// "" when none does.
func findSharedDir(candidates []string) string {
	for _, d := range candidates {
		for _, sub := range []string{"data", "models"} {
			if fi, err := os.Stat(filepath.Join(d, sub)); err == nil && fi.IsDir() {
				return filepath.Clean(d)
			}
		}
	}
	return ""
}

// loadNotice reads the operator's notice (--notice, or DATA_DIR/notice.json
// when present), or returns the built-in one. A notice file that is there
// but invalid is an error: the kiosk must not show visitors a notice the
// operator did not mean.
func loadNotice(c *config) (*checkin.Notice, error) {
	path := c.notice
	if path == "" {
		p := filepath.Join(c.dataDir, "notice.json")
		if _, err := os.Stat(p); err != nil {
			return checkin.DefaultNotice(), nil
		}
		path = p
	}
	return checkin.LoadNotice(path)
}

func defaultDataDir(e *env) string {
	if d := e.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "kiosk")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "kiosk")
	}
	return "/var/lib/kiosk"
}

func defaultModelsDir(e *env) string {
	if d := e.getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kiosk", "models")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "kiosk", "models")
	}
	return "/var/cache/kiosk/models"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// newFlagSet makes a subcommand's flag set whose usage prints the synopsis
// (what the command takes and what its exit status means) and the flags.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if synopsis != "" {
		fs.Usage = func() {
			fmt.Fprintf(e.stderr, "Usage: kiosk %s\n\n", synopsis)
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, printing usage errors; it reports whether to go on
// and, if not, the exit code.
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	return parseArgs(fs, args, func(int) bool { return true })
}

// parseArgs is parseFlags that also checks the number of positional
// arguments, printing the usage when it is wrong.
func parseArgs(fs *flag.FlagSet, args []string, count func(int) bool) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return false, exitOK
		}
		return false, exitBadInput
	}
	if !count(fs.NArg()) {
		fs.Usage()
		return false, exitBadInput
	}
	return true, exitOK
}

// exactly and atLeast are argument-count rules for parseArgs.
func exactly(n int) func(int) bool { return func(got int) bool { return got == n } }
func atLeast(n int) func(int) bool { return func(got int) bool { return got >= n } }
