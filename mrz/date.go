package mrz

import (
	"fmt"
	"time"
)

// Date is a date from the zone. Month and Day are 0 when the document
// leaves them unknown (ICAO fills unknown parts of a birth date with <).
// The zero Date means no date (the French card has no expiry date).
type Date struct {
	Year, Month, Day int
}

// IsZero reports whether d is absent.
func (d Date) IsZero() bool { return d == Date{} }

// String is YYYY-MM-DD, shortened to YYYY-MM or YYYY when the day or month
// is unknown, and "" for the zero Date.
func (d Date) String() string {
	switch {
	case d.IsZero():
		return ""
	case d.Month == 0:
		return fmt.Sprintf("%04d", d.Year)
	case d.Day == 0:
		return fmt.Sprintf("%04d-%02d", d.Year, d.Month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// MarshalText writes String.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote ("", YYYY, YYYY-MM or
// YYYY-MM-DD), so a sealed record's document reads back whole.
func (d *Date) UnmarshalText(b []byte) error {
	s := string(b)
	var n Date
	var err error
	switch len(s) {
	case 0:
	case 4:
		_, err = fmt.Sscanf(s, "%04d", &n.Year)
	case 7:
		_, err = fmt.Sscanf(s, "%04d-%02d", &n.Year, &n.Month)
	case 10:
		_, err = fmt.Sscanf(s, "%04d-%02d-%02d", &n.Year, &n.Month, &n.Day)
	default:
		err = fmt.Errorf("want YYYY, YYYY-MM or YYYY-MM-DD")
	}
	if err != nil || n.Month < 0 || n.Month > 12 || n.Day < 0 || n.Day > 31 || n.Year < 0 {
		return fmt.Errorf("mrz: bad date %q", s)
	}
	*d = n
	return nil
}

// After reports whether the whole of d (its last possible day, when parts
// are unknown) lies after the calendar day of t, in t's location.
func (d Date) After(t time.Time) bool {
	y, m, dd := t.Date()
	return d.last().After(time.Date(y, m, dd, 0, 0, 0, 0, time.UTC))
}

// last is the latest day d can mean, at midnight UTC.
func (d Date) last() time.Time {
	switch {
	case d.Month == 0:
		return time.Date(d.Year, 12, 31, 0, 0, 0, 0, time.UTC)
	case d.Day == 0:
		return time.Date(d.Year, time.Month(d.Month)+1, 0, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
}

// first is the earliest day d can mean.
func (d Date) first() time.Time {
	return time.Date(d.Year, time.Month(max(d.Month, 1)), max(d.Day, 1), 0, 0, 0, 0, time.UTC)
}

type dateRole uint8

const (
	birthDate  dateRole = iota // in the past: the latest century not after the reference day
	expiryDate                 // within 50 years either side of the reference year
)

// parseDate reads YYMMDD. The year must be digits; a birth date may leave
// the day, or the month and day, as <<. The century comes from ref: a birth
// date is the latest one not after ref, an expiry date the one within
// (ref−50, ref+50] years.
func parseDate(s string, role dateRole, ref time.Time) (Date, error) {
	if len(s) != 6 {
		return Date{}, ErrDate
	}
	num := func(p string) (int, bool) {
		if p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, false
		}
		return int(p[0]-'0')*10 + int(p[1]-'0'), true
	}
	yy, ok := num(s[0:2])
	if !ok {
		return Date{}, ErrDate
	}
	var d Date
	switch mm, dd := s[2:4], s[4:6]; {
	case role == birthDate && mm == "<<" && dd == "<<":
	case role == birthDate && dd == "<<":
		m, ok := num(mm)
		if !ok || m < 1 || m > 12 {
			return Date{}, ErrDate
		}
		d.Month = m
	default:
		m, ok1 := num(mm)
		day, ok2 := num(dd)
		if !ok1 || !ok2 || m < 1 || m > 12 || day < 1 || day > 31 {
			return Date{}, ErrDate
		}
		d.Month, d.Day = m, day
	}
	ry := ref.Year()
	switch role {
	case birthDate:
		d.Year = ry - ((ry-yy)%100+100)%100 // latest not after ref's year
		if d.first().After(dayOf(ref)) {
			d.Year -= 100
		}
	case expiryDate:
		d.Year = ry - ((ry-yy)%100+100)%100 // latest not after ref's year
		if d.Year <= ry-50 {
			d.Year += 100
		}
	}
	if d.Day != 0 && !exists(d) {
		return Date{}, ErrDate
	}
	return d, nil
}

// exists reports whether a full date exists in the calendar.
func exists(d Date) bool {
	t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	return t.Year() == d.Year && int(t.Month()) == d.Month && t.Day() == d.Day
}

func dayOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
