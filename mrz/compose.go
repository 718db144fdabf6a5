package mrz

import (
	"fmt"
	"strings"
)

// Compose writes a zone for fields in one of the ICAO layouts (TD1, TD2,
// TD3, MRV-A, MRV-B), with every check digit computed: the inverse of
// Parse, for generating test documents. Names are written surname, <<,
// given names, spaces becoming fillers; fields that do not fit are an
// error, never truncated. Unknown parts of a birth date (Month or Day 0)
// are written as fillers. The French card is not supported.
func Compose(f Format, fl Fields) ([]string, error) {
	l := layoutOf(f)
	if l == nil || f == FRAID {
		return nil, fmt.Errorf("mrz: Compose does not write %q zones", f)
	}
	fill := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), " ", "<") }
	name := fill(fl.Surname) + "<<" + fill(fl.GivenNames)
	sex := string(fl.Sex)
	if sex == "" {
		sex = "<"
	}
	date := func(d Date, unknownOK bool) (string, error) {
		if d.Year <= 0 || (!unknownOK && (d.Month == 0 || d.Day == 0)) {
			return "", fmt.Errorf("mrz: Compose: incomplete date %v", d)
		}
		s := fmt.Sprintf("%02d", d.Year%100)
		for _, v := range []int{d.Month, d.Day} {
			if v == 0 {
				s += "<<"
			} else {
				s += fmt.Sprintf("%02d", v)
			}
		}
		return s, nil
	}
	birth, err := date(fl.BirthDate, true)
	if err != nil {
		return nil, err
	}
	expiry, err := date(fl.ExpiryDate, false)
	if err != nil {
		return nil, err
	}
	values := map[Field]string{
		FieldDocumentCode: fl.DocumentCode, FieldIssuer: fl.Issuer, FieldName: name,
		FieldDocumentNumber: fl.DocumentNumber, FieldNationality: fl.Nationality,
		FieldBirthDate: birth, FieldSex: sex, FieldExpiryDate: expiry,
		FieldPersonalNumber: fl.PersonalNumber, FieldOptional1: fill(fl.Optional1), FieldOptional2: fill(fl.Optional2),
	}
	grid := make([][]byte, len(l.rows))
	for i := range grid {
		grid[i] = []byte(strings.Repeat("<", l.width))
	}
	for _, fs := range l.fields {
		if fs.kind == kCheck {
			continue
		}
		v := values[fs.name]
		if n := fs.at.end - fs.at.start; len(v) > n {
			return nil, fmt.Errorf("mrz: Compose: %s %q is longer than its %d characters", fs.name, v, n)
		}
		copy(grid[fs.at.line][fs.at.start:], v)
	}
	text := func(s span) string { return string(grid[s.line][s.start:s.end]) }
	for _, c := range l.checks {
		var data strings.Builder
		for _, s := range c.over {
			data.WriteString(text(s))
		}
		d, ok := CheckDigit(data.String())
		if !ok {
			return nil, fmt.Errorf("mrz: Compose: %s holds characters outside A-Z, 0-9 and <", c.field)
		}
		if c.field == FieldPersonalNumber && strings.Trim(data.String(), "<") == "" {
			d = '<'
		}
		grid[c.line][c.col] = d
	}
	out := make([]string, len(grid))
	for i, g := range grid {
		out[i] = string(g)
	}
	return out, nil
}
