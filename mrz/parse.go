package mrz

import (
	"errors"
	"strings"
	"time"
)

// Options configures Parse. The zero value works.
type Options struct {
	// Now gives the reference day that resolves the century of two-digit
	// years (a birth date is the latest one not after it; an expiry date
	// lies within 50 years of it). nil uses time.Now.
	Now func() time.Time
	// RepairAlphanumeric lets a failing check digit over a document or
	// personal number be repaired by look-alike substitutions, when
	// exactly one combination of them makes the field's check digit and
	// the composite hold. Off by default, and best left off: the composite
	// sits at the same 7-3-1 phase as the number, so it confirms nothing
	// the number's own check digit has not, and one check digit passes one
	// wrong combination in ten. On misreads drawn from the OCR's own
	// confusions on the real line crops (half of them not look-alikes),
	// repairing turned 11 % of misread numbers into correct reads and
	// 7.5 % into wrong ones that passed as valid, against 0.8 % wrong
	// without it. See TestAlphanumericRepairTradeOff.
	RepairAlphanumeric bool
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// maxLines and maxWidth bound the input: nothing longer is a zone, and the
// bound keeps a hostile input from costing work.
const (
	maxLines = 3
	maxWidth = 44
)

// ParseText parses a zone given as one string, one line per text line.
func ParseText(s string, o Options) Result {
	return Parse(strings.Split(s, "\n"), o)
}

// Parse reads a zone from its lines as OCR gave them. Blank lines are
// dropped; spaces are removed and letters upper-cased. It never panics, and
// whatever it reports Valid satisfies every check digit of its format.
func Parse(lines []string, o Options) Result {
	norm, err := normalise(lines)
	r := Result{Lines: norm}
	if err != nil {
		return r.fail(err)
	}
	l := detect(norm)
	if l == nil {
		return r.fail(fieldErr(FieldLines, 0, -1, ErrFormat))
	}
	r.Format = l.format
	p := newParser(l, norm, o.now())
	p.repairAlnum = o.RepairAlphanumeric
	err = p.run()
	r.Lines, r.Repairs = p.lines(), p.repairs
	if err != nil {
		return r.fail(err)
	}
	fields, err := p.fields()
	if err != nil {
		return r.fail(err)
	}
	// Belt and braces: the checks again, from the final text alone.
	if err := verify(l, r.Lines); err != nil {
		return r.fail(err)
	}
	r.Valid, r.Fields = true, fields
	return r
}

func (r Result) fail(err error) Result {
	r.Valid, r.Fields, r.Err, r.Reason = false, Fields{}, err, CodeOf(err)
	return r
}

// normalise removes spaces, upper-cases letters and drops blank lines. Any
// other character outside A–Z, 0–9 and < is an error.
func normalise(lines []string) ([]string, error) {
	var out []string
	for _, raw := range lines {
		if len(out) >= maxLines || len(raw) > 4*maxWidth {
			return out, fieldErr(FieldLines, len(out), -1, ErrFormat)
		}
		var b strings.Builder
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == ' ' || c == '\t' || c == '\r':
				continue
			case c >= 'a' && c <= 'z':
				c -= 'a' - 'A'
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '<':
			default:
				return out, fieldErr(FieldLines, len(out), b.Len(), ErrCharacter)
			}
			b.WriteByte(c)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	if len(out) == 0 {
		return out, ErrNoLines
	}
	return out, nil
}

type parser struct {
	l       *layout
	g       [][]byte // the zone, repaired in place
	kinds   [][]kind
	names   [][]Field
	locked  [][]bool // proven by a field's own check digit
	ref     time.Time
	repairs []Repair
	longDoc string // document number continued in the optional data, if any
	// repairAlnum allows check-digit repairs of alphanumeric fields.
	repairAlnum bool
}

func newParser(l *layout, lines []string, ref time.Time) *parser {
	p := &parser{l: l, ref: ref}
	for _, s := range lines {
		p.g = append(p.g, []byte(s))
		p.kinds = append(p.kinds, make([]kind, len(s)))
		p.names = append(p.names, make([]Field, len(s)))
		p.locked = append(p.locked, make([]bool, len(s)))
	}
	for _, fs := range l.fields {
		for c := fs.at.start; c < fs.at.end; c++ {
			p.kinds[fs.at.line][c] = fs.kind
			p.names[fs.at.line][c] = fs.name
		}
	}
	return p
}

func (p *parser) lines() []string {
	out := make([]string, len(p.g))
	for i, b := range p.g {
		out[i] = string(b)
	}
	return out
}

func (p *parser) text(s span) string { return string(p.g[s.line][s.start:s.end]) }

func (p *parser) set(name Field, line, col int, to byte) {
	p.repairs = append(p.repairs, Repair{Field: name, Line: line, Col: col, From: string(p.g[line][col]), To: string(to)})
	p.g[line][col] = to
}

// run applies the type repairs, then the check digits, then the codes.
func (p *parser) run() error {
	if err := p.typeRepairs(); err != nil {
		return err
	}
	if err := p.checks(); err != nil {
		return err
	}
	if err := p.blindSpots(); err != nil {
		return err
	}
	for _, fs := range p.l.fields {
		if fs.kind == kCountry {
			if err := p.country(fs); err != nil {
				return err
			}
		}
	}
	return nil
}

// Look-alikes, by the type of the field they are found in.
var (
	// toDigit: a letter in a numeric field is a misread digit.
	toDigit = map[byte]byte{'O': '0', 'D': '0', 'I': '1', 'B': '8', 'S': '5', 'Z': '2', 'G': '6'}
	// toLetter: a digit in an alphabetic field is a misread letter.
	toLetter = map[byte]byte{'0': 'O', '1': 'I', '8': 'B', '5': 'S', '2': 'Z', '6': 'G'}
	// countryAlts: a digit in a country code may be either letter; the
	// list of known codes decides.
	countryAlts = map[byte]string{'0': "OD", '1': "I", '8': "B", '5': "S", '2': "Z", '6': "G"}
	// alnumAlts: in an alphanumeric field either reading is possible, and
	// only a check digit can decide. G/6 and K/< are left out on purpose:
	// their values differ by 10, so no check digit can tell them apart.
	alnumAlts = map[byte]string{
		'0': "OD", 'O': "0", 'D': "0", '1': "I", 'I': "1", '8': "B", 'B': "8",
		'5': "S", 'S': "5<", '2': "Z", 'Z': "2", 'C': "<", 'E': "<",
	}
)

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

// typeRepairs maps look-alikes in fields whose type leaves only one
// reading: digits in numeric fields and check digits, letters in
// alphabetic fields and names.
func (p *parser) typeRepairs() error {
	for _, fs := range p.l.fields {
		line := p.g[fs.at.line]
		for c := fs.at.start; c < fs.at.end; c++ {
			ch := line[c]
			switch fs.kind {
			case kNumeric, kCheck:
				if isDigit(ch) || ch == '<' {
					continue
				}
				d, ok := toDigit[ch]
				if !ok {
					return fieldErr(fs.name, fs.at.line, c, ErrCharacter)
				}
				p.set(fs.name, fs.at.line, c, d)
			case kAlpha, kName:
				if isLetter(ch) || ch == '<' {
					continue
				}
				l, ok := toLetter[ch]
				if !ok {
					return fieldErr(fs.name, fs.at.line, c, ErrCharacter)
				}
				p.set(fs.name, fs.at.line, c, l)
			}
		}
		if fs.kind == kName {
			if err := p.name(fs); err != nil {
				return err
			}
		}
	}
	return nil
}

// checks makes every check digit hold. By default a failing check digit
// fails the read. With Options.RepairAlphanumeric, a failing alphanumeric
// field that a composite also covers is repaired when exactly one
// combination of look-alike substitutions, tried in every failing field at
// once, makes all of their check digits and the composite hold; a layout
// without a composite (the visas) is never repaired, nor is optional data
// that only the composite covers.
func (p *parser) checks() error {
	var failing []checkSpec
	var composite *checkSpec
	for i, c := range p.l.checks {
		switch {
		case c.field == FieldComposite:
			composite = &p.l.checks[i]
		case c.field == FieldDocumentNumber && p.l.longDoc != nil && p.g[c.line][c.col] == '<':
			if err := p.checkLongDoc(c); err != nil {
				return err
			}
		case p.holds(c):
			p.lock(c)
		case p.repairAlnum && p.repairable(c) && p.hasComposite():
			failing = append(failing, c)
		default:
			return fieldErr(c.field, c.line, c.col, ErrCheckDigit)
		}
	}
	if len(failing) > 0 {
		if err := p.repair(failing, *composite); err != nil {
			return err
		}
	}
	if composite != nil && !p.holds(*composite) {
		return fieldErr(FieldComposite, composite.line, composite.col, ErrCheckDigit)
	}
	return nil
}

func (p *parser) hasComposite() bool {
	for _, c := range p.l.checks {
		if c.field == FieldComposite {
			return true
		}
	}
	return false
}

// repairable reports whether a check covers alphanumeric characters, the
// only ones whose reading a check digit may decide.
func (p *parser) repairable(c checkSpec) bool {
	for _, s := range c.over {
		for col := s.start; col < s.end; col++ {
			if p.kinds[s.line][col] == kAlnum {
				return true
			}
		}
	}
	return false
}

// repair tries every combination of look-alike substitutions in the
// alphanumeric characters of the failing checks, and applies the one
// combination under which they and the composite all hold.
func (p *parser) repair(failing []checkSpec, composite checkSpec) error {
	first := failing[0]
	type slot struct {
		line, col int
		alts      string
	}
	var free []slot
	combos := 1
	for _, c := range failing {
		for _, s := range c.over {
			for col := s.start; col < s.end; col++ {
				if p.kinds[s.line][col] != kAlnum || p.locked[s.line][col] {
					continue
				}
				if a := alnumAlts[p.g[s.line][col]]; a != "" {
					free = append(free, slot{s.line, col, a})
					combos *= len(a) + 1
					if combos > maxCombos {
						return fieldErr(first.field, first.line, first.col, ErrAmbiguous)
					}
				}
			}
		}
	}
	orig := make([]byte, len(free))
	for i, s := range free {
		orig[i] = p.g[s.line][s.col]
	}
	fits := func() bool {
		for _, c := range failing {
			if !p.holds(c) || !p.wellFilled(c) {
				return false
			}
		}
		return p.holds(composite)
	}
	var found []byte // the one fitting combination
	n := 0
	for k := 1; k < combos && n < 2; k++ {
		// k in the mixed radix of the slots' choices: 0 is as read.
		v := k
		for i, s := range free {
			r := len(s.alts) + 1
			ch := orig[i]
			if d := v % r; d > 0 {
				ch = s.alts[d-1]
			}
			p.g[s.line][s.col] = ch
			v /= r
		}
		if fits() {
			n++
			found = found[:0]
			for _, s := range free {
				found = append(found, p.g[s.line][s.col])
			}
		}
	}
	for i, s := range free {
		p.g[s.line][s.col] = orig[i]
	}
	switch {
	case n == 0:
		return fieldErr(first.field, first.line, first.col, ErrCheckDigit)
	case n > 1:
		return fieldErr(first.field, first.line, first.col, ErrAmbiguous)
	}
	for i, s := range free {
		if found[i] != orig[i] {
			p.set(p.names[s.line][s.col], s.line, s.col, found[i])
		}
	}
	for _, c := range failing {
		p.lock(c)
	}
	return nil
}

// blindSpots refuses the two misreads no check digit can see, where they
// are likely. OCR reads OCR-B's < as K, and K and < count 20 and 0 in a
// check digit, the same modulo 10: "AB1234K<<" and "AB1234<<<" check
// alike. Numbers and optional data are padded with fillers at their end,
// so a K touching a filler is exactly where that misread lands. Likewise G
// and 6 (16 and 6): the OCR reads 6 as G, and a G between two digits is
// that misread far more often than a real G.
func (p *parser) blindSpots() error {
	for _, fs := range p.l.fields {
		if fs.kind != kAlnum {
			continue
		}
		t := p.g[fs.at.line][fs.at.start:fs.at.end]
		for i, c := range t {
			prev, next := byte(0), byte(0)
			if i > 0 {
				prev = t[i-1]
			}
			if i+1 < len(t) {
				next = t[i+1]
			}
			if (c == 'K' && (prev == '<' || next == '<')) || (c == 'G' && isDigit(prev) && isDigit(next)) {
				return fieldErr(fs.name, fs.at.line, fs.at.start+i, ErrAmbiguous)
			}
		}
	}
	return nil
}

// maxCombos bounds the search: a field with more look-alike combinations
// than this is too uncertain to repair.
const maxCombos = 1 << 12

func (p *parser) holds(c checkSpec) bool {
	var b strings.Builder
	for _, s := range c.over {
		b.WriteString(p.text(s))
	}
	return holdsFor(c.field, b.String(), p.g[c.line][c.col])
}

// holdsFor applies checkHolds, allowing a filler check digit only where
// ICAO does: over an unused personal number.
func holdsFor(field Field, data string, digit byte) bool {
	if digit == '<' && field != FieldPersonalNumber {
		return false
	}
	return checkHolds(data, digit)
}

// wellFilled rejects repairs that leave a filler inside a document number:
// numbers are padded with fillers at the end only.
func (p *parser) wellFilled(c checkSpec) bool {
	if c.field != FieldDocumentNumber {
		return true
	}
	t := p.text(c.over[0])
	return !strings.Contains(strings.TrimRight(t, "<"), "<")
}

func (p *parser) lock(c checkSpec) {
	if c.field == FieldComposite {
		return
	}
	for _, s := range c.over {
		for col := s.start; col < s.end; col++ {
			p.locked[s.line][col] = true
		}
	}
}

// checkLongDoc handles a TD1/TD2 document number longer than 9
// characters: its check digit position holds <, and the rest of the number
// follows in the optional data, then its check digit, then a filler. No
// repairs are tried here: the number must check as read.
func (p *parser) checkLongDoc(c checkSpec) error {
	head := p.text(c.over[0])
	ext := p.text(*p.l.longDoc)
	end := strings.IndexByte(ext, '<')
	if strings.Contains(head, "<") || end < 2 {
		return fieldErr(c.field, c.line, c.col, ErrCheckDigit)
	}
	num, digit := head+ext[:end-1], ext[end-1]
	if !isDigit(digit) || !checkHolds(num, digit) {
		return fieldErr(c.field, c.line, c.col, ErrCheckDigit)
	}
	p.longDoc = num
	p.lock(c)
	ld := *p.l.longDoc
	for col := ld.start; col < ld.start+end; col++ {
		p.locked[ld.line][col] = true
	}
	return nil
}

// country accepts a known code, or repairs digit look-alikes when exactly
// one reading is a known code.
func (p *parser) country(fs fieldSpec) error {
	code := p.text(fs.at)
	if KnownCountry(code) {
		return nil
	}
	var cands []string
	var walk func(i int, cur []byte)
	walk = func(i int, cur []byte) {
		if i == len(cur) {
			if KnownCountry(string(cur)) {
				cands = append(cands, string(cur))
			}
			return
		}
		c := cur[i]
		if alts, ok := countryAlts[c]; ok {
			for j := 0; j < len(alts); j++ {
				cur[i] = alts[j]
				walk(i+1, cur)
			}
			cur[i] = c
			return
		}
		walk(i+1, cur)
	}
	walk(0, []byte(code))
	switch len(cands) {
	case 0:
		return fieldErr(fs.name, fs.at.line, fs.at.start, ErrCountry)
	case 1:
	default:
		return fieldErr(fs.name, fs.at.line, fs.at.start, ErrAmbiguous)
	}
	for i := 0; i < len(code); i++ {
		if cands[0][i] != code[i] {
			p.set(fs.name, fs.at.line, fs.at.start+i, cands[0][i])
		}
	}
	return nil
}

// errInternal marks a read that passed the repairs but not the final
// re-check: a bug, reported as a check digit failure so it fails closed.
var errInternal = errors.New("mrz: internal re-check failed")
