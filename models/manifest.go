// Package models owns the face and OCR models: the pinned manifest,
// provisioning into a local cache with sha256 checks, integrity-checked
// loading, the detectors and recognisers built on OpenCV's DNN module, and
// the machine-readable zone reader (OpenCV to locate, Tesseract to read;
// package mrz parses and checks what it reads).
//
// Start with Manifest and Provisioner to get verified files, then
// NewDetector for YuNet face detection, or LoadMRZReader for identity
// documents.
package models

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// YuNet is the face detector's file name in the manifest.
const YuNet = "face_detection_yunet_2022mar.onnx"

//go:embed manifest.tsv
var manifestTSV string

// Entry pins one model file.
type Entry struct {
	File    string   `json:"file"`
	SHA256  string   `json:"sha256"`
	Bytes   int64    `json:"bytes"`
	Licence string   `json:"licence"`
	Purpose string   `json:"purpose"`
	Sources []Source `json:"-"`
	// Recipe is how to feed the model and, for a face embedder, its score
	// calibration: the optional seventh column.
	Recipe Recipe `json:"recipe"`
}

// Source is one place a model can come from, tried in manifest order.
type Source struct {
	Kind string // "shared", "npm" or "url"
	// For shared: the file name. For url: the address.
	Ref string
	// For npm: package@version, the path inside the tarball, and the
	// tarball's pinned sha256.
	Package, Path, TarballSHA256 string
}

func (s Source) String() string {
	switch s.Kind {
	case "npm":
		return "npm " + s.Package
	case "shared":
		return "shared models folder"
	}
	return s.Ref
}

// Manifest returns the pinned model set compiled into this binary.
func Manifest() []Entry {
	m, err := ParseManifest(manifestTSV)
	if err != nil {
		panic("models: embedded manifest is invalid: " + err.Error())
	}
	return m
}

// Lookup returns the manifest entry for a file name.
func Lookup(file string) (Entry, bool) {
	for _, e := range Manifest() {
		if e.File == file {
			return e, true
		}
	}
	return Entry{}, false
}

// ParseManifest reads the tab-separated manifest format of manifest.tsv:
// six columns (file, sha256, bytes, licence, purpose, sources), and an
// optional seventh, the recipe (see ParseRecipe). Rows written before the
// recipe existed still parse, with an empty Recipe.
func ParseManifest(text string) ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 && len(f) != 7 {
			return nil, fmt.Errorf("manifest line %d: %d columns; want 6, or 7 with a recipe", n+1, len(f))
		}
		e := Entry{File: f[0], SHA256: strings.ToLower(f[1]), Licence: f[3], Purpose: f[4]}
		if e.File == "" || strings.ContainsAny(e.File, "/\\") || e.File == "." || e.File == ".." {
			return nil, fmt.Errorf("manifest line %d: bad file name %q", n+1, e.File)
		}
		if !isHex64(e.SHA256) {
			return nil, fmt.Errorf("manifest line %d: sha256 %q is not 64 hex digits", n+1, f[1])
		}
		b, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || b <= 0 {
			return nil, fmt.Errorf("manifest line %d: bad size %q", n+1, f[2])
		}
		e.Bytes = b
		for _, s := range strings.Fields(f[5]) {
			src, err := parseSource(s)
			if err != nil {
				return nil, fmt.Errorf("manifest line %d: %w", n+1, err)
			}
			e.Sources = append(e.Sources, src)
		}
		if len(f) == 7 {
			if e.Recipe, err = ParseRecipe(f[6]); err != nil {
				return nil, fmt.Errorf("manifest line %d (%s): %w", n+1, e.File, err)
			}
		}
		if seen[e.File] {
			return nil, fmt.Errorf("manifest line %d: %s is listed twice", n+1, e.File)
		}
		seen[e.File] = true
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("manifest has no entries")
	}
	return out, nil
}

func parseSource(s string) (Source, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Source{}, fmt.Errorf("source %q: want KIND:REF", s)
	}
	switch kind {
	case "shared", "url":
		return Source{Kind: kind, Ref: rest}, nil
	case "npm":
		p := strings.Split(rest, ":")
		if len(p) != 3 || !strings.Contains(p[0], "@") || p[1] == "" || !isHex64(p[2]) {
			return Source{}, fmt.Errorf("source %q: want npm:PACKAGE@VERSION:PATH:TARBALL-SHA256", s)
		}
		return Source{Kind: kind, Package: p[0], Path: p[1], TarballSHA256: strings.ToLower(p[2])}, nil
	}
	return Source{}, fmt.Errorf("source %q: unknown kind %q", s, kind)
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
