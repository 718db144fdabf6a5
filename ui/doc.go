// Package ui holds the kiosk's Fyne screens for visitors and operators.
// Screens are plain structs that build their widgets once and expose pure
// update methods, so they render the same under the test driver (golden
// images in testdata) and on a real display; background goroutines reach
// widgets only through fyne.Do.
//
// Start with App (NewApp), bound to a checkin.Flow and a checkin.Console.
package ui

import "image/color"

// Colours chosen for contrast on a bright kiosk screen.
var (
	colBackground = color.NRGBA{0x10, 0x14, 0x1c, 0xff}
	colText       = color.NRGBA{0xf2, 0xf4, 0xf8, 0xff}
	colWarn       = color.NRGBA{0xff, 0xc8, 0x3d, 0xff}
	colWarnBg     = color.NRGBA{0x5c, 0x1a, 0x1a, 0xff}
)
