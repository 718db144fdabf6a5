package eval

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	xdraw "golang.org/x/image/draw"

	"kiosk/capture"
	"kiosk/models"
	"kiosk/mrz"
)

// The machine-readable zone evaluations: documents in a folder with a
// truth.csv (EvalMRZDir), generated camera pictures of documents with a
// known zone (EvalMRZGenerated), and line crops with their text
// (EvalMRZLines). The first two go through models.MRZReader.Read, the
// check-in's own path from pixels to a checked mrz.Result; the line crops
// through the OCR step alone. Each report carries what trivial readers
// score on the same truth (MRZBaseline).

// ParseMRZTruth reads a truth.csv: an optional header row starting with
// "file", then one row per document, file,format,line1,line2[,line3]. The
// file is a name in the same folder (no /, \ or :, not . or .., no
// control characters), named once; the format one of mrz.ParseFormat's names; the lines exactly
// the format's count and width, in A–Z, 0–9 and <. Surrounding spaces are
// trimmed. Any other row is an error naming its line.
func ParseMRZTruth(r io.Reader) ([]models.MRZTruth, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []models.MRZTruth
	seen := map[string]bool{}
	for n := 1; ; n++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("truth.csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i := range row {
			row[i] = strings.TrimSpace(row[i])
		}
		if n == 1 && strings.EqualFold(row[0], "file") {
			continue // the header
		}
		if len(row) < 4 || len(row) > 5 {
			return nil, fmt.Errorf("truth.csv line %d: %d columns; want file,format,line1,line2[,line3]", line, len(row))
		}
		file := row[0]
		if !plainFileName(file) {
			return nil, fmt.Errorf("truth.csv line %d: file %q is not a file name in the same folder", line, file)
		}
		if seen[file] {
			return nil, fmt.Errorf("truth.csv line %d: file %q is listed twice", line, file)
		}
		seen[file] = true
		f, err := mrz.ParseFormat(row[1])
		if err != nil {
			return nil, fmt.Errorf("truth.csv line %d: %w", line, err)
		}
		lines := slices.Clone(row[2:])
		nl, w := f.Shape()
		if len(lines) != nl {
			return nil, fmt.Errorf("truth.csv line %d: %d zone lines; %v has %d", line, len(lines), f, nl)
		}
		for i, l := range lines {
			if len(l) != w || strings.Trim(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") != "" {
				return nil, fmt.Errorf("truth.csv line %d: zone line %d is not %d characters of A-Z, 0-9 and <", line, i+1, w)
			}
		}
		out = append(out, models.MRZTruth{File: file, Format: f, Lines: lines})
	}
	if len(out) == 0 {
		return nil, errors.New("truth.csv: no documents")
	}
	return out, nil
}

// plainFileName reports whether s names a file directly inside a folder:
// not empty, not . or .., no separator of any system, no control
// characters.
func plainFileName(s string) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) || strings.ContainsAny(s, `/\:`) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return filepath.IsLocal(s)
}

// MRZRow is one document of an evaluation: a file, or a generated picture.
type MRZRow struct {
	File string `json:"file"`
	// Labelled is false for a file in the folder that truth.csv does not
	// list: it is read, but cannot be scored.
	Labelled bool       `json:"labelled"`
	Format   mrz.Format `json:"format,omitempty"` // the truth's
	Truth    []string   `json:"truth,omitempty"`
	// Found, Valid, ReadFormat and Read are what the reader said: Read
	// holds the lines after the parser's repairs (what a valid read would
	// hand on), or the OCR's text when they did not parse.
	Found      bool       `json:"found"`
	Valid      bool       `json:"valid"`
	ReadFormat mrz.Format `json:"read_format,omitempty"`
	Read       []string   `json:"read"`
	// Reason is the reader's reason for no valid read (no_zone,
	// too_small, blurry, glare, not_valid), Check the parser's (the
	// failing check, as an mrz.Code).
	Reason models.MRZReason `json:"reason,omitempty"`
	Check  mrz.Code         `json:"check,omitempty"`
	// Exact: valid and every line equals the truth. WrongValid: valid, yet
	// a line differs from the truth, the outcome that must never happen.
	Exact      bool `json:"exact"`
	WrongValid bool `json:"wrong_valid"`
	// ValidWithoutTruth flags a valid read of an unlabelled file: nothing
	// confirms it.
	ValidWithoutTruth bool `json:"valid_without_truth,omitempty"`
	LinesExact        int  `json:"lines_exact"`
	Lines             int  `json:"lines"`
	CharErrors        int  `json:"char_errors"`
	Chars             int  `json:"chars"`
	// Problem says why the file could not be read at all (missing, not an
	// image); a labelled one then counts as unread.
	Problem string `json:"problem,omitempty"`
	// Seed and Conditions describe a generated picture.
	Seed       uint64 `json:"seed,omitempty"`
	Conditions string `json:"conditions,omitempty"`
}

// MRZTotals sum the labelled rows of an evaluation.
type MRZTotals struct {
	Documents int `json:"documents"`
	// Exact documents were read valid and equal to the truth, line for
	// line; Valid counts every valid read; WrongValid the valid reads that
	// differ from the truth (must be 0); Unreadable the documents with no
	// valid read (the reader said so, or the file could not be read).
	Exact      int `json:"exact"`
	Valid      int `json:"valid"`
	WrongValid int `json:"wrong_valid"`
	Unreadable int `json:"unreadable"`
	LinesExact int `json:"lines_exact"`
	Lines      int `json:"lines"`
	// CharErrors is the edit distance summed over every labelled line
	// (an unread line counts its whole length), Chars the truth's length;
	// CER is their ratio.
	CharErrors int     `json:"char_errors"`
	Chars      int     `json:"chars"`
	CER        float64 `json:"cer"`
	// Unlabelled files were read without truth; UnlabelledValid of them
	// gave a valid read (flagged: nothing confirms it).
	Unlabelled      int `json:"unlabelled"`
	UnlabelledValid int `json:"unlabelled_valid"`
	// Problems counts files that were missing or not images.
	Problems int `json:"problems"`
}

// MRZBaseline is what a trivial reader scores on the same truth, so a
// table cannot look good by luck: a reader that refuses everything is
// never wrong, and a zone is mostly fillers.
type MRZBaseline struct {
	Name string `json:"name"`
	Rule string `json:"rule"`
	// Exact and WrongValid are judged as for the reader: valid by
	// mrz.Parse and equal to the truth, or valid and not. Zero for line
	// crops, which are not whole zones.
	Exact      int     `json:"exact"`
	WrongValid int     `json:"wrong_valid"`
	LinesExact int     `json:"lines_exact"`
	Lines      int     `json:"lines"`
	CharErrors int     `json:"char_errors"`
	Chars      int     `json:"chars"`
	CER        float64 `json:"cer"`
}

// The trivial readers, by name.
const (
	BaselineRefuse   = "always unreadable"
	BaselineFillers  = "all fillers"
	BaselineMajority = "most common character"
)

// MRZReport is an evaluation of whole documents.
type MRZReport struct {
	// Source is the folder, or what was generated.
	Source    string        `json:"source"`
	Rows      []MRZRow      `json:"rows"`
	Totals    MRZTotals     `json:"totals"`
	Baselines []MRZBaseline `json:"baselines"`
}

// mrzImageExts are the files EvalMRZDir reads when truth.csv does not list
// them: what models.DecodeImage takes.
var mrzImageExts = []string{".jpg", ".jpeg", ".png", ".webp"}

// EvalMRZDir reads every document dir/truth.csv lists, scores each read
// against its truth, and reads the folder's other images as unlabelled
// rows. It fails only when truth.csv is missing or malformed, or the
// reader fails outright; a missing or undecodable document is a row with
// a Problem.
func EvalMRZDir(ctx context.Context, r models.MRZReader, dir string) (MRZReport, error) {
	rep := MRZReport{Source: dir}
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		return rep, err
	}
	truths, err := ParseMRZTruth(f)
	f.Close()
	if err != nil {
		return rep, fmt.Errorf("%s: %w", dir, err)
	}
	labelled := map[string]bool{}
	for _, tr := range truths {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		labelled[tr.File] = true
		row := MRZRow{File: tr.File, Labelled: true, Format: tr.Format, Truth: tr.Lines}
		rd, err := readMRZDocFile(r, filepath.Join(dir, tr.File), &row)
		if err != nil {
			return rep, err
		}
		scoreMRZRow(&row, rd)
		rep.Rows = append(rep.Rows, row)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return rep, err
	}
	for _, e := range entries {
		if e.IsDir() || labelled[e.Name()] || !slices.Contains(mrzImageExts, strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		row := MRZRow{File: e.Name()}
		rd, err := readMRZDocFile(r, filepath.Join(dir, e.Name()), &row)
		if err != nil {
			return rep, err
		}
		scoreMRZRow(&row, rd)
		rep.Rows = append(rep.Rows, row)
	}
	rep.Totals = totalMRZ(rep.Rows)
	rep.Baselines = mrzBaselines(mrzTruthsOf(rep.Rows), true)
	return rep, nil
}

// readMRZDocFile reads one file's zone. A missing file or one that is not an
// image goes into row.Problem; only an error from the reader itself (one
// that is not an *models.MRZError) is returned.
func readMRZDocFile(r models.MRZReader, path string, row *MRZRow) (models.MRZRead, error) {
	if _, err := os.Stat(path); err != nil {
		row.Problem = "cannot open: " + err.Error()
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			row.Problem = "cannot open: " + pe.Err.Error()
		}
		return models.MRZRead{}, nil
	}
	rd, err := models.ReadMRZFile(r, path)
	var me *models.MRZError
	switch {
	case err == nil, errors.As(err, &me):
		return rd, nil
	case errors.Is(err, models.ErrBadImage):
		row.Problem = "not a readable image"
		if _, detail, ok := strings.Cut(err.Error(), models.ErrBadImage.Error()+": "); ok {
			row.Problem += ": " + detail
		}
		return models.MRZRead{}, nil
	}
	return rd, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
}

// scoreMRZRow fills row from a read and, when the row has truth, scores it
// with models.ScoreMRZ (the figure the models tests measure).
func scoreMRZRow(row *MRZRow, rd models.MRZRead) {
	row.Found, row.Valid, row.ReadFormat = rd.Found, rd.Result.Valid, rd.Result.Format
	row.Read = rd.Result.Lines
	if len(row.Read) == 0 {
		row.Read = rd.Lines
	}
	if row.Read == nil {
		row.Read = []string{}
	}
	if !row.Valid && row.Problem == "" {
		row.Reason, row.Check = rd.Reason, rd.Result.Reason
	}
	if !row.Labelled {
		row.ValidWithoutTruth = row.Valid
		return
	}
	s := models.ScoreMRZ(rd, row.Truth)
	row.Exact, row.WrongValid = s.Exact, s.WrongValid
	row.LinesExact, row.Lines, row.CharErrors, row.Chars = s.LinesExact, s.Lines, s.CharErrors, s.Chars
}

func totalMRZ(rows []MRZRow) MRZTotals {
	var t MRZTotals
	for _, r := range rows {
		if r.Problem != "" {
			t.Problems++
		}
		if !r.Labelled {
			t.Unlabelled++
			if r.ValidWithoutTruth {
				t.UnlabelledValid++
			}
			continue
		}
		t.Documents++
		if r.Exact {
			t.Exact++
		}
		if r.Valid {
			t.Valid++
		} else {
			t.Unreadable++
		}
		if r.WrongValid {
			t.WrongValid++
		}
		t.LinesExact += r.LinesExact
		t.Lines += r.Lines
		t.CharErrors += r.CharErrors
		t.Chars += r.Chars
	}
	t.CER = mrzRatio(t.CharErrors, t.Chars)
	return t
}

func mrzRatio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mrzTruthsOf(rows []MRZRow) [][]string {
	var out [][]string
	for _, r := range rows {
		if r.Labelled {
			out = append(out, r.Truth)
		}
	}
	return out
}

// mrzBaselines scores three trivial readers on the truths:
//   - always unreadable: refuses every document (never wrong, never right;
//     every character counts as an error);
//   - all fillers: every character the filler <, at the truth's shape;
//   - most common character: at each position the character most common
//     in the other truths of the same shape (leave one out: a truth never
//     votes for itself; ties go to the filler, then the lowest character;
//     a shape seen once gives fillers).
//
// With zones (whole documents), each prediction is also parsed, to count
// what it would have passed as valid.
func mrzBaselines(truths [][]string, zones bool) []MRZBaseline {
	refuse := MRZBaseline{Name: BaselineRefuse, Rule: "reads nothing: says every document (or line) is unreadable"}
	fillers := MRZBaseline{Name: BaselineFillers, Rule: "reads every character as the filler <, at the truth's line count and length"}
	major := MRZBaseline{Name: BaselineMajority, Rule: "reads at each position the character most common there in the other truths of the same shape (leave one out)"}
	// Character counts per shape, line and position.
	type counts [][][256]int
	shapeOf := func(t []string) string {
		var b strings.Builder
		for _, l := range t {
			fmt.Fprintf(&b, "%d,", len(l))
		}
		return b.String()
	}
	byShape := map[string]counts{}
	for _, t := range truths {
		k := shapeOf(t)
		c, ok := byShape[k]
		if !ok {
			c = make(counts, len(t))
			for i, l := range t {
				c[i] = make([][256]int, len(l))
			}
			byShape[k] = c
		}
		for i, l := range t {
			for j := 0; j < len(l); j++ {
				c[i][j][l[j]]++
			}
		}
	}
	score := func(b *MRZBaseline, pred, truth []string) {
		same := true
		for i, t := range truth {
			if pred[i] == t {
				b.LinesExact++
			} else {
				same = false
			}
			b.CharErrors += models.EditDistance(pred[i], t)
			b.Chars += len(t)
			b.Lines++
		}
		if zones && mrz.Parse(pred, mrz.Options{}).Valid {
			if same {
				b.Exact++
			} else {
				b.WrongValid++
			}
		}
	}
	for _, t := range truths {
		empty, fill, maj := make([]string, len(t)), make([]string, len(t)), make([]string, len(t))
		c := byShape[shapeOf(t)]
		for i, l := range t {
			fill[i] = strings.Repeat("<", len(l))
			p := []byte(l)
			for j := range p {
				n := c[i][j]
				n[l[j]]-- // leave this truth out
				best := byte('<')
				for ch := 0; ch < 256; ch++ {
					if n[ch] > n[best] {
						best = byte(ch)
					}
				}
				p[j] = best
			}
			maj[i] = string(p)
		}
		score(&refuse, empty, t)
		score(&fillers, fill, t)
		score(&major, maj, t)
	}
	out := []MRZBaseline{refuse, fillers, major}
	for i := range out {
		out[i].CER = mrzRatio(out[i].CharErrors, out[i].Chars)
	}
	return out
}

// GeneratedMRZOptions configures EvalMRZGenerated.
type GeneratedMRZOptions struct {
	// N documents are generated, from seeds Seed, Seed+1, ... (Seed 0
	// starts at 1, as the models tests do).
	N    int
	Seed uint64
	// Portrait goes on every document (DocumentPortrait prepares one);
	// nil draws a face.
	Portrait image.Image
}

// EvalMRZGenerated generates N camera-like pictures of documents with
// capture.GenerateDocument (TD1, TD2 and TD3 with random valid zones,
// perspective, rotation, blur, noise, JPEG, glare) and reads each as the
// kiosk reads a camera frame.
func EvalMRZGenerated(ctx context.Context, r models.MRZReader, o GeneratedMRZOptions) (MRZReport, error) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.N <= 0 {
		return MRZReport{}, fmt.Errorf("generated documents: want a positive count, got %d", o.N)
	}
	rep := MRZReport{Source: fmt.Sprintf("%d generated documents, seeds %d to %d", o.N, o.Seed, o.Seed+uint64(o.N)-1)}
	for i := 0; i < o.N; i++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		seed := o.Seed + uint64(i)
		g, err := capture.GenerateDocument(seed, o.Portrait)
		if err != nil {
			return rep, err
		}
		p := g.Photo
		row := MRZRow{File: fmt.Sprintf("seed %d", seed), Labelled: true, Format: g.Format, Truth: g.Lines, Seed: seed,
			Conditions: fmt.Sprintf("turned %.0f°, tilted %.0f°/%.0f°, blur %.1f, noise %.1f, JPEG %d, glare %.1f",
				p.Rotate, p.TiltX, p.TiltY, p.Blur, p.Noise, p.JPEGQuality, p.Glare)}
		rd, err := r.Read(models.FromImage(g.Image))
		var me *models.MRZError
		if err != nil && !errors.As(err, &me) {
			return rep, fmt.Errorf("reading generated document %d: %w", seed, err)
		}
		scoreMRZRow(&row, rd)
		rep.Rows = append(rep.Rows, row)
	}
	rep.Totals = totalMRZ(rep.Rows)
	rep.Baselines = mrzBaselines(mrzTruthsOf(rep.Rows), true)
	return rep, nil
}

// DocumentPortrait loads a face photo for generated documents, decoded as
// the kiosk decodes photos and shrunk once to 300 pixels wide (about the
// size a document prints it; the models tests use the same).
func DocumentPortrait(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := models.DecodeImage(b)
	if err != nil {
		return nil, err
	}
	full := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i < len(img.Pix); i, j = i+3, j+4 {
		full.Pix[j], full.Pix[j+1], full.Pix[j+2], full.Pix[j+3] = img.Pix[i+2], img.Pix[i+1], img.Pix[i], 255
	}
	small := image.NewRGBA(image.Rect(0, 0, 300, max(1, 300*img.Height/img.Width)))
	xdraw.CatmullRom.Scale(small, small.Bounds(), full, full.Bounds(), xdraw.Src, nil)
	return small, nil
}

// MRZLineReader recognises one line crop file; *models.MRZOCR is one.
type MRZLineReader interface {
	ReadLineFile(path string) (text string, confidence float64, err error)
}

var _ MRZLineReader = (*models.MRZOCR)(nil)

// MRZLineRow is one line crop.
type MRZLineRow struct {
	File       string  `json:"file"`
	Truth      string  `json:"truth"`
	Read       string  `json:"read"`
	Exact      bool    `json:"exact"`
	CharErrors int     `json:"char_errors"`
	Chars      int     `json:"chars"`
	Confidence float64 `json:"confidence"`
	Problem    string  `json:"problem,omitempty"`
}

// MRZLineTotals sum a line crop evaluation; they match
// models.ReadMRZLines over the same folder.
type MRZLineTotals struct {
	Lines      int     `json:"lines"`
	Exact      int     `json:"exact"`
	CharErrors int     `json:"char_errors"`
	Chars      int     `json:"chars"`
	CER        float64 `json:"cer"`
	// Failed crops could not be loaded or read (their characters all
	// count as errors).
	Failed         int     `json:"failed"`
	MeanConfidence float64 `json:"mean_confidence"`
}

// MRZLinesReport is an evaluation over line crops.
type MRZLinesReport struct {
	Dir       string        `json:"dir"`
	Rows      []MRZLineRow  `json:"rows"`
	Totals    MRZLineTotals `json:"totals"`
	Baselines []MRZBaseline `json:"baselines"`
}

// EvalMRZLines reads every line crop of dir (NAME.tif beside NAME.gt.txt,
// whose text is the truth) with the OCR step alone. The crops are cut
// already, so this measures the recogniser, not the locator.
func EvalMRZLines(ctx context.Context, r MRZLineReader, dir string) (MRZLinesReport, error) {
	rep := MRZLinesReport{Dir: dir}
	files, err := filepath.Glob(filepath.Join(dir, "*.tif"))
	if err != nil {
		return rep, err
	}
	if len(files) == 0 {
		return rep, fmt.Errorf("no .tif line crops in %s", dir)
	}
	slices.Sort(files)
	var truths [][]string
	confSum := 0.0
	t := &rep.Totals
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		gt, err := os.ReadFile(strings.TrimSuffix(f, ".tif") + ".gt.txt")
		if err != nil {
			return rep, fmt.Errorf("truth for %s: %w", filepath.Base(f), err)
		}
		row := MRZLineRow{File: filepath.Base(f), Truth: strings.TrimSpace(string(gt))}
		row.Chars = len(row.Truth)
		text, conf, err := r.ReadLineFile(f)
		if err != nil {
			row.Problem = err.Error()
			row.CharErrors = row.Chars
			t.Failed++
		} else {
			row.Read, row.Confidence = text, conf
			row.Exact = text == row.Truth
			row.CharErrors = models.EditDistance(text, row.Truth)
			confSum += conf
		}
		t.Lines++
		t.Chars += row.Chars
		t.CharErrors += row.CharErrors
		if row.Exact {
			t.Exact++
		}
		rep.Rows = append(rep.Rows, row)
		truths = append(truths, []string{row.Truth})
	}
	t.CER = mrzRatio(t.CharErrors, t.Chars)
	if n := t.Lines - t.Failed; n > 0 {
		t.MeanConfidence = confSum / float64(n)
	}
	rep.Baselines = mrzBaselines(truths, false)
	return rep, nil
}
