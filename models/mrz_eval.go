package models

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gocv.io/x/gocv"

	"kiosk/mrz"
)

// Evaluation helpers for `kiosk mrz` and `kiosk eval mrz`: read a file,
// compare a read with its truth, and score line crops. They go through the
// same MRZReader and mrz.Parse as the check-in.

// ReadMRZFile decodes an image file (JPEG, PNG or WebP, through
// DecodeImage's guards) and reads its zone. A file that is not a readable
// image gives an error matching ErrBadImage.
func ReadMRZFile(r MRZReader, path string) (MRZRead, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return MRZRead{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	img, err := DecodeImage(b)
	if err != nil {
		return MRZRead{}, fmt.Errorf("%s: %w", path, err)
	}
	return r.Read(img)
}

// MRZTruth is one labelled document of a truth.csv.
type MRZTruth struct {
	File   string
	Format mrz.Format
	Lines  []string
}

// ReadMRZTruth reads a truth file with the columns
// file,format,line1,line2[,line3] and a header row.
func ReadMRZTruth(path string) ([]MRZTruth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	var out []MRZTruth
	for n := 1; ; n++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n == 1 && len(row) > 0 && row[0] == "file" {
			continue
		}
		if len(row) < 4 || len(row) > 5 {
			return nil, fmt.Errorf("%s line %d: %d columns; want file,format,line1,line2[,line3]", path, n, len(row))
		}
		fm, err := mrz.ParseFormat(row[1])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if strings.ContainsAny(row[0], `/\`) {
			return nil, fmt.Errorf("%s line %d: file %q must be a name in the same folder", path, n, row[0])
		}
		out = append(out, MRZTruth{File: row[0], Format: fm, Lines: slices.Clone(row[2:])})
	}
	return out, nil
}

// MRZScore compares one read with its truth.
type MRZScore struct {
	// Exact: valid, and every line equals the truth.
	Exact bool
	// WrongValid: reported valid, yet some line differs from the truth.
	// The one outcome that must never happen.
	WrongValid bool
	// LinesExact of Lines read lines equal their truth line (lines
	// compared after the parser's repairs; a missing line counts wrong).
	LinesExact, Lines int
	// CharErrors is the edit distance summed over lines, Chars the truth's
	// length: their ratio is the character error rate.
	CharErrors, Chars int
}

// ScoreMRZ compares a read with the truth lines.
func ScoreMRZ(rd MRZRead, truth []string) MRZScore {
	s := MRZScore{Lines: len(truth)}
	got := rd.Result.Lines
	if len(got) == 0 {
		got = rd.Lines
	}
	same := len(got) == len(truth)
	for i, t := range truth {
		g := ""
		if i < len(got) {
			g = got[i]
		}
		if g == t {
			s.LinesExact++
		} else {
			same = false
		}
		s.CharErrors += EditDistance(g, t)
		s.Chars += len(t)
	}
	s.Exact = rd.Result.Valid && same
	s.WrongValid = rd.Result.Valid && !same
	return s
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// MRZLineScore totals ReadMRZLines.
type MRZLineScore struct {
	Lines, Exact      int
	CharErrors, Chars int
	Failed            int // crops that could not be loaded or read
	// MeanConfidence is Tesseract's mean line confidence (0–100).
	MeanConfidence float64
}

// CER is the character error rate.
func (s MRZLineScore) CER() float64 {
	if s.Chars == 0 {
		return 0
	}
	return float64(s.CharErrors) / float64(s.Chars)
}

// ReadMRZLines runs the OCR alone over line crops (name.tif beside
// name.gt.txt, as in ../shared/data/mrz/lines): every crop when limit is 0,
// else an evenly spaced sample of limit crops. Each crop is read as it is,
// without locating or binarising.
func ReadMRZLines(r *MRZOCR, dir string, limit int) (MRZLineScore, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tif"))
	if err != nil {
		return MRZLineScore{}, err
	}
	if len(files) == 0 {
		return MRZLineScore{}, fmt.Errorf("no .tif line crops in %s", dir)
	}
	slices.Sort(files)
	if limit > 0 && limit < len(files) {
		sample := make([]string, limit)
		for i := range sample {
			sample[i] = files[i*len(files)/limit]
		}
		files = sample
	}
	var s MRZLineScore
	confSum := 0.0
	for _, f := range files {
		gt, err := os.ReadFile(strings.TrimSuffix(f, ".tif") + ".gt.txt")
		if err != nil {
			return s, fmt.Errorf("truth for %s: %w", f, err)
		}
		truth := strings.TrimSpace(string(gt))
		text, conf, err := readCrop(r, f)
		s.Lines++
		s.Chars += len(truth)
		if err != nil {
			s.Failed++
			s.CharErrors += len(truth)
			continue
		}
		if text == truth {
			s.Exact++
		}
		s.CharErrors += EditDistance(text, truth)
		confSum += conf
	}
	if n := s.Lines - s.Failed; n > 0 {
		s.MeanConfidence = confSum / float64(n)
	}
	return s, nil
}

func readCrop(r *MRZOCR, path string) (string, float64, error) {
	m := gocv.IMRead(path, gocv.IMReadGrayScale)
	defer m.Close()
	if m.Empty() {
		return "", 0, fmt.Errorf("%w: %s", ErrBadImage, path)
	}
	return r.ReadLine(m.ToBytes(), m.Cols(), m.Rows())
}
