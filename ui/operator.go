package ui

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/models"
	"kiosk/store"
)

// pinIdle returns an untouched PIN pad to the visitor's idle screen.
const pinIdle = 60 * time.Second

// recordsShown is how many of the newest records the Records tab lists.
const recordsShown = 50

// pinScreen is the operator sign-in keypad.
type pinScreen struct {
	entry     pinEntry
	dots      *canvas.Text
	msg       *widget.Label
	keys      []*widget.Button
	lockUntil time.Time // the TPM lockout's end, as far as we know
	lastTouch time.Time
	busy      bool
}

// Console tab names.
const (
	tabReferrals   = "Referrals"
	tabRecords     = "Records"
	tabEnrol       = "Enrol"
	tabSettings    = "Settings"
	tabEvidence    = "Evidence"
	tabDiagnostics = "Diagnostics"
)

// consoleScreens holds operator mode's widgets.
type consoleScreens struct {
	tabOrder []string
	tabs     map[string]*widget.Button
	panes    map[string]fyne.CanvasObject
	tab      string
	lock     *widget.Button

	// records
	recList     *fyne.Container
	recStatus   *widget.Label
	decrypt     *widget.Button
	lockPhotos  *widget.Button
	rows        []checkin.RecordRow
	confirm     int64 // the record whose erase awaits confirmation; 0 = none
	photosUntil time.Time

	// enrol: adding a person (name, keyboard, photo) or the people list
	segAdd, segPeople *widget.Button
	addBody           fyne.CanvasObject // name row and what is below it
	photoBody         fyne.CanvasObject // the photo list and Enrol
	peopleBody        fyne.CanvasObject
	name              *nameEntry
	kbButton          *widget.Button
	kb                *nameKeyboard
	enrolFiles        *fyne.Container
	enrolPick         string
	enrolMsg          *widget.Label

	// people
	peopleList    *fyne.Container
	peopleStatus  *widget.Label
	people        []checkin.PersonRow
	showNames     *widget.Button
	confirmPerson store.ID // the person whose removal awaits confirmation; 0 = none

	// settings
	settings checkin.Settings
	setVals  [7]*widget.Label
	setMsg   *widget.Label

	// evidence
	evSummary, evKey, evReport, evPEM *widget.Label

	// diagnostics
	diagList *fyne.Container
}

func (a *App) buildPIN() fyne.CanvasObject {
	p := &a.p
	title := newText("Staff sign-in", 34, true, colText)
	p.dots = newText("", 34, true, colText)
	p.msg = newWrapped("", theme.SizeNameText, true)
	p.msg.Importance = widget.WarningImportance
	grid := container.NewGridWithColumns(3)
	for _, k := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", keyDelete, "0", keyOK} {
		label := k
		switch k {
		case keyDelete:
			label = "Delete"
		case keyOK:
			label = "OK"
		}
		b := widget.NewButton(label, func() { a.pressKey(k) })
		if k == keyOK {
			b.Importance = widget.HighImportance
		}
		p.keys = append(p.keys, b)
		grid.Add(sized(b, 112, 62))
	}
	back := widget.NewButton("Back", a.leaveOperator)
	top := container.NewBorder(nil, nil, sized(back, 110, 56), gap(110, 1), title)
	a.showPINText()
	return container.NewBorder(container.NewPadded(top), nil, nil, nil,
		container.NewCenter(container.NewVBox(p.dots, wrapped(p.msg, 560), container.NewCenter(grid))))
}

// showPINText updates the dots and the message line.
func (a *App) showPINText() {
	p := &a.p
	setText(p.dots, p.entry.Dots())
	if p.entry.Dots() == "" || len(p.entry.digits) == 0 {
		p.dots.Color, p.dots.TextSize = colMuted, 28
	} else {
		p.dots.Color, p.dots.TextSize = colText, 34
	}
	p.dots.Refresh()
}

// tapStaff opens operator mode: the console if still unlocked, else the PIN pad.
func (a *App) tapStaff() {
	if a.o.Console == nil {
		return
	}
	a.operator = true
	if a.o.Console.Unlocked() {
		a.o.Console.Touch()
		a.openConsole()
		return
	}
	a.openPIN("")
}

// openPIN shows the keypad with an optional message.
func (a *App) openPIN(msg string) {
	a.operator = true
	a.p.entry.Clear()
	a.p.lastTouch = a.o.Now()
	if msg == "" && a.p.lockUntil.After(a.o.Now()) {
		msg = lockoutLine(a.p.lockUntil, a.o.Now())
	}
	setLabel(a.p.msg, msg)
	a.showPINText()
	a.setScreen(screenPIN)
	a.relayout()
}

// pressKey handles one keypad key.
func (a *App) pressKey(k string) {
	p := &a.p
	if p.busy {
		return
	}
	p.lastTouch = a.o.Now()
	if !p.entry.Press(k) {
		a.showPINText()
		return
	}
	pin := p.entry.Take()
	a.showPINText()
	p.busy = true
	setLabel(p.msg, "Checking…")
	a.async(func() {
		ctx, cancel := a.ctx()
		defer cancel()
		err := a.o.Console.Unlock(ctx, pin)
		fyne.Do(func() {
			p.busy = false
			if err != nil {
				msg, until := pinMessage(err, a.o.Now())
				p.lockUntil = until
				if !errors.Is(err, checkin.ErrWrongPIN) {
					a.log.Warn("operator sign-in refused", "err", err.Error())
				}
				setLabel(p.msg, msg)
				a.relayout()
				return
			}
			p.lockUntil = time.Time{}
			setLabel(p.msg, "")
			a.openConsole()
		})
	})
}

// leaveOperator locks operator mode and returns to the visitor screens.
func (a *App) leaveOperator() {
	if a.o.Console != nil {
		a.o.Console.Lock()
	}
	a.p.entry.Clear()
	a.c.rows = nil
	a.c.recList.RemoveAll()
	a.c.name.SetText("")
	a.showKeyboard(false)
	a.c.people, a.c.confirmPerson = nil, 0
	a.c.peopleList.RemoveAll()
	a.operator = false
	a.screen = "" // force a redraw
	snap := a.snap
	if a.o.Flow != nil {
		snap = a.o.Flow.Snapshot()
	}
	if !a.haveSnap {
		a.setScreen(screenIdle)
	}
	a.show(snap)
	if a.screen == "" {
		a.setScreen(screenIdle)
	}
}

// op wraps an operator action: it counts as activity, and a console
// that locked itself meanwhile goes back to the PIN pad instead.
func (a *App) op(f func()) func() {
	return func() {
		c := a.o.Console
		c.Touch()
		if !c.Unlocked() {
			a.openPIN("Locked after inactivity. Enter the PIN again.")
			return
		}
		f()
	}
}

func (a *App) buildConsole() fyne.CanvasObject {
	c := &a.c
	c.tabs, c.panes = map[string]*widget.Button{}, map[string]fyne.CanvasObject{}
	add := func(name string, pane fyne.CanvasObject) {
		c.tabOrder = append(c.tabOrder, name)
		c.tabs[name] = widget.NewButton(name, a.op(func() { a.openTab(name) }))
		pane.Hide()
		c.panes[name] = pane
	}
	add(tabReferrals, a.buildReferrals())
	add(tabRecords, a.buildRecords())
	add(tabEnrol, a.buildEnrol())
	if a.o.Settings != nil {
		add(tabSettings, a.buildSettings())
	}
	if a.o.Evidence != nil {
		add(tabEvidence, a.buildEvidence())
	}
	if a.o.Diagnostics != nil {
		add(tabDiagnostics, a.buildDiagnostics())
	}
	bar := container.NewHBox()
	panes := container.NewStack()
	for _, n := range c.tabOrder {
		bar.Add(sized(c.tabs[n], 1, 56))
		panes.Add(c.panes[n])
	}
	c.lock = widget.NewButton("Lock", a.leaveOperator)
	c.lock.Importance = widget.DangerImportance
	c.lock.Icon = theme.LogoutIcon()
	top := container.NewBorder(nil, nil, nil, sized(c.lock, 100, 56), container.NewHScroll(bar))
	return container.NewBorder(container.NewVBox(container.NewPadded(top), widget.NewSeparator()), nil, nil, nil, container.NewPadded(panes))
}

// openConsole shows operator mode: the referrals when a visitor waits for
// staff, else the records.
func (a *App) openConsole() {
	a.operator = true
	a.setScreen(screenConsole)
	if rs, err := a.o.Console.Referrals(); err == nil && len(rs) > 0 {
		a.openTab(tabReferrals)
		return
	}
	a.openTab(tabRecords)
}

// openTab switches tabs and loads the tab's data.
func (a *App) openTab(name string) {
	c := &a.c
	c.tab = name
	for n, b := range c.tabs {
		if n == name {
			b.Importance = widget.HighImportance
			c.panes[n].Show()
		} else {
			b.Importance = widget.MediumImportance
			c.panes[n].Hide()
		}
		b.Refresh()
	}
	switch name {
	case tabReferrals:
		a.loadReferrals()
	case tabRecords:
		c.confirm = 0
		a.loadRecords()
	case tabEnrol:
		a.showEnrolView(false)
	case tabSettings:
		a.loadSettings()
	case tabEvidence:
		a.loadEvidence()
	case tabDiagnostics:
		a.loadDiagnostics()
	}
}

// consoleErr handles an operator call's error: a locked console goes back
// to the PIN pad; anything else is logged and shown as msg.
func (a *App) consoleErr(err error, what string, show func(string)) {
	if errors.Is(err, checkin.ErrConsoleLocked) {
		a.openPIN("Locked after inactivity. Enter the PIN again.")
		return
	}
	a.log.Warn(what+" failed", "err", err.Error())
	show(fmt.Sprintf("Could not %s. Please try again; the log has details.", what))
}

// --- Records ---

func (a *App) buildRecords() fyne.CanvasObject {
	c := &a.c
	c.recStatus = widget.NewLabel("")
	c.recStatus.Truncation = fyne.TextTruncateEllipsis
	c.decrypt = widget.NewButton("Decrypt photos", a.op(a.decryptPhotos))
	c.decrypt.Importance = widget.HighImportance
	c.decrypt.Icon = theme.VisibilityIcon()
	c.lockPhotos = widget.NewButton("Lock photos", a.op(func() {
		a.o.Console.LockPhotos()
		a.loadRecords()
	}))
	c.lockPhotos.Icon = theme.VisibilityOffIcon()
	c.lockPhotos.Hide()
	c.recList = container.NewVBox()
	head := container.NewBorder(nil, nil, nil, container.NewHBox(sized(c.decrypt, 1, 56), sized(c.lockPhotos, 1, 56)), c.recStatus)
	return container.NewBorder(head, nil, nil, nil, container.NewVScroll(c.recList))
}

// loadRecords lists the newest records, with photos only while decrypted.
func (a *App) loadRecords() {
	c := &a.c
	ctx, cancel := a.ctx()
	defer cancel()
	rows, err := a.o.Console.Records(ctx, recordsShown)
	if err != nil {
		a.consoleErr(err, "list the records", func(s string) { setLabel(c.recStatus, s) })
		return
	}
	c.rows = rows
	c.photosUntil = a.o.Console.PhotosUntil()
	a.drawRecords()
}

// photosShown reports whether any listed row has its photo decrypted.
func (c *consoleScreens) photosShown() bool {
	return slices.ContainsFunc(c.rows, func(r checkin.RecordRow) bool { return r.Opened || r.Photo != nil })
}

// drawRecords rebuilds the list from c.rows.
func (a *App) drawRecords() {
	c := &a.c
	c.recList.RemoveAll()
	loc := a.o.Now().Location()
	for _, r := range c.rows {
		c.recList.Add(a.recordRow(r, loc))
		c.recList.Add(widget.NewSeparator())
	}
	if len(c.rows) == 0 {
		c.decrypt.Disable()
	} else {
		c.decrypt.Enable()
	}
	a.updateRecordStatus()
	a.themed.Refresh()
	c.recList.Refresh() // again, now the rows' sizes are themed (else buttons clip their text)
}

// updateRecordStatus shows the lock state and the photo countdown.
func (a *App) updateRecordStatus() {
	c := &a.c
	left := c.photosUntil.Sub(a.o.Now())
	switch {
	case len(c.rows) == 0:
		setLabel(c.recStatus, "No records stored.")
	case c.photosShown() && left > 0:
		setLabel(c.recStatus, "Photos lock in "+formatCountdown(left))
	default:
		setLabel(c.recStatus, fmt.Sprintf("%s · photos locked", count(len(c.rows), "record", "records")))
	}
	if c.photosShown() {
		c.decrypt.Hide()
		c.lockPhotos.Show()
	} else {
		c.decrypt.Show()
		c.lockPhotos.Hide()
	}
}

// recordRow draws one record: the photo or a padlock, times, and Erase.
func (a *App) recordRow(r checkin.RecordRow, loc *time.Location) fyne.CanvasObject {
	var pic fyne.CanvasObject
	if r.Photo != nil {
		img := canvas.NewImageFromImage(r.Photo)
		img.FillMode = canvas.ImageFillContain
		img.ScaleMode = canvas.ImageScaleSmooth
		pic = img
	} else if r.Opened {
		none := widget.NewLabel("No\nphoto")
		none.Alignment = fyne.TextAlignCenter
		none.SizeName = theme.SizeNameCaptionText
		pic = container.NewCenter(none) // decrypted: the record holds no face crop
	} else {
		pic = container.NewPadded(newPadlock(40, colMuted))
	}
	slot := sized(container.NewStack(canvas.NewRectangle(colPanel), pic), 84, 84)

	when := r.CreatedAt.In(loc).Format("2 Jan 15:04:05")
	status := "sealed"
	if r.Opened {
		status = map[checkin.Outcome]string{checkin.OutcomePass: "passed", checkin.OutcomeFail: "failed", checkin.OutcomeRefer: "referred to staff"}[r.Outcome]
	}
	line1 := widget.NewLabel(fmt.Sprintf("%s  ·  %s", when, status))
	line1.TextStyle.Bold = true
	line2 := widget.NewLabel(fmt.Sprintf("Record %d · erased automatically %s", r.ID, r.ExpiresAt.In(loc).Format("2 Jan 15:04")))
	if d := r.Document; d != nil {
		// Decrypted: who the document says it is.
		line2.SetText(fmt.Sprintf("%s · %s %s · %s · expires %s", d.DisplayName(), d.Format, d.Fields.DocumentNumber, d.Fields.Nationality, d.Fields.ExpiryDate))
	}
	line2.SizeName = theme.SizeNameCaptionText
	line2.Truncation = fyne.TextTruncateEllipsis
	line1.Truncation = fyne.TextTruncateEllipsis
	text := container.NewVBox(line1, line2)

	id := int64(r.ID)
	var actions fyne.CanvasObject
	if a.c.confirm == id {
		yes := widget.NewButton("Erase now", a.op(func() { a.eraseRecord(r) }))
		yes.Importance = widget.DangerImportance
		no := widget.NewButton("Keep", a.op(func() { a.c.confirm = 0; a.drawRecords() }))
		actions = container.NewHBox(sized(yes, 1, 56), sized(no, 1, 56))
		line2.SetText("Erase this record for good? It cannot be undone.")
		line2.Importance = widget.WarningImportance
	} else {
		erase := widget.NewButton("Erase", a.op(func() { a.c.confirm = id; a.drawRecords() }))
		erase.Icon = theme.DeleteIcon()
		actions = sized(erase, 1, 56)
	}
	return container.NewBorder(nil, nil, slot, container.NewCenter(actions), container.NewVBox(spacer(), text, spacer()))
}

// decryptPhotos opens the listed records' photos for the console's time.
func (a *App) decryptPhotos() {
	c := &a.c
	ids := sliceOf(checkin.RecordRow{}.ID)
	for _, r := range c.rows {
		ids = append(ids, r.ID)
	}
	ctx, cancel := a.ctx()
	defer cancel()
	if err := a.o.Console.DecryptPhotos(ctx, ids); err != nil {
		a.consoleErr(err, "open every record", func(s string) {})
	}
	if a.screen == screenConsole {
		a.loadRecords()
	}
}

// sliceOf returns a nil slice of v's type (the store's record ID here,
// without importing the store).
func sliceOf[T any](T) []T { return nil }

// eraseRecord deletes one record after the confirmation.
func (a *App) eraseRecord(r checkin.RecordRow) {
	a.c.confirm = 0
	ctx, cancel := a.ctx()
	defer cancel()
	if err := a.o.Console.Erase(ctx, r.ID); err != nil {
		a.consoleErr(err, "erase the record", func(s string) { setLabel(a.c.recStatus, s) })
		return
	}
	a.loadRecords()
}

// --- Enrol ---

func (a *App) buildEnrol() fyne.CanvasObject {
	c := &a.c
	c.segAdd = widget.NewButton("Add a person", a.op(func() { a.showEnrolView(false) }))
	c.segAdd.Icon = theme.ContentAddIcon()
	c.segPeople = widget.NewButton("Enrolled people", a.op(func() { a.showEnrolView(true) }))
	c.segPeople.Icon = theme.AccountIcon()
	seg := container.NewHBox(sized(c.segAdd, 1, 56), sized(c.segPeople, 1, 56))

	c.name = newNameEntry()
	c.name.SetPlaceHolder("Full name")
	c.name.OnChanged = func(s string) {
		a.o.Console.Touch()
		if capped := capName(s); capped != s {
			c.name.setName(capped)
			return
		}
		c.kb.Sync(s)
	}
	c.name.onFocus = func() {
		a.o.Console.Touch()
		a.showKeyboard(true)
	}
	c.name.OnSubmitted = func(string) { a.showKeyboard(false) } // Enter on a physical keyboard
	c.kb = newNameKeyboard(func(key string) { a.op(func() { a.pressNameKey(key) })() })
	c.kbButton = widget.NewButton("Keyboard", a.op(func() { a.showKeyboard(!c.kb.obj.Visible()) }))
	c.kb.obj.Hide()

	c.enrolFiles = container.NewVBox()
	c.enrolMsg = newWrapped("", theme.SizeNameText, true)
	c.enrolMsg.Alignment = fyne.TextAlignLeading
	enrol := widget.NewButton("Enrol", a.op(a.enrol))
	enrol.Importance = widget.HighImportance
	look := widget.NewButton("Look again", a.op(a.loadEnrolFiles))
	nameRow := container.NewBorder(nil, nil, widget.NewLabel("Name"), sized(c.kbButton, 1, 56), sized(c.name, 1, 56))
	foot := container.NewVBox(c.enrolMsg, container.NewHBox(sized(enrol, 160, 56), sized(look, 1, 56)))
	c.photoBody = container.NewBorder(widget.NewLabel("Photo"), foot, nil, nil, container.NewVScroll(c.enrolFiles))
	c.addBody = container.NewBorder(nameRow, nil, nil, nil, container.NewStack(c.photoBody, container.NewVBox(gap(1, 4), c.kb.obj)))

	c.peopleBody = a.buildPeople()
	c.peopleBody.Hide()
	return container.NewBorder(container.NewVBox(seg, widget.NewSeparator()), nil, nil, nil, container.NewStack(c.addBody, c.peopleBody))
}

// showEnrolView switches the Enrol tab between adding a person and the
// list of enrolled people.
func (a *App) showEnrolView(people bool) {
	c := &a.c
	a.showKeyboard(false)
	c.confirmPerson = 0
	if people {
		c.segAdd.Importance, c.segPeople.Importance = widget.MediumImportance, widget.HighImportance
		c.addBody.Hide()
		c.peopleBody.Show()
		a.loadPeople()
	} else {
		c.segAdd.Importance, c.segPeople.Importance = widget.HighImportance, widget.MediumImportance
		c.peopleBody.Hide()
		c.addBody.Show()
		a.loadEnrolFiles()
	}
	c.segAdd.Refresh()
	c.segPeople.Refresh()
	a.relayout()
}

// showKeyboard shows the on-screen keyboard in place of the photo list,
// or hides it and takes the focus from the name field.
func (a *App) showKeyboard(show bool) {
	c := &a.c
	if show == c.kb.obj.Visible() {
		return
	}
	if show {
		c.kb.Sync(c.name.Text)
		c.kb.obj.Show()
		c.photoBody.Hide()
		c.kbButton.Importance = widget.HighImportance
	} else {
		c.kb.obj.Hide()
		c.photoBody.Show()
		c.kbButton.Importance = widget.MediumImportance
		if cv := fyne.CurrentApp().Driver().CanvasForObject(c.name); cv != nil && cv.Focused() == c.name {
			cv.Unfocus()
		}
	}
	c.kbButton.Refresh()
	a.relayout()
}

// pressNameKey applies one on-screen key to the name.
func (a *App) pressNameKey(key string) {
	c := &a.c
	text, done := c.kb.state.Press(c.name.Text, key)
	if text != c.name.Text {
		c.name.setName(text) // OnChanged syncs the key caps
	}
	c.kb.draw()
	if done {
		a.showKeyboard(false)
	}
}

// loadEnrolFiles lists the photos that can be enrolled.
func (a *App) loadEnrolFiles() {
	c := &a.c
	c.enrolFiles.RemoveAll()
	files := importable(a.o.ImportDirs)
	if !slices.Contains(files, c.enrolPick) {
		c.enrolPick = ""
	}
	for _, path := range files {
		b := widget.NewButton(filepath.Base(path), a.op(func() { a.c.enrolPick = path; a.loadEnrolFiles() }))
		b.Alignment = widget.ButtonAlignLeading
		b.Icon = theme.FileImageIcon()
		if path == c.enrolPick {
			b.Importance = widget.HighImportance
			b.Icon = theme.ConfirmIcon()
		}
		c.enrolFiles.Add(sized(b, 1, 56))
	}
	if len(files) == 0 {
		c.enrolFiles.Add(widget.NewLabel("No photos found. Insert a USB stick with the photo, then tap Look again."))
	}
	a.themed.Refresh()
}

// enrol adds the named person from the chosen photo.
func (a *App) enrol() {
	c := &a.c
	name := strings.TrimSpace(c.name.Text)
	switch {
	case name == "":
		setLabel(c.enrolMsg, "Enter the person's name.")
		return
	case c.enrolPick == "":
		setLabel(c.enrolMsg, "Choose a photo.")
		return
	}
	data, err := readPhoto(c.enrolPick)
	if err == nil {
		ctx, cancel := a.ctx()
		defer cancel()
		var id fmt.Stringer
		id, err = a.o.Console.Enroll(ctx, name, data)
		clear(data)
		if err == nil {
			c.name.SetText("")
			a.showKeyboard(false)
			c.enrolPick = ""
			a.loadEnrolFiles()
			setLabel(c.enrolMsg, fmt.Sprintf("Enrolled as person %s.", id))
			return
		}
	}
	var unfit *models.ReferenceError
	switch {
	case errors.Is(err, checkin.ErrConsoleLocked):
		a.openPIN("Locked after inactivity. Enter the PIN again.")
	case errors.Is(err, checkin.ErrBadPhoto):
		setLabel(c.enrolMsg, "That file is not a usable JPEG, PNG or WebP photo.")
	case errors.As(err, &unfit) && unfit.Check.Problem() > models.ReferenceSeveralFaces:
		// The reference gate's reason, in the catalogue's words.
		setLabel(c.enrolMsg, a.cat.Text(checkin.English, unfitMessage(unfit.Check.Problem()), nil))
	case errors.Is(err, models.ErrNoFace):
		setLabel(c.enrolMsg, "No face found in that photo.")
	case errors.Is(err, models.ErrManyFaces):
		setLabel(c.enrolMsg, "That photo shows more than one face.")
	default:
		a.consoleErr(err, "enrol", func(s string) { setLabel(c.enrolMsg, s) })
	}
}

// --- People ---

func (a *App) buildPeople() fyne.CanvasObject {
	c := &a.c
	c.peopleStatus = newWrapped("", theme.SizeNameText, false)
	c.peopleStatus.Alignment = fyne.TextAlignLeading
	c.peopleList = container.NewVBox()
	c.showNames = widget.NewButton("Show names", a.op(a.toggleNames))
	c.showNames.Icon = theme.VisibilityIcon()
	top := container.NewBorder(nil, nil, nil, sized(c.showNames, 1, 56), c.peopleStatus)
	return container.NewBorder(top, nil, nil, nil, container.NewVScroll(c.peopleList))
}

// namesShown reports whether any listed name is revealed.
func (c *consoleScreens) namesShown() bool {
	return slices.ContainsFunc(c.people, func(p checkin.PersonRow) bool { return p.Name != "" })
}

// toggleNames reveals the listed people's names for the console's time
// (each an audit event), or hides them now.
func (a *App) toggleNames() {
	c := &a.c
	ctx, cancel := a.ctx()
	defer cancel()
	if c.namesShown() {
		a.o.Console.LockPhotos()
		a.loadPeople()
		return
	}
	ids := make([]store.ID, len(c.people))
	for i, p := range c.people {
		ids[i] = p.ID
	}
	err := a.o.Console.RevealNames(ctx, ids)
	a.loadPeople()
	if err != nil {
		a.consoleErr(err, "show the names", func(s string) { setLabel(c.peopleStatus, s) })
	}
}

// loadPeople lists who is enrolled: ids and dates, never names.
func (a *App) loadPeople() {
	c := &a.c
	ctx, cancel := a.ctx()
	defer cancel()
	people, err := a.o.Console.People(ctx)
	if err != nil {
		c.people = nil
		c.peopleList.RemoveAll()
		a.consoleErr(err, "list the enrolled people", func(s string) { setLabel(c.peopleStatus, s) })
		return
	}
	c.people = people
	c.photosUntil = a.o.Console.PhotosUntil()
	a.drawPeople()
}

// drawPeople rebuilds the list from c.people.
func (a *App) drawPeople() {
	c := &a.c
	c.peopleList.RemoveAll()
	loc := a.o.Now().Location()
	for _, p := range c.people {
		c.peopleList.Add(a.personRow(p, loc))
		c.peopleList.Add(widget.NewSeparator())
	}
	a.updatePeopleStatus()
	a.themed.Refresh()     // new rows take the kiosk theme
	c.peopleList.Refresh() // again, now the rows' sizes are themed (else buttons clip their text)
}

// updatePeopleStatus shows the count and, while names are shown, when
// they hide again.
func (a *App) updatePeopleStatus() {
	c := &a.c
	if left := c.photosUntil.Sub(a.o.Now()); c.namesShown() && left > 0 {
		setLabel(c.peopleStatus, "Names hide in "+formatCountdown(left))
	} else {
		setLabel(c.peopleStatus, peopleSummary(len(c.people)))
	}
	if c.namesShown() {
		c.showNames.SetText("Hide names")
		c.showNames.SetIcon(theme.VisibilityOffIcon())
	} else {
		c.showNames.SetText("Show names")
		c.showNames.SetIcon(theme.VisibilityIcon())
	}
	if len(c.people) == 0 {
		c.showNames.Hide()
	} else {
		c.showNames.Show()
	}
}

// peopleSummary is the line above the people list.
func peopleSummary(n int) string {
	switch n {
	case 0:
		return "Nobody is enrolled. Add a person to use enrolled check-in."
	case 1:
		return "1 person enrolled. Names stay sealed until shown."
	}
	return fmt.Sprintf("%d people enrolled. Names stay sealed until shown.", n)
}

// personRow draws one enrolled person: id, enrolment time, and Remove.
func (a *App) personRow(p checkin.PersonRow, loc *time.Location) fyne.CanvasObject {
	title := fmt.Sprintf("Person %d", p.ID)
	if p.Name != "" {
		title = p.Name
	}
	line1 := widget.NewLabel(title)
	line1.TextStyle.Bold = true
	line1.Truncation = fyne.TextTruncateEllipsis
	line2 := widget.NewLabel("Enrolled " + p.CreatedAt.In(loc).Format("2 Jan 2006 15:04"))
	line2.SizeName = theme.SizeNameCaptionText
	line2.Truncation = fyne.TextTruncateEllipsis
	var actions fyne.CanvasObject
	if a.c.confirmPerson == p.ID {
		yes := widget.NewButton("Remove now", a.op(func() { a.removePerson(p.ID) }))
		yes.Importance = widget.DangerImportance
		no := widget.NewButton("Keep", a.op(func() { a.c.confirmPerson = 0; a.drawPeople() }))
		actions = container.NewHBox(sized(yes, 1, 56), sized(no, 1, 56))
		line2.SetText("Remove for good? They will no longer be recognised.")
		line2.Importance = widget.WarningImportance
	} else {
		remove := widget.NewButton("Remove", a.op(func() { a.c.confirmPerson = p.ID; a.drawPeople() }))
		remove.Icon = theme.DeleteIcon()
		actions = sized(remove, 1, 56)
	}
	icon := sized(container.NewCenter(widget.NewIcon(theme.AccountIcon())), 56, 56)
	return container.NewBorder(nil, nil, icon, container.NewCenter(actions), container.NewVBox(line1, line2))
}

// removePerson unenrols one person after the confirmation.
func (a *App) removePerson(id store.ID) {
	c := &a.c
	c.confirmPerson = 0
	ctx, cancel := a.ctx()
	defer cancel()
	err := a.o.Console.Unenroll(ctx, id)
	if err == nil {
		a.loadPeople()
		return
	}
	show := func(s string) {
		setLabel(c.peopleStatus, s)
		a.relayout()
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.loadPeople()
		show("That person was already removed.")
	default: // a locked console goes back to the PIN pad
		a.drawPeople()
		a.consoleErr(err, "remove the person", show)
	}
}

// --- Settings ---

// Choices the settings steppers move through.
var (
	retentionSteps = []time.Duration{0, time.Hour, 8 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
		30 * 24 * time.Hour, 90 * 24 * time.Hour, 366 * 24 * time.Hour}
	purgeSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 6 * time.Hour, 24 * time.Hour}
)

// stepDuration moves d to the next (dir > 0) or previous choice in steps,
// so a value set elsewhere snaps to the nearest choice in that direction.
func stepDuration(d time.Duration, steps []time.Duration, dir int) time.Duration {
	if dir > 0 {
		for _, s := range steps {
			if s > d {
				return s
			}
		}
		return steps[len(steps)-1]
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i] < d {
			return steps[i]
		}
	}
	return steps[0]
}

// stepThreshold moves the match threshold by 0.01 within 0.20–0.90.
func stepThreshold(t float32, dir int, bounds [2]float32) float32 {
	v := float32(int(t*100+0.5)+dir) / 100
	return min(max(v, bounds[0]), bounds[1])
}

// retentionText names a retention in words.
func retentionText(d time.Duration) string {
	if d <= 0 {
		return "Store nothing"
	}
	return formatSpan(d)
}

func (a *App) buildSettings() fyne.CanvasObject {
	c := &a.c
	rows := container.NewVBox()
	stepper := func(i int, label string, change func(dir int)) {
		c.setVals[i] = widget.NewLabel("")
		c.setVals[i].Alignment = fyne.TextAlignCenter
		c.setVals[i].TextStyle.Bold = true
		minus := widget.NewButton("−", a.op(func() { change(-1); a.drawSettings() }))
		plus := widget.NewButton("+", a.op(func() { change(1); a.drawSettings() }))
		ctl := container.NewHBox(sized(minus, 64, 56), sized(c.setVals[i], 190, 56), sized(plus, 64, 56))
		rows.Add(container.NewBorder(nil, nil, widget.NewLabel(label), ctl))
	}
	stepper(0, "Keep records for", func(dir int) {
		c.settings.Retention = stepDuration(c.settings.Retention, retentionSteps, dir)
	})
	stepper(1, "Purge expired records every", func(dir int) {
		c.settings.PurgeInterval = stepDuration(c.settings.PurgeInterval, purgeSteps, dir)
	})
	cal := a.o.Console.Calibration()
	stepper(2, "Face match: checked in from score", func(dir int) {
		c.settings.Match.Pass = stepThreshold(c.settings.Match.Pass, dir, cal.PassRange)
	})
	stepper(3, "Face match: refused below score", func(dir int) {
		c.settings.Match.Fail = stepThreshold(c.settings.Match.Fail, dir, cal.FailRange)
	})
	stepper(4, "Visitors start in", func(dir int) {
		c.settings.Language = stepLanguage(c.settings.Language, dir)
	})
	stepper(5, "Document's machine-readable zone", func(int) {
		c.settings.Documents.RequireMRZ = !c.settings.Documents.RequireMRZ
	})
	stepper(6, "Expired documents", func(int) {
		c.settings.Documents.AllowExpired = !c.settings.Documents.AllowExpired
	})
	c.setMsg = newWrapped("", theme.SizeNameText, true)
	c.setMsg.Alignment = fyne.TextAlignLeading
	save := widget.NewButton("Save", a.op(a.saveSettings))
	save.Importance = widget.HighImportance
	note := widget.NewLabel("Changes apply at the next start. Scores between the two face-match edges go to staff to decide; raising either edge sends more visitors to staff. The model's bounds keep look-alikes from being checked in (docs/matching.md).")
	note.Wrapping = fyne.TextWrapWord
	note.SizeName = theme.SizeNameCaptionText
	return container.NewVScroll(container.NewVBox(rows, note, container.NewHBox(sized(save, 160, 56)), c.setMsg))
}

// loadSettings reads the stored settings into the steppers.
func (a *App) loadSettings() {
	ctx, cancel := a.ctx()
	defer cancel()
	s, err := a.o.Settings(ctx)
	if err != nil {
		a.log.Warn("loading settings failed", "err", err.Error())
		setLabel(a.c.setMsg, "Could not read the saved settings; showing the running ones.")
	} else {
		setLabel(a.c.setMsg, "")
	}
	a.c.settings = s
	a.drawSettings()
}

func (a *App) drawSettings() {
	s := a.c.settings
	setLabel(a.c.setVals[0], retentionText(s.Retention))
	setLabel(a.c.setVals[1], formatSpan(s.PurgeInterval))
	setLabel(a.c.setVals[2], fmt.Sprintf("%.2f", s.Match.Pass))
	setLabel(a.c.setVals[3], fmt.Sprintf("%.2f", s.Match.Fail))
	setLabel(a.c.setVals[4], catalogue.LanguageName[cmp.Or(s.Language, checkin.Languages[0])])
	setLabel(a.c.setVals[5], map[bool]string{true: "Required", false: "Read if present"}[s.Documents.RequireMRZ])
	setLabel(a.c.setVals[6], map[bool]string{true: "Accepted", false: "Refused"}[s.Documents.AllowExpired])
}

// stepLanguage moves to the next (dir > 0) or previous visitor language,
// wrapping around.
func stepLanguage(l checkin.Lang, dir int) checkin.Lang {
	i := max(slices.Index(checkin.Languages, l), 0)
	n := len(checkin.Languages)
	return checkin.Languages[((i+dir)%n+n)%n]
}

func (a *App) saveSettings() {
	ctx, cancel := a.ctx()
	defer cancel()
	err := a.o.Console.SaveSettings(ctx, a.c.settings)
	switch {
	case err == nil:
		setLabel(a.c.setMsg, "Saved. The new settings apply at the next start.")
	case errors.Is(err, checkin.ErrConsoleLocked):
		a.openPIN("Locked after inactivity. Enter the PIN again.")
	default:
		// Validate's messages are written for operators.
		a.log.Warn("saving settings failed", "err", err.Error())
		msg := "Could not save the settings."
		if err := a.c.settings.Validate(a.o.Console.Calibration()); err != nil {
			msg = "Not saved: " + err.Error() + "."
		}
		setLabel(a.c.setMsg, msg)
	}
}

// --- Evidence ---

func (a *App) buildEvidence() fyne.CanvasObject {
	c := &a.c
	c.evSummary = newWrapped("", theme.SizeNameText, false)
	c.evSummary.Alignment = fyne.TextAlignLeading
	mono := func() *widget.Label {
		l := widget.NewLabel("")
		l.Wrapping = fyne.TextWrapBreak
		l.TextStyle.Monospace = true
		l.SizeName = theme.SizeNameCaptionText
		return l
	}
	c.evKey, c.evReport, c.evPEM = mono(), mono(), mono()
	head := func(s string) *widget.Label {
		l := widget.NewLabel(s)
		l.TextStyle.Bold = true
		return l
	}
	refresh := widget.NewButton("Refresh", a.op(a.loadEvidence))
	refresh.Icon = theme.ViewRefreshIcon()
	return container.NewBorder(container.NewBorder(nil, nil, nil, container.NewVBox(sized(refresh, 1, 56)), c.evSummary), nil, nil, nil,
		container.NewVScroll(container.NewVBox(head("Verification key"), c.evKey, c.evPEM, head("Latest signed report"), c.evReport)))
}

func (a *App) loadEvidence() {
	c := &a.c
	setLabel(c.evSummary, "Loading…")
	a.async(func() {
		ctx, cancel := a.ctx()
		defer cancel()
		ev, err := a.o.Evidence(ctx)
		fyne.Do(func() {
			if err != nil {
				a.log.Warn("loading evidence failed", "err", err.Error())
				ev = EvidenceView{Summary: "No signed report could be loaded. The log has details."}
			}
			setLabel(c.evSummary, ev.Summary)
			setLabel(c.evKey, "Key ID: "+ev.KeyID)
			setLabel(c.evPEM, strings.TrimSpace(ev.PublicKeyPEM))
			setLabel(c.evReport, strings.TrimSpace(ev.Report))
			a.relayout()
		})
	})
}

// --- Diagnostics ---

func (a *App) buildDiagnostics() fyne.CanvasObject {
	c := &a.c
	c.diagList = container.NewVBox()
	refresh := widget.NewButton("Refresh", a.op(a.loadDiagnostics))
	refresh.Icon = theme.ViewRefreshIcon()
	return container.NewBorder(container.NewHBox(spacer(), sized(refresh, 1, 56)), nil, nil, nil, container.NewVScroll(c.diagList))
}

func (a *App) loadDiagnostics() {
	a.async(func() {
		ctx, cancel := a.ctx()
		defer cancel()
		lines := a.o.Diagnostics(ctx)
		fyne.Do(func() {
			c := &a.c
			c.diagList.RemoveAll()
			for _, l := range lines {
				col := colPass
				if !l.OK {
					col = colDanger
				}
				dot := sized(container.NewCenter(sized(canvas.NewCircle(col), 18, 18)), 28, 1)
				name := widget.NewLabel(l.Label)
				name.TextStyle.Bold = true
				val := widget.NewLabel(l.Value)
				val.Wrapping = fyne.TextWrapBreak
				if !l.OK {
					val.Importance = widget.DangerImportance
				}
				c.diagList.Add(container.NewBorder(nil, nil, container.NewHBox(dot, sized(name, 200, 1)), nil, val))
			}
			a.themed.Refresh()
		})
	})
}

// tick applies the once-a-second changes to operator mode: the idle lock,
// the photo countdown, the PIN lockout countdown and the visitor lock-out.
func (a *App) tick(unlocked bool, photosUntil time.Time) {
	now := a.o.Now()
	a.updateLockCount()
	switch a.screen {
	case screenPIN:
		if now.Sub(a.p.lastTouch) >= pinIdle && !a.p.busy {
			a.leaveOperator()
			return
		}
		if !a.p.lockUntil.IsZero() {
			if now.Before(a.p.lockUntil) {
				setLabel(a.p.msg, lockoutLine(a.p.lockUntil, now))
			} else {
				a.p.lockUntil = time.Time{}
				setLabel(a.p.msg, "You can try again now.")
			}
		}
	case screenConsole:
		if !unlocked {
			a.leaveOperator()
			return
		}
		c := &a.c
		c.photosUntil = photosUntil
		if c.tab == tabReferrals {
			a.tickReferrals(photosUntil)
		}
		if c.tab == tabRecords {
			if c.photosShown() && photosUntil.IsZero() {
				a.loadRecords() // the photos locked again: padlocks back
				return
			}
			a.updateRecordStatus()
		}
		if c.tab == tabEnrol && c.peopleBody.Visible() {
			if c.namesShown() && photosUntil.IsZero() {
				a.loadPeople() // the names sealed again
				return
			}
			a.updatePeopleStatus()
		}
	}
}
