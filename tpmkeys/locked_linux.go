//go:build linux

package tpmkeys

import "golang.org/x/sys/unix"

// lockedAlloc returns size bytes of anonymous memory outside the Go heap,
// locked into RAM (never swapped) and excluded from core dumps. locked is
// false when mlock failed (RLIMIT_MEMLOCK); the memory still works. release
// zeroes and unmaps it.
func lockedAlloc(size int) (buf []byte, locked bool, release func(), err error) {
	buf, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, false, nil, err
	}
	_ = unix.Madvise(buf, unix.MADV_DONTDUMP)
	locked = unix.Mlock(buf) == nil
	release = func() {
		clear(buf)
		if locked {
			_ = unix.Munlock(buf)
		}
		_ = unix.Munmap(buf)
	}
	return buf, locked, release, nil
}
