package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"kiosk/evidence"
)

func init() {
	register(command{
		name:    "evidence verify",
		summary: "check a signed retention report offline: against a pinned key, or through the TPM's attestation; --fleet for many kiosks",
		run:     runEvidenceVerify,
	})
	register(command{
		name:    "evidence activate",
		summary: "check once that a kiosk's attestation key lives in the TPM its EK certificate names (credential activation), and save the AK pin",
		run:     runEvidenceActivate,
	})
}

const evidenceVerifySynopsis = `evidence verify --pubkey FILE [--previous FILE] [--max-age DUR] [--save FILE] REPORT
  evidence verify --ek-roots DIR --ak-pin FILE [--pcrs FILE] [--pubkey FILE] [--previous FILE] URL|REPORT --attestation FILE
  evidence verify --fleet FILE

Checks a retention report (a file saved from GET /api/retention, '-' for stdin,
or an http(s) URL to fetch), each check printed:
  - with --pubkey alone: against the kiosk's pinned public key (PEM or JWK):
    format, signature, TPM kind, freshness, retention bound, purge, and, with
    --previous, chain continuity against an earlier report;
  - with --ek-roots and --ak-pin: through the TPM's attestation, trusting the
    EK's manufacturer, not the operator: EK certificate -> trusted roots, EK -> AK
    (the pin from 'kiosk evidence activate'), AK -> certified signing key ->
    report signature; from a URL it sends a fresh nonce and checks the TPM's
    quote of the boot state against it (and against --pcrs when given);
  - with --fleet: every kiosk of a fleet file (see docs/evidence.md), fetched
    concurrently, one row each.
Exit status: 0 when no check failed, 1 when one did, 2 on bad usage or input.`

// fetchTimeout bounds each request to a kiosk.
const fetchTimeout = 15 * time.Second

func runEvidenceVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "evidence verify", evidenceVerifySynopsis)
	pubPath := fs.String("pubkey", "", "pinned public key of the kiosk (PEM or JWK) `FILE`")
	prevPath := fs.String("previous", "", "earlier report `FILE` from the same kiosk, for the chain check")
	maxAge := fs.Duration("max-age", evidence.DefaultMaxAge, "how old the report's server time may be")
	allowSoft := fs.Bool("allow-software-tpm", false, "warn instead of fail when the key is in a software TPM (demos only)")
	save := fs.String("save", "", "after every check passed, write the report to `FILE` (use it as the next --previous)")
	ekRoots := fs.String("ek-roots", "", "`DIR` of the TPM manufacturers' CA certificates (PEM or DER) you trust")
	akPin := fs.String("ak-pin", "", "the AK pin `FILE` written by 'kiosk evidence activate'")
	pcrsPath := fs.String("pcrs", "", "expected PCR values `FILE` (JSON); the quote must match them")
	attPath := fs.String("attestation", "", "the kiosk's attestation bundle `FILE` (GET /api/attestation), for a saved report")
	fleet := fs.String("fleet", "", "fleet `FILE`: verify every kiosk it lists")
	if ok, code := parseArgs(fs, args, func(n int) bool { return n == 1 || (n == 0 && *fleet != "") }); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: "+format+"\n", a...)
		return exitBadInput
	}
	vo := evidence.VerifyOptions{MaxAge: *maxAge, AllowSoftwareTPM: *allowSoft}
	if *fleet != "" {
		if fs.NArg() > 0 || *pubPath != "" || *ekRoots != "" || *akPin != "" {
			return fail("--fleet takes no report and no per-kiosk flags: the fleet file names each kiosk's anchors")
		}
		return verifyFleet(ctx, e, *fleet, vo)
	}
	attested := *ekRoots != "" || *akPin != ""
	if !attested && *pubPath == "" {
		fs.Usage()
		return fail("give --pubkey, or --ek-roots and --ak-pin")
	}
	var pub *ecdsa.PublicKey
	if *pubPath != "" {
		pemOrJWK, err := os.ReadFile(*pubPath)
		if err != nil {
			return fail("reading the public key: %v", err)
		}
		if pub, err = evidence.ParsePublicKey(pemOrJWK); err != nil {
			return fail("%s: %v", *pubPath, err)
		}
	}
	src := fs.Arg(0)
	if !attested {
		return verifyPinned(ctx, e, src, pub, *prevPath, *save, vo)
	}
	if *ekRoots == "" || *akPin == "" {
		return fail("attestation needs both --ek-roots and --ak-pin (run 'kiosk evidence activate' once for the pin)")
	}
	ao, err := attestOptions(*ekRoots, *akPin, *pcrsPath)
	if err != nil {
		return fail("%v", err)
	}
	ao.PinnedKey = pub // nil unless --pubkey: then it must also be the certified key
	var report, att []byte
	if isURL(src) {
		if ao.Nonce, err = newNonce(); err != nil {
			return fail("%v", err)
		}
		report, att, err = fetchAttested(ctx, src, ao.Nonce)
	} else {
		if *attPath == "" {
			return fail("a saved report needs --attestation FILE (the kiosk's GET /api/attestation); it carries no fresh quote")
		}
		if report, err = readReport(ctx, src); err == nil {
			att, err = os.ReadFile(*attPath)
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	var prev *evidence.Report
	if *prevPath != "" {
		ar, err := evidence.VerifyAttestation(att, time.Now(), ao)
		if err != nil || !ar.OK() || ar.SigningKey == nil {
			return fail("the attestation does not verify, so the earlier report cannot be opened: %v", errors.Join(err, ar.Err()))
		}
		v, err := evidence.NewVerifier(ar.SigningKey, vo)
		if err != nil {
			return fail("%v", err)
		}
		data, err := os.ReadFile(*prevPath)
		if err != nil {
			return fail("reading the earlier report: %v", err)
		}
		if prev, err = v.Open(data); err != nil {
			return fail("the earlier report %s cannot be used: %v", *prevPath, err)
		}
	}
	res, verr := evidence.VerifyAttested(report, att, prev, vo, ao)
	fmt.Fprintf(e.stdout, "report: %s\ntrust: EK roots %s, AK pin %s\n", src, *ekRoots, *akPin)
	if res != nil {
		if err := res.WriteText(e.stdout); err != nil {
			return exitFailure
		}
	}
	if verr != nil {
		return exitFailure
	}
	return saveReport(e, *save, report)
}

// verifyPinned is the classic check against a pinned key.
func verifyPinned(ctx context.Context, e *env, src string, pub *ecdsa.PublicKey, prevPath, save string, vo evidence.VerifyOptions) int {
	v, err := evidence.NewVerifier(pub, vo)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: %v\n", err)
		return exitBadInput
	}
	var prev *evidence.Report
	if prevPath != "" {
		data, err := os.ReadFile(prevPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "kiosk evidence verify: reading the earlier report: %v\n", err)
			return exitBadInput
		}
		if prev, err = v.Open(data); err != nil {
			fmt.Fprintf(e.stderr, "kiosk evidence verify: the earlier report %s cannot be used: %v\n", prevPath, err)
			return exitBadInput
		}
	}
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
	return saveReport(e, save, data)
}

func saveReport(e *env, path string, data []byte) int {
	if path == "" {
		return exitOK
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: saving the report: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// attestOptions loads the verifier's trust anchors.
func attestOptions(rootsDir, pinPath, pcrsPath string) (evidence.AttestOptions, error) {
	var ao evidence.AttestOptions
	roots, err := evidence.LoadEKRoots(rootsDir)
	if err != nil {
		return ao, err
	}
	b, err := os.ReadFile(pinPath)
	if err != nil {
		return ao, fmt.Errorf("reading the AK pin: %w", err)
	}
	pin, err := evidence.ParseAKPin(b)
	if err != nil {
		return ao, fmt.Errorf("%s: %w", pinPath, err)
	}
	ao.EKRoots, ao.AKPin = roots, pin
	if pcrsPath != "" {
		b, err := os.ReadFile(pcrsPath)
		if err != nil {
			return ao, fmt.Errorf("reading the expected PCRs: %w", err)
		}
		if ao.ExpectedPCRs, err = evidence.ParseExpectedPCRs(b); err != nil {
			return ao, fmt.Errorf("%s: %w", pcrsPath, err)
		}
	}
	return ao, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// newNonce is a fresh 16-byte verifier nonce.
func newNonce() ([]byte, error) {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	return n, nil
}

// kioskURL is the kiosk's path p on the host of u (a report or base URL).
func kioskURL(u, p string, query url.Values) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return "", fmt.Errorf("bad kiosk URL %q", u)
	}
	parsed.Path, parsed.RawQuery = p, query.Encode()
	return parsed.String(), nil
}

// fetchAttested fetches a kiosk's attestation bundle and its report,
// quoted for nonce.
func fetchAttested(ctx context.Context, src string, nonce []byte) (report, att []byte, err error) {
	c := &http.Client{Timeout: fetchTimeout}
	au, err := kioskURL(src, "/api/attestation", nil)
	if err != nil {
		return nil, nil, err
	}
	if att, err = evidence.Fetch(ctx, c, au); err != nil {
		return nil, nil, fmt.Errorf("fetching the attestation: %w", err)
	}
	ru, err := kioskURL(src, "/api/retention", url.Values{"nonce": {hex.EncodeToString(nonce)}})
	if err != nil {
		return nil, nil, err
	}
	if report, err = evidence.Fetch(ctx, c, ru); err != nil {
		return nil, nil, err
	}
	return report, att, nil
}

const evidenceActivateSynopsis = `evidence activate --ek-roots DIR --out FILE URL

Checks once, online, that the kiosk at URL holds its attestation key (AK) in the
same TPM as the endorsement key (EK) its certificate names, by credential
activation: the EK certificate is checked against the trusted roots, a fresh
secret is encrypted to that EK for the AK's name (TPM2_MakeCredential, here),
and only that TPM with that AK loaded can return it (TPM2_ActivateCredential,
on the kiosk). On success it writes the AK pin to FILE: from then on
'kiosk evidence verify --ek-roots DIR --ak-pin FILE' checks the kiosk's reports
offline. Exit status: 0 on success, 1 when the kiosk fails a check, 2 on bad
usage or an unreachable kiosk.`

func runEvidenceActivate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "evidence activate", evidenceActivateSynopsis)
	rootsDir := fs.String("ek-roots", "", "`DIR` of the TPM manufacturers' CA certificates you trust; required")
	out := fs.String("out", "", "where to write the AK pin `FILE`; required")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	if *rootsDir == "" || *out == "" {
		fs.Usage()
		return exitBadInput
	}
	roots, err := evidence.LoadEKRoots(*rootsDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: %v\n", err)
		return exitBadInput
	}
	src := fs.Arg(0)
	c := &http.Client{Timeout: fetchTimeout}
	au, err := kioskURL(src, "/api/attestation", nil)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: %v\n", err)
		return exitBadInput
	}
	att, err := evidence.Fetch(ctx, c, au)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: fetching the attestation: %v\n", err)
		return exitBadInput
	}
	act, err := evidence.NewActivation(att, roots, evidence.ActivationOptions{})
	if act != nil {
		for _, ch := range act.Checks {
			fmt.Fprintf(e.stdout, "%-5s %-12s %s\n", ch.Status, ch.Name, ch.Detail)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: %v\n", err)
		return exitFailure
	}
	body, _ := json.Marshal(act.Challenge())
	pu, _ := kioskURL(src, "/api/attestation/activate", nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pu, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: %v\n", err)
		return exitBadInput
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: posting the credential: %v\n", err)
		return exitBadInput
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans evidence.ActivationResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &ans) != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: the kiosk answered %s: %s\n", resp.Status, bytes.TrimSpace(raw))
		return exitFailure
	}
	pin, err := act.Finish(ans.Secret, time.Now())
	if err != nil {
		fmt.Fprintf(e.stdout, "FAIL  ak           %v\n", err)
		return exitFailure
	}
	b, _ := json.MarshalIndent(pin, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence activate: writing the pin: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "PASS  ak           the kiosk's TPM recovered the secret: its AK sits beside the certified EK\npin written to %s\n", *out)
	return exitOK
}

// verifyFleet checks every kiosk of a fleet file, concurrently, one row
// each; exit 1 if any fails.
func verifyFleet(ctx context.Context, e *env, path string, vo evidence.VerifyOptions) int {
	kiosks, err := evidence.LoadFleet(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk evidence verify: %v\n", err)
		return exitBadInput
	}
	type row struct {
		name, status, detail string
	}
	rows := make([]row, len(kiosks))
	var wg sync.WaitGroup
	for i := range kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &kiosks[i]
			kctx, cancel := context.WithTimeout(ctx, 2*fetchTimeout)
			defer cancel()
			rows[i] = row{name: k.Name, status: "PASS"}
			var report, att, nonce []byte
			var err error
			if k.Attested {
				if nonce, err = newNonce(); err == nil {
					report, att, err = fetchAttested(kctx, k.URL.String(), nonce)
				}
			} else {
				var ru string
				if ru, err = kioskURL(k.URL.String(), "/api/retention", nil); err == nil {
					report, err = evidence.Fetch(kctx, &http.Client{Timeout: fetchTimeout}, ru)
				}
			}
			if err != nil {
				rows[i].status, rows[i].detail = "FAIL", "unreachable: "+err.Error()
				return
			}
			res, verr := k.Verify(report, att, nonce, vo)
			var failed, warned []string
			if res != nil {
				for _, c := range res.Checks {
					switch c.Status {
					case evidence.Fail:
						failed = append(failed, c.Name)
					case evidence.Warn:
						warned = append(warned, c.Name)
					}
				}
			}
			switch {
			case verr != nil:
				rows[i].status = "FAIL"
				rows[i].detail = "failed: " + strings.Join(failed, ", ") + ": " + verr.Error()
			case len(warned) > 0:
				rows[i].detail = "warnings: " + strings.Join(warned, ", ")
			default:
				rows[i].detail = "every check passed"
				if k.Attested {
					rows[i].detail += " (attested, quoted for a fresh nonce)"
				}
			}
		}()
	}
	wg.Wait()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	code := exitOK
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.status, r.name, r.detail)
		if r.status != "PASS" {
			code = exitFailure
		}
	}
	tw.Flush()
	return code
}

// readReport reads a report from a file, stdin ("-") or an http(s) URL.
func readReport(ctx context.Context, src string) ([]byte, error) {
	switch {
	case isURL(src):
		return evidence.Fetch(ctx, &http.Client{Timeout: fetchTimeout}, src)
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
