package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"kiosk/tpmkeys"
)

func init() {
	register(command{name: "keys status", summary: "show the TPM key custody: TPM kind, KEK versions, signing key id, PIN lockout, erase ratchet", run: runKeysStatus})
	register(command{name: "keys rotate", summary: "seal a new KEK version (optionally bound to PCRs); older versions stay readable", run: runKeysRotate})
	register(command{name: "keys retire", summary: "delete an old KEK version for good (what is sealed under it can never be opened again)", run: runKeysRetire})
	register(command{name: "keys export-pub", summary: "print the TPM signing key's public half (PEM or JWK with its RFC 7638 key id)", run: runKeysExportPub})
	register(command{name: "keys set-pin", summary: "set or change the operator PIN (read from stdin; checked by the TPM)", run: runKeysSetPIN})
}

// keysFlags are the flags every keys command shares.
type keysFlags struct {
	cfg  *config
	tpm  *string
	pcrs *string // only keys rotate
}

func newKeysFlags(e *env, name, synopsis string) (*flag.FlagSet, *keysFlags) {
	fs := newFlagSet(e, name, synopsis)
	return fs, &keysFlags{cfg: addCommonFlags(fs, e), tpm: addTPMFlag(fs, e)}
}

func parsePCRs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 23 {
			return nil, fmt.Errorf("bad PCR %q: want a number 0..23", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func (kf *keysFlags) open(ctx context.Context, e *env, verb string) (*tpmkeys.Custody, func() error, int) {
	log, err := kf.cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk %s: %v\n", verb, err)
		return nil, nil, exitBadInput
	}
	var (
		c       *tpmkeys.Custody
		closeFn func() error
	)
	if kf.pcrs != nil {
		var o tpmkeys.Options
		if o.PCRs, err = parsePCRs(*kf.pcrs); err != nil {
			fmt.Fprintf(e.stderr, "kiosk %s: --pcrs: %v\n", verb, err)
			return nil, nil, exitBadInput
		}
		c, closeFn, err = openCustodyWith(ctx, *kf.tpm, kf.cfg.dataDir, log, o)
	} else {
		c, closeFn, err = openCustody(ctx, *kf.tpm, kf.cfg.dataDir, log)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk %s: %v\n", verb, err)
		return nil, nil, exitFailure
	}
	return c, closeFn, -1
}

func runKeysStatus(ctx context.Context, e *env, args []string) int {
	fs, kf := newKeysFlags(e, "keys status", "keys status [--json] [--tpm SPEC]\n\nOpens (on first use: provisions) the key custody in DATA_DIR/tpm and reports it.\nExit status 0, or 1 when the TPM or the custody cannot be opened.")
	jsonOut := fs.Bool("json", false, "print JSON")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	c, closeFn, code := kf.open(ctx, e, "keys status")
	if code >= 0 {
		return code
	}
	defer closeFn()
	st, err := c.Status()
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk keys status: %v\n", err)
		return exitFailure
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statusJSON(st)); err != nil {
			return exitFailure
		}
		return exitOK
	}
	printStatus(e.stdout, st, c.Dir())
	return exitOK
}

func statusJSON(st tpmkeys.Status) map[string]any {
	return map[string]any{
		"tpm": st.Label, "secure": st.Secure, "manufacturer": st.Manufacturer, "firmware": st.Firmware,
		"srk_handle":  fmt.Sprintf("0x%08x", st.SRKHandle),
		"kek_version": st.KEKVersion, "kek_versions": st.KEKs, "kek_pcrs": st.PCRs, "kek_sealed_away": st.SealedAway,
		"key_id": st.KeyID, "pin_set": st.PINSet,
		"pin_tries_left": st.DA.TriesLeft(), "da_max_tries": st.DA.MaxTries, "da_counter": st.DA.Counter,
		"da_recovery_s": int(st.DA.RecoveryTime.Seconds()), "da_lockout_recovery_s": int(st.DA.LockoutRecovery.Seconds()),
		"da_in_lockout": st.DA.InLockout, "da_configured_by": st.DAConfiguredBy,
		"nv_index": fmt.Sprintf("0x%08x", st.NVIndex), "oldest_epoch": st.OldestEpoch, "current_epoch": st.CurrentEpoch,
		"epoch_length_s": int(st.EpochLength.Seconds()), "nv_writes_max_per_year": st.MaxNVWritesPerYear,
		"memory_locked": st.MemoryLocked,
	}
}

func printStatus(w io.Writer, st tpmkeys.Status, dir string) {
	fmt.Fprintf(w, "TPM:            %s", st.Label)
	if st.Manufacturer != "" {
		fmt.Fprintf(w, " (vendor %s, firmware %s)", st.Manufacturer, st.Firmware)
	}
	fmt.Fprintln(w)
	if !st.Secure {
		fmt.Fprintln(w, "                NOT SECURE: a copy of the software TPM's state opens every key")
	}
	fmt.Fprintf(w, "key blobs:      %s\n", dir)
	fmt.Fprintf(w, "storage root:   ECC P-256 at 0x%08x\n", st.SRKHandle)
	pcrs := "none"
	if len(st.PCRs) > 0 {
		pcrs = fmt.Sprint(st.PCRs)
	}
	fmt.Fprintf(w, "KEK:            version %d current, live %v, PCR binding %s\n", st.KEKVersion, st.KEKs, pcrs)
	if len(st.SealedAway) > 0 {
		fmt.Fprintf(w, "                sealed away %v: their PCRs changed since sealing; records under them stay unreadable\n", st.SealedAway)
		fmt.Fprintln(w, "                (boot the old state to read them, or 'kiosk keys retire VERSION' once they have expired)")
	}
	fmt.Fprintf(w, "signing key:    ECDSA P-256 in the TPM, key id %s\n", st.KeyID)
	pin := "not set (kiosk keys set-pin)"
	if st.PINSet {
		pin = "set"
	}
	fmt.Fprintf(w, "operator PIN:   %s\n", pin)
	lock := ""
	if st.DA.InLockout {
		lock = ", IN LOCKOUT"
	}
	fmt.Fprintf(w, "PIN lockout:    %d of %d tries left, one failure forgotten every %v, parameters set by %s%s\n",
		st.DA.TriesLeft(), st.DA.MaxTries, st.DA.RecoveryTime, st.DAConfiguredBy, lock)
	fmt.Fprintf(w, "erase ratchet:  NV 0x%08x, oldest live epoch %d, current %d, epoch %v (at most %d NV writes a year)\n",
		st.NVIndex, st.OldestEpoch, st.CurrentEpoch, st.EpochLength, st.MaxNVWritesPerYear)
	fmt.Fprintf(w, "key memory:     locked=%v\n", st.MemoryLocked)
}

func runKeysRotate(ctx context.Context, e *env, args []string) int {
	fs, kf := newKeysFlags(e, "keys rotate", "keys rotate [--pcrs LIST] [--tpm SPEC]\n\nSeals a new KEK version and makes it current; records under older versions stay\nreadable until nothing references them. Exit status 0, or 1 on failure.")
	kf.pcrs = fs.String("pcrs", e.getenv("KIOSK_TPM_PCRS"), "comma-separated SHA-256 PCRs to bind the new KEK to, e.g. 7 (empty: no binding) (env KIOSK_TPM_PCRS)")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	c, closeFn, code := kf.open(ctx, e, "keys rotate")
	if code >= 0 {
		return code
	}
	defer closeFn()
	v, err := c.RotateKEK()
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk keys rotate: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "KEK version %d sealed and current; live versions %v\n", v, c.KEKVersions())
	return exitOK
}

func runKeysRetire(ctx context.Context, e *env, args []string) int {
	fs, kf := newKeysFlags(e, "keys retire", "keys retire [--tpm SPEC] VERSION\n\nDeletes KEK VERSION's sealed blob. Records, enrolments and audit events sealed under it\ncan never be opened again: retire a version once its records have expired, or one\nset aside after a PCR change (see 'kiosk keys status'). The current version is refused.")
	if ok, code := parseArgs(fs, args, exactly(1)); !ok {
		return code
	}
	v, err := strconv.ParseUint(fs.Arg(0), 10, 32)
	if err != nil || v == 0 {
		fmt.Fprintf(e.stderr, "kiosk keys retire: %q is not a KEK version (see 'kiosk keys status')\n", fs.Arg(0))
		return exitBadInput
	}
	c, closeFn, code := kf.open(ctx, e, "keys retire")
	if code >= 0 {
		return code
	}
	defer closeFn()
	if err := c.RemoveKEK(uint32(v)); err != nil {
		fmt.Fprintf(e.stderr, "kiosk keys retire: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "KEK version %d retired; live versions %v\n", v, c.KEKVersions())
	return exitOK
}

func runKeysExportPub(ctx context.Context, e *env, args []string) int {
	fs, kf := newKeysFlags(e, "keys export-pub", "keys export-pub [--format pem|jwk] [--tpm SPEC]\n\nPrints the signing key's public half; pin it to verify evidence offline.")
	formatFlag := fs.String("format", "pem", "output format: pem or jwk (with its RFC 7638 thumbprint as kid)")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	format := *formatFlag
	if format != "pem" && format != "jwk" {
		fmt.Fprintf(e.stderr, "kiosk keys export-pub: --format %q: want pem or jwk\n", format)
		return exitBadInput
	}
	c, closeFn, code := kf.open(ctx, e, "keys export-pub")
	if code >= 0 {
		return code
	}
	defer closeFn()
	if format == "jwk" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c.PublicJWK()); err != nil {
			return exitFailure
		}
		return exitOK
	}
	p, err := c.PublicKeyPEM()
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk keys export-pub: %v\n", err)
		return exitFailure
	}
	e.stdout.Write(p)
	return exitOK
}

func runKeysSetPIN(ctx context.Context, e *env, args []string) int {
	fs, kf := newKeysFlags(e, "keys set-pin", "keys set-pin [--tpm SPEC] < PINS\n\nReads PINs from stdin, one per line: the new PIN when none is set yet;\nthe old PIN then the new one to change it (never on the command line, where\nps shows it). A wrong old PIN counts against the TPM's lockout.\nExit status 0, 1 when the TPM refuses, 2 on bad input.")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	c, closeFn, code := kf.open(ctx, e, "keys set-pin")
	if code >= 0 {
		return code
	}
	defer closeFn()
	lines, err := readLines(os.Stdin, 2)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk keys set-pin: reading stdin: %v\n", err)
		return exitBadInput
	}
	if !c.HasPIN() {
		if len(lines) < 1 {
			fmt.Fprintln(e.stderr, "kiosk keys set-pin: no PIN on stdin")
			return exitBadInput
		}
		if err := c.SetPIN(lines[0]); err != nil {
			return pinFailure(e, c, err)
		}
		fmt.Fprintln(e.stdout, "operator PIN set")
		return exitOK
	}
	if len(lines) < 2 {
		fmt.Fprintln(e.stderr, "kiosk keys set-pin: a PIN is set: give the old PIN and the new PIN on two lines")
		return exitBadInput
	}
	if err := c.ChangePIN(lines[0], lines[1]); err != nil {
		return pinFailure(e, c, err)
	}
	fmt.Fprintln(e.stdout, "operator PIN changed")
	return exitOK
}

func pinFailure(e *env, c *tpmkeys.Custody, err error) int {
	switch {
	case errors.Is(err, tpmkeys.ErrWeakPIN):
		fmt.Fprintf(e.stderr, "kiosk keys set-pin: %v\n", err)
		return exitBadInput
	case errors.Is(err, tpmkeys.ErrWrongPIN):
		left := "?"
		if st, serr := c.Status(); serr == nil {
			left = strconv.Itoa(int(st.DA.TriesLeft()))
		}
		fmt.Fprintf(e.stderr, "kiosk keys set-pin: the old PIN is wrong (%s tries left before the TPM locks out)\n", left)
	case errors.Is(err, tpmkeys.ErrLockedOut):
		fmt.Fprintf(e.stderr, "kiosk keys set-pin: %v\n", err)
	default:
		fmt.Fprintf(e.stderr, "kiosk keys set-pin: %v\n", err)
	}
	return exitFailure
}

// readLines reads up to n lines (without their newline) from r.
func readLines(r io.Reader, n int) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(io.LimitReader(r, 4096))
	for len(out) < n && sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out, sc.Err()
}
