package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode"

	"kiosk/models"
)

// Groups maps identities (see Identity) to the group an evaluation reports
// them under: a demographic group, an eyewear or lighting condition,
// whatever the data's owner labelled. It comes from a groups.csv of
// identity,group rows.
type Groups map[string]string

// Pseudo-groups for pairs that no single group holds.
const (
	GroupMixed    = "(across groups)" // different-person pairs whose two people are in different groups
	GroupUnmapped = "(not in groups.csv)"
)

// maxGroupsRows bounds groups.csv: an evaluation set has hundreds of
// identities, not millions.
const maxGroupsRows = 100_000

// ParseGroups reads groups.csv: identity,group per line, an optional
// identity,group header, surrounding spaces trimmed. An empty field, a
// control character, a name over 200 bytes, or an identity given two
// different groups is an error naming the line: a wrong mapping would
// silently move pairs between groups.
func ParseGroups(r io.Reader) (Groups, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	g := Groups{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("groups.csv: %w", err)
		}
		if line > maxGroupsRows {
			return nil, fmt.Errorf("groups.csv has more than %d rows", maxGroupsRows)
		}
		if len(rec) != 2 {
			return nil, fmt.Errorf("groups.csv line %d: %d fields; want identity,group", line, len(rec))
		}
		id, group := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if line == 1 && strings.EqualFold(id, "identity") && strings.EqualFold(group, "group") {
			continue
		}
		for _, f := range []string{id, group} {
			if f == "" || len(f) > 200 || strings.ContainsFunc(f, unicode.IsControl) || f == GroupMixed || f == GroupUnmapped {
				return nil, fmt.Errorf("groups.csv line %d: %q is not a usable identity or group name", line, f)
			}
		}
		if have, ok := g[id]; ok && have != group {
			return nil, fmt.Errorf("groups.csv line %d: %s is in group %q and %q", line, id, have, group)
		}
		g[id] = group
	}
	if len(g) == 0 {
		return nil, errors.New("groups.csv maps no identities")
	}
	return g, nil
}

// LoadGroups reads a groups.csv file.
func LoadGroups(path string) (Groups, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := ParseGroups(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Of is the group a pair is reported under: its people's group when both
// are in one, GroupMixed when they are in two, GroupUnmapped when either
// is missing from the map.
func (g Groups) Of(p Pair) string {
	a, okA := g[Identity(p.A)]
	b, okB := g[Identity(p.B)]
	switch {
	case !okA || !okB:
		return GroupUnmapped
	case a != b:
		return GroupMixed
	}
	return a
}

// GroupSummary is one group's share of an evaluation, with the same
// baselines as the whole.
type GroupSummary struct {
	Group             string
	Genuine, Impostor int
	// HasROC is false when the group lacks same-person or different-person
	// pairs; AUC, EER and RandomAUC are then 0, not measured.
	HasROC                   bool
	AUC, EER, RandomAUC      float64
	Outcomes, RandomOutcomes OutcomeRates
}

// SummariseGroups reports every group's pairs at bands, in name order
// (the two pseudo-groups last). The outcome baseline shuffles the scores
// across all the pairs, as for the whole set, so a group's baseline is
// what a score ignoring who is who would give its pairs.
func SummariseGroups(pairs []Pair, g Groups, bands models.Bands) []GroupSummary {
	var all []models.ScoredPair
	var keys []string
	for _, p := range pairs {
		if p.Error == "" {
			all = append(all, models.ScoredPair{Score: p.Score, Same: p.Same})
			keys = append(keys, g.Of(p))
		}
	}
	shuffled := shuffledScores(all)
	by := map[string]*GroupSummary{}
	scored := map[string][]models.ScoredPair{}
	for i, k := range keys {
		gs := by[k]
		if gs == nil {
			gs = &GroupSummary{Group: k}
			by[k] = gs
		}
		gs.Outcomes.add(all[i].Same, bands.Outcome(float32(all[i].Score)))
		gs.RandomOutcomes.add(all[i].Same, bands.Outcome(float32(shuffled[i])))
		scored[k] = append(scored[k], all[i])
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := strings.HasPrefix(names[i], "("), strings.HasPrefix(names[j], "(")
		if pi != pj {
			return pj
		}
		return names[i] < names[j]
	})
	out := make([]GroupSummary, 0, len(names))
	for _, k := range names {
		gs := by[k]
		rng := rand.New(rand.NewPCG(1, 2))
		random := make([]models.ScoredPair, len(scored[k]))
		for i, p := range scored[k] {
			random[i] = models.ScoredPair{Score: rng.Float64(), Same: p.Same}
		}
		r, base := models.ComputeROC(scored[k]), models.ComputeROC(random)
		gs.Genuine, gs.Impostor = r.Genuine, r.Impostor
		if r.Genuine > 0 && r.Impostor > 0 {
			gs.HasROC, gs.AUC, gs.EER, gs.RandomAUC = true, r.AUC, r.EER, base.AUC
		}
		out = append(out, *gs)
	}
	return out
}

// GateSummary is what the reference gate refuses on a labelled set, and
// how much of the weak end of the same-person scores those refusals
// account for.
type GateSummary struct {
	Photos, Refused int
	// ByReason counts refused photos by their first problem; AnyReason by
	// every problem they have.
	ByReason, AnyReason map[string]int
	// Refusals names each refused photo and its problems.
	Refusals []Refusal
	// Same-person pairs that involve a refused photo: among all of them
	// (the baseline: the share a gate unrelated to the scores would give),
	// among the weakest tenth by score, and among those not auto-passed.
	Same, SameUnfit         int
	Weakest, WeakestUnfit   int
	NotPassed, NotPassUnfit int
}

// Refusal is one photo the gate refuses.
type Refusal struct {
	Photo    string                    `json:"photo"`
	Problems []models.ReferenceProblem `json:"problems"`
}

// SummariseGate counts the gate's refusals over the photos of the scored
// pairs, and the refused share of the weakest same-person pairs.
func SummariseGate(pairs []Pair, gate map[string]models.ReferenceCheck) GateSummary {
	s := GateSummary{ByReason: map[string]int{}, AnyReason: map[string]int{}}
	seen := map[string]bool{}
	var same []Pair
	for _, p := range pairs {
		if p.Error != "" {
			continue
		}
		for _, ph := range []string{p.A, p.B} {
			if seen[ph] {
				continue
			}
			seen[ph] = true
			c := gate[ph]
			s.Photos++
			if c.OK() {
				continue
			}
			s.Refused++
			s.ByReason[c.Problem().String()]++
			for _, q := range c.Problems {
				s.AnyReason[q.String()]++
			}
			s.Refusals = append(s.Refusals, Refusal{Photo: ph, Problems: c.Problems})
		}
		if p.Same {
			same = append(same, p)
			s.Same++
			if p.Unfit {
				s.SameUnfit++
			}
			if !p.Match {
				s.NotPassed++
				if p.Unfit {
					s.NotPassUnfit++
				}
			}
		}
	}
	slices.SortFunc(s.Refusals, func(a, b Refusal) int { return strings.Compare(a.Photo, b.Photo) })
	slices.SortStableFunc(same, func(a, b Pair) int {
		switch {
		case a.Score < b.Score:
			return -1
		case a.Score > b.Score:
			return 1
		}
		return 0
	})
	s.Weakest = (len(same) + 9) / 10
	for _, p := range same[:s.Weakest] {
		if p.Unfit {
			s.WeakestUnfit++
		}
	}
	return s
}
