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
	qrcode "github.com/skip2/go-qrcode"

	"kiosk/catalogue"
	"kiosk/checkin"
)

// visitorScreens holds the widgets of the check-in screens.
type visitorScreens struct {
	// idle
	idleTap   *tapArea
	staff     *widget.Button
	langs     map[checkin.Lang]*widget.Button
	largeText *widget.Button
	contrast  *widget.Button

	// consent
	noticeTitle *widget.Label
	noticeBody  *widget.Label
	noticeQR    fyne.CanvasObject // nil when no NoticeURL is set
	noticeHint  *widget.Label
	agree       *widget.Button
	decline     *widget.Button

	// reference
	refTitle   *widget.Label
	refMsg     *widget.Label
	refMsgKey  catalogue.Key // the message shown, "" for none
	refChoices *fyne.Container
	refFiles   *fyne.Container // the file list's buttons
	refPick    fyne.CanvasObject
	refPicking bool
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
	resRefer         fyne.CanvasObject // see a member of staff
	resHead          *widget.Label     // the outcome in words
	resMsg           *widget.Label

	// locked out
	lockMsg   *widget.Label
	lockCount *canvas.Text
}

// button is a visitor button whose label follows the visitor's language.
func (a *App) button(k catalogue.Key, imp widget.Importance, tap func()) *widget.Button {
	b := widget.NewButton("", tap)
	b.Importance = imp
	a.onLanguage(func() { b.SetText(a.tr(k)) })
	return b
}

func (a *App) buildIdle() fyne.CanvasObject {
	v := &a.v
	v.idleTap = newTapArea(a.tapIdle)
	title := a.styled(54, true, false)
	a.onLanguage(func() { setText(title, a.prompt(checkin.PromptTap)); a.fitTitle(title) })
	sub := a.styled(24, false, true)
	a.onLanguage(func() { setText(sub, a.tr(catalogue.IdleTouch)) })
	pill := canvas.NewRectangle(colPrimary)
	pill.CornerRadius = 24
	a.onLook(func(p palette) {
		pill.FillColor = p.primary
		title.Color = p.onPrimary
		pill.Refresh()
		a.fitTitle(title)
	})
	face := newRing(150)
	face.done.FillColor = colPrimary
	face.Set(1)
	a.onLook(func(p palette) { face.done.FillColor = p.primary; face.done.Refresh() })
	badge := container.NewCenter(container.NewStack(pill, container.NewPadded(container.NewPadded(title))))
	centre := container.NewCenter(container.NewVBox(container.NewCenter(face.obj), gap(1, 24), badge, gap(1, 12), sub))

	// The visitor's choices, each at least a 56 px touch target, above
	// the tap area so tapping them does not start a check-in: the
	// language in its own name along the top; larger text and high
	// contrast at the bottom left, staff at the bottom right.
	v.langs = map[checkin.Lang]*widget.Button{}
	row := container.NewHBox()
	for _, l := range checkin.Languages {
		b := widget.NewButton(catalogue.LanguageName[l], func() { a.setLanguage(l) })
		v.langs[l] = b
		row.Add(sized(b, 130, 56))
	}
	v.largeText = a.button(catalogue.IdleLargeText, widget.MediumImportance, func() { a.setLook(look{large: !a.look.large, contrast: a.look.contrast}) })
	v.contrast = a.button(catalogue.IdleContrast, widget.MediumImportance, func() { a.setLook(look{large: a.look.large, contrast: !a.look.contrast}) })
	v.staff = a.button(catalogue.IdleStaff, widget.MediumImportance, a.tapStaff)
	if a.o.Console == nil {
		v.staff.Hide()
	}
	bottom := container.NewHBox(sized(v.largeText, 96, 56), sized(v.contrast, 96, 56), spacer(), sized(v.staff, 96, 56))
	a.onLanguage(a.markChoices)
	a.onLook(func(palette) { a.markChoices() })
	return container.NewStack(v.idleTap, centre, container.NewPadded(container.NewBorder(container.NewCenter(row), bottom, nil, nil)))
}

// titleWidth is the widest the idle title may be: it fits the smallest
// kiosk screen (800 px) with its badge's padding.
const titleWidth = 700

// fitTitle shrinks a title's text until it fits titleWidth, so a long
// language never runs off the screen; large text starts larger.
func (a *App) fitTitle(t *canvas.Text) {
	for _, s := range a.scalable {
		if s.t != t {
			continue
		}
		size := s.base * a.look.scale()
		for size > 24 && fyne.MeasureText(t.Text, size, t.TextStyle).Width > titleWidth {
			size -= 2
		}
		if t.TextSize != size {
			t.TextSize = size
			t.Refresh()
		}
	}
}

// markChoices highlights the language and the look in use.
func (a *App) markChoices() {
	v := &a.v
	for l, b := range v.langs {
		imp := widget.MediumImportance
		if l == a.lang {
			imp = widget.HighImportance
		}
		if b.Importance != imp {
			b.Importance = imp
			b.Refresh()
		}
	}
	for b, on := range map[*widget.Button]bool{v.largeText: a.look.large, v.contrast: a.look.contrast} {
		imp := widget.MediumImportance
		if on {
			imp = widget.HighImportance
		}
		if b.Importance != imp {
			b.Importance = imp
			b.Refresh()
		}
	}
}

// tapIdle starts a check-in: the notice comes first.
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

// buildConsent is the privacy notice: what is captured, why, for how long
// and whom to ask, in the visitor's language, with the kiosk's real
// retention; a QR code to the full notice and the signed retention report
// when the kiosk is reachable; agree or decline.
func (a *App) buildConsent() fyne.CanvasObject {
	v := &a.v
	v.noticeTitle = newWrapped("", theme.SizeNameHeadingText, true)
	v.noticeBody = widget.NewLabel("")
	v.noticeBody.Wrapping = fyne.TextWrapWord
	v.noticeHint = newWrapped("", theme.SizeNameCaptionText, false)
	a.onLanguage(func() {
		t := a.cat.Notice(a.lang, a.notice(), a.o.Retention)
		setLabel(v.noticeTitle, t.Title)
		setLabel(v.noticeBody, t.Body)
		hint := catalogue.ConsentNoQR
		if v.noticeQR != nil {
			hint = catalogue.ConsentQR
		}
		setLabel(v.noticeHint, a.tr(hint))
	})
	v.decline = a.button(catalogue.ConsentDecline, widget.MediumImportance, a.tapDecline)
	v.agree = a.button(catalogue.ConsentAgree, widget.HighImportance, a.tapAgree)
	buttons := container.NewGridWithColumns(2, sized(v.decline, 200, 64), sized(v.agree, 200, 64))

	side := container.NewVBox(wrapped(v.noticeHint, 220))
	if a.o.NoticeURL != "" {
		if png, err := qrcode.Encode(a.o.NoticeURL, qrcode.Medium, 220); err == nil {
			img := canvas.NewImageFromResource(fyne.NewStaticResource("notice-qr.png", png))
			img.FillMode = canvas.ImageFillContain
			img.SetMinSize(fyne.NewSize(220, 220))
			v.noticeQR = img
			side = container.NewVBox(img, wrapped(v.noticeHint, 220))
		} else {
			a.log.Warn("the notice QR code cannot be drawn; the notice says to ask staff instead", "err", err.Error())
		}
	}
	body := container.NewVScroll(container.NewPadded(v.noticeBody))
	return container.NewPadded(container.NewBorder(container.NewPadded(v.noticeTitle), container.NewPadded(buttons), nil,
		container.NewPadded(side), body))
}

func (a *App) tapAgree() {
	if a.o.Flow == nil {
		return
	}
	if err := a.o.Flow.Agree(a.lang); err != nil {
		a.log.Warn("agreeing to the notice failed", "err", err.Error())
	}
	a.show(a.o.Flow.Snapshot())
}

func (a *App) tapDecline() {
	if a.o.Flow == nil {
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	if err := a.o.Flow.Decline(ctx); err != nil {
		a.log.Warn("declining the notice failed", "err", err.Error())
	}
	a.show(a.o.Flow.Snapshot())
}

func (a *App) buildReference() fyne.CanvasObject {
	v := &a.v
	v.refTitle = newWrapped("", theme.SizeNameHeadingText, true)
	v.refMsg = newWrapped("", theme.SizeNameText, true)
	v.refMsg.Importance = widget.WarningImportance
	v.refMsg.Hide()
	a.onLanguage(func() {
		title := a.prompt(checkin.PromptReference)
		if v.refPicking {
			title = a.tr(catalogue.RefChoose)
		}
		setLabel(v.refTitle, title)
		if v.refMsgKey != "" {
			setLabel(v.refMsg, a.tr(v.refMsgKey))
		}
	})

	big := func(k catalogue.Key, imp widget.Importance, tap func()) fyne.CanvasObject {
		b := a.button(k, imp, tap)
		v.refButtons = append(v.refButtons, b)
		return sized(b, 460, 64)
	}
	v.refChoices = container.NewVBox()
	if a.o.PhotoReference != nil {
		v.refChoices.Add(big(catalogue.RefImport, widget.HighImportance, a.tapImport))
	}
	if a.o.Flow != nil {
		v.refChoices.Add(big(catalogue.RefCard, widget.HighImportance, a.tapCard))
	}
	if a.o.EnrolledReference != nil {
		v.refChoices.Add(big(catalogue.RefEnrolled, widget.HighImportance, a.tapEnrolled))
	}
	if a.o.DemoPhoto != nil && a.o.PhotoReference != nil {
		v.refChoices.Add(big(catalogue.RefDemo, widget.MediumImportance, func() { a.usePhoto(a.o.DemoPhoto) }))
	}
	v.refChoices.Add(big(catalogue.Cancel, widget.MediumImportance, a.tapCancel))

	v.refFiles = container.NewVBox()
	again := a.button(catalogue.RefAgain, widget.MediumImportance, a.tapImport)
	back := a.button(catalogue.RefBack, widget.MediumImportance, a.showChoices)
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
	v.refPicking = false
	setLabel(v.refTitle, a.prompt(checkin.PromptReference))
	a.refMessage("")
}

// refMessage shows a message under the title ("" hides it).
func (a *App) refMessage(k catalogue.Key) {
	a.v.refMsgKey = k
	if k == "" {
		setLabel(a.v.refMsg, "")
		a.v.refMsg.Hide()
	} else {
		setLabel(a.v.refMsg, a.tr(k))
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
				a.refMessage(catalogue.RefBadPhoto)
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
	v.refPicking = true
	setLabel(v.refTitle, a.tr(catalogue.RefChoose))
	if len(files) == 0 {
		a.refMessage(catalogue.RefNoneFound)
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
	a.refMessage(catalogue.RefReading)
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
	a.onLanguage(func() {
		if a.screen == screenLive {
			setLabel(v.liveMsg, visitorPrompt(a.cat, a.lang, a.snap))
		}
	})
	v.liveCancel = a.button(catalogue.Cancel, widget.MediumImportance, a.tapCancel)
	bar := container.NewBorder(nil, nil, container.NewCenter(container.NewPadded(v.liveRing)), container.NewCenter(sized(v.liveCancel, 130, 60)),
		container.NewVBox(spacer(), v.liveMsg, spacer()))
	bg := canvas.NewRectangle(colPanel)
	a.onLook(func(p palette) { bg.FillColor = p.panel; bg.Refresh() })
	panel := container.NewStack(bg, sized(container.NewPadded(bar), 1, 112))
	v.flash = canvas.NewRectangle(colBlack)
	v.flash.Hide()
	return container.NewBorder(nil, panel, nil, nil, container.NewStack(canvas.NewRectangle(colBlack), v.video, v.guide.raster, v.flash))
}

func (a *App) buildDeciding() fyne.CanvasObject {
	r := newRing(160)
	r.Set(1)
	msg := a.styled(40, true, false)
	sub := a.styled(24, false, true)
	a.onLanguage(func() {
		setText(msg, a.prompt(checkin.PromptChecking))
		setText(sub, a.tr(catalogue.DecidingMoment))
	})
	return container.NewCenter(container.NewVBox(container.NewCenter(r.obj), gap(1, 16), msg, sub))
}

func (a *App) buildResult() fyne.CanvasObject {
	v := &a.v
	v.resPass, v.resFail, v.resRefer = newTick(180), newBang(180), newStaffMark(180)
	v.resHead = newWrapped("", theme.SizeNameHeadingText, true)
	v.resMsg = newWrapped("", theme.SizeNameSubHeadingText, false)
	a.onLanguage(func() {
		if a.screen == screenResult {
			a.setResultText(a.snap)
		}
	})
	marks := container.NewCenter(container.NewStack(v.resPass, v.resFail, v.resRefer))
	return container.NewCenter(container.NewVBox(marks, gap(1, 12), wrapped(v.resHead, 660), wrapped(v.resMsg, 660)))
}

// setResultText says the outcome in words (not only in colour) and the
// sentence that goes with it.
func (a *App) setResultText(s checkin.Snapshot) bool {
	head := catalogue.ResultFail
	switch s.Outcome {
	case checkin.OutcomePass:
		head = catalogue.ResultPass
	case checkin.OutcomeRefer:
		head = catalogue.ResultRefer
	}
	msg := resultMessage(a.cat, a.lang, s)
	if s.Outcome == checkin.OutcomePass && a.greetFor == s.Version && a.greeting != "" {
		msg = a.cat.Welcome(a.lang, a.greeting)
	}
	c1 := setLabel(a.v.resHead, a.tr(head))
	c2 := setLabel(a.v.resMsg, msg)
	return c1 || c2
}

func (a *App) buildLocked() fyne.CanvasObject {
	v := &a.v
	v.lockMsg = newWrapped("", theme.SizeNameSubHeadingText, true)
	v.lockCount = a.styled(26, false, true)
	a.onLanguage(func() {
		if a.screen == screenLocked {
			setLabel(v.lockMsg, resultMessage(a.cat, a.lang, a.snap))
			a.updateLockCount()
		}
	})
	return container.NewCenter(container.NewVBox(container.NewCenter(newPadlock(120, colFail)), gap(1, 16), wrapped(v.lockMsg, 660), gap(1, 8), v.lockCount))
}

// show draws the visitor screen for snapshot s. It is pure in s, the
// visitor's language and look, and the clock: the same snapshot always
// draws the same screen. Older snapshots (from a frame overtaken by a tap)
// are ignored. While operator mode owns the screen it only remembers s.
// When a check-in has ended and the flow is idle again, the language and
// the look go back to the kiosk's defaults for the next visitor.
func (a *App) show(s checkin.Snapshot) {
	if a.haveSnap && s.Version < a.snap.Version {
		return
	}
	ended := a.haveSnap && a.snap.Stage != checkin.StageIdle && s.Stage == checkin.StageIdle
	a.snap, a.haveSnap = s, true
	if ended {
		a.resetVisitor()
	}
	if a.operator {
		return
	}
	v := &a.v
	switch s.Stage {
	case checkin.StageIdle:
		a.setScreen(screenIdle)
	case checkin.StageConsent:
		a.setScreen(screenConsent)
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
		for o, mark := range map[checkin.Outcome]fyne.CanvasObject{checkin.OutcomePass: v.resPass, checkin.OutcomeFail: v.resFail, checkin.OutcomeRefer: v.resRefer} {
			if s.Outcome == o || (o == checkin.OutcomeFail && s.Outcome == checkin.OutcomeNone) {
				mark.Show()
			} else {
				mark.Hide()
			}
		}
		changed := a.setResultText(s)
		a.setScreen(screenResult)
		if changed {
			a.relayout()
		}
	case checkin.StageLockedOut:
		changed := setLabel(v.lockMsg, resultMessage(a.cat, a.lang, s))
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
	msg := visitorPrompt(a.cat, a.lang, s)
	size := theme.SizeNameSubHeadingText
	if len([]rune(msg)) > 48 {
		size = theme.SizeNameText // three lines at most in the bar
	}
	if v.liveMsg.SizeName != size {
		v.liveMsg.SizeName = size
		v.liveMsg.Refresh()
	}
	changed := setLabel(v.liveMsg, msg)
	if s.Stage == checkin.StageLiveness || (cardMode(s) && s.Progress > 0) {
		v.ring.Set(s.Progress) // the pulse window, or the card's agreeing reads
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
	setText(a.v.lockCount, a.cat.Text(a.lang, catalogue.LockedResumes, map[string]any{"Countdown": formatCountdown(a.snap.Until.Sub(a.o.Now()))}))
}
