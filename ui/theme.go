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

// look is how the screens are drawn for the visitor in front of them:
// larger text and a high-contrast palette are switched on from the idle
// screen and reset for the next visitor.
type look struct{ large, contrast bool }

// textScale is how much larger text is in large-text mode: the body goes
// from 22 to 29 px, headings from 34 to 44 px.
const textScale = 1.3

func (l look) scale() float32 {
	if l.large {
		return textScale
	}
	return 1
}

// palette is the colour set of a look. The default is dark with soft
// greys; high contrast is black and white with a yellow primary (white on
// black 21:1, black on yellow 19:1), and no grey text anywhere.
type palette struct {
	background, text, muted, button, primary, onPrimary, panel, disabledButton color.NRGBA
}

var (
	darkPalette = palette{background: colBackground, text: colText, muted: colMuted, button: colButton, primary: colPrimary,
		onPrimary: colText, panel: colPanel, disabledButton: colPanel}
	contrastPalette = palette{background: colBlack, text: color.NRGBA{0xff, 0xff, 0xff, 0xff}, muted: color.NRGBA{0xff, 0xff, 0xff, 0xff},
		button: color.NRGBA{0x33, 0x33, 0x33, 0xff}, primary: color.NRGBA{0xff, 0xd6, 0x0a, 0xff}, onPrimary: colBlack,
		panel: colBlack, disabledButton: color.NRGBA{0x1a, 0x1a, 0x1a, 0xff}}
)

func (l look) palette() palette {
	if l.contrast {
		return contrastPalette
	}
	return darkPalette
}

// kioskTheme is a dark theme with large text and generous padding, so
// every button is a comfortable touch target (≥ 48 px tall), in the
// visitor's look. It is applied to the App's content only
// (container.ThemeOverride), so the rest of the process keeps whatever
// theme it has.
type kioskTheme struct {
	base fyne.Theme
	look look
}

func newKioskTheme(l look) fyne.Theme { return kioskTheme{base: theme.DefaultTheme(), look: l} }

func (t kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	p := t.look.palette()
	switch n {
	case theme.ColorNameBackground, theme.ColorNameOverlayBackground, theme.ColorNameMenuBackground:
		return p.background
	case theme.ColorNameForeground, theme.ColorNameForegroundOnError, theme.ColorNameForegroundOnSuccess:
		return p.text
	case theme.ColorNameForegroundOnPrimary:
		return p.onPrimary
	case theme.ColorNameForegroundOnWarning:
		return colBackground
	case theme.ColorNameButton, theme.ColorNameInputBackground:
		return p.button
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameSelection, theme.ColorNameHyperlink:
		return p.primary
	case theme.ColorNameSuccess:
		return colPass
	case theme.ColorNameWarning:
		return colFail
	case theme.ColorNameError:
		return colDanger
	case theme.ColorNameDisabled, theme.ColorNamePlaceHolder:
		return p.muted
	case theme.ColorNameDisabledButton:
		return p.disabledButton
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

// Text sizes: body 22 px, headings 34 px (× textScale in large text);
// with 14 px inner padding a one-line button is about 58 px tall.
func (t kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	k := t.look.scale()
	switch n {
	case theme.SizeNameText:
		return 22 * k
	case theme.SizeNameHeadingText:
		return 34 * k
	case theme.SizeNameSubHeadingText:
		return 28 * k
	case theme.SizeNameCaptionText:
		return 17 * k
	case theme.SizeNameInnerPadding:
		return 14
	case theme.SizeNamePadding:
		return 6
	case theme.SizeNameInlineIcon:
		return 28 * k
	case theme.SizeNameScrollBar:
		return 12
	case theme.SizeNameScrollBarSmall:
		return 6
	case theme.SizeNameInputRadius, theme.SizeNameSelectionRadius:
		return 8
	}
	return t.base.Size(n)
}
