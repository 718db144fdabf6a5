package eval

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kiosk/models"
	"kiosk/mrz"
)

// Zones whose check digits all hold: the ICAO specimens and the Estonian
// passport of the shared documents.
var (
	utopiaTD3  = []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}
	estoniaTD3 = []string{"P<ESTMAENNIK<<MARI<LIIS<<<<<<<<<<<<<<<<<<<<<", "KB00000003EST7501229F120522647501220010<<<02"}
	utopiaTD1  = []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}
)

func mrzTruthRow(file, format string, lines []string) string {
	return file + "," + format + "," + strings.Join(lines, ",") + "\n"
}

func TestParseMRZTruth(t *testing.T) {
	csv := "file,format,line1,line2,line3\n" +
		mrzTruthRow("a.png", "TD3", utopiaTD3) +
		mrzTruthRow(" b.jpg ", "TD1", utopiaTD1) + // spaces around cells are trimmed
		"\n" + // blank lines are skipped
		mrzTruthRow("c d.webp", "MRV-A", utopiaTD3)
	got, err := ParseMRZTruth(strings.NewReader(csv))
	if err != nil {
		t.Fatalf("ParseMRZTruth = %v", err)
	}
	want := []models.MRZTruth{{File: "a.png", Format: mrz.TD3, Lines: utopiaTD3}, {File: "b.jpg", Format: mrz.TD1, Lines: utopiaTD1}, {File: "c d.webp", Format: mrz.MRVA, Lines: utopiaTD3}}
	if len(got) != len(want) {
		t.Fatalf("ParseMRZTruth gave %d rows; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].File != want[i].File || got[i].Format != want[i].Format || !slices.Equal(got[i].Lines, want[i].Lines) {
			t.Errorf("row %d = %+v; want %+v", i, got[i], want[i])
		}
	}
	// Without a header row, the first row is a document.
	if got, err := ParseMRZTruth(strings.NewReader(mrzTruthRow("a.png", "TD3", utopiaTD3))); err != nil || len(got) != 1 {
		t.Errorf("ParseMRZTruth(no header) = %d rows, %v; want 1", len(got), err)
	}
}

// badMRZTruths are truth files ParseMRZTruth refuses, and what the error
// says; the fuzzer starts from them too.
var badMRZTruths = []struct{ name, csv, want string }{
	{"empty", "", "no documents"},
	{"header only", "file,format,line1,line2\n", "no documents"},
	{"three columns", "a.png,TD3," + utopiaTD3[0] + "\n", "line 1: 3 columns"},
	{"six columns", "file,format,line1,line2\n" + mrzTruthRow("a.png", "TD1", append(slices.Clone(utopiaTD1), "X")), "line 2: 6 columns"},
	{"unknown format", mrzTruthRow("a.png", "TD4", utopiaTD3), "unknown format"},
	{"format in lower case", mrzTruthRow("a.png", "td3", utopiaTD3), "unknown format"},
	{"TD1 with two lines", mrzTruthRow("a.png", "TD1", utopiaTD1[:2]), "2 zone lines; TD1 has 3"},
	{"TD3 with three lines", mrzTruthRow("a.png", "TD3", append(slices.Clone(utopiaTD3), utopiaTD3[0])), "3 zone lines; TD3 has 2"},
	{"a line too short", mrzTruthRow("a.png", "TD3", []string{utopiaTD3[0], utopiaTD3[1][:43]}), "zone line 2 is not 44"},
	{"a TD2 zone called TD3", mrzTruthRow("a.png", "TD3", []string{utopiaTD3[0][:36], utopiaTD3[1][:36]}), "zone line 1 is not 44"},
	{"lower case in a zone", mrzTruthRow("a.png", "TD3", []string{strings.ToLower(utopiaTD3[0]), utopiaTD3[1]}), "zone line 1"},
	{"a space in a zone", mrzTruthRow("a.png", "TD3", []string{"P<UTO ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<", utopiaTD3[1]}), "zone line 1"},
	{"parent folder", mrzTruthRow("../a.png", "TD3", utopiaTD3), "not a file name in the same folder"},
	{"parent itself", mrzTruthRow("..", "TD3", utopiaTD3), "not a file name"},
	{"the folder itself", mrzTruthRow(".", "TD3", utopiaTD3), "not a file name"},
	{"absolute path", mrzTruthRow("/etc/passwd", "TD3", utopiaTD3), "not a file name"},
	{"sub-folder", mrzTruthRow("sub/a.png", "TD3", utopiaTD3), "not a file name"},
	{"backslash", mrzTruthRow(`..\a.png`, "TD3", utopiaTD3), "not a file name"},
	{"drive letter", mrzTruthRow(`C:a.png`, "TD3", utopiaTD3), "not a file name"},
	{"empty name", mrzTruthRow("", "TD3", utopiaTD3), "not a file name"},
	{"control character", mrzTruthRow("a\x01.png", "TD3", utopiaTD3), "not a file name"},
	{"listed twice", mrzTruthRow("a.png", "TD3", utopiaTD3) + mrzTruthRow("a.png", "TD3", estoniaTD3), "line 2: file \"a.png\" is listed twice"},
	{"unbalanced quote", "\"a.png,TD3," + strings.Join(utopiaTD3, ",") + "\n", "truth.csv"},
	{"header not first", mrzTruthRow("a.png", "TD3", utopiaTD3) + "file,format,line1,line2\n", "line 2"},
}

func TestParseMRZTruthRefusesBadRows(t *testing.T) {
	for _, tc := range badMRZTruths {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMRZTruth(strings.NewReader(tc.csv))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseMRZTruth(%q) = %v, %v; want an error saying %q", tc.csv, got, err, tc.want)
			}
		})
	}
}

// FuzzParseMRZTruth: no input panics, and whatever is accepted names files
// inside the folder, once each, with zones of the format's shape.
func FuzzParseMRZTruth(f *testing.F) {
	f.Add("file,format,line1,line2,line3\n" + mrzTruthRow("a.png", "TD3", utopiaTD3) + mrzTruthRow("b.jpg", "TD1", utopiaTD1))
	for _, tc := range badMRZTruths {
		f.Add(tc.csv)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseMRZTruth(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, tr := range got {
			if !filepath.IsLocal(tr.File) || filepath.Base(tr.File) != tr.File || strings.ContainsAny(tr.File, `/\`) || seen[tr.File] {
				t.Fatalf("accepted file name %q", tr.File)
			}
			seen[tr.File] = true
			n, w := tr.Format.Shape()
			if n == 0 || len(tr.Lines) != n {
				t.Fatalf("accepted %d lines for %v", len(tr.Lines), tr.Format)
			}
			for _, l := range tr.Lines {
				if len(l) != w || strings.Trim(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") != "" {
					t.Fatalf("accepted zone line %q for %v", l, tr.Format)
				}
			}
		}
	})
}

// mrzReadOf is what a reader reports for lines: valid or not as mrz.Parse says.
func mrzReadOf(lines []string) models.MRZRead {
	rd := models.MRZRead{Found: true, Lines: lines, Result: mrz.Parse(lines, mrz.Options{})}
	if !rd.Result.Valid {
		rd.Reason = models.MRZReasonNotValid
	}
	return rd
}

func TestScoreMRZRow(t *testing.T) {
	misread := []string{utopiaTD3[0], strings.Replace(utopiaTD3[1], "L898902C3", "L898902G3", 1)}
	for _, tc := range []struct {
		name      string
		labelled  bool
		rd        models.MRZRead
		exact     bool
		wrongVal  bool
		noTruthOK bool
		lines     int
		reason    models.MRZReason
	}{
		{"exact", true, mrzReadOf(utopiaTD3), true, false, false, 2, ""},
		{"another valid zone", true, mrzReadOf(estoniaTD3), false, true, false, 0, ""},
		{"a misread that fails its check digit", true, mrzReadOf(misread), false, false, false, 1, models.MRZReasonNotValid},
		{"nothing found", true, models.MRZRead{Reason: models.MRZReasonNoZone}, false, false, false, 0, models.MRZReasonNoZone},
		{"no truth, valid", false, mrzReadOf(utopiaTD3), false, false, true, 0, ""},
		{"no truth, unreadable", false, models.MRZRead{Reason: models.MRZReasonTooSmall}, false, false, false, 0, models.MRZReasonTooSmall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := MRZRow{Labelled: tc.labelled}
			if tc.labelled {
				row.Truth = utopiaTD3
			}
			scoreMRZRow(&row, tc.rd)
			if row.Exact != tc.exact || row.WrongValid != tc.wrongVal || row.ValidWithoutTruth != tc.noTruthOK || row.LinesExact != tc.lines || row.Reason != tc.reason {
				t.Errorf("scoreMRZRow = exact %v, wrong valid %v, valid without truth %v, %d lines exact, reason %q; want %v, %v, %v, %d, %q",
					row.Exact, row.WrongValid, row.ValidWithoutTruth, row.LinesExact, row.Reason, tc.exact, tc.wrongVal, tc.noTruthOK, tc.lines, tc.reason)
			}
			if row.Read == nil {
				t.Error("Read is nil; want [] for JSON")
			}
		})
	}
}

func TestMRZBaselines(t *testing.T) {
	t.Run("lines", func(t *testing.T) {
		b := mrzBaselines([][]string{{"AB"}, {"AB"}, {"CD"}, {"<<<"}}, false)
		want := []MRZBaseline{
			{Name: BaselineRefuse, Lines: 4, CharErrors: 9, Chars: 9, CER: 1},
			// Fillers: every character but the last line's is wrong.
			{Name: BaselineFillers, LinesExact: 1, Lines: 4, CharErrors: 6, Chars: 9, CER: 6.0 / 9},
			// Most common, leave one out: each AB sees AB and CD (ties go
			// to the lowest character: AB), CD sees AB twice, and <<< is
			// alone in its shape (fillers).
			{Name: BaselineMajority, LinesExact: 3, Lines: 4, CharErrors: 2, Chars: 9, CER: 2.0 / 9},
		}
		for i := range want {
			b[i].Rule = ""
			if b[i] != want[i] {
				t.Errorf("baseline %d = %+v; want %+v", i, b[i], want[i])
			}
		}
	})
	t.Run("zones", func(t *testing.T) {
		// The Estonian passport among two Utopian ones: the most common
		// characters are the Utopian zone, whose check digits hold, so
		// that baseline passes a wrong read as valid.
		b := mrzBaselines([][]string{utopiaTD3, utopiaTD3, estoniaTD3}, true)
		if m := b[2]; m.Name != BaselineMajority || m.WrongValid != 1 || m.Exact != 0 {
			t.Errorf("most common = %+v; want 1 wrong valid, 0 exact", m)
		}
		for _, x := range b[:2] {
			if x.Exact != 0 || x.WrongValid != 0 || x.LinesExact != 0 {
				t.Errorf("%s = %+v; want nothing right and nothing valid", x.Name, x)
			}
		}
	})
}

// fakeMRZReader answers by the picture's width, so the folder logic is tested
// without OCR.
type fakeMRZReader map[int]models.MRZRead

func (f fakeMRZReader) Read(img models.Image) (models.MRZRead, error) {
	rd, ok := f[img.Width]
	if !ok || !rd.Result.Valid {
		if rd.Reason == "" {
			rd.Reason = models.MRZReasonNoZone
		}
		return rd, &models.MRZError{Reason: rd.Reason}
	}
	return rd, nil
}

func writeMRZTestPNG(t *testing.T, path string, w int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, w, 4))); err != nil {
		t.Fatal(err)
	}
}

func TestEvalMRZDir(t *testing.T) {
	dir := t.TempDir()
	csv := "file,format,line1,line2\n" +
		mrzTruthRow("exact.png", "TD3", utopiaTD3) +
		mrzTruthRow("wrong.png", "TD3", utopiaTD3) +
		mrzTruthRow("blank.png", "TD3", utopiaTD3) +
		mrzTruthRow("missing.png", "TD3", utopiaTD3)
	os.WriteFile(filepath.Join(dir, "truth.csv"), []byte(csv), 0o600)
	writeMRZTestPNG(t, filepath.Join(dir, "exact.png"), 10)
	writeMRZTestPNG(t, filepath.Join(dir, "wrong.png"), 11)
	writeMRZTestPNG(t, filepath.Join(dir, "blank.png"), 12)
	writeMRZTestPNG(t, filepath.Join(dir, "unlabelled.png"), 13)
	os.WriteFile(filepath.Join(dir, "garbage.jpg"), []byte("not a picture"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o600)
	r := fakeMRZReader{10: mrzReadOf(utopiaTD3), 11: mrzReadOf(estoniaTD3), 13: mrzReadOf(utopiaTD1)}

	rep, err := EvalMRZDir(context.Background(), r, dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, row := range rep.Rows {
		files = append(files, row.File)
	}
	if want := []string{"exact.png", "wrong.png", "blank.png", "missing.png", "garbage.jpg", "unlabelled.png"}; !slices.Equal(files, want) {
		t.Fatalf("rows %q; want %q", files, want)
	}
	want := MRZTotals{Documents: 4, Exact: 1, Valid: 2, WrongValid: 1, Unreadable: 2, LinesExact: 2, Lines: 8,
		Unlabelled: 2, UnlabelledValid: 1, Problems: 2}
	got := rep.Totals
	got.CharErrors, got.Chars, got.CER = 0, 0, 0
	if got != want {
		t.Errorf("totals = %+v; want %+v", got, want)
	}
	// Blank and missing count every character; the wrong zone its distance.
	wrongErrs := models.EditDistance(estoniaTD3[0], utopiaTD3[0]) + models.EditDistance(estoniaTD3[1], utopiaTD3[1])
	if rep.Totals.Chars != 4*88 || rep.Totals.CharErrors != 2*88+wrongErrs {
		t.Errorf("character errors %d of %d; want %d of %d", rep.Totals.CharErrors, rep.Totals.Chars, 2*88+wrongErrs, 4*88)
	}
	if p := rep.Rows[3].Problem; !strings.Contains(p, "cannot open") {
		t.Errorf("missing file: problem %q; want cannot open", p)
	}
	if p := rep.Rows[4].Problem; !strings.Contains(p, "not a readable image") {
		t.Errorf("garbage: problem %q; want not a readable image", p)
	}
	if r := rep.Rows[2]; r.Reason != models.MRZReasonNoZone || r.Valid {
		t.Errorf("blank: %+v; want unreadable, no_zone", r)
	}
	if len(rep.Baselines) != 3 || rep.Baselines[0].Chars != rep.Totals.Chars {
		t.Errorf("baselines %+v; want three on the same %d characters", rep.Baselines, rep.Totals.Chars)
	}

	os.WriteFile(filepath.Join(dir, "truth.csv"), []byte(mrzTruthRow("../exact.png", "TD3", utopiaTD3)), 0o600)
	if _, err := EvalMRZDir(context.Background(), r, dir); err == nil {
		t.Error("EvalMRZDir with a path escape in truth.csv succeeded")
	}
	if _, err := EvalMRZDir(context.Background(), r, t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("EvalMRZDir(no truth.csv) = %v; want not exist", err)
	}
}

type fakeMRZLines map[string]string

func (f fakeMRZLines) ReadLineFile(path string) (string, float64, error) {
	text, ok := f[filepath.Base(path)]
	if !ok {
		return "", 0, models.ErrBadImage
	}
	return text, 90, nil
}

func TestEvalMRZLines(t *testing.T) {
	dir := t.TempDir()
	for name, truth := range map[string]string{"a": "P<UTOERIKSSON<<ANNA", "b": "L898902C36", "c": "7408122F"} {
		os.WriteFile(filepath.Join(dir, name+".tif"), nil, 0o600)
		os.WriteFile(filepath.Join(dir, name+".gt.txt"), []byte(truth+"\n"), 0o600)
	}
	r := fakeMRZLines{"a.tif": "P<UTOERIKSSON<<ANNA", "b.tif": "L8989O2C36"} // c fails to load
	rep, err := EvalMRZLines(context.Background(), r, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := MRZLineTotals{Lines: 3, Exact: 1, CharErrors: 1 + 8, Chars: 19 + 10 + 8, CER: 9.0 / 37, Failed: 1, MeanConfidence: 90}
	if rep.Totals != want {
		t.Errorf("totals = %+v; want %+v", rep.Totals, want)
	}
	if rep.Rows[2].Problem == "" {
		t.Errorf("row c = %+v; want a problem", rep.Rows[2])
	}
	os.Remove(filepath.Join(dir, "b.gt.txt"))
	if _, err := EvalMRZLines(context.Background(), r, dir); err == nil || !strings.Contains(err.Error(), "b.tif") {
		t.Errorf("EvalMRZLines without b's truth = %v; want an error naming b.tif", err)
	}
}
