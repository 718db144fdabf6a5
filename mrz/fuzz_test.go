package mrz

import (
	"strings"
	"testing"
)

// independentChecks recomputes every check digit of a zone from the ICAO
// 9303 tables, written out again here without the parser's layout table,
// so the fuzzer's property does not trust the code it tests.
func independentChecks(f Format, l []string) bool {
	cd := func(data string, digit byte) bool {
		sum := 0
		for i := 0; i < len(data); i++ {
			c := data[i]
			v := 0
			switch {
			case c >= '0' && c <= '9':
				v = int(c - '0')
			case c >= 'A' && c <= 'Z':
				v = int(c-'A') + 10
			case c == '<':
			default:
				return false
			}
			sum += v * []int{7, 3, 1}[i%3]
		}
		return digit == byte('0'+sum%10)
	}
	personal := func(data string, digit byte) bool {
		return cd(data, digit) || (digit == '<' && strings.Trim(data, "<") == "")
	}
	switch f {
	case TD3:
		a := l[1]
		return cd(a[0:9], a[9]) && cd(a[13:19], a[19]) && cd(a[21:27], a[27]) && personal(a[28:42], a[42]) &&
			cd(a[0:10]+a[13:20]+a[21:43], a[43])
	case TD2:
		a := l[1]
		doc := cd(a[0:9], a[9])
		if a[9] == '<' { // long number continued in the optional data
			end := strings.IndexByte(a[28:35], '<')
			doc = end >= 2 && cd(a[0:9]+a[28:28+end-1], a[28+end-1])
		}
		return doc && cd(a[13:19], a[19]) && cd(a[21:27], a[27]) && cd(a[0:10]+a[13:20]+a[21:35], a[35])
	case TD1:
		a, b := l[0], l[1]
		doc := cd(a[5:14], a[14])
		if a[14] == '<' {
			end := strings.IndexByte(a[15:30], '<')
			doc = end >= 2 && cd(a[5:14]+a[15:15+end-1], a[15+end-1])
		}
		return doc && cd(b[0:6], b[6]) && cd(b[8:14], b[14]) && cd(a[5:30]+b[0:7]+b[8:15]+b[18:29], b[29])
	case MRVA, MRVB:
		a := l[1]
		return cd(a[0:9], a[9]) && cd(a[13:19], a[19]) && cd(a[21:27], a[27])
	case FRAID:
		return cd(l[1][0:12], l[1][12]) && cd(l[1][27:33], l[1][33]) && cd(l[0]+l[1][0:35], l[1][35])
	}
	return false
}

func seeds(f *testing.F) {
	for _, s := range specimens {
		f.Add(strings.Join(s.lines, "\n"), false)
		f.Add(strings.Join(with(s.lines, 1, 3, 'O'), "\n"), true)
	}
	f.Add("", false)
	f.Add("P<UTO\nL898", false)
	f.Add(strings.Repeat("<", 44)+"\n"+strings.Repeat("<", 44), true)
}

// FuzzParse: no input panics, and whatever Parse calls valid satisfies
// every check digit of its format, has the format's shape and only zone
// characters, and names a document number and a surname.
func FuzzParse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, text string, repair bool) {
		opt := ref
		opt.RepairAlphanumeric = repair
		r := ParseText(text, opt)
		if !r.Valid {
			if r.Err == nil || r.Reason == CodeNone || r.Fields != (Fields{}) {
				t.Fatalf("invalid read with Err %v, Reason %q, Fields %+v", r.Err, r.Reason, r.Fields)
			}
			return
		}
		if r.Err != nil || r.Reason != CodeNone {
			t.Fatalf("valid read with Err %v, Reason %q", r.Err, r.Reason)
		}
		n, w := r.Format.Shape()
		if len(r.Lines) != n {
			t.Fatalf("valid %v read with %d lines", r.Format, len(r.Lines))
		}
		for _, l := range r.Lines {
			if len(l) != w || strings.Trim(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") != "" {
				t.Fatalf("valid %v read with line %q", r.Format, l)
			}
		}
		if !independentChecks(r.Format, r.Lines) {
			t.Fatalf("Parse(%q) is valid but its check digits do not hold: %q", text, r.Lines)
		}
		if r.Fields.DocumentNumber == "" || r.Fields.Surname == "" {
			t.Fatalf("valid read without a document number or surname: %+v", r.Fields)
		}
	})
}

// FuzzVote: reads separated by |, lines by newlines. No input panics, and
// an accepted vote is a valid parse that enough reads agree on.
func FuzzVote(f *testing.F) {
	for _, s := range specimens[:3] {
		z := strings.Join(s.lines, "\n")
		f.Add(z+"|"+z+"|"+z, uint8(3))
		f.Add(z+"|"+strings.Join(with(s.lines, 0, 7, 'L'), "\n")+"|"+z, uint8(2))
	}
	f.Add("|||", uint8(0))
	f.Fuzz(func(t *testing.T, text string, min uint8) {
		var reads [][]string
		for _, r := range strings.Split(text, "|") {
			reads = append(reads, strings.Split(r, "\n"))
		}
		d := Vote(reads, BallotOptions{MinAgree: int(min % 8), Parse: ref})
		if !d.Accepted {
			if d.Err == nil {
				t.Fatal("refused without an error")
			}
			return
		}
		want := max(int(min%8), 1)
		if min%8 == 0 {
			want = 3
		}
		if !d.Result.Valid || d.Agree < want || !independentChecks(d.Result.Format, d.Result.Lines) {
			t.Fatalf("accepted %+v with %d agreeing (want %d)", d.Result, d.Agree, want)
		}
	})
}
