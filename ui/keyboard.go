package ui

import (
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// maxNameRunes caps a name typed on the kiosk, on screen or on a
// physical keyboard.
const maxNameRunes = 64

// Name keyboard keys besides the letters, which are "A" to "Z".
const (
	kbSpace      = " "
	kbHyphen     = "-"
	kbApostrophe = "'"
	kbShift      = "shift"
	kbBack       = "back"
	kbDone       = "done"
)

// shiftMode is the name keyboard's case.
type shiftMode int

const (
	shiftOff  shiftMode = iota // lower case
	shiftOnce                  // the next letter is a capital, then lower case
	shiftLock                  // capitals until Shift is pressed again
)

// nameKeys is the on-screen name keyboard's logic: what a key does to
// the text and to the case. It capitalises the start of each word (after
// a space or hyphen) as phones do; Shift cycles lower → one capital →
// caps lock → lower, so a lower-case word start ("van") is two presses.
// Characters are appended: the keyboard edits the end of the name.
type nameKeys struct{ shift shiftMode }

// Press applies key to text and returns the new text, and whether Done
// was pressed. Unknown keys change nothing.
func (k *nameKeys) Press(text, key string) (out string, done bool) {
	switch key {
	case kbDone:
		return text, true
	case kbShift:
		k.shift = (k.shift + 1) % 3
		return text, false
	case kbBack:
		if _, n := utf8.DecodeLastRuneInString(text); n > 0 {
			text = text[:len(text)-n]
		}
	case kbSpace:
		if text != "" && !strings.HasSuffix(text, " ") && utf8.RuneCountInString(text) < maxNameRunes {
			text += " "
		}
	case kbHyphen, kbApostrophe:
		if utf8.RuneCountInString(text) < maxNameRunes {
			text += key
		}
	default:
		if len(key) != 1 || key[0] < 'A' || key[0] > 'Z' {
			return text, false
		}
		if utf8.RuneCountInString(text) < maxNameRunes {
			if k.shift == shiftOff {
				key = strings.ToLower(key)
			}
			text += key
		}
	}
	k.Sync(text)
	return text, false
}

// Sync sets the automatic capital for text (typed on the keyboard or
// elsewhere): on at a word start, off inside a word. Caps lock stays.
func (k *nameKeys) Sync(text string) {
	if k.shift == shiftLock {
		return
	}
	k.shift = shiftOff
	if text == "" || strings.HasSuffix(text, " ") || strings.HasSuffix(text, "-") {
		k.shift = shiftOnce
	}
}

// Label is what letter key shows in the current case.
func (k *nameKeys) Label(letter string) string {
	if k.shift == shiftOff {
		return strings.ToLower(letter)
	}
	return letter
}

// capName cuts s to maxNameRunes runes.
func capName(s string) string {
	if utf8.RuneCountInString(s) <= maxNameRunes {
		return s
	}
	return string([]rune(s)[:maxNameRunes])
}

// kbRows are the keyboard's rows: QWERTY letters with the name
// punctuation where a US layout has punctuation, and the wide keys.
var kbRows = [][]string{
	{"Q", "W", "E", "R", "T", "Y", "U", "I", "O", "P"},
	{"A", "S", "D", "F", "G", "H", "J", "K", "L", kbApostrophe},
	{kbShift, "Z", "X", "C", "V", "B", "N", "M", kbHyphen, kbBack},
	{kbSpace, kbDone},
}

// kbWeights are key widths relative to a letter (1).
var kbWeights = map[string]float32{kbShift: 1.5, kbBack: 1.5, kbSpace: 7.5, kbDone: 3}

// Key geometry: every key is at least 48 px in both directions at 800 px.
const (
	kbKeyHeight = 76
	kbGap       = 6
)

// nameKeyboard is the on-screen keyboard for names: letters, space,
// hyphen, apostrophe, Delete, Shift and Done. It owns no text: press
// gets each key, and the App applies it to the name entry with nameKeys.
type nameKeyboard struct {
	obj   fyne.CanvasObject
	keys  map[string]*widget.Button
	state nameKeys
}

func newNameKeyboard(press func(key string)) *nameKeyboard {
	kb := &nameKeyboard{keys: map[string]*widget.Button{}}
	rows := container.NewVBox()
	for _, row := range kbRows {
		var objs []fyne.CanvasObject
		var weights []float32
		for _, key := range row {
			b := widget.NewButton(key, func() { press(key) })
			switch key {
			case kbSpace:
				b.SetText("Space")
			case kbBack:
				b.SetText("Delete")
			case kbDone:
				b.SetText("Done")
				b.Importance = widget.HighImportance
				b.Icon = theme.ConfirmIcon()
			}
			kb.keys[key] = b
			w := kbWeights[key]
			if w == 0 {
				w = 1
			}
			objs, weights = append(objs, b), append(weights, w)
		}
		rows.Add(container.New(keyRowLayout{weights}, objs...))
	}
	kb.obj = rows
	kb.Sync("")
	return kb
}

// Sync sets the automatic capital for text and redraws the key caps.
func (kb *nameKeyboard) Sync(text string) {
	kb.state.Sync(text)
	kb.draw()
}

// draw shows the letters in the current case and the Shift state.
func (kb *nameKeyboard) draw() {
	for _, row := range kbRows {
		for _, key := range row {
			if len(key) == 1 && key[0] >= 'A' && key[0] <= 'Z' {
				kb.keys[key].SetText(kb.state.Label(key))
			}
		}
	}
	shift := kb.keys[kbShift]
	shift.Text, shift.Importance = "Shift", widget.MediumImportance
	switch kb.state.shift {
	case shiftOnce:
		shift.Importance = widget.HighImportance
	case shiftLock:
		shift.Text, shift.Importance = "CAPS", widget.WarningImportance
	}
	shift.Refresh()
}

// keyRowLayout lays keys out in one row, each as wide as its weight,
// with kbGap between them, kbKeyHeight tall.
type keyRowLayout struct{ weights []float32 }

func (l keyRowLayout) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	var total float32
	for _, w := range l.weights {
		total += w
	}
	unit := (s.Width - kbGap*float32(len(objs)-1)) / total
	x := float32(0)
	for i, o := range objs {
		w := unit * l.weights[i]
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, s.Height))
		x += w + kbGap
	}
}

func (l keyRowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var total float32
	for _, w := range l.weights {
		total += w
	}
	return fyne.NewSize(total*48+kbGap*float32(len(objs)-1), kbKeyHeight)
}

// nameEntry is the name field: an Entry that reports when it gains
// focus, so a tap on it brings up the on-screen keyboard.
type nameEntry struct {
	widget.Entry
	onFocus func()
}

func newNameEntry() *nameEntry {
	e := &nameEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// FocusGained shows the keyboard as well as the cursor.
func (e *nameEntry) FocusGained() {
	e.Entry.FocusGained()
	if e.onFocus != nil {
		e.onFocus()
	}
}

// setName replaces the text and puts the cursor at its end.
func (e *nameEntry) setName(s string) {
	e.SetText(s)
	e.CursorRow, e.CursorColumn = 0, utf8.RuneCountInString(s)
	e.Refresh()
}
