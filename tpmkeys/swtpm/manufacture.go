package swtpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrStateExists is returned by Manufacture when the state directory
// already holds a TPM that Manufacture did not make with this CA: its
// endorsement keys exist, and their certificates can only be written at
// manufacture. Keep using it without attestation, or manufacture a new
// TPM (a new state directory: every key sealed by the old one is lost).
var ErrStateExists = errors.New("swtpm: the state directory already holds a TPM without EK certificates from this CA")

// ErrSetupNotFound is returned when swtpm_setup (or the swtpm_localca and
// certtool it runs) is not installed.
var ErrSetupNotFound = errors.New("swtpm: swtpm_setup, swtpm_localca or certtool not found (apt-get install swtpm-tools)")

// SetupAvailable reports whether Manufacture can run: swtpm_setup,
// swtpm_localca and GnuTLS's certtool are on PATH.
func SetupAvailable() bool {
	for _, b := range []string{"swtpm_setup", "swtpm_localca", "certtool", "swtpm"} {
		if _, err := exec.LookPath(b); err != nil {
			return false
		}
	}
	return true
}

// ManufactureOptions configures Manufacture. StateDir and CADir are
// required.
type ManufactureOptions struct {
	// StateDir is the swtpm state directory to manufacture. If it already
	// holds a TPM, Manufacture leaves it alone: it returns the roots if it
	// manufactured that TPM with CADir, else ErrStateExists.
	StateDir string
	// CADir holds the local CA: swtpm_localca creates a root CA and an
	// issuer (intermediate) in it on first use and reuses them afterwards,
	// so every TPM manufactured with one CADir chains to the same root.
	// It also receives the swtpm_setup and swtpm-localca configuration.
	CADir string
	// Timeout bounds swtpm_setup; default 2 min.
	Timeout time.Duration
}

// Manufactured says where the local CA's certificates are.
type Manufactured struct {
	// RootsDir holds the local CA's root and issuer certificates (PEM),
	// and nothing else: pass it to a verifier as its EK roots.
	RootsDir string
}

// Manufacture does what a TPM maker does at the factory, for swtpm: it
// runs swtpm_setup --tpm2 --create-ek-cert with a configuration of its own
// (never /etc/swtpm_setup.conf or the system-wide local CA in
// /var/lib/swtpm-localca), which creates the endorsement keys, has
// swtpm_localca sign their certificates with the local CA in CADir, and
// writes them into the TPM's NV at the TCG indices: an RSA 2048 EK
// (certificate at NV 0x01c00002, key persistent at 0x81010001) and an ECC
// P-384 EK (NV 0x01c00016, key at 0x81010016).
//
// A local CA proves nothing about hardware: whoever holds CADir signs EK
// certificates for any key. It makes the software TPM look like a chip to
// the attestation code, which is what the demo and the tests need; the
// TPM stays "software TPM: not secure".
func Manufacture(ctx context.Context, o ManufactureOptions) (*Manufactured, error) {
	if o.StateDir == "" || o.CADir == "" {
		return nil, errors.New("swtpm: ManufactureOptions.StateDir and CADir are required")
	}
	if !SetupAvailable() {
		return nil, ErrSetupNotFound
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	for _, d := range []string{o.StateDir, o.CADir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("swtpm: creating %s: %w", d, err)
		}
	}
	ca, err := filepath.Abs(o.CADir)
	if err != nil {
		return nil, err
	}
	state, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, err
	}
	roots := filepath.Join(ca, "ek-roots")
	if _, err := os.Stat(filepath.Join(state, "tpm2-00.permall")); err == nil {
		// Already a TPM: ours if we manufactured it with this CA.
		if _, err := os.Stat(filepath.Join(roots, "root.pem")); err == nil {
			return &Manufactured{RootsDir: roots}, nil
		}
		return nil, ErrStateExists
	}
	files := map[string]string{
		"swtpm_setup.conf": fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
			mustLook("swtpm_localca"), filepath.Join(ca, "swtpm-localca.conf"), filepath.Join(ca, "swtpm-localca.options")),
		"swtpm-localca.conf": fmt.Sprintf("statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s\n",
			ca, filepath.Join(ca, "signkey.pem"), filepath.Join(ca, "issuercert.pem"), filepath.Join(ca, "certserial")),
		"swtpm-localca.options": "--platform-manufacturer kiosk\n--platform-version 1\n--platform-model swtpm\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ca, name), []byte(body), 0o600); err != nil {
			return nil, fmt.Errorf("swtpm: writing %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "swtpm_setup", "--tpm2", "--tpmstate", state,
		"--create-ek-cert", "--pcr-banks", "sha256", "--not-overwrite",
		"--config", filepath.Join(ca, "swtpm_setup.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("swtpm: swtpm_setup --create-ek-cert failed (%v): %s", err, strings.TrimSpace(out.String()))
	}
	if err := os.MkdirAll(roots, 0o700); err != nil {
		return nil, err
	}
	for src, dst := range map[string]string{"swtpm-localca-rootca-cert.pem": "root.pem", "issuercert.pem": "issuer.pem"} {
		b, err := os.ReadFile(filepath.Join(ca, src))
		if err != nil {
			return nil, fmt.Errorf("swtpm: the local CA has no %s after swtpm_setup: %w", src, err)
		}
		if err := os.WriteFile(filepath.Join(roots, dst), b, 0o600); err != nil {
			return nil, err
		}
	}
	return &Manufactured{RootsDir: roots}, nil
}

func mustLook(b string) string {
	p, err := exec.LookPath(b)
	if err != nil {
		return b
	}
	return p
}
