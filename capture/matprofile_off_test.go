//go:build !matprofile

package capture

func openMats() int { return 0 }
