//go:build !linux

package tpmkeys

// lockedAlloc falls back to ordinary memory where mlock is not wired up;
// locked is false so Status reports it. release zeroes the memory.
func lockedAlloc(size int) (buf []byte, locked bool, release func(), err error) {
	buf = make([]byte, size)
	return buf, false, func() { clear(buf) }, nil
}
