package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"kiosk/eval"
	"kiosk/liveness"
)

func init() {
	register(command{name: "pulse", summary: "heart rate from skin-patch videos (--whole-frame: each file is one patch of the same moment)", run: runPulse})
}

// addPatchFlags registers the flags pulse and eval rppg share; call the
// returned function after parsing.
func addPatchFlags(fs *flag.FlagSet) func() (eval.PatchOptions, error) {
	window := fs.Duration("window", 10*time.Second, "analysis window")
	methodName := fs.String("method", "POS", "POS or CHROM")
	fusionName := fs.String("fusion", "adaptive", "how patches combine: adaptive, ensemble (the kiosk's), coherent, spectral or geometric")
	notch := fs.Bool("keyframe-notch", true, "remove the harmonics of each AVI file's keyframe rate (codec artefact) from the spectra")
	regress := fs.Bool("regress-intensity", true, "remove from each channel what follows the scene's brightness (exposure flicker leaking into chroma through a dark, clipped camera response) before POS/CHROM")
	return func() (eval.PatchOptions, error) {
		o := eval.PatchOptions{Window: *window, KeyframeNotch: *notch, RegressIntensity: *regress}
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

func parseMethod(s string) (liveness.Method, error) {
	switch strings.ToUpper(s) {
	case "POS":
		return liveness.POS, nil
	case "CHROM":
		return liveness.CHROM, nil
	}
	return 0, fmt.Errorf("unknown --method %q: want POS or CHROM", s)
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
	case "ensemble":
		return liveness.Ensemble, nil
	}
	return 0, fmt.Errorf("unknown --fusion %q: want adaptive, ensemble, coherent, spectral or geometric", s)
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
	rep, err := eval.EstimatePatches(ctx, fs.Args(), o)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk pulse: %v\n", err)
		return exitBadInput
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(rep); err != nil {
			fmt.Fprintln(e.stderr, "kiosk pulse: writing JSON:", err)
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%.1f bpm (median of %d windows of %v over %.0f s at %.0f fps); last window: %.1f bpm, SNR %.1f dB, coherence %.2f\n",
		rep.BPM, rep.Windows, o.Window, rep.Seconds, rep.FPS, rep.Last.BPM, rep.Last.SNR, rep.Last.Coherence)
	return exitOK
}
