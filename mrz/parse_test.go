package mrz

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// specimens are real specimen zones: ICAO 9303's Utopia documents (part 4
// TD3, part 5 TD1, part 6 TD2, part 7 visas), and the French, Estonian and
// German specimen cards.
var specimens = []struct {
	name   string
	lines  []string
	format Format
	want   Fields
}{
	{"ICAO TD3 passport", []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}, TD3,
		Fields{DocumentCode: "P", Issuer: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", DocumentNumber: "L898902C3", Nationality: "UTO",
			BirthDate: Date{1974, 8, 12}, Sex: SexFemale, ExpiryDate: Date{2012, 4, 15}, PersonalNumber: "ZE184226B"}},
	{"ICAO TD2 card", []string{"I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"}, TD2,
		Fields{DocumentCode: "I", Issuer: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", DocumentNumber: "D23145890", Nationality: "UTO",
			BirthDate: Date{1974, 8, 12}, Sex: SexFemale, ExpiryDate: Date{2012, 4, 15}}},
	{"ICAO TD1 card", []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}, TD1,
		Fields{DocumentCode: "I", Issuer: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", DocumentNumber: "D23145890", Nationality: "UTO",
			BirthDate: Date{1974, 8, 12}, Sex: SexFemale, ExpiryDate: Date{2012, 4, 15}}},
	{"ICAO TD1 card with a long document number", []string{"I<UTOD23145890<7349<<<<<<<<<<<", "3407127M9507122UTO<<<<<<<<<<<2", "STEVENSON<<PETER<JOHN<<<<<<<<<"}, TD1,
		Fields{DocumentCode: "I", Issuer: "UTO", Surname: "STEVENSON", GivenNames: "PETER JOHN", DocumentNumber: "D23145890734", Nationality: "UTO",
			BirthDate: Date{1934, 7, 12}, Sex: SexMale, ExpiryDate: Date{1995, 7, 12}}},
	{"ICAO MRV-A visa", []string{"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"}, MRVA,
		Fields{DocumentCode: "V", Issuer: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", DocumentNumber: "L8988901C", Nationality: "XXX",
			BirthDate: Date{1940, 9, 7}, Sex: SexFemale, ExpiryDate: Date{1996, 12, 10}, Optional1: "6ZE184226B"}},
	{"ICAO MRV-B visa", []string{"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"}, MRVB,
		Fields{DocumentCode: "V", Issuer: "UTO", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", DocumentNumber: "L8988901C", Nationality: "XXX",
			BirthDate: Date{1940, 9, 7}, Sex: SexFemale, ExpiryDate: Date{1996, 12, 10}}},
	{"French ID card", []string{"IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "9409923102854CORINNE<<<<<<<6512068F4"}, FRAID,
		Fields{DocumentCode: "ID", Issuer: "FRA", Surname: "BERTHIER", GivenNames: "CORINNE", DocumentNumber: "940992310285", Nationality: "FRA",
			BirthDate: Date{1965, 12, 6}, Sex: SexFemale}},
	{"Estonian passport", []string{"P<ESTMAENNIK<<MARI<LIIS<<<<<<<<<<<<<<<<<<<<<", "KB00000003EST7501229F120522647501220010<<<02"}, TD3,
		Fields{DocumentCode: "P", Issuer: "EST", Surname: "MAENNIK", GivenNames: "MARI LIIS", DocumentNumber: "KB0000000", Nationality: "EST",
			BirthDate: Date{1975, 1, 22}, Sex: SexFemale, ExpiryDate: Date{2012, 5, 22}, PersonalNumber: "47501220010"}},
	{"German ID card (D<<, unspecified sex)", []string{"IDD<<T220001293<<<<<<<<<<<<<<<", "6408125<2010315D<<<<<<<<<<<<<4", "MUSTERMANN<<ERIKA<<<<<<<<<<<<<"}, TD1,
		Fields{DocumentCode: "ID", Issuer: "D", Surname: "MUSTERMANN", GivenNames: "ERIKA", DocumentNumber: "T22000129", Nationality: "D",
			BirthDate: Date{1964, 8, 12}, Sex: SexUnspecified, ExpiryDate: Date{2020, 10, 31}}},
}

func TestParseSpecimens(t *testing.T) {
	for _, s := range specimens {
		t.Run(s.name, func(t *testing.T) {
			r := Parse(s.lines, ref)
			if !r.Valid || r.Err != nil || r.Reason != CodeNone {
				t.Fatalf("Parse(%q) = valid %v, %v; want valid", s.lines, r.Valid, r.Err)
			}
			if r.Format != s.format {
				t.Errorf("Format = %v; want %v", r.Format, s.format)
			}
			if r.Fields != s.want {
				t.Errorf("Fields = %+v\nwant     %+v", r.Fields, s.want)
			}
			if len(r.Repairs) != 0 {
				t.Errorf("Repairs = %+v on a clean zone; want none", r.Repairs)
			}
		})
	}
}

// TestParseTruthFile parses every zone of the shared specimen documents'
// truth file, which the OCR tests compare against.
func TestParseTruthFile(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := os.Getenv("KIOSK_SHARED_DIR")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(file), "..", "..", "shared")
	}
	f, err := os.Open(filepath.Join(dir, "data", "mrz", "documents", "truth.csv"))
	if err != nil {
		t.Skipf("shared MRZ documents missing: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("truth.csv has %d rows", len(rows))
	}
	for _, row := range rows[1:] {
		if len(row) < 4 {
			t.Fatalf("truth row %q: want file,format,line1,line2[,line3]", row)
		}
		want, err := ParseFormat(row[1])
		if err != nil {
			t.Fatal(err)
		}
		r := Parse(row[2:], ref)
		if !r.Valid || r.Format != want {
			t.Errorf("%s: Parse = valid %v, format %v, %v; want valid %v", row[0], r.Valid, r.Format, r.Err, want)
		}
	}
}

// TestParseNormalises: spaces and lower case, as OCR may give them, are
// not repairs.
func TestParseNormalises(t *testing.T) {
	r := Parse([]string{"", " p<utoERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<< ", "L898902C36UTO 7408122F1204159ZE184226B<<<<<10\r", "  "}, ref)
	if !r.Valid || len(r.Repairs) != 0 || r.Lines[0] != specimens[0].lines[0] {
		t.Errorf("Parse = %v %v %q; want the clean specimen", r.Valid, r.Err, r.Lines)
	}
}

func TestParseRefuses(t *testing.T) {
	td3 := specimens[0].lines
	td1 := specimens[2].lines
	for _, tc := range []struct {
		name  string
		lines []string
		want  error
		field Field
	}{
		{"nothing", nil, ErrNoLines, ""},
		{"blank lines", []string{"", "  "}, ErrNoLines, ""},
		{"one line", td3[:1], ErrFormat, FieldLines},
		{"short line", []string{td3[0], td3[1][:43]}, ErrFormat, FieldLines},
		{"four lines", append(append([]string{}, td1...), td1[0]), ErrFormat, FieldLines},
		{"huge line", []string{string(make([]byte, 10000))}, ErrFormat, FieldLines},
		{"punctuation", with(td3, 0, 7, '-'), ErrCharacter, FieldLines},
		{"non-ASCII", []string{"P<UTOÉRIKSSON", td3[1]}, ErrCharacter, FieldLines},
		{"letter in a date that is no look-alike", with(td3, 1, 15, 'A'), ErrCharacter, FieldBirthDate},
		{"digit in a name that is no look-alike", with(td3, 0, 7, '3'), ErrCharacter, FieldName},
		{"wrong birth date check digit", with(td3, 1, 19, '3'), ErrCheckDigit, FieldBirthDate},
		{"wrong expiry check digit", with(td3, 1, 27, '0'), ErrCheckDigit, FieldExpiryDate},
		{"wrong composite", with(td3, 1, 43, '1'), ErrCheckDigit, FieldComposite},
		{"wrong document number check", with(td3, 1, 9, '5'), ErrCheckDigit, FieldDocumentNumber},
		{"filler check digit over a number", with(td3, 1, 9, '<'), ErrCheckDigit, FieldDocumentNumber},
		{"wrong digit in expiry", with(td3, 1, 22, '3'), ErrCheckDigit, FieldExpiryDate},
		{"unknown issuer", with(td3, 0, 2, 'Q'), ErrCountry, FieldIssuer},
		{"unknown nationality", with(td3, 1, 12, 'Q'), ErrCountry, FieldNationality},
		{"passport layout with a card code", with(td3, 0, 0, 'I'), ErrDocumentCode, FieldDocumentCode},
		{"card layout with a passport code", with(td1, 0, 0, 'P'), ErrDocumentCode, FieldDocumentCode},
		{"sex Q", with(td3, 1, 20, 'Q'), ErrSex, FieldSex},
		{"letters after the name's fillers", with(td3, 0, 40, 'X'), ErrName, FieldName},
		{"three fillers between names", []string{pad("P<UTOERIKSSON<<<ANNA", 44), td3[1]}, ErrName, FieldName},
		{"empty surname", []string{pad("P<UTO<<ANNA", 44), td3[1]}, ErrName, FieldName},
		{"month 13", doc{"P", "UTO", "A<<B", "X1", "UTO", "741312", "F", "300101", ""}.td3(), ErrDate, FieldBirthDate},
		{"30 February", doc{"P", "UTO", "A<<B", "X1", "UTO", "740230", "F", "300101", ""}.td3(), ErrDate, FieldBirthDate},
		{"day 00", doc{"P", "UTO", "A<<B", "X1", "UTO", "740200", "F", "300101", ""}.td3(), ErrDate, FieldBirthDate},
		{"unknown expiry day", doc{"P", "UTO", "A<<B", "X1", "UTO", "740201", "F", "3001<<", ""}.td3(), ErrDate, FieldExpiryDate},
		{"29 February 2001", doc{"P", "UTO", "A<<B", "X1", "UTO", "010229", "F", "300101", ""}.td3(), ErrDate, FieldBirthDate},
		{"empty document number", doc{"P", "UTO", "A<<B", "", "UTO", "740201", "F", "300101", ""}.td3(), ErrEmpty, FieldDocumentNumber},
		{"French card, composite wrong", with(specimens[6].lines, 1, 35, '5'), ErrCheckDigit, FieldComposite},
		{"French card, surname changed (the composite covers it)", with(specimens[6].lines, 0, 6, 'A'), ErrCheckDigit, FieldComposite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse(tc.lines, ref)
			if r.Valid {
				t.Fatalf("Parse(%q) is valid; want %v", tc.lines, tc.want)
			}
			if !errors.Is(r.Err, tc.want) {
				t.Fatalf("Parse(%q).Err = %v; want %v", tc.lines, r.Err, tc.want)
			}
			if r.Reason != CodeOf(tc.want) {
				t.Errorf("Reason = %q; want %q", r.Reason, CodeOf(tc.want))
			}
			if r.Fields != (Fields{}) {
				t.Errorf("Fields = %+v on an invalid read; want zero", r.Fields)
			}
			var fe *FieldError
			if tc.field != "" && (!errors.As(r.Err, &fe) || fe.Field != tc.field) {
				t.Errorf("Err = %v; want a FieldError on %s", r.Err, tc.field)
			}
		})
	}
}

func TestParseDates(t *testing.T) {
	for _, tc := range []struct {
		name          string
		birth, expiry string
		wantB, wantE  Date
	}{
		{"last century birth, past expiry", "740812", "120415", Date{1974, 8, 12}, Date{2012, 4, 15}},
		{"birth this century", "100101", "350101", Date{2010, 1, 1}, Date{2035, 1, 1}},
		{"birth later this year is last century", "251231", "300101", Date{1925, 12, 31}, Date{2030, 1, 1}},
		{"birth on the reference day", "250101", "300101", Date{2025, 1, 1}, Date{2030, 1, 1}},
		{"expiry 50 years on", "740812", "750101", Date{1974, 8, 12}, Date{2075, 1, 1}},
		{"expiry beyond 50 years is last century", "740812", "760101", Date{1974, 8, 12}, Date{1976, 1, 1}},
		{"unknown birth day", "7408<<", "300101", Date{1974, 8, 0}, Date{2030, 1, 1}},
		{"unknown birth month and day", "74<<<<", "300101", Date{1974, 0, 0}, Date{2030, 1, 1}},
		{"leap day", "000229", "280229", Date{2000, 2, 29}, Date{2028, 2, 29}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := doc{"P", "UTO", "A<<B", "X1", "UTO", tc.birth, "F", tc.expiry, ""}.td3()
			r := Parse(lines, ref)
			if !r.Valid {
				t.Fatalf("Parse(%q): %v", lines, r.Err)
			}
			if r.Fields.BirthDate != tc.wantB || r.Fields.ExpiryDate != tc.wantE {
				t.Errorf("dates = %v, %v; want %v, %v", r.Fields.BirthDate, r.Fields.ExpiryDate, tc.wantB, tc.wantE)
			}
		})
	}
}

func TestFieldsExpired(t *testing.T) {
	f := Fields{ExpiryDate: Date{2012, 4, 15}}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2012, 4, 15, 23, 59, 0, 0, time.UTC), false},
		{time.Date(2012, 4, 16, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		if got := f.Expired(tc.now); got != tc.want {
			t.Errorf("Expired(%v) = %v; want %v", tc.now, got, tc.want)
		}
	}
	if (Fields{}).Expired(time.Now()) || (Fields{}).HasExpiry() {
		t.Error("a zone without an expiry date reports expired or HasExpiry")
	}
}

func TestFormatNames(t *testing.T) {
	for f := TD1; f <= FRAID; f++ {
		g, err := ParseFormat(f.String())
		if err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", f.String(), g, err, f)
		}
		if n, w := f.Shape(); n == 0 || w == 0 {
			t.Errorf("%v.Shape() = %d, %d", f, n, w)
		}
	}
	if _, err := ParseFormat("TD4"); err == nil {
		t.Error("ParseFormat(TD4) succeeded")
	}
}

// TestParseBuiltZones builds each card layout from fields, with optional
// data, and reads the fields back.
func TestParseBuiltZones(t *testing.T) {
	d := doc{"ID", "EUE", "DE<LA<CRUZ<<JOSE<MARIA", "X12AB9734", "XXB", "851130", "M", "310228", "OPT4"}
	for _, tc := range []struct {
		name  string
		lines []string
		want  Format
	}{
		{"TD1", d.td1(), TD1},
		{"TD2", d.td2(), TD2},
		{"TD3", doc{"PD", "UNO", d.name, d.number, "UNA", d.birth, "X", d.expiry, "ABC123"}.td3(), TD3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse(tc.lines, ref)
			if !r.Valid || r.Format != tc.want {
				t.Fatalf("Parse(%q) = %v %v; want valid %v", tc.lines, r.Err, r.Format, tc.want)
			}
			f := r.Fields
			if f.Surname != "DE LA CRUZ" || f.GivenNames != "JOSE MARIA" || f.DocumentNumber != "X12AB9734" ||
				f.BirthDate != (Date{1985, 11, 30}) || f.ExpiryDate != (Date{2031, 2, 28}) {
				t.Errorf("Fields = %+v", f)
			}
			if opt := f.Optional1 + f.PersonalNumber; opt != "OPT4" && opt != "ABC123" {
				t.Errorf("optional data = %q", opt)
			}
		})
	}
}
