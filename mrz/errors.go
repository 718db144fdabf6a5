package mrz

import (
	"errors"
	"fmt"
)

// Sentinel errors: why a read is not valid. Callers check them with
// errors.Is; Code maps them to short stable codes for JSON and the UI
// catalogue. None of them is a sentence for a visitor.
var (
	// ErrNoLines: nothing was given to parse.
	ErrNoLines = errors.New("mrz: no lines")
	// ErrFormat: the line count, the line lengths and the document code
	// match no known layout.
	ErrFormat = errors.New("mrz: line count and lengths match no known layout")
	// ErrCharacter: a character outside A–Z, 0–9 and <, or one a field
	// cannot hold that is no known look-alike.
	ErrCharacter = errors.New("mrz: character not allowed here")
	// ErrCheckDigit: a check digit does not match and no single repair
	// makes it match.
	ErrCheckDigit = errors.New("mrz: check digit does not match")
	// ErrAmbiguous: more than one look-alike repair makes a check digit
	// (or a country code) fit, so the read cannot be trusted.
	ErrAmbiguous = errors.New("mrz: more than one repair fits")
	// ErrDate: a date that does not exist (month 13, 30 February, ...).
	ErrDate = errors.New("mrz: not a valid date")
	// ErrCountry: a country or organisation code that ICAO does not list.
	ErrCountry = errors.New("mrz: unknown country code")
	// ErrSex: a sex field other than M, F, X or <.
	ErrSex = errors.New("mrz: sex is not M, F, X or <")
	// ErrDocumentCode: a document code the layout does not allow.
	ErrDocumentCode = errors.New("mrz: document code not allowed for this layout")
	// ErrName: a name field that breaks the name grammar (empty surname,
	// letters after the fillers that end the name).
	ErrName = errors.New("mrz: malformed name")
	// ErrEmpty: a field that must hold something (the document number) is
	// all fillers.
	ErrEmpty = errors.New("mrz: required field is empty")
	// ErrTooFewReads: a vote has fewer agreeing valid reads than it needs.
	ErrTooFewReads = errors.New("mrz: too few agreeing reads")
	// ErrReadsDisagree: valid reads in a vote disagree, or no character
	// has a majority.
	ErrReadsDisagree = errors.New("mrz: reads disagree")
)

// FieldError says which field of the zone failed and where. Line and Col
// are 0-based; Col is -1 when the whole field is meant.
type FieldError struct {
	Field     Field
	Line, Col int
	Err       error
}

func (e *FieldError) Error() string {
	if e.Col < 0 {
		return fmt.Sprintf("%s (line %d): %v", e.Field, e.Line+1, e.Err)
	}
	return fmt.Sprintf("%s (line %d, column %d): %v", e.Field, e.Line+1, e.Col+1, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(name Field, line, col int, err error) *FieldError {
	return &FieldError{Field: name, Line: line, Col: col, Err: err}
}

// Code is a short stable name for a reason a read is not valid, for JSON
// and for looking up the sentence shown to people.
type Code string

// Codes, one per sentinel error; CodeOther for anything else.
const (
	CodeNone          Code = ""
	CodeNoLines       Code = "no_lines"
	CodeFormat        Code = "format"
	CodeCharacter     Code = "character"
	CodeCheckDigit    Code = "check_digit"
	CodeAmbiguous     Code = "ambiguous"
	CodeDate          Code = "date"
	CodeCountry       Code = "country"
	CodeSex           Code = "sex"
	CodeDocumentCode  Code = "document_code"
	CodeName          Code = "name"
	CodeEmpty         Code = "empty"
	CodeTooFewReads   Code = "too_few_reads"
	CodeReadsDisagree Code = "reads_disagree"
	CodeOther         Code = "other"
)

var codes = []struct {
	err  error
	code Code
}{
	{ErrNoLines, CodeNoLines}, {ErrFormat, CodeFormat}, {ErrCharacter, CodeCharacter},
	{ErrCheckDigit, CodeCheckDigit}, {ErrAmbiguous, CodeAmbiguous}, {ErrDate, CodeDate},
	{ErrCountry, CodeCountry}, {ErrSex, CodeSex}, {ErrDocumentCode, CodeDocumentCode},
	{ErrName, CodeName}, {ErrEmpty, CodeEmpty}, {ErrTooFewReads, CodeTooFewReads}, {ErrReadsDisagree, CodeReadsDisagree},
}

// CodeOf maps an error from this package to its Code (CodeNone for nil).
func CodeOf(err error) Code {
	if err == nil {
		return CodeNone
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeOther
}
