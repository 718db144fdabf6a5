package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServedEvidenceVerifiesOffline runs the retention promise end to end on
// a software TPM: purges append to the chain, `kiosk serve` publishes a
// report signed inside the TPM, and `kiosk evidence verify` checks it offline
// against the exported public key, chain continuity included; a tampered
// report fails.
func TestServedEvidenceVerifiesOffline(t *testing.T) {
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("KIOSK_REQUIRE_XVFB") == "1" { // set by make test, which installs swtpm
			t.Fatal("swtpm missing: run make setup")
		}
		t.Skip("swtpm not installed")
	}
	dir := t.TempDir()
	vars := map[string]string{"KIOSK_DATA_DIR": filepath.Join(dir, "data"), "KIOSK_TPM": "swtpm-spawn"}
	pub, errs, code := kiosk(t, vars, "keys", "export-pub")
	if code != exitOK || !strings.Contains(pub, "BEGIN PUBLIC KEY") {
		t.Fatalf("keys export-pub: exit %d %q: %s", code, pub, errs)
	}
	pubFile := filepath.Join(dir, "pub.pem")
	os.WriteFile(pubFile, []byte(pub), 0o600)
	if out, errs, code := kiosk(t, vars, "purge"); code != exitOK || !strings.Contains(out, "purge run 1:") {
		t.Fatalf("purge: exit %d %q: %s", code, out, errs)
	}

	cmd := selfCommand(t, vars, "serve", "--listen", "127.0.0.1:0", "--purge-interval", "1s")
	stdout, _ := cmd.StdoutPipe()
	var serveErr bytes.Buffer
	cmd.Stderr = &serveErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`serving (http://\S+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve did not start: %q %v\n%s", line, err, serveErr.String())
	}
	url := m[1]

	fetch := func(name string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	metricsURL := strings.Replace(url, "/api/retention", "/metrics", 1)
	purgeRuns := func() float64 {
		t.Helper()
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^kiosk_purge_runs_total (\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("metrics lack the purge counter:\n%s", b)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	first := fetch("first.json")
	// The 1 s purge timer appends runs: wait for two more, however slowly
	// a loaded machine gets there.
	for want, end := purgeRuns()+2, time.Now().Add(2*time.Minute); purgeRuns() < want; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("fewer than two purge runs in 2 min with --purge-interval 1s\n%s", serveErr.String())
		}
	}
	second := fetch("second.json")

	out, _, code := kiosk(t, vars, "evidence", "verify", "--pubkey", pubFile, "--allow-software-tpm", "--previous", first, second)
	if code != exitOK {
		t.Fatalf("evidence verify: exit %d\n%s", code, out)
	}
	for _, want := range []string{"PASS  signature", "PASS  retention", "PASS  purge", "PASS  chain"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}

	// One changed byte in the signed payload must fail verification.
	b, _ := os.ReadFile(second)
	i := bytes.Index(b, []byte(`"jws":"`)) + len(`"jws":"`) + 120
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, b, 0o600)
	if out, _, code := kiosk(t, vars, "evidence", "verify", "--pubkey", pubFile, "--allow-software-tpm", tampered); code == exitOK {
		t.Errorf("a tampered report verified:\n%s", out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exit after SIGTERM: %v\n%s", err, serveErr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not stop within 2 min of SIGTERM")
	}
}
