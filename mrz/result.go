package mrz

import (
	"strings"
	"time"
)

// Result is one parsed zone. It holds personal data: keep it in memory,
// seal it before it is stored, and never log it.
type Result struct {
	// Valid is true only when the layout matched, every check digit
	// (including the composite) holds, every date exists and every code is
	// known. Fields is filled only then.
	Valid  bool   `json:"valid"`
	Format Format `json:"format"`
	// Lines are the normalised lines (upper case, spaces removed) with
	// every repair applied.
	Lines   []string `json:"lines"`
	Fields  Fields   `json:"fields"`
	Repairs []Repair `json:"repairs,omitempty"`
	// Reason is CodeOf(Err): empty when Valid.
	Reason Code `json:"reason,omitempty"`
	// Err says why the read is not valid: a *FieldError wrapping a
	// sentinel (ErrCheckDigit, ErrAmbiguous, ...), or a sentinel alone.
	Err error `json:"-"`
}

// Repair is one character changed from what was read, with the field that
// justified it. Line and Col are 0-based.
type Repair struct {
	Field Field  `json:"field"`
	Line  int    `json:"line"`
	Col   int    `json:"col"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Sex is the holder's sex as the document states it.
type Sex string

// The values a zone can hold; SexUnspecified is the filler <.
const (
	SexMale        Sex = "M"
	SexFemale      Sex = "F"
	SexX           Sex = "X"
	SexUnspecified Sex = ""
)

// Fields are the typed contents of a valid zone. Fillers are trimmed from
// codes and numbers, and turned into spaces inside names.
type Fields struct {
	// DocumentCode is the document type: P, ID, I, AC, V, ...
	DocumentCode string `json:"document_code"`
	// Issuer is the issuing state or organisation: UTO, D, UNO, ...
	Issuer string `json:"issuer"`
	// Surname is the primary identifier; GivenNames the secondary one,
	// its parts separated by single spaces.
	Surname    string `json:"surname"`
	GivenNames string `json:"given_names"`
	// DocumentNumber includes the continuation of a long TD1/TD2 number.
	DocumentNumber string `json:"document_number"`
	// Nationality is a state code; the French card implies FRA.
	Nationality string `json:"nationality"`
	BirthDate   Date   `json:"birth_date"`
	Sex         Sex    `json:"sex"`
	// ExpiryDate is zero when the layout has none (FRA-ID).
	ExpiryDate Date `json:"expiry_date"`
	// PersonalNumber is TD3's personal number field.
	PersonalNumber string `json:"personal_number,omitempty"`
	// Optional1 and Optional2 are the optional data (TD1 lines 1 and 2,
	// TD2 and visas line 2, the French card's department and office code).
	Optional1 string `json:"optional1,omitempty"`
	Optional2 string `json:"optional2,omitempty"`
}

// Expired reports whether the document's expiry date lies before the
// calendar day of now. A layout without an expiry date never reports
// expired: callers decide what an unknown expiry means (HasExpiry).
func (f Fields) Expired(now time.Time) bool {
	if f.ExpiryDate.IsZero() {
		return false
	}
	return dayOf(now).After(f.ExpiryDate.last())
}

// HasExpiry reports whether the zone carries an expiry date.
func (f Fields) HasExpiry() bool { return !f.ExpiryDate.IsZero() }

// trimFill removes trailing fillers and turns inner ones into spaces.
func trimFill(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '<' }), " ")
}

// splitName splits an ICAO name field at the first << into the primary
// and secondary identifiers.
func splitName(s string) (surname, given string) {
	p, g, _ := strings.Cut(s, "<<")
	return trimFill(p), trimFill(g)
}
