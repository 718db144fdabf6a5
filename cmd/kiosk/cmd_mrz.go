package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"kiosk/models"
	"kiosk/mrz"
)

func init() {
	register(command{name: "mrz", summary: "read the machine-readable zone of identity documents in image files", run: runMRZ})
}

// mrzReasonBadImage is the reason given for a file that is not an image.
const mrzReasonBadImage = "bad_image"

// mrzResult is what `kiosk mrz` prints for one file.
type mrzResult struct {
	File string `json:"file"`
	// Found: a band with a zone's geometry was read. Valid: every check
	// digit held (and the dates, codes and layout); Fields is null
	// otherwise.
	Found  bool        `json:"found"`
	Valid  bool        `json:"valid"`
	Format string      `json:"format"` // TD1, TD2, TD3, MRV-A, MRV-B, FRA-ID; "" unknown
	Lines  []string    `json:"lines"`
	Fields *mrz.Fields `json:"fields"`
	// Reason is "" for a valid read, else the reader's code (no_zone,
	// too_small, blurry, glare, not_valid), bad_image, or error (the
	// reader itself failed); Check is the
	// parser's (which check failed) and Error the whole explanation.
	Reason  string       `json:"reason"`
	Check   mrz.Code     `json:"check,omitempty"`
	Repairs []mrz.Repair `json:"repairs,omitempty"`
	Error   string       `json:"error,omitempty"`
}

func runMRZ(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "mrz", `mrz [--json] IMAGE...

Reads the machine-readable zone (ICAO 9303: TD1, TD2, TD3, MRV-A/B, French ID)
of each JPEG, PNG or WebP file as the kiosk reads a document: locate, straighten,
OCR, then every check digit. "valid" means every check digit held.
--json prints one JSON object per file, one per line (JSON Lines), in the order
given: {"file","found","valid","format","lines","fields","reason",...}.
The fields are printed on stdout only; nothing personal is logged.

Exit status: 0 every file gave a valid read, 1 some did not, 2 a file is not a
readable image (or bad usage).`)
	cfg := addCommonFlags(fs, e)
	asJSON := fs.Bool("json", false, "print one JSON object per file, one per line")
	if ok, code := parseArgs(fs, args, atLeast(1)); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	r, err := models.LoadMRZReader(cfg.modelsDir, models.MRZOptions{})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk mrz: %v\n", err)
		return exitFailure
	}
	defer r.Close()
	code := exitOK
	valid := 0
	var results []mrzResult
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false) // zones are full of <
	for _, path := range fs.Args() {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(e.stderr, "kiosk mrz: %v\n", err)
			return exitFailure
		}
		rd, err := models.ReadMRZFile(r, path)
		res := mrzResultOf(path, rd, err)
		switch {
		case res.Valid:
			valid++
		case res.Reason == mrzReasonBadImage:
			code = exitBadInput
			fmt.Fprintf(e.stderr, "kiosk mrz: %s\n", res.Error)
		case code == exitOK:
			code = exitFailure
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				fmt.Fprintf(e.stderr, "kiosk mrz: writing JSON: %v\n", err)
				return exitFailure
			}
			continue
		}
		results = append(results, res)
	}
	// Counts only: the log never carries what was read.
	log.Debug("mrz read", "file_count", fs.NArg(), "valid_count", valid)
	if !*asJSON {
		printMRZTable(e.stdout, results)
	}
	return code
}

// mrzResultOf turns one file's read into what is printed.
func mrzResultOf(path string, rd models.MRZRead, err error) mrzResult {
	res := mrzResult{File: path, Found: rd.Found, Valid: rd.Result.Valid && err == nil, Format: rd.Result.Format.String(), Lines: rd.Result.Lines}
	if len(res.Lines) == 0 {
		res.Lines = rd.Lines
	}
	if res.Lines == nil {
		res.Lines = []string{}
	}
	var me *models.MRZError
	switch {
	case res.Valid:
		f := rd.Result.Fields
		res.Fields, res.Repairs = &f, rd.Result.Repairs
	case errors.As(err, &me):
		res.Reason, res.Check, res.Error = string(me.Reason), rd.Result.Reason, err.Error()
	case errors.Is(err, models.ErrBadImage):
		res.Reason, res.Error = mrzReasonBadImage, err.Error()
	case err != nil:
		res.Reason, res.Error = "error", err.Error()
	}
	return res
}

func printMRZTable(w io.Writer, results []mrzResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tVALID\tFORMAT\tDOCUMENT\tNUMBER\tSURNAME\tGIVEN NAMES\tNATIONALITY\tBIRTH\tSEX\tEXPIRY\tREASON")
	for _, r := range results {
		if !r.Valid {
			format := r.Format
			if format == "" {
				format = "-"
			}
			fmt.Fprintf(tw, "%s\tno\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.File, format, r.Error)
			continue
		}
		f := r.Fields
		sex, expiry := string(f.Sex), mrzDash(f.ExpiryDate.String())
		if sex == "" {
			sex = "<"
		}
		fmt.Fprintf(tw, "%s\tyes\t%s\t%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.File, r.Format, f.DocumentCode, f.Issuer,
			f.DocumentNumber, f.Surname, mrzDash(f.GivenNames), f.Nationality, mrzDash(f.BirthDate.String()), sex, expiry)
	}
	tw.Flush()
}

func mrzDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
