package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kiosk/eval"
)

// mrzLine is one line of `kiosk mrz --json`, with the fields as the strings
// they are printed as.
type mrzLine struct {
	File   string            `json:"file"`
	Found  bool              `json:"found"`
	Valid  bool              `json:"valid"`
	Format string            `json:"format"`
	Lines  []string          `json:"lines"`
	Fields map[string]string `json:"fields"`
	Reason string            `json:"reason"`
	Error  string            `json:"error"`
}

func decodeMRZLines(t *testing.T, out string) []mrzLine {
	t.Helper()
	var res []mrzLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r mrzLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("mrz --json line %q: %v", l, err)
		}
		res = append(res, r)
	}
	return res
}

// TestMRZCommand: a specimen passport reads valid with its fields (exit 0),
// a blank page says no zone was found (exit 1), a file that is not an
// image exits 2; the logs carry none of what was read.
func TestMRZCommand(t *testing.T) {
	vars := baseVars(t)
	vars["KIOSK_LOG_LEVEL"] = "debug"
	specimen := filepath.Join(sharedData(t, "mrz/documents"), "utopia-passport-td3.png")
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.png")
	f, err := os.Create(blank)
	if err != nil {
		t.Fatal(err)
	}
	page := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range page.Pix {
		page.Pix[i] = 250
	}
	page.SetGray(3, 3, color.Gray{})
	if err := png.Encode(f, page); err != nil {
		t.Fatal(err)
	}
	f.Close()
	garbage := filepath.Join(dir, "garbage.jpg")
	os.WriteFile(garbage, []byte("\xff\xd8 not really a JPEG"), 0o600)

	out, logs, code := kiosk(t, vars, "mrz", "--json", specimen)
	if code != exitOK {
		t.Fatalf("mrz specimen: exit %d; want 0; stderr: %s", code, logs)
	}
	res := decodeMRZLines(t, out)
	want := map[string]string{"document_code": "P", "issuer": "UTO", "surname": "ERIKSSON", "given_names": "ANNA MARIA",
		"document_number": "L898902C3", "nationality": "UTO", "birth_date": "1974-08-12", "sex": "F", "expiry_date": "2012-04-15"}
	r := res[0]
	if len(res) != 1 || !r.Found || !r.Valid || r.Format != "TD3" || r.Reason != "" || r.File != specimen ||
		!slices.Equal(r.Lines, []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}) {
		t.Errorf("mrz specimen = %+v; want one valid TD3 read of the specimen", res)
	}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("field %s = %q; want %q", k, r.Fields[k], v)
		}
	}
	for _, secret := range []string{"ERIKSSON", "L898902C3", "740812", "1974-08-12"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs carry %q: %s", secret, logs)
		}
	}

	out, logs, code = kiosk(t, vars, "mrz", "--json", blank)
	if code != exitFailure {
		t.Fatalf("mrz blank page: exit %d; want 1; stderr: %s", code, logs)
	}
	if r := decodeMRZLines(t, out)[0]; r.Found || r.Valid || r.Reason != "no_zone" || r.Fields != nil || !strings.Contains(r.Error, "no machine-readable zone found") {
		t.Errorf("mrz blank page = %+v; want no zone found", r)
	}

	out, logs, code = kiosk(t, vars, "mrz", "--json", garbage)
	if code != exitBadInput || !strings.Contains(logs, "not a JPEG, PNG or WebP") {
		t.Errorf("mrz garbage: exit %d, stderr %q; want 2 and not a JPEG, PNG or WebP", code, logs)
	}
	if r := decodeMRZLines(t, out)[0]; r.Valid || r.Reason != "bad_image" {
		t.Errorf("mrz garbage = %+v; want reason bad_image", r)
	}

	// The table, for people: the worst exit code wins.
	out, _, code = kiosk(t, vars, "mrz", blank, garbage)
	if code != exitBadInput || !strings.Contains(out, "no machine-readable zone found") || !strings.Contains(out, "garbage.jpg") {
		t.Errorf("mrz table: exit %d:\n%s\nwant 2, with both files and no zone found", code, out)
	}
}

// TestEvalMRZDocuments is the acceptance on the shared documents: every
// labelled document read exactly, no wrong read reported valid, and the
// low-resolution card without truth reported unreadable.
func TestEvalMRZDocuments(t *testing.T) {
	vars := baseVars(t)
	dir := sharedData(t, "mrz/documents")
	out, logs, code := kiosk(t, vars, "eval", "mrz", "--json", dir)
	if code != exitOK {
		t.Fatalf("eval mrz: exit %d; stderr: %s", code, logs)
	}
	var rep eval.MRZReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval mrz --json: %v", err)
	}
	tot := rep.Totals
	if tot.Documents != 6 || tot.Exact != 6 || tot.WrongValid != 0 || tot.LinesExact != tot.Lines || tot.CharErrors != 0 {
		t.Errorf("totals = %+v; want 6 documents, all exact, 0 wrong valid", tot)
	}
	if tot.Unlabelled != 1 || tot.UnlabelledValid != 0 {
		t.Errorf("totals = %+v; want 1 file without truth, not read as valid", tot)
	}
	for _, r := range rep.Rows {
		if r.File == "mrzdetection-id_fail.png" && (r.Labelled || r.Valid || r.Reason == "") {
			t.Errorf("low-resolution card: %+v; want unlabelled and unreadable with a reason", r)
		}
	}
	if len(rep.Baselines) != 3 || rep.Baselines[0].Name != eval.BaselineRefuse || rep.Baselines[0].CER != 1 {
		t.Errorf("baselines = %+v; want always-unreadable first, CER 1", rep.Baselines)
	}
}

// TestEvalMRZGenerated: a few generated camera pictures go through the
// reader, with the shared sample portrait found through the shared dir.
func TestEvalMRZGenerated(t *testing.T) {
	vars := baseVars(t)
	vars["KIOSK_SHARED_DIR"] = sharedDir()
	sharedData(t, "faces/pairs")
	out, logs, code := kiosk(t, vars, "eval", "mrz", "--json", "--generated", "5")
	if code != exitOK {
		t.Fatalf("eval mrz --generated 5: exit %d; stderr: %s", code, logs)
	}
	var rep struct {
		eval.MRZReport
		Portrait string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval mrz --json: %v", err)
	}
	if tot := rep.Totals; tot.Documents != 5 || tot.WrongValid != 0 || tot.Exact < 4 {
		t.Errorf("totals = %+v; want 5 documents, at least 4 exact, 0 wrong valid", tot)
	}
	if len(rep.Rows) != 5 || rep.Rows[0].Seed != 1 || rep.Rows[4].Seed != 5 || rep.Rows[0].Conditions == "" {
		t.Errorf("rows = %+v; want seeds 1 to 5 with their conditions", rep.Rows)
	}
	if filepath.Base(rep.Portrait) != "img1.jpg" {
		t.Errorf("portrait %q; want the shared sample img1.jpg", rep.Portrait)
	}
}

func TestEvalMRZUsage(t *testing.T) {
	vars := baseVars(t)
	for _, args := range [][]string{
		{"eval", "mrz"},
		{"eval", "mrz", "a", "b"},
		{"eval", "mrz", "--generated", "3", "DIR"},
		{"eval", "mrz", "--generated", "3", "--lines"},
		{"eval", "mrz", "--generated", "-1"},
		{"mrz"},
	} {
		if _, _, code := kiosk(t, vars, args...); code != exitBadInput {
			t.Errorf("kiosk %q: exit %d; want 2", args, code)
		}
	}
}
