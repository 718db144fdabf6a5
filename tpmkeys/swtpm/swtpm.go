// Package swtpm starts and stops an swtpm process (a software TPM 2.0)
// listening on loopback, for tests and for the demo when no hardware TPM is
// present. It owns only the process; connect to Process.Addr with
// tpmkeys.DialSWTPM. Start with Start.
//
// swtpm keeps every TPM secret (seeds, NV, the persistent SRK) in its state
// directory: whoever copies that directory holds the keys. It is software
// and not secure.
package swtpm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"kiosk/internal/safelog"
)

// Options configures Start. StateDir is required; the rest has defaults.
type Options struct {
	// StateDir holds the TPM state (created 0700).
	StateDir string
	// Binary is the swtpm executable; default "swtpm" on PATH.
	Binary string
	// Logger receives start/stop events; default discards.
	Logger *slog.Logger
	// StartTimeout bounds waiting for the server port; default 10 s.
	StartTimeout time.Duration
	// StopTimeout bounds waiting for exit after SIGTERM before SIGKILL;
	// default 10 s (swtpm takes 1-2 s).
	StopTimeout time.Duration
}

// Process is a running swtpm. Stop it with Stop (or Kill to simulate a
// crash). Its methods are safe for concurrent use.
type Process struct {
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error // from Wait, valid after done closes
}

// ErrNotFound is returned when the swtpm binary is not installed.
var ErrNotFound = errors.New("swtpm: binary not found (apt-get install swtpm)")

// Available reports whether the swtpm binary can be found.
func Available(binary string) bool {
	if binary == "" {
		binary = "swtpm"
	}
	_, err := exec.LookPath(binary)
	return err == nil
}

// Start launches swtpm on two free loopback ports with state in
// opts.StateDir and waits until its server port accepts connections.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if opts.StateDir == "" {
		return nil, errors.New("swtpm: Options.StateDir is required")
	}
	if opts.Binary == "" {
		opts.Binary = "swtpm"
	}
	if opts.Logger == nil {
		opts.Logger = safelog.Discard()
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if _, err := exec.LookPath(opts.Binary); err != nil {
		return nil, ErrNotFound
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("swtpm: creating state directory: %w", err)
	}
	p := &Process{opts: opts, log: opts.Logger}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (p *Process) start(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return fmt.Errorf("swtpm: finding free ports: %w", err)
		}
		if lastErr = p.startOn(ctx, ports[0], ports[1]); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

func (p *Process) startOn(ctx context.Context, port, ctrl int) error {
	cmd := exec.Command(p.opts.Binary, "socket", "--tpm2",
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(ctrl)+",bindaddr=127.0.0.1",
		"--tpmstate", "dir="+p.opts.StateDir,
		"--log", "file="+filepath.Join(p.opts.StateDir, "swtpm.log"),
		"--flags", "not-need-init,startup-clear")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("swtpm: starting: %w", err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.addr = cmd, done, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(p.opts.StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			p.log.Info("swtpm started", "addr", p.addr, "pid", cmd.Process.Pid)
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("swtpm: exited during start (%v); see %s", p.exitErr(), filepath.Join(p.opts.StateDir, "swtpm.log"))
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("swtpm: server port %s not ready after %v", p.addr, p.opts.StartTimeout)
		}
	}
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Addr is the server port (HOST:PORT) speaking raw TPM command frames.
func (p *Process) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// StateDir is the state directory.
func (p *Process) StateDir() string { return p.opts.StateDir }

// Stop sends SIGTERM and waits for the process to exit (SIGKILL after
// StopTimeout). The state directory can be reused once Stop returns.
func (p *Process) Stop() error { return p.signal(syscall.SIGTERM, p.opts.StopTimeout) }

// Kill sends SIGKILL and waits: a crash, or a power cut.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL, p.opts.StopTimeout) }

func (p *Process) signal(sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
	p.log.Info("swtpm stopped", "pid", cmd.Process.Pid, "signal", sig.String())
	return nil
}

// Restart stops the process and starts a new one on the same state (new
// ports: read Addr again).
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.start(ctx)
}
