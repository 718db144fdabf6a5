package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// More colours for the check-in screens, all on the dark background for
// contrast (white on #10141c is about 17:1; the blue, green and amber
// buttons carry dark or white text above 4.5:1).
var (
	colPanel     = color.NRGBA{0x1f, 0x26, 0x33, 0xff}
	colButton    = color.NRGBA{0x2c, 0x36, 0x48, 0xff}
	colPrimary   = color.NRGBA{0x1f, 0x6f, 0xeb, 0xff}
	colPass      = color.NRGBA{0x2e, 0xa0, 0x43, 0xff}
	colFail      = color.NRGBA{0xe0, 0x8a, 0x00, 0xff}
	colDanger    = color.NRGBA{0xd0, 0x36, 0x36, 0xff}
	colMuted     = color.NRGBA{0xa8, 0xb0, 0xbd, 0xff}
	colTrack     = color.NRGBA{0x3a, 0x44, 0x55, 0xff}
	colGuide     = color.NRGBA{0xff, 0xff, 0xff, 0xe6}
	colShade     = color.NRGBA{0x00, 0x00, 0x00, 0x80}
	colBlack     = color.NRGBA{0x00, 0x00, 0x00, 0xff}
	colSeparator = color.NRGBA{0x3a, 0x44, 0x55, 0xff}
)

// kioskTheme is a dark, high-contrast theme with large text and generous
// padding, so every button is a comfortable touch target (≥ 48 px tall).
// It is applied to the App's content only (container.ThemeOverride), so
// the rest of the process keeps whatever theme it has.
type kioskTheme struct{ base fyne.Theme }

func newKioskTheme() fyne.Theme { return kioskTheme{base: theme.DefaultTheme()} }

func (t kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNameBackground, theme.ColorNameOverlayBackground, theme.ColorNameMenuBackground:
		return colBackground
	case theme.ColorNameForeground, theme.ColorNameForegroundOnPrimary, theme.ColorNameForegroundOnError,
		theme.ColorNameForegroundOnSuccess:
		return colText
	case theme.ColorNameForegroundOnWarning:
		return colBackground
	case theme.ColorNameButton, theme.ColorNameInputBackground:
		return colButton
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameSelection, theme.ColorNameHyperlink:
		return colPrimary
	case theme.ColorNameSuccess:
		return colPass
	case theme.ColorNameWarning:
		return colFail
	case theme.ColorNameError:
		return colDanger
	case theme.ColorNameDisabled, theme.ColorNamePlaceHolder:
		return colMuted
	case theme.ColorNameDisabledButton:
		return colPanel
	case theme.ColorNameInputBorder, theme.ColorNameSeparator:
		return colSeparator
	case theme.ColorNameHover:
		return color.NRGBA{0xff, 0xff, 0xff, 0x18}
	case theme.ColorNamePressed:
		return color.NRGBA{0xff, 0xff, 0xff, 0x30}
	case theme.ColorNameScrollBar:
		return color.NRGBA{0xff, 0xff, 0xff, 0x60}
	case theme.ColorNameShadow:
		return color.NRGBA{0, 0, 0, 0x66}
	}
	return t.base.Color(n, theme.VariantDark)
}

func (t kioskTheme) Font(s fyne.TextStyle) fyne.Resource     { return t.base.Font(s) }
func (t kioskTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

// Text sizes: body 22 px, headings 34 px; with 14 px inner padding a
// one-line button is about 58 px tall.
func (t kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return 22
	case theme.SizeNameHeadingText:
		return 34
	case theme.SizeNameSubHeadingText:
		return 28
	case theme.SizeNameCaptionText:
		return 17
	case theme.SizeNameInnerPadding:
		return 14
	case theme.SizeNamePadding:
		return 6
	case theme.SizeNameInlineIcon:
		return 28
	case theme.SizeNameScrollBar:
		return 12
	case theme.SizeNameScrollBarSmall:
		return 6
	case theme.SizeNameInputRadius, theme.SizeNameSelectionRadius:
		return 8
	}
	return t.base.Size(n)
}
