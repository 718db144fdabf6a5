package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"text/tabwriter"

	"kiosk/eval"
	"kiosk/models"
)

func init() {
	register(command{name: "eval mrz", summary: "machine-readable zone accuracy over documents with truth.csv, line crops or generated documents, beside trivial baselines", run: runEvalMRZ})
}

// mrzSamplePortrait is the shared face photo generated documents carry (the
// one the models tests use), under the shared folder's data/.
var mrzSamplePortrait = filepath.Join("faces", "pairs", "img1.jpg")

func runEvalMRZ(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "eval mrz", `eval mrz [--json] [--summary] DIR
       eval mrz [--json] [--summary] --lines DIR
       eval mrz [--json] [--summary] --generated N [--seed S] [--portrait PHOTO]

DIR holds truth.csv (file,format,line1,line2[,line3]; a header row is optional)
and the documents' images; images it does not list are read as unlabelled rows.
--lines DIR holds line crops NAME.tif with their text in NAME.gt.txt, read by the
OCR step alone. --generated N makes N camera-like documents with a known zone
(seeds S to S+N-1) carrying the shared folder's sample portrait.
Documents go through the kiosk's own reader (locate, straighten, OCR, checks).

Exit status: 0 the evaluation ran and no wrong read was reported valid (nor any
unlabelled file read as valid); 1 otherwise; 2 bad usage or an unreadable
truth file or folder.`)
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	summary := fs.Bool("summary", false, "print only the totals and baselines, not a row per file")
	lines := fs.Bool("lines", false, "DIR holds line crops (.tif + .gt.txt), read by the OCR alone")
	generated := fs.Int("generated", 0, "evaluate N generated camera-like documents instead of a folder")
	seed := fs.Uint64("seed", 1, "first seed of --generated (0 means 1)")
	portrait := fs.String("portrait", "", "face photo on --generated documents (default: the shared folder's data/"+mrzSamplePortrait+"; without it, a drawn face)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *generated < 0 || (*generated > 0 && (*lines || fs.NArg() != 0)) || (*generated == 0 && fs.NArg() != 1) {
		fs.Usage()
		return exitBadInput
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	r, err := models.LoadMRZReader(cfg.modelsDir, models.MRZOptions{})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval mrz: %v\n", err)
		return exitFailure
	}
	defer r.Close()

	if *lines {
		rep, err := eval.EvalMRZLines(ctx, r, fs.Arg(0))
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval mrz: %v\n", err)
			return exitBadInput
		}
		if *summary {
			rep.Rows = nil
		}
		if *asJSON {
			return writeMRZJSON(e, rep)
		}
		printMRZLines(e.stdout, rep)
		return exitOK
	}

	var rep eval.MRZReport
	portraitName := ""
	if *generated > 0 {
		var face image.Image
		if face, portraitName, err = mrzPortrait(cfg, *portrait, log.Warn); err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval mrz: --portrait: %v\n", err)
			return exitBadInput
		}
		rep, err = eval.EvalMRZGenerated(ctx, r, eval.GeneratedMRZOptions{N: *generated, Seed: *seed, Portrait: face})
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk eval mrz: %v\n", err)
			return exitFailure
		}
	} else if rep, err = eval.EvalMRZDir(ctx, r, fs.Arg(0)); err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval mrz: %v\n", err)
		return exitBadInput
	}
	log.Info("evaluated", "document_count", rep.Totals.Documents, "exact_count", rep.Totals.Exact, "wrong_valid_count", rep.Totals.WrongValid)
	code := exitOK
	if rep.Totals.WrongValid > 0 || rep.Totals.UnlabelledValid > 0 {
		code = exitFailure
	}
	if *summary {
		rep.Rows = nil
	}
	if *asJSON {
		out := struct {
			eval.MRZReport
			Portrait string `json:"portrait,omitempty"`
		}{rep, portraitName}
		if c := writeMRZJSON(e, out); c != exitOK {
			return c
		}
		return code
	}
	printMRZReport(e.stdout, rep, portraitName)
	return code
}

// mrzPortrait loads --portrait (an error if it is unusable), or the
// shared sample face found as the demo finds its sample; without the shared
// folder, generated documents get a drawn face. It returns the face and
// how to name it in the report.
func mrzPortrait(cfg *config, path string, warn func(string, ...any)) (image.Image, string, error) {
	if path != "" {
		face, err := eval.DocumentPortrait(path)
		return face, path, err
	}
	if cfg.sharedDir == "" {
		warn("no shared folder with the sample portrait: generated documents carry a drawn face; put the shared folder beside the repository or set KIOSK_SHARED_DIR")
		return nil, "a drawn face", nil
	}
	path = filepath.Join(cfg.sharedDir, "data", mrzSamplePortrait)
	face, err := eval.DocumentPortrait(path)
	if err != nil {
		warn("the shared folder's sample portrait is unusable: generated documents carry a drawn face", "path", path, "err", err.Error())
		return nil, "a drawn face", nil
	}
	return face, path, nil
}

func writeMRZJSON(e *env, v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // zones are full of <
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(e.stderr, "kiosk eval mrz: writing JSON: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func mrzPct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(a)/float64(b))
}

func printMRZReport(w io.Writer, rep eval.MRZReport, portrait string) {
	if len(rep.Rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tFORMAT\tREAD AS\tLINES EXACT\tCHAR ERRORS\tOUTCOME\tCONDITIONS")
		for _, r := range rep.Rows {
			format, readAs := r.Format.String(), r.ReadFormat.String()
			if !r.Labelled {
				format = "no truth"
			}
			if readAs == "" {
				readAs = "-"
			}
			lines, chars := fmt.Sprintf("%d/%d", r.LinesExact, r.Lines), fmt.Sprintf("%d/%d", r.CharErrors, r.Chars)
			if !r.Labelled {
				lines, chars = "-", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.File, format, readAs, lines, chars, mrzOutcome(r), r.Conditions)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	t := rep.Totals
	fmt.Fprintf(w, "Summary for %s\n", rep.Source)
	if portrait != "" {
		fmt.Fprintf(w, "  portrait on the documents: %s\n", portrait)
	}
	fmt.Fprintf(w, "  documents read exactly        %d of %d (%s)\n", t.Exact, t.Documents, mrzPct(t.Exact, t.Documents))
	fmt.Fprintf(w, "  wrong reads reported valid    %d (must be 0)\n", t.WrongValid)
	fmt.Fprintf(w, "  reported unreadable           %d\n", t.Unreadable)
	fmt.Fprintf(w, "  lines exact                   %d of %d (%s)\n", t.LinesExact, t.Lines, mrzPct(t.LinesExact, t.Lines))
	fmt.Fprintf(w, "  character error rate          %.2f %% (%d of %d)\n", 100*t.CER, t.CharErrors, t.Chars)
	if t.Unlabelled > 0 {
		fmt.Fprintf(w, "  files without truth           %d: %d reported unreadable, %d read as valid (flagged: nothing confirms them)\n",
			t.Unlabelled, t.Unlabelled-t.UnlabelledValid, t.UnlabelledValid)
	}
	if t.Problems > 0 {
		fmt.Fprintf(w, "  files missing or not images   %d (labelled ones count as unreadable)\n", t.Problems)
	}
	fmt.Fprintf(w, "Baselines on the same %d documents:\n", t.Documents)
	for _, b := range rep.Baselines {
		fmt.Fprintf(w, "  %-22s %d exact, %d wrong valid, lines exact %s, character error rate %.2f %%  (%s)\n",
			b.Name, b.Exact, b.WrongValid, mrzPct(b.LinesExact, b.Lines), 100*b.CER, b.Rule)
	}
}

// mrzOutcome says in a few words what became of one document.
func mrzOutcome(r eval.MRZRow) string {
	switch {
	case r.Problem != "":
		return r.Problem
	case r.WrongValid:
		return "WRONG READ REPORTED VALID"
	case r.ValidWithoutTruth:
		return "VALID READ WITHOUT TRUTH (flagged)"
	case r.Exact:
		return "exact"
	case r.Valid:
		return "valid"
	}
	s := "unreadable: " + string(r.Reason)
	if r.Check != "" {
		s += " (" + string(r.Check) + ")"
	}
	return s
}

func printMRZLines(w io.Writer, rep eval.MRZLinesReport) {
	if len(rep.Rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tEXACT\tCHAR ERRORS\tCONFIDENCE\tREAD\tTRUTH")
		for _, r := range rep.Rows {
			exact, read := "yes", ""
			if !r.Exact {
				exact, read = "no", r.Read
			}
			if r.Problem != "" {
				read = "(" + r.Problem + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0f\t%s\t%s\n", r.File, exact, r.CharErrors, r.Chars, r.Confidence, read, r.Truth)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	t := rep.Totals
	fmt.Fprintf(w, "Summary for %s (line crops read by the OCR alone; if the model was trained on them, as on ../shared/data/mrz/lines, these figures are optimistic)\n", rep.Dir)
	fmt.Fprintf(w, "  lines exact                   %d of %d (%s)\n", t.Exact, t.Lines, mrzPct(t.Exact, t.Lines))
	fmt.Fprintf(w, "  character error rate          %.2f %% (%d of %d)\n", 100*t.CER, t.CharErrors, t.Chars)
	fmt.Fprintf(w, "  crops that failed to load     %d\n", t.Failed)
	fmt.Fprintf(w, "  mean OCR confidence           %.0f\n", t.MeanConfidence)
	fmt.Fprintf(w, "Baselines on the same %d lines:\n", t.Lines)
	for _, b := range rep.Baselines {
		fmt.Fprintf(w, "  %-22s lines exact %s, character error rate %.2f %%  (%s)\n", b.Name, mrzPct(b.LinesExact, b.Lines), 100*b.CER, b.Rule)
	}
}
