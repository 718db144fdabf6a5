package mrz

import "strings"

// name checks the name grammar and turns stray letters in the filler tail
// back into fillers. A name is the primary identifier, <<, then the
// secondary identifier's parts separated by single fillers; after it only
// fillers follow. A lone K, C, E or S standing among those fillers is a
// misread filler (OCR-B's < is easily read as one of them): it cannot be a
// name part, since a part after a run of fillers breaks the grammar. Any
// other letters there make the name malformed.
func (p *parser) name(fs fieldSpec) error {
	line := fs.at.line
	t := p.g[line][fs.at.start:fs.at.end]
	if t[0] == '<' && fs.name != FieldGivenNames {
		return fieldErr(fs.name, line, fs.at.start, ErrName)
	}
	if p.l.format == FRAID {
		// The French card's names are covered by its composite check
		// digit and use their own separators: only lone strays after
		// a double filler are taken for fillers.
		for j := 2; j < len(t); j++ {
			if t[j] != '<' && t[j-1] == '<' && t[j-2] == '<' && (j+1 == len(t) || t[j+1] == '<') && strings.IndexByte("KCES", t[j]) >= 0 {
				p.set(fs.name, line, fs.at.start+j, '<')
			}
		}
		return nil
	}
	sep := strings.Index(string(t), "<<")
	if sep < 0 {
		return nil // the name fills the field (truncated, or no given names)
	}
	// The secondary identifier: letter runs separated by single fillers.
	i := sep + 2
	for i < len(t) && t[i] != '<' {
		for i < len(t) && t[i] != '<' {
			i++
		}
		if i+1 < len(t) && t[i] == '<' && t[i+1] != '<' {
			i++ // a single filler between parts
		}
	}
	// The tail: fillers only, or lone strays.
	for j := i; j < len(t); j++ {
		if t[j] == '<' {
			continue
		}
		lone := (j+1 == len(t) || t[j+1] == '<') && t[j-1] == '<'
		if !lone || strings.IndexByte("KCES", t[j]) < 0 {
			return fieldErr(fs.name, line, fs.at.start+j, ErrName)
		}
		p.set(fs.name, line, fs.at.start+j, '<')
	}
	return nil
}

// fields reads the typed fields out of a zone whose check digits hold.
func (p *parser) fields() (Fields, error) {
	var f Fields
	for _, fs := range p.l.fields {
		if fs.kind == kCheck {
			continue
		}
		text := p.text(fs.at)
		at := func(err error) error { return fieldErr(fs.name, fs.at.line, -1, err) }
		switch fs.name {
		case FieldDocumentCode:
			if !docCodeOK(p.l.format, text) {
				return f, at(ErrDocumentCode)
			}
			f.DocumentCode = strings.TrimRight(text, "<")
		case FieldIssuer:
			f.Issuer = strings.TrimRight(text, "<")
		case FieldNationality:
			f.Nationality = strings.TrimRight(text, "<")
		case FieldName:
			f.Surname, f.GivenNames = splitName(text)
		case FieldSurname:
			f.Surname = trimFill(text)
		case FieldGivenNames:
			f.GivenNames = trimFill(text)
		case FieldDocumentNumber:
			f.DocumentNumber = strings.TrimRight(text, "<")
			if p.longDoc != "" {
				f.DocumentNumber = p.longDoc
			}
			if f.DocumentNumber == "" {
				return f, at(ErrEmpty)
			}
		case FieldBirthDate:
			d, err := parseDate(text, birthDate, p.ref)
			if err != nil {
				return f, at(err)
			}
			f.BirthDate = d
		case FieldExpiryDate:
			d, err := parseDate(text, expiryDate, p.ref)
			if err != nil {
				return f, at(err)
			}
			f.ExpiryDate = d
		case FieldSex:
			switch text {
			case "M", "F", "X":
				f.Sex = Sex(text)
			case "<":
				f.Sex = SexUnspecified
			default:
				return f, at(ErrSex)
			}
		case FieldPersonalNumber:
			f.PersonalNumber = trimFill(text)
		case FieldOptional1, FieldAdminCode:
			f.Optional1 = p.optional(fs, text)
		case FieldOptional2:
			f.Optional2 = p.optional(fs, text)
		}
	}
	if p.l.format == FRAID {
		f.Nationality = "FRA"
	}
	if f.Surname == "" {
		return f, fieldErr(FieldName, 0, -1, ErrName)
	}
	return f, nil
}

// optional returns optional data without the continuation of a long
// document number that may open it.
func (p *parser) optional(fs fieldSpec, text string) string {
	if ld := p.l.longDoc; p.longDoc != "" && ld != nil && *ld == fs.at {
		end := strings.IndexByte(text, '<')
		text = text[end:]
	}
	return trimFill(text)
}

// docCodeOK checks the document code against the layout: P for passports,
// V for visas, I, A or C for cards and other travel documents, ID for the
// French card. The second character is a letter or a filler.
func docCodeOK(f Format, code string) bool {
	if len(code) != 2 || !isLetter(code[0]) || !(isLetter(code[1]) || code[1] == '<') {
		return false
	}
	switch f {
	case TD3:
		return code[0] == 'P'
	case MRVA, MRVB:
		return code[0] == 'V'
	case FRAID:
		return code == "ID"
	case TD1, TD2:
		return strings.IndexByte("IAC", code[0]) >= 0
	}
	return false
}

// verify re-checks every check digit of a zone from its text alone, the
// last gate before a read is called valid.
func verify(l *layout, lines []string) error {
	text := func(s span) string { return lines[s.line][s.start:s.end] }
	for _, c := range l.checks {
		digit := lines[c.line][c.col]
		if c.field == FieldDocumentNumber && l.longDoc != nil && digit == '<' {
			head, ext := text(c.over[0]), text(*l.longDoc)
			end := strings.IndexByte(ext, '<')
			if strings.Contains(head, "<") || end < 2 || !isDigit(ext[end-1]) || !checkHolds(head+ext[:end-1], ext[end-1]) {
				return fieldErr(c.field, c.line, c.col, errInternal)
			}
			continue
		}
		var data strings.Builder
		for _, s := range c.over {
			data.WriteString(text(s))
		}
		if !holdsFor(c.field, data.String(), digit) {
			return fieldErr(c.field, c.line, c.col, errInternal)
		}
	}
	return nil
}
