package liveness

import "math"

// Method selects how RGB traces become one pulse signal.
type Method int

const (
	// POS projects temporally normalised RGB onto the plane orthogonal to
	// the skin tone (Wang et al., "Algorithmic principles of remote PPG",
	// 2017), in overlapping 1.6 s windows.
	POS Method = iota
	// CHROM combines chrominance signals 3R−2G and 1.5R+G−1.5B with a
	// tuned ratio (de Haan & Jeanne, 2013).
	CHROM
)

func (m Method) String() string {
	if m == CHROM {
		return "CHROM"
	}
	return "POS"
}

// pos turns uniformly sampled r, g, b into a pulse signal. Both POS and
// CHROM cancel changes of overall intensity (shading, white flicker), which
// move all channels by the same factor.
func pos(r, g, b []float64, fs float64) []float64 {
	n := len(r)
	l := int(math.Ceil(1.6 * fs))
	h := make([]float64, n)
	if n < l {
		l = n
	}
	if l < 2 {
		return h
	}
	// Prefix sums give each window's channel means in O(1), so POS costs
	// O(n·l) multiply-adds rather than several passes per window.
	cr, cg, cb := prefix(r), prefix(g), prefix(b)
	s1 := make([]float64, l)
	s2 := make([]float64, l)
	count := make([]float64, n)
	fl := float64(l)
	for m := 0; m+l <= n; m++ {
		mr, mg, mb := (cr[m+l]-cr[m])/fl, (cg[m+l]-cg[m])/fl, (cb[m+l]-cb[m])/fl
		if !(mr > 0 && mg > 0 && mb > 0) {
			continue
		}
		ir, ig, ib := 1/mr, 1/mg, 1/mb
		var a1, q1, a2, q2 float64
		for i := 0; i < l; i++ {
			rn, gn, bn := r[m+i]*ir, g[m+i]*ig, b[m+i]*ib
			v1, v2 := gn-bn, gn+bn-2*rn
			s1[i], s2[i] = v1, v2
			a1 += v1
			q1 += v1 * v1
			a2 += v2
			q2 += v2 * v2
		}
		a1 /= fl
		a2 /= fl
		var1, var2 := q1/fl-a1*a1, q2/fl-a2*a2
		alpha := 0.0
		if var2 > 0 && var1 > 0 {
			alpha = math.Sqrt(var1 / var2)
		}
		mean := a1 + alpha*a2
		for i := 0; i < l; i++ {
			h[m+i] += s1[i] + alpha*s2[i] - mean
			count[m+i]++
		}
	}
	// Fewer windows overlap near the ends; without this the ends are
	// attenuated, a hidden taper that biases short windows to their middle.
	for i := range h {
		if count[i] > 0 {
			h[i] /= count[i]
		}
	}
	return h
}

// prefix returns the running sums of x, with a leading 0.
func prefix(x []float64) []float64 {
	c := make([]float64, len(x)+1)
	for i, v := range x {
		c[i+1] = c[i] + v
	}
	return c
}

// chrom is CHROM over the whole window on band-passed chrominance.
func chrom(r, g, b []float64, fs, lo, hi float64) []float64 {
	mr, _ := meanStd(r)
	mg, _ := meanStd(g)
	mb, _ := meanStd(b)
	n := len(r)
	xs := make([]float64, n)
	ys := make([]float64, n)
	if mr <= 0 || mg <= 0 || mb <= 0 {
		return xs
	}
	for i := 0; i < n; i++ {
		rn, gn, bn := r[i]/mr, g[i]/mg, b[i]/mb
		xs[i] = 3*rn - 2*gn
		ys[i] = 1.5*rn + gn - 1.5*bn
	}
	xf, yf := bandpass(xs, fs, lo, hi), bandpass(ys, fs, lo, hi)
	_, sx := meanStd(xf)
	_, sy := meanStd(yf)
	alpha := 0.0
	if sy > 0 {
		alpha = sx / sy
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = xf[i] - alpha*yf[i]
	}
	return out
}
