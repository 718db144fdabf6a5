package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"kiosk/tpmkeys"
	"kiosk/tpmkeys/swtpm"
)

// defaultTPMDevice is the kernel's resource-managed TPM device.
const defaultTPMDevice = "/dev/tpmrm0"

const tpmSpecHelp = "TPM to use: auto (" + defaultTPMDevice + " if present, else spawn swtpm, else the in-process simulator), " +
	"device[:PATH], swtpm:HOST:PORT (a running swtpm), swtpm-spawn (state in DATA_DIR/swtpm), sim (in-process simulator) (env KIOSK_TPM)"

// addTPMFlag registers --tpm on fs.
func addTPMFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("tpm", firstNonEmpty(e.getenv("KIOSK_TPM"), "auto"), tpmSpecHelp)
}

// openTPM opens the TPM named by spec (the --tpm value). Anything but
// real hardware is software and not secure; the kind says which. The
// caller closes the transport; for swtpm-spawn that also stops the swtpm
// process.
func openTPM(ctx context.Context, spec string, dataDir string, log *slog.Logger) (tpm transport.TPMCloser, kind tpmkeys.Kind, err error) {
	if spec == "" || spec == "auto" {
		switch {
		case isCharDevice(defaultTPMDevice):
			spec = "device"
		case swtpm.Available(""):
			spec = "swtpm-spawn"
		default:
			spec = "sim"
		}
		log.Info("TPM auto-selected", "tpm", spec)
	}
	switch {
	case spec == "device" || strings.HasPrefix(spec, "device:"):
		path := strings.TrimPrefix(strings.TrimPrefix(spec, "device"), ":")
		if path == "" {
			path = defaultTPMDevice
		}
		t, err := linuxtpm.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("opening the TPM device %s: %w (is the TPM enabled, and are you in the tss group?)", path, err)
		}
		return t, tpmkeys.KindHardware, nil

	case strings.HasPrefix(spec, "swtpm:"):
		addr := strings.TrimPrefix(spec, "swtpm:")
		t, err := tpmkeys.DialSWTPM(ctx, addr)
		if err != nil {
			return nil, 0, err
		}
		log.Warn("software TPM: not secure: swtpm keeps every TPM secret in its state files", "addr", addr)
		return t, tpmkeys.KindSWTPM, nil

	case spec == "swtpm-spawn":
		manufactureSWTPM(ctx, dataDir, log)
		p, err := swtpm.Start(ctx, swtpm.Options{StateDir: filepath.Join(dataDir, "swtpm"), Logger: log})
		if err != nil {
			return nil, 0, err
		}
		t, err := tpmkeys.DialSWTPM(ctx, p.Addr())
		if err != nil {
			p.Stop()
			return nil, 0, err
		}
		log.Warn("software TPM: not secure: swtpm state (every TPM secret) is in the data directory; a copy of it opens everything",
			"state_path", filepath.Join(dataDir, "swtpm"))
		return &spawnedTPM{TPMCloser: t, p: p}, tpmkeys.KindSWTPM, nil

	case spec == "sim":
		seed, err := simSeed(filepath.Join(dataDir, "tpm-sim-seed"))
		if err != nil {
			return nil, 0, err
		}
		s, err := simulator.GetWithFixedSeedInsecure(seed)
		if err != nil {
			return nil, 0, fmt.Errorf("starting the TPM simulator: %w", err)
		}
		log.Warn("software TPM: not secure: the in-process simulator derives its seeds from a file in the data directory " +
			"and keeps no NV across processes: the erase ratchet restarts on every start, so records written by an " +
			"earlier run cannot be opened, the PIN lockout counter resets, and anyone with the data directory holds the keys")
		return transport.FromReadWriteCloser(s), tpmkeys.KindSimulator, nil
	}
	return nil, 0, fmt.Errorf("unknown --tpm %q: want auto, device[:PATH], swtpm:HOST:PORT, swtpm-spawn or sim", spec)
}

// manufactureSWTPM gives a new software TPM endorsement-key certificates
// from a local CA in DATA_DIR/swtpm-ca, as a chip's maker does, so the
// demo can show TPM attestation end to end. A local CA proves nothing
// about hardware: the TPM stays "software TPM: not secure". A TPM made
// before (without certificates) is kept as it is: its keys seal the data.
func manufactureSWTPM(ctx context.Context, dataDir string, log *slog.Logger) {
	if !swtpm.SetupAvailable() {
		log.Info("swtpm_setup not installed: this software TPM gets no EK certificate, so it cannot attest")
		return
	}
	m, err := swtpm.Manufacture(ctx, swtpm.ManufactureOptions{StateDir: filepath.Join(dataDir, "swtpm"), CADir: filepath.Join(dataDir, "swtpm-ca")})
	switch {
	case errors.Is(err, swtpm.ErrStateExists):
		log.Info("this software TPM was made without an EK certificate: it cannot attest (a new data directory gets one)")
	case err != nil:
		log.Warn("software TPM: making its EK certificate failed; it cannot attest", "err", err.Error())
	default:
		log.Info("software TPM with EK certificates from a local CA (proves nothing about hardware)", "ek_roots", m.RootsDir)
	}
}

// spawnedTPM ends the TPM session orderly (TPM2_Shutdown, so the restart
// does not count as a dictionary-attack failure), closes the connection,
// then stops the swtpm it started.
type spawnedTPM struct {
	transport.TPMCloser
	p *swtpm.Process
}

func (s *spawnedTPM) Close() error {
	return errors.Join(tpmkeys.Shutdown(s.TPMCloser), s.TPMCloser.Close(), s.p.Stop())
}

func isCharDevice(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// simSeed reads the simulator seed file, creating it (0600) if missing.
func simSeed(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return 0, err
		}
		b = make([]byte, 8)
		rand.Read(b)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return 0, fmt.Errorf("writing the simulator seed: %w", err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("reading the simulator seed: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("simulator seed %s has %d bytes; want 8", path, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// openCustody opens the TPM and the key custody in DATA_DIR/tpm in one
// call. The returned function closes the custody (zeroing keys), then the
// TPM (stopping a spawned swtpm).
func openCustody(ctx context.Context, spec, dataDir string, log *slog.Logger) (*tpmkeys.Custody, func() error, error) {
	return openCustodyWith(ctx, spec, dataDir, log, tpmkeys.Options{})
}

// openCustodyWith is openCustody with options (PCRs, epoch length, DA);
// Kind, Logger and VolatileTPM are filled in from the TPM opened.
// The data directory is locked for as long as the custody is open.
func openCustodyWith(ctx context.Context, spec, dataDir string, log *slog.Logger, o tpmkeys.Options) (*tpmkeys.Custody, func() error, error) {
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, nil, err
	}
	t, kind, err := openTPM(ctx, spec, dataDir, log)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	o.Kind, o.Logger = kind, log
	o.VolatileTPM = kind == tpmkeys.KindSimulator
	c, err := tpmkeys.Open(t, filepath.Join(dataDir, "tpm"), o)
	if err != nil {
		t.Close()
		unlock()
		return nil, nil, fmt.Errorf("opening TPM key custody (%s): %w", kind, err)
	}
	return c, func() error { return errors.Join(c.Close(), t.Close(), unlock()) }, nil
}

// errDataDirBusy: another kiosk process holds the data directory.
var errDataDirBusy = errors.New("data directory in use")
