package mrz

import (
	"errors"
	"testing"
)

func TestVote(t *testing.T) {
	good := specimens[0].lines
	// A valid read with one letter of the name wrong: no check digit
	// covers it.
	badName := with(good, 0, 7, 'L')
	// Invalid reads: a date misread, a line cut short.
	badDate := with(good, 1, 14, '9')
	short := []string{good[0], good[1][:40]}
	visa := specimens[4].lines
	for _, tc := range []struct {
		name  string
		reads [][]string
		want  error // nil: accepted
		agree int
	}{
		{"three identical valid reads", [][]string{good, good, good}, nil, 3},
		{"two valid reads are too few", [][]string{good, good}, ErrTooFewReads, 2},
		{"invalid reads alone are too few", [][]string{badDate, badDate, badDate, short}, ErrTooFewReads, 0},
		{"noise does not stop three agreeing reads", [][]string{badDate, good, short, good, badDate, good}, nil, 3},
		{"a valid read with another name blocks", [][]string{good, good, good, badName}, ErrReadsDisagree, 3},
		{"a valid read of another document blocks", [][]string{good, good, good, good, visa}, ErrReadsDisagree, 4},
		{"tied characters decide nothing", [][]string{good, badName}, ErrReadsDisagree, 0},
		{"nothing read", nil, ErrTooFewReads, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Vote(tc.reads, BallotOptions{Parse: ref})
			if (tc.want == nil) != d.Accepted || (tc.want != nil && !errors.Is(d.Err, tc.want)) {
				t.Fatalf("Vote = accepted %v, %v; want %v", d.Accepted, d.Err, tc.want)
			}
			if d.Agree != tc.agree {
				t.Errorf("Agree = %d; want %d", d.Agree, tc.agree)
			}
			if d.Accepted && (d.Result.Fields != specimens[0].want || d.Reason != CodeNone) {
				t.Errorf("accepted %+v (%q); want the specimen", d.Result.Fields, d.Reason)
			}
			if !d.Accepted && d.Reason != CodeOf(tc.want) {
				t.Errorf("Reason = %q; want %q", d.Reason, CodeOf(tc.want))
			}
		})
	}
}

// TestVoteMajorityAcrossInvalidReads: five frames each with a different
// name letter wrong are each "valid" alone, but never agree: refused. The
// same errors in invalid reads (a bad date too) are too few; a majority of
// good reads outvotes a minority of them.
func TestVoteMajorityAcrossInvalidReads(t *testing.T) {
	good := specimens[0].lines
	var reads [][]string
	for i := 0; i < 5; i++ {
		reads = append(reads, with(good, 0, 5+i, 'X'))
	}
	if d := Vote(reads, BallotOptions{Parse: ref}); d.Accepted || !errors.Is(d.Err, ErrReadsDisagree) {
		t.Errorf("Vote(5 different names) = %v, %v; want ErrReadsDisagree", d.Accepted, d.Err)
	}
	reads = reads[:0]
	for i := 0; i < 5; i++ {
		reads = append(reads, with(with(good, 0, 5+i, 'X'), 1, 15, '9'))
	}
	d := Vote(reads, BallotOptions{Parse: ref})
	if d.Accepted || !errors.Is(d.Err, ErrTooFewReads) {
		t.Errorf("Vote(5 invalid reads) = %v, %v; want ErrTooFewReads", d.Accepted, d.Err)
	}
	if d := Vote([][]string{reads[0], reads[1], good, good, good}, BallotOptions{Parse: ref}); !d.Accepted {
		t.Errorf("Vote(2 invalid + 3 good) = %v; want accepted", d.Err)
	}
	if d := Vote(append(reads, good, good, good), BallotOptions{Parse: ref}); d.Accepted {
		t.Error("Vote(5 reads with the same bad date + 3 good) accepted; the majority date is wrong")
	}
}

func TestBallotWindow(t *testing.T) {
	good := specimens[0].lines
	b := NewBallot(BallotOptions{MinAgree: 3, Window: 4, Parse: ref})
	b.Add(with(good, 0, 7, 'L')) // a valid read with a wrong name
	for i := 0; i < 3; i++ {
		b.Add(good)
	}
	if d := b.Decide(); d.Accepted {
		t.Fatal("accepted while a disagreeing valid read is in the window")
	}
	b.Add(good) // pushes the stray read out
	if d := b.Decide(); !d.Accepted || d.Agree != 4 {
		t.Fatalf("Decide = %v (agree %d); want accepted with 4", d.Err, d.Agree)
	}
	b.Reset()
	if b.Len() != 0 || b.Decide().Accepted {
		t.Error("Reset kept reads")
	}
}
