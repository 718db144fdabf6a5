package mrz

import "testing"

func TestDateTextRoundTrip(t *testing.T) {
	for _, d := range []Date{{}, {Year: 1974}, {Year: 1974, Month: 8}, {Year: 2031, Month: 12, Day: 31}} {
		b, _ := d.MarshalText()
		var got Date
		if err := got.UnmarshalText(b); err != nil || got != d {
			t.Errorf("UnmarshalText(%q) = %+v, %v; want %+v", b, got, err, d)
		}
	}
	for _, bad := range []string{"74", "1974-13", "1974-08-1", "abcd-ef-gh", "1974-08-32"} {
		var d Date
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) = %+v; want an error", bad, d)
		}
	}
}
