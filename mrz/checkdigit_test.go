package mrz

import "testing"

func TestCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     byte
		ok       bool
	}{
		{"utopia passport number", "L898902C3", '6', true},
		{"utopia birth date", "740812", '2', true},
		{"utopia expiry date", "120415", '9', true},
		{"utopia personal number", "ZE184226B<<<<<", '1', true},
		{"utopia td3 composite", "L898902C36" + "7408122" + "1204159ZE184226B<<<<<1", '0', true},
		{"utopia td2 number", "D23145890", '7', true},
		{"all fillers", "<<<<<<<<<", '0', true},
		{"empty", "", '0', true},
		{"lower case is not a zone character", "l898902c3", 0, false},
		{"space is not a zone character", "L898 902", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CheckDigit(tc.in)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("CheckDigit(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestCheckDigitCatchesEverySingleDigitError: the 7-3-1 weights are prime to
// 10, so changing any one digit of a numeric field always changes the check
// digit. This is why numeric fields can be repaired and trusted.
func TestCheckDigitCatchesEverySingleDigitError(t *testing.T) {
	base := []byte("740812")
	want, _ := CheckDigit(string(base))
	for i := range base {
		for d := byte('0'); d <= '9'; d++ {
			if d == base[i] {
				continue
			}
			b := append([]byte(nil), base...)
			b[i] = d
			if got, _ := CheckDigit(string(b)); got == want {
				t.Errorf("CheckDigit(%q) = %q, same as for %q", b, got, base)
			}
		}
	}
}

// TestCheckDigitBlindSpots documents the pairs no check digit can tell
// apart: their values differ by 10. The parser never swaps them.
func TestCheckDigitBlindSpots(t *testing.T) {
	for _, p := range [][2]string{{"G", "6"}, {"K", "<"}, {"A", "0"}, {"U", "<"}} {
		a, _ := CheckDigit("L8989" + p[0] + "2C3")
		b, _ := CheckDigit("L8989" + p[1] + "2C3")
		if a != b {
			t.Errorf("CheckDigit differs for %s and %s; the test's premise is wrong", p[0], p[1])
		}
		for _, alts := range []string{alnumAlts[p[0][0]], alnumAlts[p[1][0]]} {
			for i := 0; i < len(alts); i++ {
				if alts[i] == p[0][0] || alts[i] == p[1][0] {
					t.Errorf("alnumAlts offers %s for %s: a swap no check digit can confirm", p[1], p[0])
				}
			}
		}
	}
}
