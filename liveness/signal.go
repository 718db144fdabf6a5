package liveness

import (
	"math"
	"sync"
)

// resampleLinear interpolates (t, v) samples, t ascending in seconds, onto
// n points starting at t0 with spacing dt. Points outside the samples take
// the nearest sample's value.
func resampleLinear(t, v []float64, t0, dt float64, n int) []float64 {
	out := make([]float64, n)
	j := 0
	for i := range out {
		x := t0 + float64(i)*dt
		for j+1 < len(t) && t[j+1] < x {
			j++
		}
		switch {
		case x <= t[0]:
			out[i] = v[0]
		case j+1 >= len(t):
			out[i] = v[len(v)-1]
		default:
			span := t[j+1] - t[j]
			if span <= 0 {
				out[i] = v[j+1]
				continue
			}
			a := (x - t[j]) / span
			out[i] = v[j]*(1-a) + v[j+1]*a
		}
	}
	return out
}

// detrend removes slow trends with the smoothness-priors method (Tarvainen
// et al. 2002): the trend is the solution of (I + μ D₂ᵀD₂) z = x, a
// symmetric pentadiagonal system solved by banded Cholesky in O(n). μ is
// set so the trend takes what lies below cutoff Hz at rate fs.
func detrend(x []float64, fs, cutoff float64) []float64 {
	n := len(x)
	if n < 5 {
		return append([]float64(nil), x...)
	}
	w := 2 * math.Pi * cutoff / fs
	mu := math.Pow(w, -4)
	// Bands of A = I + μ D₂ᵀD₂: diagonal, first and second off-diagonal.
	d0 := make([]float64, n)
	d1 := make([]float64, n) // A[i][i+1]
	d2 := make([]float64, n) // A[i][i+2]
	coef := [3]float64{1, -2, 1}
	for k := 0; k+2 < n; k++ {
		for a := 0; a < 3; a++ {
			for b := a; b < 3; b++ {
				v := mu * coef[a] * coef[b]
				switch b - a {
				case 0:
					d0[k+a] += v
				case 1:
					d1[k+a] += v
				case 2:
					d2[k+a] += v
				}
			}
		}
	}
	for i := range d0 {
		d0[i]++
	}
	// Cholesky A = L Lᵀ with l0 = L[i][i], l1 = L[i][i-1], l2 = L[i][i-2].
	l0 := make([]float64, n)
	l1 := make([]float64, n)
	l2 := make([]float64, n)
	for i := 0; i < n; i++ {
		if i >= 2 {
			l2[i] = d2[i-2] / l0[i-2]
		}
		if i >= 1 {
			l1[i] = (d1[i-1] - l2[i]*l1[i-1]) / l0[i-1]
		}
		l0[i] = math.Sqrt(d0[i] - l1[i]*l1[i] - l2[i]*l2[i])
	}
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		s := x[i]
		if i >= 1 {
			s -= l1[i] * y[i-1]
		}
		if i >= 2 {
			s -= l2[i] * y[i-2]
		}
		y[i] = s / l0[i]
	}
	z := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := y[i]
		if i+1 < n {
			s -= l1[i+1] * z[i+1]
		}
		if i+2 < n {
			s -= l2[i+2] * z[i+2]
		}
		z[i] = s / l0[i]
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = x[i] - z[i]
	}
	return out
}

// fft is an in-place iterative radix-2 FFT; len(a) must be a power of two.
func fft(a []complex128, inverse bool) {
	n := len(a)
	if n < 2 {
		return
	}
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	tw := twiddles(n)
	for size := 2; size <= n; size <<= 1 {
		half, stride := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := tw[k*stride]
				if inverse {
					w = complex(real(w), -imag(w))
				}
				u, v := a[start+k], a[start+k+half]*w
				a[start+k], a[start+k+half] = u+v, u-v
			}
		}
	}
	if inverse {
		s := 1 / float64(n)
		for i := range a {
			a[i] = complex(real(a[i])*s, imag(a[i])*s)
		}
	}
}

// twiddleCache holds exp(-2πik/n), k < n/2, per transform size; tables
// are never modified once stored, so estimators on several goroutines can
// share them.
var twiddleCache sync.Map // int → []complex128

func twiddles(n int) []complex128 {
	if t, ok := twiddleCache.Load(n); ok {
		return t.([]complex128)
	}
	t := make([]complex128, n/2)
	for k := range t {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		t[k] = complex(c, s)
	}
	twiddleCache.Store(n, t)
	return t
}

// realPower adds |X[k]|², k = 0…n/2, of the DFT of the real sequence x
// (n = len(x), a power of two ≥ 2) to acc, with one complex FFT of n/2
// points in buf (len n/2): z[m] = x[2m] + i·x[2m+1] gives Z, and
// X[k] = E[k] + e^(−2πik/n)·O[k] with E[k] = (Z[k] + Z*[n/2−k])/2 and
// O[k] = (Z[k] − Z*[n/2−k])/2i, the spectra of the even and odd samples.
func realPower(buf []complex128, x []float64, acc []float64) {
	n := len(x)
	h := n / 2
	for m := 0; m < h; m++ {
		buf[m] = complex(x[2*m], x[2*m+1])
	}
	fft(buf, false)
	tw := twiddles(n)
	for k := 0; k <= h; k++ {
		zk := buf[k%h]
		zc := buf[(h-k)%h]
		zc = complex(real(zc), -imag(zc))
		e := (zk + zc) / 2
		d := (zk - zc) / 2
		o := complex(imag(d), -real(d)) // d / i
		w := complex(-1, 0)
		if k < h {
			w = tw[k]
		}
		xk := e + w*o
		acc[k] += real(xk)*real(xk) + imag(xk)*imag(xk)
	}
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// bandpass keeps lo–hi Hz with a zero-phase FFT mask (raised-cosine edges
// 0.1 Hz wide, so the mask does not ring).
func bandpass(x []float64, fs, lo, hi float64) []float64 {
	const edge = 0.1
	return zeroPhaseMask(x, fs, func(f float64) float64 {
		switch {
		case f >= lo && f <= hi:
			return 1
		case f > lo-edge && f < lo:
			return 0.5 - 0.5*math.Cos(math.Pi*(f-(lo-edge))/edge)
		case f > hi && f < hi+edge:
			return 0.5 + 0.5*math.Cos(math.Pi*(f-hi)/edge)
		}
		return 0
	})
}

// bandsAround keeps only f0 ± width and 2·f0 ± 2·width Hz of x (a
// zero-phase FFT mask with raised-cosine edges 0.05 Hz wide).
func bandsAround(x []float64, fs, f0, width float64) []float64 {
	const edge = 0.05
	band := func(f, c, w float64) float64 {
		d := math.Abs(f - c)
		switch {
		case d <= w:
			return 1
		case d < w+edge:
			return 0.5 + 0.5*math.Cos(math.Pi*(d-w)/edge)
		}
		return 0
	}
	return zeroPhaseMask(x, fs, func(f float64) float64 {
		return math.Max(band(f, f0, width), band(f, 2*f0, 2*width))
	})
}

// zeroPhaseMask removes x's mean, scales each frequency f (Hz) of its
// spectrum by gain(f) and transforms back: a real gain has no phase, so
// the filter shifts nothing in time. The FFT is zero-padded to twice the
// length so the mask does not wrap the signal's ends into each other.
func zeroPhaseMask(x []float64, fs float64, gain func(f float64) float64) []float64 {
	n := nextPow2(2 * len(x))
	a := make([]complex128, n)
	var mean float64
	for _, v := range x {
		mean += v / float64(len(x))
	}
	for i, v := range x {
		a[i] = complex(v-mean, 0)
	}
	fft(a, false)
	for k := 0; k <= n/2; k++ {
		g := complex(gain(float64(k)*fs/float64(n)), 0)
		a[k] *= g
		if k > 0 && k < n/2 {
			a[n-k] *= g
		}
	}
	fft(a, true)
	out := make([]float64, len(x))
	for i := range out {
		out[i] = real(a[i])
	}
	return out
}

// spectrum is a one-sided power spectral density on a uniform grid.
type spectrum struct {
	df float64   // bin width, Hz
	p  []float64 // power per bin, bin k at k*df Hz
}

// welch estimates the PSD with Tukey-windowed (α = 0.1) segments of segLen
// samples overlapping by at least half and covering every sample, each
// zero-padded to nfft for a fine grid. A signal shorter than segLen is one
// segment (a windowed periodogram).
func welch(x []float64, fs float64, segLen, nfft int) spectrum {
	if segLen > len(x) {
		segLen = len(x)
	}
	nfft = max(nfft, nextPow2(segLen))
	// A Tukey taper rather than Hann: a pulse with heart-rate variability
	// is frequency-modulated, and Hann's weight on the window's middle
	// biases short windows towards the middle's rate.
	win := make([]float64, segLen)
	const alpha = 0.1
	edge := alpha * float64(segLen-1) / 2
	for i := range win {
		x := float64(i)
		switch {
		case x < edge:
			win[i] = 0.5 - 0.5*math.Cos(math.Pi*x/edge)
		case x > float64(segLen-1)-edge:
			win[i] = 0.5 - 0.5*math.Cos(math.Pi*(float64(segLen-1)-x)/edge)
		default:
			win[i] = 1
		}
	}
	s := spectrum{df: fs / float64(nfft), p: make([]float64, nfft/2+1)}
	step := max(segLen/2, 1)
	segs := 0
	// The segment is real, so one complex FFT of half the length does:
	// even samples in the real part, odd in the imaginary (realPower).
	buf := make([]complex128, nfft/2)
	seg := make([]float64, nfft)
	// Segments are spread evenly from the first sample to the last, so
	// the newest samples of a running window always count (stepping by
	// step from 0 would drop up to a segment's worth at the end).
	nseg := 1
	if len(x) > segLen {
		nseg = (len(x)-segLen+step-1)/step + 1
	}
	for si := 0; si < nseg; si++ {
		start := 0
		if nseg > 1 {
			start = si * (len(x) - segLen) / (nseg - 1)
		}
		var mean float64
		for _, v := range x[start : start+segLen] {
			mean += v / float64(segLen)
		}
		clear(seg)
		for i := 0; i < segLen; i++ {
			seg[i] = (x[start+i] - mean) * win[i]
		}
		realPower(buf, seg, s.p)
		segs++
	}
	for k := range s.p {
		s.p[k] /= float64(max(segs, 1))
	}
	return s
}

// peak finds the strongest frequency in lo–hi Hz with parabolic
// interpolation on the log power of the peak bin and its neighbours.
func (s spectrum) peak(lo, hi float64) (hz float64, ok bool) {
	k0, k1 := int(math.Ceil(lo/s.df)), int(math.Floor(hi/s.df))
	k1 = min(k1, len(s.p)-1)
	best := -1
	for k := max(k0, 1); k <= k1; k++ {
		if best < 0 || s.p[k] > s.p[best] {
			best = k
		}
	}
	if best < 0 || s.p[best] <= 0 {
		return 0, false
	}
	off := 0.0
	// Interpolate only at a true local maximum: at the band's edge the
	// strongest bin may sit on a slope rising out of the band, where the
	// parabola's vertex lies outside it (found by FuzzEstimator).
	if best > 0 && best+1 < len(s.p) && s.p[best-1] > 0 && s.p[best+1] > 0 &&
		s.p[best-1] <= s.p[best] && s.p[best+1] <= s.p[best] {
		a, b, c := math.Log(s.p[best-1]), math.Log(s.p[best]), math.Log(s.p[best+1])
		if d := a - 2*b + c; d < 0 {
			off = math.Max(-0.5, math.Min(0.5, 0.5*(a-c)/d))
		}
	}
	return math.Max(lo, math.Min(hi, (float64(best)+off)*s.df)), true
}

// harmonicPeak is peak on the harmonic sum P(f) + ½·P(2f): a pulse wave
// has a strong first harmonic, and the sum keeps a noisy fundamental from
// losing to it (or to its second harmonic at low heart rates).
func (s spectrum) harmonicPeak(lo, hi float64) (float64, bool) {
	h := spectrum{df: s.df, p: make([]float64, len(s.p))}
	for k := range s.p {
		h.p[k] = s.p[k]
		if 2*k < len(s.p) {
			h.p[k] += 0.5 * s.p[2*k]
		}
	}
	return h.peak(lo, hi)
}

// snr is de Haan's spectral SNR in dB: the power within ±width Hz of f0
// and of its first harmonic (±2 width), over the rest of lo–hi Hz.
func (s spectrum) snr(f0, width, lo, hi float64) float64 {
	var sig, noise float64
	for k := range s.p {
		f := float64(k) * s.df
		if f < lo || f > hi {
			continue
		}
		if math.Abs(f-f0) <= width || math.Abs(f-2*f0) <= 2*width {
			sig += s.p[k]
		} else {
			noise += s.p[k]
		}
	}
	if sig <= 0 {
		return math.Inf(-1)
	}
	if noise <= 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// notch zeroes the bins within ±width Hz of f.
func (s spectrum) notch(f, width float64) {
	lo := max(0, int(math.Ceil((f-width)/s.df)))
	hi := min(len(s.p)-1, int(math.Floor((f+width)/s.df)))
	for k := lo; k <= hi; k++ {
		s.p[k] = 0
	}
}

// normalised returns the spectrum scaled to unit power within lo–hi Hz.
func (s spectrum) normalised(lo, hi float64) spectrum {
	var tot float64
	for k := range s.p {
		if f := float64(k) * s.df; f >= lo && f <= hi {
			tot += s.p[k]
		}
	}
	out := spectrum{df: s.df, p: make([]float64, len(s.p))}
	if tot > 0 {
		for k := range s.p {
			out.p[k] = s.p[k] / tot
		}
	}
	return out
}

func meanStd(x []float64) (mean, std float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// correlation is Pearson's r of two equal-length series (0 if either is flat).
func correlation(a, b []float64) float64 {
	ma, sa := meanStd(a)
	mb, sb := meanStd(b)
	if sa == 0 || sb == 0 || len(a) != len(b) {
		return 0
	}
	var s float64
	for i := range a {
		s += (a[i] - ma) * (b[i] - mb)
	}
	return s / (float64(len(a)) * sa * sb)
}

// logLevel is the log of a channel level, floored at half a grey level so
// a black-clipped frame stays finite.
func logLevel(v float64) float64 { return math.Log(math.Max(v, 0.5)) }

// regressIntensity removes from one channel's log level its least-squares
// fit on the log brightness x (with intercept) and returns the residual as
// a level around 100 (the projections divide by the mean, so the scale is
// irrelevant). A flat x leaves the channel as it was, up to that scale.
func regressIntensity(c, x []float64) []float64 {
	n := len(c)
	out := make([]float64, n)
	if n == 0 || len(x) != n {
		return out
	}
	y := make([]float64, n)
	for i, v := range c {
		y[i] = logLevel(v)
	}
	my, _ := meanStd(y)
	mx, sx := meanStd(x)
	beta := 0.0
	if sx > 0 {
		var cov float64
		for i := range y {
			cov += (y[i] - my) * (x[i] - mx)
		}
		beta = cov / float64(n) / (sx * sx)
	}
	for i := range y {
		// Clamped: a pathological window must not overflow to Inf.
		out[i] = 100 * math.Exp(math.Max(-50, math.Min(50, y[i]-my-beta*(x[i]-mx))))
	}
	return out
}
