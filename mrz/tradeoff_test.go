package mrz

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

type confusion struct {
	from, to byte
	weight   int
}

func loadConfusions(t *testing.T) []confusion {
	t.Helper()
	f, err := os.Open("testdata/ocr_confusions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []confusion
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		var c confusion
		var n int
		if len(l) < 5 || l[1] != '>' {
			t.Fatalf("confusion line %q", l)
		}
		c.from, c.to = l[0], l[2]
		for _, d := range l[4:] {
			n = n*10 + int(d-'0')
		}
		c.weight = n
		out = append(out, c)
	}
	return out
}

// TestAlphanumericRepairTradeOff misreads one character of random
// passport numbers the way the OCR misreads real lines (its confusions on
// the line crops, look-alike or not), and counts what Parse makes of them
// with and without RepairAlphanumeric. The default must pass only the
// misreads no check digit can see (values 10 apart, such as G for 6); the
// figures behind Options.RepairAlphanumeric's documentation are logged.
func TestAlphanumericRepairTradeOff(t *testing.T) {
	cs := loadConfusions(t)
	total := 0
	for _, c := range cs {
		total += c.weight
	}
	type tally struct{ n, repaired, refused, wrong int }
	var got [2]tally
	for mode, repair := range []bool{false, true} {
		opt := ref
		opt.RepairAlphanumeric = repair
		rng := rand.New(rand.NewPCG(7, 9))
		tl := &got[mode]
		for tl.n < 4000 {
			num := make([]byte, 9)
			letters := rng.IntN(3)
			for i := range num {
				if i < letters {
					num[i] = byte('A' + rng.IntN(26))
				} else {
					num[i] = byte('0' + rng.IntN(10))
				}
			}
			k := rng.IntN(total)
			var c confusion
			for _, x := range cs {
				if k < x.weight {
					c = x
					break
				}
				k -= x.weight
			}
			pos := strings.IndexByte(string(num), c.from)
			if pos < 0 {
				continue
			}
			tl.n++
			lines := doc{"P", "UTO", "A<<B", string(num), "UTO", "740812", "F", "300415", ""}.td3()
			r := Parse(with(lines, 1, pos, c.to), opt)
			switch {
			case r.Valid && r.Lines[1] == lines[1]:
				tl.repaired++
			case r.Valid:
				tl.wrong++
				fv, _ := charValue(c.from)
				tv, _ := charValue(c.to)
				if !repair && (fv-tv)%10 != 0 {
					t.Errorf("default: misread %c→%c in %s passed as valid, though a check digit sees it", c.from, c.to, num)
				}
			default:
				tl.refused++
			}
		}
		t.Logf("RepairAlphanumeric=%v: %d misread numbers: %d repaired, %d refused, %d wrong but valid (%.1f %%)",
			repair, tl.n, tl.repaired, tl.refused, tl.wrong, 100*float64(tl.wrong)/float64(tl.n))
	}
	if got[0].wrong > got[1].wrong {
		t.Errorf("repairing gave fewer wrong valid reads (%d) than not (%d): revisit the default", got[1].wrong, got[0].wrong)
	}
}
