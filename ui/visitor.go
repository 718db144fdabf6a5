package ui

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kiosk/checkin"
)

// visitorScreens holds the widgets of the check-in screens.
type visitorScreens struct {
	// idle
	idleTap *tapArea
	staff   *widget.Button

	// reference
	refTitle   *widget.Label
	refMsg     *widget.Label
	refChoices *fyne.Container
	refFiles   *fyne.Container // the file list's buttons
	refPick    fyne.CanvasObject
	refButtons []*widget.Button
	refBusy    bool

	// live
	video      *canvas.Image
	guide      *guide
	flash      *canvas.Rectangle // fills the live screen during the screen-light challenge
	ring       *ring
	liveMsg    *widget.Label
	liveRing   fyne.CanvasObject
	liveCancel *widget.Button

	// result
	resPass, resFail fyne.CanvasObject
	resMsg           *widget.Label

	// locked out
	lockMsg   *widget.Label
	lockCount *canvas.Text
}

func (a *App) buildIdle() fyne.CanvasObject {
	v := &a.v
	v.idleTap = newTapArea(a.tapIdle)
	title := newText(checkin.PromptTap, 54, true, colText)
	sub := newText("Touch anywhere on the screen", 24, false, colMuted)
	pill := canvas.NewRectangle(colPrimary)
	pill.CornerRadius = 24
	face := newRing(150)
	face.done.FillColor = colPrimary
	face.Set(1)
	badge := container.NewCenter(container.NewStack(pill, container.NewPadded(container.NewPadded(title))))
	centre := container.NewCenter(container.NewVBox(container.NewCenter(face.obj), gap(1, 24), badge, gap(1, 12), sub))

	v.staff = widget.NewButton("Staff", a.tapStaff)
	corner := container.NewBorder(nil, container.NewHBox(spacer(), sized(v.staff, 96, 56)), nil, nil)
	if a.o.Console == nil {
		v.staff.Hide()
	}
	return container.NewStack(v.idleTap, centre, container.NewPadded(corner))
}

// tapIdle starts a check-in.
func (a *App) tapIdle() {
	f := a.o.Flow
	if f == nil || a.operator {
		return
	}
	if err := f.Begin(); err != nil && !errors.Is(err, checkin.ErrLockedOut) && !errors.Is(err, checkin.ErrBusy) {
		a.log.Warn("starting a check-in failed", "err", err.Error())
	}
	a.show(f.Snapshot()) // the lock-out screen when Begin refused with ErrLockedOut
}

func (a *App) buildReference() fyne.CanvasObject {
	v := &a.v
	v.refTitle = newWrapped(checkin.PromptReference, theme.SizeNameHeadingText, true)
	v.refMsg = newWrapped("", theme.SizeNameText, true)
	v.refMsg.Importance = widget.WarningImportance
	v.refMsg.Hide()

	big := func(label string, imp widget.Importance, tap func()) fyne.CanvasObject {
		b := widget.NewButton(label, tap)
		b.Importance = imp
		v.refButtons = append(v.refButtons, b)
		return sized(b, 460, 64)
	}
	v.refChoices = container.NewVBox()
	if a.o.PhotoReference != nil {
		v.refChoices.Add(big("Import ID photo", widget.HighImportance, a.tapImport))
	}
	if a.o.Flow != nil {
		v.refChoices.Add(big("Hold up ID card", widget.HighImportance, a.tapCard))
	}
	if a.o.EnrolledReference != nil {
		v.refChoices.Add(big("I'm enrolled", widget.HighImportance, a.tapEnrolled))
	}
	if a.o.DemoPhoto != nil && a.o.PhotoReference != nil {
		v.refChoices.Add(big("Use the demo ID photo", widget.MediumImportance, func() { a.usePhoto(a.o.DemoPhoto) }))
	}
	v.refChoices.Add(big("Cancel", widget.MediumImportance, a.tapCancel))

	v.refFiles = container.NewVBox()
	again := widget.NewButton("Look again", a.tapImport)
	back := widget.NewButton("Back", a.showChoices)
	v.refButtons = append(v.refButtons, again, back)
	v.refPick = container.NewBorder(nil, container.NewGridWithColumns(2, sized(again, 200, 64), sized(back, 200, 64)), nil, nil,
		container.NewVScroll(v.refFiles))
	v.refPick.Hide()

	body := container.NewStack(container.NewCenter(v.refChoices), container.NewPadded(v.refPick))
	return container.NewBorder(container.NewVBox(container.NewPadded(v.refTitle), v.refMsg), nil, nil, nil, body)
}

// showChoices resets the reference screen to its buttons.
func (a *App) showChoices() {
	v := &a.v
	v.refPick.Hide()
	v.refChoices.Show()
	setLabel(v.refTitle, checkin.PromptReference)
	a.refMessage("")
}

// refMessage shows a sentence under the title (empty hides it).
func (a *App) refMessage(s string) {
	setLabel(a.v.refMsg, s)
	if s == "" {
		a.v.refMsg.Hide()
	} else {
		a.v.refMsg.Show()
	}
	a.relayout()
}

// setRefBusy disables the reference buttons while a photo is read.
func (a *App) setRefBusy(busy bool) {
	a.v.refBusy = busy
	for _, b := range a.v.refButtons {
		if busy {
			b.Disable()
		} else {
			b.Enable()
		}
	}
}

// importable lists the photos in dirs, sorted by name, without duplicates.
// A dir with glob characters ("/media/*/*") stands for every folder it
// matches now, so USB sticks mounted after start are found.
func importable(patterns []string) []string {
	var out, dirs []string
	for _, p := range patterns {
		if strings.ContainsAny(p, "*?[") {
			m, _ := filepath.Glob(p)
			dirs = append(dirs, m...)
		} else {
			dirs = append(dirs, p)
		}
	}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".jpg", ".jpeg", ".png", ".webp":
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	slices.SortFunc(out, func(x, y string) int { return strings.Compare(filepath.Base(x), filepath.Base(y)) })
	return slices.Compact(out)
}

// readPhoto reads an imported photo into memory, refusing files over the
// reference size limit before reading them.
func readPhoto(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > checkin.MaxPhotoBytes {
		return nil, checkin.ErrBadPhoto
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// tapImport lists the importable photos as big buttons.
func (a *App) tapImport() {
	v := &a.v
	v.refFiles.RemoveAll()
	files := importable(a.o.ImportDirs)
	for _, path := range files {
		b := widget.NewButton(filepath.Base(path), func() {
			data, err := readPhoto(path)
			if err != nil {
				a.log.Warn("reading the imported photo failed", "err", err.Error())
				a.refMessage(msgBadPhoto)
				return
			}
			a.usePhoto(data)
		})
		b.Alignment = widget.ButtonAlignLeading
		b.Icon = theme.FileImageIcon()
		v.refButtons = append(v.refButtons, b)
		v.refFiles.Add(sized(b, 400, 60))
	}
	v.refChoices.Hide()
	v.refPick.Show()
	setLabel(v.refTitle, "Choose your ID photo")
	if len(files) == 0 {
		a.refMessage(msgNoneFound)
	} else {
		a.refMessage("")
	}
	a.themed.Refresh()
}

// usePhoto builds the reference from photo bytes off the UI goroutine.
func (a *App) usePhoto(data []byte) {
	if a.o.PhotoReference == nil || a.o.Flow == nil || a.v.refBusy {
		return
	}
	a.setRefBusy(true)
	a.refMessage("Reading your photo…")
	a.async(func() {
		ref, err := a.o.PhotoReference(data)
		if ref != nil {
			_, err = a.o.Flow.UseReference(ref)
		}
		snap := a.o.Flow.Snapshot()
		fyne.Do(func() {
			a.setRefBusy(false)
			if err != nil {
				a.log.Info("reference photo refused", "err", err.Error())
				a.refMessage(photoMessage(err))
			}
			a.show(snap)
		})
	})
}

func (a *App) tapCard() {
	if err := a.o.Flow.ExpectCard(); err != nil {
		a.log.Warn("ID card intake refused", "err", err.Error())
	}
	a.show(a.o.Flow.Snapshot())
}

func (a *App) tapEnrolled() {
	if a.v.refBusy {
		return
	}
	ref, err := a.o.EnrolledReference()
	if err == nil {
		_, err = a.o.Flow.UseReference(ref)
	}
	if err != nil {
		a.log.Info("enrolled check-in refused", "err", err.Error())
		a.refMessage(photoMessage(err))
	}
	a.show(a.o.Flow.Snapshot())
}

func (a *App) tapCancel() {
	if a.o.Flow != nil {
		a.o.Flow.Cancel()
		a.show(a.o.Flow.Snapshot())
	}
}

func (a *App) buildLive() fyne.CanvasObject {
	v := &a.v
	v.video = canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 4, 3)))
	v.video.FillMode = canvas.ImageFillContain
	v.video.ScaleMode = canvas.ImageScaleFastest
	v.guide = newGuide()
	v.ring = newRing(72)
	v.liveRing = v.ring.obj
	v.liveMsg = newWrapped("", theme.SizeNameSubHeadingText, true)
	v.liveCancel = widget.NewButton("Cancel", a.tapCancel)
	bar := container.NewBorder(nil, nil, container.NewCenter(container.NewPadded(v.liveRing)), container.NewCenter(sized(v.liveCancel, 130, 60)),
		container.NewVBox(spacer(), v.liveMsg, spacer()))
	panel := container.NewStack(canvas.NewRectangle(colPanel), sized(container.NewPadded(bar), 1, 112))
	v.flash = canvas.NewRectangle(colBlack)
	v.flash.Hide()
	return container.NewBorder(nil, panel, nil, nil, container.NewStack(canvas.NewRectangle(colBlack), v.video, v.guide.raster, v.flash))
}

func (a *App) buildDeciding() fyne.CanvasObject {
	r := newRing(160)
	r.Set(1)
	msg := newText("Checking…", 40, true, colText)
	sub := newText("This takes a moment", 24, false, colMuted)
	return container.NewCenter(container.NewVBox(container.NewCenter(r.obj), gap(1, 16), msg, sub))
}

func (a *App) buildResult() fyne.CanvasObject {
	v := &a.v
	v.resPass, v.resFail = newTick(180), newBang(180)
	v.resMsg = newWrapped("", theme.SizeNameHeadingText, true)
	marks := container.NewCenter(container.NewStack(v.resPass, v.resFail))
	return container.NewCenter(container.NewVBox(marks, gap(1, 16), wrapped(v.resMsg, 660)))
}

func (a *App) buildLocked() fyne.CanvasObject {
	v := &a.v
	v.lockMsg = newWrapped("", theme.SizeNameSubHeadingText, true)
	v.lockCount = newText("", 26, false, colMuted)
	return container.NewCenter(container.NewVBox(container.NewCenter(newPadlock(120, colFail)), gap(1, 16), wrapped(v.lockMsg, 660), gap(1, 8), v.lockCount))
}

// show draws the visitor screen for snapshot s. It is pure in s and the
// clock: the same snapshot always draws the same screen. Older snapshots
// (from a frame overtaken by a tap) are ignored. While operator mode owns
// the screen it only remembers s.
func (a *App) show(s checkin.Snapshot) {
	if a.haveSnap && s.Version < a.snap.Version {
		return
	}
	a.snap, a.haveSnap = s, true
	if a.operator {
		return
	}
	v := &a.v
	switch s.Stage {
	case checkin.StageIdle:
		a.setScreen(screenIdle)
	case checkin.StageReference:
		if cardMode(s) {
			a.showLive(s, guideCard, colGuide)
			return
		}
		if a.screen != screenReference {
			a.showChoices()
			a.setRefBusy(false)
		}
		a.setScreen(screenReference)
	case checkin.StageCapturing:
		a.showLive(s, guideOval, colGuide)
	case checkin.StageLiveness:
		a.showLive(s, guideOval, colPass)
	case checkin.StageDeciding:
		a.setScreen(screenDeciding)
	case checkin.StageResult:
		if s.Outcome == checkin.OutcomePass {
			v.resPass.Show()
			v.resFail.Hide()
		} else {
			v.resPass.Hide()
			v.resFail.Show()
		}
		changed := setLabel(v.resMsg, resultMessage(s))
		a.setScreen(screenResult)
		if changed {
			a.relayout()
		}
	case checkin.StageLockedOut:
		changed := setLabel(v.lockMsg, resultMessage(s))
		a.updateLockCount()
		a.setScreen(screenLocked)
		if changed {
			a.relayout()
		}
	}
}

// showLive draws the camera screen with a guide, the prompt and progress.
func (a *App) showLive(s checkin.Snapshot, shape guideShape, col color.NRGBA) {
	v := &a.v
	v.guide.Set(shape, col)
	// The screen-light challenge: the whole picture area becomes the
	// colour, the brightest light the screen can cast on the face.
	if s.Flashing {
		if v.flash.FillColor != s.Flash || !v.flash.Visible() {
			v.flash.FillColor = s.Flash
			v.flash.Show()
			v.flash.Refresh()
		}
	} else if v.flash.Visible() {
		v.flash.Hide()
	}
	msg := visitorPrompt(s)
	size := theme.SizeNameSubHeadingText
	if len(msg) > 48 {
		size = theme.SizeNameText // three lines at most in the bar
	}
	if v.liveMsg.SizeName != size {
		v.liveMsg.SizeName = size
		v.liveMsg.Refresh()
	}
	changed := setLabel(v.liveMsg, msg)
	if s.Stage == checkin.StageLiveness {
		v.ring.Set(s.Progress)
		v.liveRing.Show()
	} else {
		v.ring.Set(0)
		v.liveRing.Hide()
	}
	a.setScreen(screenLive)
	if changed {
		a.relayout()
	}
}

// updateLockCount refreshes the visitor lock-out countdown.
func (a *App) updateLockCount() {
	if a.snap.Stage != checkin.StageLockedOut || a.snap.Until.IsZero() {
		setText(a.v.lockCount, "")
		return
	}
	setText(a.v.lockCount, "Check-in resumes in "+formatCountdown(a.snap.Until.Sub(a.o.Now())))
}
