//go:build matprofile

package capture

import "gocv.io/x/gocv"

// openMats counts gocv Mats not yet closed; only tracked with -tags matprofile.
func openMats() int { return gocv.MatProfile.Count() }
