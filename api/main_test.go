package api

import (
	"testing"

	"kiosk/internal/mattest"
)

func TestMain(m *testing.M) { mattest.Main(m) }
