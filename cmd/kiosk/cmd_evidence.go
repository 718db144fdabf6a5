package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"kiosk/evidence"
)

func init() {
	register(command{
		name:    "evidence verify",
		summary: "check a signed retention report offline against a pinned public key",
		run:     runEvidenceVerify,
	})
}

const evidenceVerifySynopsis = `evidence verify --pubkey FILE [--previous FILE] [--max-age DUR] [--save FILE] REPORT

Checks a retention report (a file saved from GET /api/retention, '-' for stdin,
or an http(s) URL to fetch) against the kiosk's pinned public key (PEM or JWK):
format, signature, TPM kind, freshness, retention bound, purge, and, with
--previous, chain continuity against an earlier report. Prints each check.
Exit status: 0 when no check failed, 1 when one did, 2 on bad usage or input.`

func runEvidenceVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "evidence verify", evidenceVerifySynopsis)
	pubPath := fs.String("pubkey", "", "pinned public key of the kiosk (PEM or JWK) `FILE`; required")
	prevPath := fs.String("previous", "", "earlier report `FILE` from the same kiosk, for the chain check")
	maxAge := fs.Duration("max-age", evidence.DefaultMaxAge, "how old the report's server time may be")
	allowSoft := fs.Bool("allow-software-tpm", false, "warn instead of fail when the key is in a software TPM (demos only)")
	save := fs.String("save", "", "after every check passed, write the report to `FILE` (use it as the next --previous)")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	if *pubPath == "" {
		fmt.Fprintln(e.stderr, "kiosk evidence verify: --pubkey is required")
		fs.Usage()
		return exitBadInput
	}
	pemOrJWK, err := os.ReadFile(*pubPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: reading the public key: %v\n", err)
		return exitBadInput
	}
	pub, err := evidence.ParsePublicKey(pemOrJWK)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: %s: %v\n", *pubPath, err)
		return exitBadInput
	}
	v, err := evidence.NewVerifier(pub, evidence.VerifyOptions{MaxAge: *maxAge, AllowSoftwareTPM: *allowSoft})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: %v\n", err)
		return exitBadInput
	}
	var prev *evidence.Report
	if *prevPath != "" {
		data, err := os.ReadFile(*prevPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk evidence verify: reading the earlier report: %v\n", err)
			return exitBadInput
		}
		if prev, err = v.Open(data); err != nil {
			fmt.Fprintf(e.stderr, "kiosk evidence verify: the earlier report %s cannot be used: %v\n", *prevPath, err)
			return exitBadInput
		}
	}
	src := fs.Arg(0)
	data, err := readReport(ctx, src)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: %v\n", err)
		return exitBadInput
	}
	res, verr := v.Verify(data, prev)
	fmt.Fprintf(e.stdout, "report: %s\npinned key: %s\n", src, v.KeyID())
	if err := res.WriteText(e.stdout); err != nil {
		return exitFailure
	}
	if verr != nil {
		return exitFailure
	}
	if *save != "" {
		if err := os.WriteFile(*save, data, 0o644); err != nil {
			fmt.Fprintf(e.stderr, "kiosk evidence verify: saving the report: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

// readReport reads a report from a file, stdin ("-") or an http(s) URL.
func readReport(ctx context.Context, src string) ([]byte, error) {
	switch {
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		return evidence.Fetch(ctx, &http.Client{Timeout: 15 * time.Second}, src)
	case src == "-":
		data, err := io.ReadAll(io.LimitReader(os.Stdin, evidence.MaxInputBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading the report from stdin: %w", err)
		}
		return data, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, evidence.MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	return data, nil
}
