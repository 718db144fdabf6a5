package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kiosk/capture"
	"kiosk/liveness"
)

func init() {
	register(command{name: "pulse", summary: "heart rate from skin-patch videos (--whole-frame: each file is one patch of the same moment)", run: runPulse})
}

// pulseReport is the estimate for one recording.
type pulseReport struct {
	Files   []string `json:"files"`
	Frames  int      `json:"frames"`
	FPS     float64  `json:"fps"`
	Seconds float64  `json:"seconds"`
	// BPM is the SNR-weighted median of the estimates over sliding windows,
	// the figure to compare with a mean heart rate.
	BPM     float64 `json:"bpm"`
	Windows int     `json:"windows"`
	// SNR is the median over the windows, in dB.
	SNR float64 `json:"snr_db"`
	// Interference holds the keyframe rates (Hz) read from the files'
	// AVI indexes whose harmonics were removed from the spectra.
	Interference []float64 `json:"interference_hz,omitempty"`
	// Last is the final window's full result.
	Last liveness.Result `json:"last"`
}

// patchOptions configures estimatePatches.
type patchOptions struct {
	Window time.Duration
	Method liveness.Method
	Fusion liveness.Fusion
	// KeyframeNotch reads each file's keyframe interval (GOP) from its AVI
	// index and passes the keyframe rate to liveness.Options.Interference.
	KeyframeNotch bool
	// RegressIntensity sets liveness.Options.RegressIntensity.
	RegressIntensity bool
}

// addPatchFlags registers the flags pulse and eval rppg share; call the
// returned function after parsing.
func addPatchFlags(fs *flag.FlagSet) func() (patchOptions, error) {
	window := fs.Duration("window", 10*time.Second, "analysis window")
	methodName := fs.String("method", "POS", "POS or CHROM")
	fusionName := fs.String("fusion", "adaptive", "how patches combine: adaptive, coherent, spectral or geometric")
	notch := fs.Bool("keyframe-notch", true, "remove the harmonics of each AVI file's keyframe rate (codec artefact) from the spectra")
	regress := fs.Bool("regress-intensity", true, "remove from each channel what follows the scene's brightness (exposure flicker leaking into chroma through a dark, clipped camera response) before POS/CHROM")
	return func() (patchOptions, error) {
		o := patchOptions{Window: *window, KeyframeNotch: *notch, RegressIntensity: *regress}
		var err error
		if o.Method, err = parseMethod(*methodName); err != nil {
			return o, err
		}
		if o.Fusion, err = parseFusion(*fusionName); err != nil {
			return o, err
		}
		if o.Window <= 0 {
			return o, fmt.Errorf("--window %v: want a positive duration", o.Window)
		}
		return o, nil
	}
}

// estimatePatches reads the files frame by frame in lockstep, each file's
// whole-frame mean colour standing for one skin patch, and estimates the
// heart rate over sliding windows.
func estimatePatches(ctx context.Context, files []string, o patchOptions) (pulseReport, error) {
	rep := pulseReport{Files: files}
	var srcs []*capture.File
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	start := time.Unix(0, 0)
	for _, f := range files {
		s, err := capture.OpenFile(f, capture.FileOptions{Start: start})
		if err != nil {
			return rep, err
		}
		srcs = append(srcs, s)
	}
	rep.FPS = srcs[0].FPS()
	if o.KeyframeNotch {
		rep.Interference = keyframeRates(files, rep.FPS)
	}
	est := liveness.NewEstimator(liveness.Options{Window: o.Window, MinWindow: o.Window, Method: o.Method, Fusion: o.Fusion, Interference: rep.Interference, RegressIntensity: o.RegressIntensity})
	step := int(math.Max(1, 2*rep.FPS)) // re-estimate every 2 s
	var bpms, weights, snrs []float64
	for {
		s := liveness.Sample{Patches: map[string]liveness.RGB{}, Motion: -1}
		ended := false
		for i, src := range srcs {
			fr, err := src.Read(ctx)
			if errors.Is(err, io.EOF) {
				ended = true
				break
			}
			if err != nil {
				return rep, err
			}
			if i == 0 {
				s.Time = fr.Time
			}
			s.Patches[filepath.Base(files[i])] = meanBGR(fr)
			fr.Release()
		}
		if ended {
			break
		}
		est.Add(s)
		rep.Frames++
		if rep.Frames%step == 0 {
			if r := est.Estimate(); r.Enough {
				bpms = append(bpms, r.BPM)
				weights = append(weights, math.Pow(10, math.Max(r.SNR, -20)/10))
				snrs = append(snrs, r.SNR)
			}
		}
	}
	if rep.Frames == 0 {
		return rep, errors.New("no frames decoded")
	}
	rep.Seconds = float64(rep.Frames) / rep.FPS
	rep.Last = est.Estimate()
	rep.Windows = len(bpms)
	if len(bpms) == 0 {
		return rep, fmt.Errorf("not enough signal: %.1f s of video, %s", rep.Seconds, rep.Last.Reason)
	}
	rep.BPM = weightedMedian(bpms, weights)
	slices.Sort(snrs)
	rep.SNR = snrs[len(snrs)/2]
	return rep, nil
}

// weightedMedian is the value below and above which half the weight lies:
// windows with a clear pulse count more than noisy stretches, and a few
// wild windows cannot move it.
func weightedMedian(v, w []float64) float64 {
	idx := make([]int, len(v))
	var total float64
	for i := range idx {
		idx[i] = i
		total += w[i]
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	var acc float64
	for _, i := range idx {
		acc += w[i]
		if acc >= total/2 {
			return v[i]
		}
	}
	return v[idx[len(idx)-1]]
}

func meanBGR(f *capture.Frame) liveness.RGB {
	var b, g, r float64
	for i := 0; i+2 < len(f.Pix); i += 3 {
		b += float64(f.Pix[i])
		g += float64(f.Pix[i+1])
		r += float64(f.Pix[i+2])
	}
	n := float64(len(f.Pix) / 3)
	return liveness.RGB{R: r / n, G: g / n, B: b / n}
}

func parseMethod(s string) (liveness.Method, error) {
	switch strings.ToUpper(s) {
	case "POS":
		return liveness.POS, nil
	case "CHROM":
		return liveness.CHROM, nil
	}
	return 0, fmt.Errorf("unknown --method %q: want POS or CHROM", s)
}

func runPulse(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "pulse", "pulse --whole-frame [--json] FILE...\n\nEach file is one skin patch recorded at the same moment (e.g. forehead and cheeks).")
	asJSON := fs.Bool("json", false, "print JSON")
	whole := fs.Bool("whole-frame", false, "treat each file's whole frame as one skin patch (required: face videos go to 'kiosk analyze')")
	patchOpts := addPatchFlags(fs)
	if ok, code := parseArgs(fs, args, atLeast(1)); !ok {
		return code
	}
	if !*whole {
		fs.Usage()
		return exitBadInput
	}
	o, err := patchOpts()
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk pulse:", err)
		return exitBadInput
	}
	rep, err := estimatePatches(ctx, fs.Args(), o)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk pulse: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		// jsonSafe: a recording without a reference region has no
		// reference SNR (-Inf), which plain JSON cannot hold.
		if err := json.NewEncoder(e.stdout).Encode(jsonSafe(rep)); err != nil {
			fmt.Fprintln(e.stderr, "kiosk pulse: writing JSON:", err)
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%.1f bpm (median of %d windows of %v over %.0f s at %.0f fps); last window: %.1f bpm, SNR %.1f dB, coherence %.2f\n",
		rep.BPM, rep.Windows, o.Window, rep.Seconds, rep.FPS, rep.Last.BPM, rep.Last.SNR, rep.Last.Coherence)
	return exitOK
}

func parseFusion(s string) (liveness.Fusion, error) {
	switch strings.ToLower(s) {
	case "adaptive":
		return liveness.Adaptive, nil
	case "coherent":
		return liveness.Coherent, nil
	case "spectral":
		return liveness.SpectralSum, nil
	case "geometric":
		return liveness.GeometricMean, nil
	}
	return 0, fmt.Errorf("unknown --fusion %q: want adaptive, coherent, spectral or geometric", s)
}

// keyframeRates is the distinct keyframe rates (fps / GOP, Hz) of the
// files that have an AVI index with a regular keyframe interval.
func keyframeRates(files []string, fps float64) []float64 {
	var rates []float64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		gop, ok := aviKeyframeInterval(f)
		f.Close()
		if !ok || fps <= 0 {
			continue
		}
		if r := fps / float64(gop); !slices.Contains(rates, r) {
			rates = append(rates, r)
		}
	}
	return rates
}

// maxAVIIndex bounds the idx1 chunk read (16 bytes per entry: over four
// million entries).
const maxAVIIndex = 64 << 20

// aviKeyframeInterval reads an AVI 1.0 file's idx1 index and returns its
// regular keyframe interval (GOP length) in video frames: the longest gap
// between keyframes that recurs at least three times and spans at least a
// quarter of the frames (scene-cut keyframes only shorten gaps, and a few
// stray long gaps are not a rhythm). ok is false for other containers,
// for intra-only video (every frame a keyframe), and for damaged indexes.
func aviKeyframeInterval(r io.ReadSeeker) (gop int, ok bool) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "AVI " {
		return 0, false
	}
	var idx []byte
	for {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return 0, false
		}
		size := int64(binary.LittleEndian.Uint32(ck[4:]))
		if string(ck[:4]) == "idx1" {
			if size > maxAVIIndex {
				return 0, false
			}
			idx = make([]byte, size)
			if _, err := io.ReadFull(r, idx); err != nil {
				return 0, false
			}
			break
		}
		if _, err := r.Seek(size+size&1, io.SeekCurrent); err != nil {
			return 0, false
		}
	}
	gaps := map[int]int{}
	frame, last := 0, -1
	for off := 0; off+16 <= len(idx); off += 16 {
		id := idx[off : off+4]
		if string(id[2:]) != "dc" && string(id[2:]) != "db" {
			continue // audio, text, padding
		}
		if binary.LittleEndian.Uint32(idx[off+4:])&0x10 != 0 { // AVIIF_KEYFRAME
			if last >= 0 {
				gaps[frame-last]++
			}
			last = frame
		}
		frame++
	}
	for g, n := range gaps {
		if g >= 2 && n >= 3 && 4*g*n >= frame && g > gop {
			gop = g
		}
	}
	return gop, gop > 0
}
