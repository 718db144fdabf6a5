package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs `kiosk serve` on a free loopback port and returns its
// base URL; the process is stopped when the test ends.
func startServe(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	cmd := selfCommand(t, vars, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	logs := &logWatch{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`serving (http://[^/\s]+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve did not start: %q %v\n%s", line, err, logs.String())
	}
	return m[1]
}

// TestAttestSWTPMDemoEndToEnd: the demo's software TPM is manufactured with
// EK certificates under a local CA (DATA_DIR/swtpm-ca); a verifier trusting
// that CA activates the kiosk's AK once, then verifies the served report
// through the whole chain, with a fresh nonce quoted by the TPM. With
// another CA as root, the same report fails the ek-cert check.
func TestAttestSWTPMDemoEndToEnd(t *testing.T) {
	for _, b := range []string{"swtpm", "swtpm_setup", "certtool"} {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("KIOSK_REQUIRE_XVFB") == "1" { // make test installs swtpm-tools
				t.Fatalf("%s missing: run make setup", b)
			}
			t.Skipf("%s not installed", b)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	vars := map[string]string{"KIOSK_DATA_DIR": data, "KIOSK_TPM": "swtpm-spawn"}
	base := startServe(t, vars, "--purge-interval", "1h")
	roots := filepath.Join(data, "swtpm-ca", "ek-roots")
	if _, err := os.Stat(filepath.Join(roots, "root.pem")); err != nil {
		t.Fatalf("the demo's swtpm was not manufactured with a local CA: %v", err)
	}
	pin := filepath.Join(dir, "ak-pin.json")
	out, errs, code := kiosk(t, nil, "evidence", "activate", "--ek-roots", roots, "--out", pin, base)
	if code != exitOK || !strings.Contains(out, "PASS  ak") {
		t.Fatalf("evidence activate: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = kiosk(t, nil, "evidence", "verify", "--ek-roots", roots, "--ak-pin", pin, "--allow-software-tpm", base+"/api/retention")
	if code != exitOK {
		t.Fatalf("evidence verify (attested): exit %d\n%s%s", code, out, errs)
	}
	for _, check := range []string{"ek-cert", "ak", "certify", "signature", "quote", "nonce"} {
		if !regexp.MustCompile(`(?m)^(PASS|WARN)\s+` + check + `\b`).MatchString(out) {
			t.Errorf("verify output lacks a passed %s check:\n%s", check, out)
		}
	}
	t.Logf("attested verify:\n%s", out)

	// The fleet check: this kiosk through its attestation, and one that is
	// gone; one row each, and exit 1 because one failed.
	pubFile := filepath.Join(dir, "any.pem")
	os.WriteFile(pubFile, []byte(testPubPEM), 0o600)
	fleet := filepath.Join(dir, "fleet.json")
	os.WriteFile(fleet, []byte(`{"kiosks": [
  {"name": "demo", "url": "`+base+`", "ek_roots": "`+roots+`", "ak_pin": "`+pin+`", "allow_software_tpm": true},
  {"name": "gone", "url": "http://127.0.0.1:1", "pubkey": "`+pubFile+`"}]}`), 0o600)
	out, errs, code = kiosk(t, nil, "evidence", "verify", "--fleet", fleet)
	if code != exitFailure || !regexp.MustCompile(`(?m)^PASS\s+demo\s`).MatchString(out) || !regexp.MustCompile(`(?m)^FAIL\s+gone\s+unreachable`).MatchString(out) {
		t.Errorf("fleet: exit %d; want 1, demo passing and gone unreachable:\n%s%s", code, out, errs)
	}

	// Another TPM maker's root: the EK certificate does not chain.
	other := filepath.Join(dir, "other-roots")
	os.MkdirAll(other, 0o700)
	if _, errs, code := kiosk(t, map[string]string{"KIOSK_DATA_DIR": filepath.Join(dir, "other"), "KIOSK_TPM": "swtpm-spawn"}, "keys", "status"); code != exitOK {
		t.Fatalf("making a second software TPM: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "other", "swtpm-ca", "ek-roots", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "root.pem"), b, 0o600)
	out, _, code = kiosk(t, nil, "evidence", "verify", "--ek-roots", other, "--ak-pin", pin, "--allow-software-tpm", base+"/api/retention")
	if code != exitFailure || !regexp.MustCompile(`(?m)^FAIL\s+ek-cert`).MatchString(out) {
		t.Errorf("verify with an untrusted root: exit %d; want 1 with ek-cert failed:\n%s", code, out)
	}
}

// testPubPEM is some P-256 public key, for a fleet entry that is never reached.
const testPubPEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEhrlpyAuE45lm93YjGIK+ByUmxcc
AmjYknSSdB50DCxpshuaioYtNKJND2ewBTU/gAYybzEWky/FrBtOQt5ysg==
-----END PUBLIC KEY-----
`
