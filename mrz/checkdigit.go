package mrz

// charValue is a character's value in the 7-3-1 check digit: digits are
// themselves, A–Z are 10–35, and the filler < is 0. ok is false for any
// other byte.
func charValue(c byte) (v int, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	case c == '<':
		return 0, true
	}
	return 0, false
}

var weights = [3]int{7, 3, 1}

// CheckDigit computes the ICAO 9303 check digit of s (weights 7, 3, 1
// repeating; < counts 0, A–Z count 10–35). ok is false when s holds a byte
// outside A–Z, 0–9 and <.
func CheckDigit(s string) (digit byte, ok bool) {
	sum := 0
	for i := 0; i < len(s); i++ {
		v, ok := charValue(s[i])
		if !ok {
			return 0, false
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), true
}

// checkHolds reports whether digit is the check digit of data. A filler <
// stands for an absent check digit and holds only over data that is all
// fillers (ICAO allows it for an unused personal number).
func checkHolds(data string, digit byte) bool {
	if digit == '<' {
		for i := 0; i < len(data); i++ {
			if data[i] != '<' {
				return false
			}
		}
		return true
	}
	want, ok := CheckDigit(data)
	return ok && want == digit
}
