package mrz

import (
	"strings"
	"time"
)

// ref is the reference day of the tests: two-digit years resolve against
// it, never against the wall clock.
var ref = Options{Now: func() time.Time { return time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC) }}

func ck(s string) string {
	d, ok := CheckDigit(s)
	if !ok {
		panic("ck: bad characters in " + s)
	}
	return string(d)
}

func pad(s string, n int) string {
	if len(s) > n {
		panic("pad: too long: " + s)
	}
	return s + strings.Repeat("<", n-len(s))
}

// doc describes a document to build a zone from, with correct check
// digits.
type doc struct {
	code, issuer, name, number, nationality, birth, sex, expiry, optional string
}

func (d doc) td3() []string {
	l2 := pad(d.number, 9) + ck(pad(d.number, 9)) + d.nationality + d.birth + ck(d.birth) + d.sex + d.expiry + ck(d.expiry)
	pn := pad(d.optional, 14)
	pc := ck(pn)
	if d.optional == "" {
		pc = "<"
	}
	l2 += pn + pc
	comp := l2[0:10] + l2[13:20] + l2[21:43]
	return []string{pad(pad(d.code, 2)+d.issuer+d.name, 44), l2 + ck(comp)}
}

func (d doc) td2() []string {
	l2 := pad(d.number, 9) + ck(pad(d.number, 9)) + d.nationality + d.birth + ck(d.birth) + d.sex + d.expiry + ck(d.expiry) + pad(d.optional, 7)
	comp := l2[0:10] + l2[13:20] + l2[21:35]
	return []string{pad(pad(d.code, 2)+d.issuer+d.name, 36), l2 + ck(comp)}
}

func (d doc) td1() []string {
	l1 := pad(d.code, 2) + d.issuer + pad(d.number, 9) + ck(pad(d.number, 9)) + pad(d.optional, 15)
	l2 := d.birth + ck(d.birth) + d.sex + d.expiry + ck(d.expiry) + d.nationality + pad("", 11)
	comp := l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
	return []string{l1, l2 + ck(comp), pad(d.name, 30)}
}

// with returns lines with the character at (line, col) replaced.
func with(lines []string, line, col int, c byte) []string {
	out := append([]string(nil), lines...)
	b := []byte(out[line])
	b[col] = c
	out[line] = string(b)
	return out
}
