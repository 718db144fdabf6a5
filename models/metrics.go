package models

import (
	"cmp"
	"math"
	"slices"
)

// ScoredPair is one comparison with its ground truth.
type ScoredPair struct {
	Score float64
	Same  bool
}

// ROC summarises a verification experiment.
type ROC struct {
	Genuine, Impostor int     // pair counts
	AUC               float64 // area under the ROC curve (Mann-Whitney)
	EER               float64 // equal error rate
	EERThreshold      float64
	// FNMRAt maps a target FMR to the FNMR at the lowest threshold meeting
	// it; targets the impostor count cannot resolve are left out.
	FNMRAt map[float64]float64
	// ThresholdAt maps a target FMR to that threshold.
	ThresholdAt map[float64]float64
	// MinGenuine and MaxImpostor bound the gap when the sets separate.
	MinGenuine, MaxImpostor float64
}

// Separates reports whether some threshold puts every pair on its side.
func (r ROC) Separates() bool { return r.MinGenuine > r.MaxImpostor }

// ComputeROC scores pairs. Ties count half in the AUC.
func ComputeROC(pairs []ScoredPair, targets ...float64) ROC {
	var gen, imp []float64
	for _, p := range pairs {
		if math.IsNaN(p.Score) {
			continue
		}
		if p.Same {
			gen = append(gen, p.Score)
		} else {
			imp = append(imp, p.Score)
		}
	}
	r := ROC{Genuine: len(gen), Impostor: len(imp), FNMRAt: map[float64]float64{}, ThresholdAt: map[float64]float64{},
		MinGenuine: math.Inf(1), MaxImpostor: math.Inf(-1)}
	if len(gen) == 0 || len(imp) == 0 {
		return r
	}
	slices.Sort(gen)
	slices.Sort(imp)
	r.MinGenuine, r.MaxImpostor = gen[0], imp[len(imp)-1]

	// AUC: the probability a genuine score beats an impostor score.
	var wins float64
	j := 0
	for _, g := range gen {
		for j < len(imp) && imp[j] < g {
			j++
		}
		k := j
		for k < len(imp) && imp[k] == g {
			k++
		}
		wins += float64(j) + 0.5*float64(k-j)
	}
	r.AUC = wins / float64(len(gen)*len(imp))

	// Sweep thresholds at every distinct score (accept score >= t).
	all := append(append([]float64(nil), gen...), imp...)
	slices.Sort(all)
	all = slices.Compact(all)
	all = append(all, math.Nextafter(all[len(all)-1], math.Inf(1)))
	fmr := func(t float64) float64 { return float64(len(imp)-lowerBound(imp, t)) / float64(len(imp)) }
	fnmr := func(t float64) float64 { return float64(lowerBound(gen, t)) / float64(len(gen)) }
	bestGap := math.Inf(1)
	for _, t := range all {
		a, b := fmr(t), fnmr(t)
		if gap := math.Abs(a - b); gap < bestGap {
			bestGap, r.EER, r.EERThreshold = gap, (a+b)/2, t
		}
	}
	for _, target := range targets {
		if float64(len(imp))*target < 1 {
			// Fewer than 1/target impostor pairs cannot show an FMR that
			// low, even with no false match; leave the target out.
			continue
		}
		for _, t := range all {
			if fmr(t) <= target {
				r.ThresholdAt[target], r.FNMRAt[target] = t, fnmr(t)
				break
			}
		}
	}
	return r
}

// lowerBound is the number of values in sorted s below t.
func lowerBound(s []float64, t float64) int {
	i, _ := slices.BinarySearchFunc(s, t, cmp.Compare[float64])
	return i
}
