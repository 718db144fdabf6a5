package mrz

import (
	"errors"
	"fmt"
	"slices"
)

// BallotOptions configures a Ballot. The zero value works.
type BallotOptions struct {
	// MinAgree is how many valid reads must be identical, character for
	// character, to the consensus before it is accepted. Default 3.
	MinAgree int
	// Window keeps only the latest reads, so a stray read ages out.
	// Default 15; negative keeps every read.
	Window int
	// Parse is given to Parse for each read and for the consensus.
	Parse Options
}

func (o *BallotOptions) defaults() {
	if o.MinAgree <= 0 {
		o.MinAgree = 3
	}
	if o.Window == 0 {
		o.Window = 15
	}
}

// Ballot collects reads of one document from successive camera frames and
// decides when they can be trusted. Names, nationality and sex carry no
// check digit, so one valid read of them proves little: the ballot takes a
// per-character majority over the reads of the same layout and accepts it
// only when at least MinAgree valid reads say exactly that and no valid
// read says anything else. A Ballot is for one goroutine; it holds
// personal data until Reset or until it is dropped.
type Ballot struct {
	o     BallotOptions
	reads []Result
}

// NewBallot starts an empty ballot.
func NewBallot(o BallotOptions) *Ballot {
	o.defaults()
	return &Ballot{o: o}
}

// Add parses one read (the lines as OCR gave them), keeps it, and returns
// its parse.
func (b *Ballot) Add(lines []string) Result {
	r := Parse(lines, b.o.Parse)
	b.AddResult(r)
	return r
}

// AddResult keeps a read parsed elsewhere (with Parse).
func (b *Ballot) AddResult(r Result) {
	b.reads = append(b.reads, r)
	if w := b.o.Window; w > 0 && len(b.reads) > w {
		b.reads = slices.Delete(b.reads, 0, len(b.reads)-w)
	}
}

// Len is the number of reads held.
func (b *Ballot) Len() int { return len(b.reads) }

// Reset forgets every read.
func (b *Ballot) Reset() {
	clear(b.reads)
	b.reads = b.reads[:0]
}

// Decision is a ballot's verdict.
type Decision struct {
	// Accepted is true when the consensus is valid, at least MinAgree
	// valid reads equal it, and no valid read differs from it.
	Accepted bool `json:"accepted"`
	// Result is the parse of the per-character consensus; use its Fields
	// only when Accepted.
	Result Result `json:"result"`
	// Reads counts the reads held, Valid the valid ones, Agree the valid
	// ones identical to the consensus.
	Reads, Valid, Agree int
	// Err says why not accepted: ErrTooFewReads (keep reading),
	// ErrReadsDisagree, or the consensus's own parse error.
	Err    error `json:"-"`
	Reason Code  `json:"reason,omitempty"`
}

// Decide votes over the reads held.
func (b *Ballot) Decide() Decision {
	d := Decision{Reads: len(b.reads)}
	fail := func(err error) Decision {
		d.Accepted, d.Err, d.Reason = false, err, CodeOf(err)
		if errors.Is(err, ErrTooFewReads) {
			d.Reason = CodeTooFewReads // it may wrap the consensus's own error
		}
		return d
	}
	group := b.largestGroup()
	if len(group) == 0 {
		return fail(ErrTooFewReads)
	}
	lines, err := majority(group)
	if err != nil {
		return fail(err)
	}
	d.Result = Parse(lines, b.o.Parse)
	disagree := 0
	for _, r := range b.reads {
		if !r.Valid {
			continue
		}
		d.Valid++
		if d.Result.Valid && slices.Equal(r.Lines, d.Result.Lines) {
			d.Agree++
		} else {
			disagree++
		}
	}
	switch {
	case disagree > 0:
		return fail(fmt.Errorf("%w: %d valid reads differ from the consensus (%d agree)", ErrReadsDisagree, disagree, d.Agree))
	case !d.Result.Valid:
		return fail(fmt.Errorf("%w: no valid read yet (%w)", ErrTooFewReads, d.Result.Err))
	case d.Agree < b.o.MinAgree:
		return fail(fmt.Errorf("%w: %d of %d", ErrTooFewReads, d.Agree, b.o.MinAgree))
	}
	d.Accepted = true
	return d
}

// largestGroup returns the reads of the most common recognised layout and
// line length; ties go to the group with more valid reads.
func (b *Ballot) largestGroup() []Result {
	type key struct {
		f    Format
		n, w int
	}
	groups := map[key][]Result{}
	var order []key
	for _, r := range b.reads {
		if r.Format == FormatUnknown || len(r.Lines) == 0 {
			continue
		}
		k := key{r.Format, len(r.Lines), len(r.Lines[0])}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var best []Result
	bestValid := 0
	for _, k := range order {
		g := groups[k]
		v := 0
		for _, r := range g {
			if r.Valid {
				v++
			}
		}
		if len(g) > len(best) || (len(g) == len(best) && v > bestValid) {
			best, bestValid = g, v
		}
	}
	return best
}

// errNoMajority is a position where two characters tie.
var errNoMajority = errors.New("no character has a majority")

// majority takes, at every position, the character most reads agree on.
// A tie at any position is an error: the reads do not decide it.
func majority(reads []Result) ([]string, error) {
	first := reads[0].Lines
	out := make([]string, len(first))
	for li, l := range first {
		b := make([]byte, len(l))
		for col := range l {
			var count [256]int
			for _, r := range reads {
				count[r.Lines[li][col]]++
			}
			best, tie := byte(0), false
			for c := range count {
				switch {
				case count[c] > count[best]:
					best, tie = byte(c), false
				case count[c] == count[best] && count[c] > 0 && byte(c) != best:
					tie = true
				}
			}
			if tie {
				return nil, fmt.Errorf("%w: line %d, column %d: %w", ErrReadsDisagree, li+1, col+1, errNoMajority)
			}
			b[col] = best
		}
		out[li] = string(b)
	}
	return out, nil
}

// Vote decides over a set of reads at once: a Ballot filled with them.
func Vote(reads [][]string, o BallotOptions) Decision {
	o.Window = -1
	b := NewBallot(o)
	for _, r := range reads {
		b.Add(r)
	}
	return b.Decide()
}
