//go:build !matprofile

package mattest

// Open is always 0 without -tags matprofile: gocv does not count Mats then.
func Open() int { return 0 }

// Enabled reports whether Mats are being counted.
const Enabled = false
