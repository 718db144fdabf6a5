//go:build matprofile

package mattest

import "gocv.io/x/gocv"

// Open is the number of gocv Mats created and not yet closed.
func Open() int { return gocv.MatProfile.Count() }

// Enabled reports whether Mats are being counted.
const Enabled = true
