//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDataDir takes an exclusive lock on DATA_DIR/kiosk.lock, so two kiosk
// processes never drive one data directory (its software TPM state, key
// blobs and database) at once. The lock belongs to the open file: closing
// it, or the process dying, releases it, so a crash never leaves it stuck.
func lockDataDir(dir string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "kiosk.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the data directory's lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another kiosk process (kiosk run, serve, purge or keys); stop it first, or use another --data-dir", errDataDirBusy, dir)
		}
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	return f.Close, nil
}
