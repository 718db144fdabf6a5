package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"kiosk/store"
)

func TestNameKeys(t *testing.T) {
	long := strings.Repeat("x", maxNameRunes)
	for _, tc := range []struct {
		name      string
		start     string
		startMode shiftMode
		keys      []string
		want      string
		wantMode  shiftMode
		done      bool
	}{
		{"capital at the start", "", shiftOnce, []string{"A", "D", "A"}, "Ada", shiftOff, false},
		{"capital after space", "", shiftOnce, []string{"A", kbSpace, "L"}, "A L", shiftOff, false},
		{"capital after hyphen", "Jean", shiftOff, []string{kbHyphen, "L"}, "Jean-L", shiftOff, false},
		{"no capital after apostrophe", "O", shiftOff, []string{kbApostrophe, "B"}, "O'b", shiftOff, false},
		{"shift for one capital", "Mc", shiftOff, []string{kbShift, "D", "O"}, "McDo", shiftOff, false},
		{"shift twice at a word start is lower case", "", shiftOnce, []string{kbShift, kbShift, "V", "A"}, "va", shiftOff, false},
		{"caps lock stays", "Ada ", shiftOnce, []string{kbShift, "L", "O", kbSpace, "X"}, "Ada LO X", shiftLock, false},
		{"caps lock off", "", shiftLock, []string{kbShift, "A"}, "a", shiftOff, false},
		{"backspace", "Ada", shiftOff, []string{kbBack}, "Ad", shiftOff, false},
		{"backspace to a word start", "Ada L", shiftOff, []string{kbBack}, "Ada ", shiftOnce, false},
		{"backspace a multi-byte rune", "Zoë", shiftOff, []string{kbBack}, "Zo", shiftOff, false},
		{"backspace on empty", "", shiftOnce, []string{kbBack, kbBack}, "", shiftOnce, false},
		{"no leading space", "", shiftOnce, []string{kbSpace}, "", shiftOnce, false},
		{"no double space", "Ada ", shiftOnce, []string{kbSpace}, "Ada ", shiftOnce, false},
		{"length cap", long, shiftOff, []string{"A", kbHyphen, kbApostrophe, kbSpace}, long, shiftOff, false},
		{"backspace under the cap", long, shiftOff, []string{kbBack, "A"}, long[:maxNameRunes-1] + "a", shiftOff, false},
		{"unknown keys ignored", "Ada", shiftOff, []string{"a", "1", "AB", "", "é"}, "Ada", shiftOff, false},
		{"done", "Ada", shiftOff, []string{kbDone}, "Ada", shiftOff, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := nameKeys{shift: tc.startMode}
			text, done := tc.start, false
			for _, key := range tc.keys {
				text, done = k.Press(text, key)
			}
			if text != tc.want || done != tc.done {
				t.Errorf("Press(%q, %q) = %q, %v; want %q, %v", tc.start, tc.keys, text, done, tc.want, tc.done)
			}
			if k.shift != tc.wantMode {
				t.Errorf("after %q, shift = %v; want %v", tc.keys, k.shift, tc.wantMode)
			}
		})
	}
}

func TestCapName(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"short", "Ada Lovelace", "Ada Lovelace"},
		{"exactly the cap", strings.Repeat("é", maxNameRunes), strings.Repeat("é", maxNameRunes)},
		{"over the cap in runes", strings.Repeat("é", maxNameRunes+3), strings.Repeat("é", maxNameRunes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := capName(tc.in); got != tc.want {
				t.Errorf("capName(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

// openEnrol signs in and opens the Enrol tab, with ada.jpg (a face) and
// grace.png (not a photo) to choose from.
func openEnrol(t *testing.T) (*rig, string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ada.jpg"), faceJPEG(t), 0o600)
	os.WriteFile(filepath.Join(dir, "grace.png"), []byte("x"), 0o600)
	r := newRig(t, func(o *AppOptions) { o.ImportDirs = []string{dir} })
	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	test.Tap(r.app.c.tabs[tabEnrol])
	return r, dir
}

// typeName taps the on-screen keys for s (letters, space, '-', '\”).
func (r *rig) typeName(t *testing.T, s string) {
	t.Helper()
	for _, ch := range s {
		key := strings.ToUpper(string(ch))
		k := r.app.c.kb.state
		upper := ch >= 'A' && ch <= 'Z'
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' {
			if (k.shift != shiftOff) != upper {
				test.Tap(r.app.c.kb.keys[kbShift])
				if k2 := r.app.c.kb.state; (k2.shift != shiftOff) != upper {
					test.Tap(r.app.c.kb.keys[kbShift])
				}
			}
		}
		b, ok := r.app.c.kb.keys[key]
		if !ok {
			t.Fatalf("no key for %q", ch)
		}
		test.Tap(b)
	}
}

func TestEnrolKeyboard(t *testing.T) {
	r, _ := openEnrol(t)
	if r.app.c.kb.obj.Visible() {
		t.Fatal("the keyboard is shown before the name field is touched")
	}
	r.win.Canvas().Focus(r.app.c.name)
	if !r.app.c.kb.obj.Visible() || r.app.c.photoBody.Visible() {
		t.Fatal("focusing the name field did not bring up the keyboard in place of the photos")
	}
	r.typeName(t, "Ada King-Lovelace")
	if got := r.app.c.name.Text; got != "Ada King-Lovelace" {
		t.Fatalf("typed name = %q; want %q", got, "Ada King-Lovelace")
	}
	test.Tap(r.app.c.kb.keys[kbBack])
	test.Tap(r.app.c.kb.keys[kbBack])
	if got := r.app.c.name.Text; got != "Ada King-Lovela" {
		t.Fatalf("after two Deletes, name = %q", got)
	}
	r.typeName(t, "ce")
	r.golden(t, "enrol_keyboard.png")

	// Every key counts as operator activity: typing for longer than the
	// idle lock keeps the console open.
	for range 4 {
		r.clk.Advance(time.Minute)
		test.Tap(r.app.c.kb.keys[kbShift])
	}
	if !r.con.Unlocked() {
		t.Fatal("the console locked while the operator was typing")
	}
	test.Tap(r.app.c.kb.keys[kbDone])
	if r.app.c.kb.obj.Visible() || !r.app.c.photoBody.Visible() {
		t.Fatal("Done did not hide the keyboard")
	}
	if f := r.win.Canvas().Focused(); f != nil {
		t.Errorf("after Done, focus is on %T; want none", f)
	}
	test.Tap(r.app.c.kbButton)
	if !r.app.c.kb.obj.Visible() {
		t.Fatal("the Keyboard button did not show the keyboard")
	}
	test.Tap(r.app.c.kbButton)
	if r.app.c.kb.obj.Visible() {
		t.Fatal("the Keyboard button did not hide the keyboard")
	}

	// A physical keyboard types into the same field, capped too.
	r.app.c.name.SetText(strings.Repeat("n", 70))
	if got := len([]rune(r.app.c.name.Text)); got != maxNameRunes {
		t.Errorf("name typed past the cap has %d runes; want %d", got, maxNameRunes)
	}

	// The keyboard times out with the console like every other tap.
	test.Tap(r.app.c.kbButton)
	r.clk.Advance(3 * time.Minute)
	test.Tap(r.app.c.kb.keys["A"])
	wantScreen(t, r.app, screenPIN)
}

// enrolTwo enrols two people through the real console and models (the
// generated frame's face crop), a day apart.
func (r *rig) enrolTwo(t *testing.T) []store.ID {
	t.Helper()
	photo := faceJPEG(t)
	var ids []store.ID
	for _, name := range []string{"Ada Lovelace", "Grace Hopper"} {
		id, err := r.con.Enroll(context.Background(), name, photo)
		if err != nil {
			t.Fatalf("Enroll(%q) = %v", name, err)
		}
		ids = append(ids, id)
		r.clk.Advance(26 * time.Hour) // the console locks meanwhile: sign in again
		if err := r.con.Unlock(context.Background(), "2468"); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// stablePeople redraws the listed people with fixed ids (the store draws
// them at random), so the render is repeatable; loadPeople brings the
// real ids back.
func (r *rig) stablePeople() {
	for i := range r.app.c.people {
		r.app.c.people[i].ID = store.ID(2001 + i)
	}
	r.app.drawPeople()
}

func TestPeople(t *testing.T) {
	r, _ := openEnrol(t)
	test.Tap(r.app.c.segPeople)
	if got, want := r.app.c.peopleStatus.Text, peopleSummary(0); got != want {
		t.Fatalf("empty people list says %q; want %q", got, want)
	}
	ids := r.enrolTwo(t)
	test.Tap(r.app.c.segPeople)
	if n := len(r.app.c.people); n != 2 {
		t.Fatalf("people listed = %d; want 2", n)
	}
	for _, name := range []string{"Ada", "Grace", "Lovelace", "Hopper"} {
		if s := labelsIn(r.app.c.peopleList); strings.Contains(s, name) {
			t.Fatalf("the people list shows a name (%q): %q", name, s)
		}
	}
	r.stablePeople()
	r.golden(t, "people.png")

	// Show names opens them for the console's photo time, one audit event
	// each, then they seal again.
	r.app.loadPeople()
	test.Tap(r.app.c.showNames)
	if s := labelsIn(r.app.c.peopleList); !strings.Contains(s, "Ada Lovelace") || !strings.Contains(s, "Grace Hopper") {
		t.Fatalf("after Show names the list shows %q; want both names", s)
	}
	events, _, err := r.st.AuditEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	views := 0
	for _, ev := range events {
		if ev.Action == "people.view" {
			views++
		}
	}
	if views != 2 {
		t.Errorf("%d people.view audit events; want 2", views)
	}
	r.stablePeople()
	r.golden(t, "people_names.png")
	r.clk.Advance(31 * time.Second)
	r.app.tick(r.con.Unlocked(), r.con.PhotosUntil())
	if s := labelsIn(r.app.c.peopleList); strings.Contains(s, "Ada") || strings.Contains(s, "Grace") {
		t.Fatalf("names still shown after the photo time: %q", s)
	}

	// Remove asks first; Keep does nothing.
	r.stablePeople()
	r.app.c.confirmPerson = r.app.c.people[0].ID
	r.app.drawPeople()
	r.golden(t, "people_remove_confirm.png")
	r.app.loadPeople()
	r.app.c.confirmPerson = ids[0]
	r.app.drawPeople()
	test.Tap(findButton(t, r.app.c.peopleList, "Keep"))
	if r.app.c.confirmPerson != 0 || len(r.app.c.people) != 2 {
		t.Fatalf("after Keep, confirm = %d and %d people; want 0 and 2", r.app.c.confirmPerson, len(r.app.c.people))
	}

	test.Tap(findButton(t, r.app.c.peopleList, "Remove"))
	if r.app.c.confirmPerson != ids[0] {
		t.Fatalf("Remove did not ask to confirm person %d (confirm = %d)", ids[0], r.app.c.confirmPerson)
	}
	test.Tap(findButton(t, r.app.c.peopleList, "Remove now"))
	if n := len(r.app.c.people); n != 1 || r.app.c.people[0].ID != ids[1] {
		t.Fatalf("after removing %d, listed %v; want only %d", ids[0], r.app.c.people, ids[1])
	}
	if _, err := r.st.Person(context.Background(), ids[0]); err == nil {
		t.Fatalf("person %d is still stored after Remove now", ids[0])
	}

	// Removing someone already gone says so and refreshes.
	r.app.removePerson(ids[0])
	if got, want := r.app.c.peopleStatus.Text, "That person was already removed."; got != want {
		t.Errorf("removing a removed person says %q; want %q", got, want)
	}

	// A console that locked meanwhile goes back to the PIN pad.
	r.con.Lock()
	r.app.removePerson(ids[1])
	wantScreen(t, r.app, screenPIN)
	if _, err := r.st.Person(context.Background(), ids[1]); err != nil {
		t.Errorf("person %d was removed while the console was locked: %v", ids[1], err)
	}
}

// TestEnrolThenList enrols through the Enrol tab and finds the new person
// in the list.
func TestEnrolThenList(t *testing.T) {
	r, dir := openEnrol(t)
	r.app.c.name.SetText("Ada Lovelace")
	r.app.c.enrolPick = filepath.Join(dir, "ada.jpg")
	r.app.enrol()
	if got := r.app.c.enrolMsg.Text; !strings.HasPrefix(got, "Enrolled as person ") {
		t.Fatalf("enrol message = %q; want Enrolled as person …", got)
	}
	test.Tap(r.app.c.segPeople)
	if n := len(r.app.c.people); n != 1 {
		t.Fatalf("people listed after enrolling = %d; want 1", n)
	}
	if !strings.HasSuffix(r.app.c.enrolMsg.Text, r.app.c.people[0].ID.String()+".") {
		t.Errorf("listed id %d is not the one reported (%q)", r.app.c.people[0].ID, r.app.c.enrolMsg.Text)
	}
}

// labelsIn joins the text of every label under o.
func labelsIn(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			b.WriteString(l.Text + "\n")
		}
	})
	return b.String()
}

// findButton finds the button labelled text under o.
func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	walk(o, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	if found == nil {
		t.Fatalf("no %q button", text)
	}
	return found
}

func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	f(o)
	if c, ok := o.(*fyne.Container); ok {
		for _, child := range c.Objects {
			walk(child, f)
		}
	}
}
