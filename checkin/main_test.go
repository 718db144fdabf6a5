package checkin

import (
	"testing"

	"kiosk/internal/mattest"
)

func TestMain(m *testing.M) { mattest.Main(m, closeMatcher) }

// closeMatcher frees the models testMatcher loaded.
func closeMatcher() {
	if mrzReader != nil {
		mrzReader.Close()
	}
	if matcher != nil {
		matcher.Det.Close()
		matcher.Emb.Close()
		matcher.PAD.Close()
	}
}
