// Package mattest lets tests of the OpenCV-facing packages fail on leaked
// gocv Mats. gocv counts Mats only when built with -tags matprofile, which
// make test always sets. Start with Main.
package mattest

import (
	"fmt"
	"os"
	"testing"
)

// Main runs the package's tests and fails the run if any Mat created during
// them is still open at the end. Use it as the body of TestMain. Cleanups
// run after the tests and before the count: they close what tests share
// (models loaded once per test binary).
func Main(m *testing.M, cleanups ...func()) {
	before := Open()
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if leaked := Open() - before; code == 0 && leaked != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d gocv Mat(s) leaked (run with -tags matprofile and inspect gocv.MatProfile)\n", leaked)
		code = 1
	}
	os.Exit(code)
}
