package mrz

import "fmt"

// Format is a machine-readable zone layout.
type Format uint8

// The layouts Parse knows. FormatUnknown is the zero value.
const (
	FormatUnknown Format = iota
	TD1                  // ID cards: 3 lines of 30
	TD2                  // ID cards and travel documents: 2 lines of 36
	TD3                  // passports: 2 lines of 44
	MRVA                 // visas, format A: 2 lines of 44
	MRVB                 // visas, format B: 2 lines of 36
	FRAID                // French national ID card (1988–2021): 2 lines of 36
)

var formatNames = [...]string{"", "TD1", "TD2", "TD3", "MRV-A", "MRV-B", "FRA-ID"}

// String gives the name used in truth files and JSON: TD1, TD2, TD3,
// MRV-A, MRV-B, FRA-ID, or "" for FormatUnknown.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// MarshalText writes the format's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (f *Format) UnmarshalText(b []byte) error {
	g, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = g
	return nil
}

// ParseFormat reads a format name (TD1, TD2, TD3, MRV-A, MRV-B, FRA-ID).
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if i > 0 && n == s {
			return Format(i), nil
		}
	}
	return FormatUnknown, fmt.Errorf("mrz: unknown format name %q (want TD1, TD2, TD3, MRV-A, MRV-B or FRA-ID)", s)
}

// Shape is the number of lines and their length.
func (f Format) Shape() (lines, width int) {
	if l := layoutOf(f); l != nil {
		return len(l.rows), l.width
	}
	return 0, 0
}

// Field names a part of the zone, in repairs and errors.
type Field string

// Fields of the layouts, and the composite check.
const (
	FieldDocumentCode   Field = "document_code"
	FieldIssuer         Field = "issuer"
	FieldName           Field = "name"
	FieldSurname        Field = "surname"
	FieldGivenNames     Field = "given_names"
	FieldDocumentNumber Field = "document_number"
	FieldNationality    Field = "nationality"
	FieldBirthDate      Field = "birth_date"
	FieldSex            Field = "sex"
	FieldExpiryDate     Field = "expiry_date"
	FieldOptional1      Field = "optional1"
	FieldOptional2      Field = "optional2"
	FieldPersonalNumber Field = "personal_number"
	FieldAdminCode      Field = "admin_code" // French ID: issuing department and office
	FieldComposite      Field = "composite"
	FieldLines          Field = "lines" // the zone as a whole: count, lengths, characters
)

// kind says what a field may hold, and so which repairs are allowed in it.
type kind uint8

const (
	kNumeric kind = iota + 1 // digits (dates; < for an unknown part)
	kCheck                   // one check digit (or < over an empty field)
	kAlpha                   // letters and < (document code, sex)
	kCountry                 // a known country code
	kName                    // letters and <, in the name grammar
	kAlnum                   // anything; repaired only through a check digit
)

// span is bytes [start, end) of one line.
type span struct{ line, start, end int }

type fieldSpec struct {
	name Field
	at   span
	kind kind
}

// checkSpec says that the digit at (line, col) checks the concatenation of
// spans. field is the field it protects (FieldComposite for the composite).
type checkSpec struct {
	field Field
	line  int
	col   int
	over  []span
}

type layout struct {
	format Format
	width  int
	rows   []string // documentation only: a picture of the layout
	fields []fieldSpec
	checks []checkSpec // field checks first, composite last
	// longDoc is where a document number longer than 9 characters
	// continues (ICAO 9303 TD1 and TD2): when the document number's check
	// digit is <, the rest of the number and then its check digit follow
	// at the start of this span.
	longDoc *span
}

func sp(line, start, end int) span { return span{line, start, end} }

func f(name Field, line, start, end int, k kind) fieldSpec {
	return fieldSpec{name, sp(line, start, end), k}
}

func chk(field Field, line, col int, over ...span) checkSpec {
	return checkSpec{field: field, line: line, col: col, over: over}
}

var layouts = []*layout{
	{
		format: TD1, width: 30,
		rows: []string{"CCIIINNNNNNNNN#OOOOOOOOOOOOOOO", "BBBBBB#SEEEEEE#NNNOOOOOOOOOOO#", "NAMES........................."},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldDocumentNumber, 0, 5, 14, kAlnum), f(FieldDocumentNumber, 0, 14, 15, kCheck),
			f(FieldOptional1, 0, 15, 30, kAlnum),
			f(FieldBirthDate, 1, 0, 6, kNumeric), f(FieldBirthDate, 1, 6, 7, kCheck),
			f(FieldSex, 1, 7, 8, kAlpha),
			f(FieldExpiryDate, 1, 8, 14, kNumeric), f(FieldExpiryDate, 1, 14, 15, kCheck),
			f(FieldNationality, 1, 15, 18, kCountry), f(FieldOptional2, 1, 18, 29, kAlnum),
			f(FieldComposite, 1, 29, 30, kCheck),
			f(FieldName, 2, 0, 30, kName),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 0, 14, sp(0, 5, 14)),
			chk(FieldBirthDate, 1, 6, sp(1, 0, 6)),
			chk(FieldExpiryDate, 1, 14, sp(1, 8, 14)),
			chk(FieldComposite, 1, 29, sp(0, 5, 30), sp(1, 0, 7), sp(1, 8, 15), sp(1, 18, 29)),
		},
		longDoc: &span{0, 15, 30},
	},
	{
		format: TD2, width: 36,
		rows: []string{"CCIIINAMES..........................", "NNNNNNNNN#NNNBBBBBB#SEEEEEE#OOOOOOO#"},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldName, 0, 5, 36, kName),
			f(FieldDocumentNumber, 1, 0, 9, kAlnum), f(FieldDocumentNumber, 1, 9, 10, kCheck),
			f(FieldNationality, 1, 10, 13, kCountry),
			f(FieldBirthDate, 1, 13, 19, kNumeric), f(FieldBirthDate, 1, 19, 20, kCheck),
			f(FieldSex, 1, 20, 21, kAlpha),
			f(FieldExpiryDate, 1, 21, 27, kNumeric), f(FieldExpiryDate, 1, 27, 28, kCheck),
			f(FieldOptional1, 1, 28, 35, kAlnum), f(FieldComposite, 1, 35, 36, kCheck),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 1, 9, sp(1, 0, 9)),
			chk(FieldBirthDate, 1, 19, sp(1, 13, 19)),
			chk(FieldExpiryDate, 1, 27, sp(1, 21, 27)),
			chk(FieldComposite, 1, 35, sp(1, 0, 10), sp(1, 13, 20), sp(1, 21, 35)),
		},
		longDoc: &span{1, 28, 35},
	},
	{
		format: TD3, width: 44,
		rows: []string{"CCIIINAMES..................................", "NNNNNNNNN#NNNBBBBBB#SEEEEEE#PPPPPPPPPPPPPP##"},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldName, 0, 5, 44, kName),
			f(FieldDocumentNumber, 1, 0, 9, kAlnum), f(FieldDocumentNumber, 1, 9, 10, kCheck),
			f(FieldNationality, 1, 10, 13, kCountry),
			f(FieldBirthDate, 1, 13, 19, kNumeric), f(FieldBirthDate, 1, 19, 20, kCheck),
			f(FieldSex, 1, 20, 21, kAlpha),
			f(FieldExpiryDate, 1, 21, 27, kNumeric), f(FieldExpiryDate, 1, 27, 28, kCheck),
			f(FieldPersonalNumber, 1, 28, 42, kAlnum), f(FieldPersonalNumber, 1, 42, 43, kCheck),
			f(FieldComposite, 1, 43, 44, kCheck),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 1, 9, sp(1, 0, 9)),
			chk(FieldBirthDate, 1, 19, sp(1, 13, 19)),
			chk(FieldExpiryDate, 1, 27, sp(1, 21, 27)),
			chk(FieldPersonalNumber, 1, 42, sp(1, 28, 42)),
			chk(FieldComposite, 1, 43, sp(1, 0, 10), sp(1, 13, 20), sp(1, 21, 43)),
		},
	},
	{
		format: MRVA, width: 44,
		rows: []string{"CCIIINAMES..................................", "NNNNNNNNN#NNNBBBBBB#SEEEEEE#OOOOOOOOOOOOOOOO"},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldName, 0, 5, 44, kName),
			f(FieldDocumentNumber, 1, 0, 9, kAlnum), f(FieldDocumentNumber, 1, 9, 10, kCheck),
			f(FieldNationality, 1, 10, 13, kCountry),
			f(FieldBirthDate, 1, 13, 19, kNumeric), f(FieldBirthDate, 1, 19, 20, kCheck),
			f(FieldSex, 1, 20, 21, kAlpha),
			f(FieldExpiryDate, 1, 21, 27, kNumeric), f(FieldExpiryDate, 1, 27, 28, kCheck),
			f(FieldOptional1, 1, 28, 44, kAlnum),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 1, 9, sp(1, 0, 9)),
			chk(FieldBirthDate, 1, 19, sp(1, 13, 19)),
			chk(FieldExpiryDate, 1, 27, sp(1, 21, 27)),
		},
	},
	{
		format: MRVB, width: 36,
		rows: []string{"CCIIINAMES..........................", "NNNNNNNNN#NNNBBBBBB#SEEEEEE#OOOOOOOO"},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldName, 0, 5, 36, kName),
			f(FieldDocumentNumber, 1, 0, 9, kAlnum), f(FieldDocumentNumber, 1, 9, 10, kCheck),
			f(FieldNationality, 1, 10, 13, kCountry),
			f(FieldBirthDate, 1, 13, 19, kNumeric), f(FieldBirthDate, 1, 19, 20, kCheck),
			f(FieldSex, 1, 20, 21, kAlpha),
			f(FieldExpiryDate, 1, 21, 27, kNumeric), f(FieldExpiryDate, 1, 27, 28, kCheck),
			f(FieldOptional1, 1, 28, 36, kAlnum),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 1, 9, sp(1, 0, 9)),
			chk(FieldBirthDate, 1, 19, sp(1, 13, 19)),
			chk(FieldExpiryDate, 1, 27, sp(1, 21, 27)),
		},
	},
	{
		// The French card: line 1 is ID, FRA, the surname (25) and the
		// issuing department and office (6); line 2 the card number
		// (issue year and month, department, a 5-digit sequence) and its
		// check, the given names (14), the birth date and its check, sex,
		// and a composite over both lines. There is no expiry date.
		format: FRAID, width: 36,
		rows: []string{"IDFRASURNAME..............AAAAAA", "YYMMDDDNNNNN#GIVEN.........BBBBBB#S#"},
		fields: []fieldSpec{
			f(FieldDocumentCode, 0, 0, 2, kAlpha), f(FieldIssuer, 0, 2, 5, kCountry),
			f(FieldSurname, 0, 5, 30, kName), f(FieldAdminCode, 0, 30, 36, kAlnum),
			f(FieldDocumentNumber, 1, 0, 12, kAlnum), f(FieldDocumentNumber, 1, 12, 13, kCheck),
			f(FieldGivenNames, 1, 13, 27, kName),
			f(FieldBirthDate, 1, 27, 33, kNumeric), f(FieldBirthDate, 1, 33, 34, kCheck),
			f(FieldSex, 1, 34, 35, kAlpha),
			f(FieldComposite, 1, 35, 36, kCheck),
		},
		checks: []checkSpec{
			chk(FieldDocumentNumber, 1, 12, sp(1, 0, 12)),
			chk(FieldBirthDate, 1, 33, sp(1, 27, 33)),
			chk(FieldComposite, 1, 35, sp(0, 0, 36), sp(1, 0, 35)),
		},
	},
}

func layoutOf(f Format) *layout {
	for _, l := range layouts {
		if l.format == f {
			return l
		}
	}
	return nil
}

// detect picks the layout from the line count, the line length and the
// document code. It never guesses between layouts of the same shape: the
// first letter decides (P passport, V visa; the French card starts IDFRA).
func detect(lines []string) *layout {
	if len(lines) == 0 {
		return nil
	}
	w := len(lines[0])
	for _, l := range lines {
		if len(l) != w {
			return nil
		}
	}
	c := lines[0][0]
	switch {
	case len(lines) == 3 && w == 30:
		return layoutOf(TD1)
	case len(lines) == 2 && w == 44 && c == 'V':
		return layoutOf(MRVA)
	case len(lines) == 2 && w == 44:
		return layoutOf(TD3)
	case len(lines) == 2 && w == 36 && c == 'V':
		return layoutOf(MRVB)
	case len(lines) == 2 && w == 36 && len(lines[0]) >= 5 && lines[0][:5] == "IDFRA":
		return layoutOf(FRAID)
	case len(lines) == 2 && w == 36:
		return layoutOf(TD2)
	}
	return nil
}
