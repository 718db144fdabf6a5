package ui

import (
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kiosk/checkin"
	"kiosk/models"
)

// The Referrals tab: check-ins the flow sent to staff because the kiosk
// was not sure: the face match fell between the bands, or the pulse was
// live but the anti-spoof model unsure. The operator opens one (decrypting
// its record, as an audited action), sees the reference and the live face
// side by side, and confirms or refuses. The faces hide again after the
// console's photo time, like decrypted records.

// referralScreens holds the tab's widgets.
type referralScreens struct {
	list, compare *fyne.Container // the waiting list, or one referral's faces
	status        *widget.Label
	rows          []checkin.Referral
	open          *checkin.ReferralView // the referral on screen; nil on the list
	until         time.Time             // when its faces hide
	faces         *fyne.Container
	question      *widget.Label
	confirm       *widget.Button
	refuse        *widget.Button
	facts         *widget.Label
	countdown     *widget.Label
}

// Why a visitor waits for staff, as the list and the comparison say it.
const (
	referralQuestionMatch = "Is the live face the person on the reference?"
	referralQuestionLive  = "Is the visitor at the desk in person, and the person on the reference?"
	referralConfirmMatch  = "Same person: check in"
	referralRefuseMatch   = "Not the same person"
	referralConfirmLive   = "In person and the same: check in"
	referralRefuseLive    = "Refuse"
)

// referralWhy is the list's short reason for a referral.
func referralWhy(r checkin.Reason) string {
	if r == checkin.ReasonUncertainLive {
		return "not sure the face is live"
	}
	return "face match uncertain"
}

func (a *App) buildReferrals() fyne.CanvasObject {
	r := &a.r
	r.status = newWrapped("", theme.SizeNameText, false)
	r.status.Alignment = fyne.TextAlignLeading
	r.list = container.NewVBox()
	r.faces = container.NewGridWithColumns(2)
	r.facts = newWrapped("", theme.SizeNameText, false)
	r.facts.Alignment = fyne.TextAlignLeading
	r.countdown = widget.NewLabel("")
	r.countdown.SizeName = theme.SizeNameCaptionText
	r.question = widget.NewLabel(referralQuestionMatch)
	r.question.TextStyle.Bold = true
	r.confirm = widget.NewButton(referralConfirmMatch, a.op(func() { a.decideReferral(true) }))
	r.confirm.Importance = widget.SuccessImportance
	r.confirm.Icon = theme.ConfirmIcon()
	r.refuse = widget.NewButton(referralRefuseMatch, a.op(func() { a.decideReferral(false) }))
	r.refuse.Importance = widget.DangerImportance
	r.refuse.Icon = theme.CancelIcon()
	back := widget.NewButton("Back", a.op(func() { a.o.Console.LockPhotos(); a.loadReferrals() }))
	buttons := container.NewHBox(sized(r.confirm, 1, 56), sized(r.refuse, 1, 56), spacer(), sized(back, 1, 56))
	r.compare = container.NewBorder(r.question, container.NewVBox(r.facts, r.countdown, buttons), nil, nil, r.faces)
	r.compare.Hide()
	return container.NewBorder(r.status, nil, nil, nil, container.NewStack(container.NewVScroll(r.list), r.compare))
}

// loadReferrals shows the waiting list.
func (a *App) loadReferrals() {
	r := &a.r
	r.open = nil
	r.faces.RemoveAll()
	r.compare.Hide()
	rows, err := a.o.Console.Referrals()
	if err != nil {
		a.consoleErr(err, "list the referrals", func(s string) { setLabel(r.status, s) })
		return
	}
	r.rows = rows
	r.list.RemoveAll()
	loc := a.o.Now().Location()
	for _, ref := range rows {
		r.list.Add(a.referralRow(ref, loc))
		r.list.Add(widget.NewSeparator())
	}
	if len(rows) == 0 {
		setLabel(r.status, "No visitor is waiting for staff. Check-ins the kiosk was not sure of (face match, or a live face) appear here.")
	} else {
		setLabel(r.status, fmt.Sprintf("%s waiting for staff: compare the faces, then confirm or refuse.", count(len(rows), "visitor", "visitors")))
	}
	a.refreshReferralTab(len(rows))
	r.list.Show()
	a.themed.Refresh()
	r.list.Refresh()
}

// refreshReferralTab shows how many visitors wait on the tab's button.
func (a *App) refreshReferralTab(n int) {
	b := a.c.tabs[tabReferrals]
	if b == nil {
		return
	}
	label := tabReferrals
	if n > 0 {
		label = fmt.Sprintf("%s (%d)", tabReferrals, n)
	}
	if b.Text != label {
		b.SetText(label)
	}
}

// referenceName says what the live face was compared with.
func referenceName(k checkin.ReferenceKind) string {
	switch k {
	case checkin.ReferenceCard:
		return "ID card photo"
	case checkin.ReferenceEnrolled:
		return "Enrolled person"
	}
	return "ID photo"
}

func (a *App) referralRow(ref checkin.Referral, loc *time.Location) fyne.CanvasObject {
	when := ref.At.In(loc).Format("15:04:05")
	waited := formatSpan(a.o.Now().Sub(ref.At).Truncate(time.Minute))
	if a.o.Now().Sub(ref.At) < time.Minute {
		waited = "under a minute"
	}
	line1 := widget.NewLabel(fmt.Sprintf("%s  ·  %s", when, referralWhy(ref.Reason)))
	line1.TextStyle.Bold = true
	line2 := widget.NewLabel(fmt.Sprintf("Compared with: %s · waiting %s", referenceName(ref.Reference), waited))
	if ref.RecordID == 0 {
		line2.SetText(fmt.Sprintf("Compared with: %s · nothing was stored: compare the visitor with their document", referenceName(ref.Reference)))
	}
	line2.SizeName = theme.SizeNameCaptionText
	line2.Truncation = fyne.TextTruncateEllipsis
	id := ref.ID
	open := widget.NewButton("Compare faces", a.op(func() { a.openReferral(id) }))
	open.Importance = widget.HighImportance
	open.Icon = theme.VisibilityIcon()
	return container.NewBorder(nil, nil, nil, container.NewCenter(sized(open, 1, 56)), container.NewVBox(line1, line2))
}

// openReferral decrypts one referral and shows its two faces.
func (a *App) openReferral(id uint64) {
	r := &a.r
	ctx, cancel := a.ctx()
	defer cancel()
	v, err := a.o.Console.OpenReferral(ctx, id)
	if err != nil {
		if errors.Is(err, checkin.ErrNoReferral) {
			a.loadReferrals()
			setLabel(r.status, "That visitor is no longer waiting: it was decided, or it is older than 30 minutes (see Records).")
			return
		}
		a.consoleErr(err, "open the referral", func(s string) { setLabel(r.status, s) })
		return
	}
	r.open, r.until = v, a.o.Console.PhotosUntil()
	r.faces.RemoveAll()
	refMissing := "No photo is kept of enrolled people: compare the visitor with their ID."
	if v.RecordID == 0 {
		refMissing = "Nothing was stored (this kiosk keeps no records): compare the visitor with their ID."
	}
	r.faces.Add(facePanel(v.ReferenceFace, referenceName(v.Reference), refMissing))
	r.faces.Add(facePanel(v.LiveFace, "Live camera", "Nothing was stored: look at the visitor."))
	matchFacts := fmt.Sprintf("Match score %.2f, between the edges: refused below %.2f, checked in from %.2f.", v.Decision.Score, v.Decision.FailEdge, v.Decision.Threshold)
	if v.RecordID == 0 {
		matchFacts = "The match score was between the edges."
	}
	question, confirm, refuse, facts := referralQuestionMatch, referralConfirmMatch, referralRefuseMatch, matchFacts
	if v.Reason == checkin.ReasonUncertainLive {
		question, confirm, refuse = referralQuestionLive, referralConfirmLive, referralRefuseLive
		facts = "A pulse was found, but the anti-spoof model was not sure this is a live face rather than a photo or a screen."
		if !math.IsNaN(v.PAD) {
			facts += fmt.Sprintf(" Its score %.2f: refused below %.2f, checked in from %.2f.", v.PAD, v.PADFailEdge, v.MinPAD)
		}
		switch {
		case v.Decision.Outcome == models.OutcomeRefer:
			facts += "\n" + matchFacts
		case v.RecordID != 0:
			facts += fmt.Sprintf("\nMatch score %.2f (checked in from %.2f).", v.Decision.Score, v.Decision.Threshold)
		}
	}
	setLabel(r.question, question)
	setButton(r.confirm, confirm)
	setButton(r.refuse, refuse)
	if v.Name != "" {
		facts += "\nName on the reference: " + v.Name
	}
	if d := v.Document; d != nil {
		facts += fmt.Sprintf(" · %s %s · expires %s", d.Format, d.Fields.DocumentNumber, d.Fields.ExpiryDate)
	}
	setLabel(r.facts, facts)
	setLabel(r.status, fmt.Sprintf("Checked in at %s. Opening this record was logged.", v.At.In(a.o.Now().Location()).Format("15:04:05")))
	a.updateReferralCountdown()
	r.list.Hide()
	r.compare.Show()
	a.themed.Refresh()
}

// facePanel is one face of the comparison, captioned, or a sentence
// saying why there is none.
func facePanel(img image.Image, caption, missing string) fyne.CanvasObject {
	var body fyne.CanvasObject
	if img != nil {
		pic := canvas.NewImageFromImage(img)
		pic.FillMode = canvas.ImageFillContain
		pic.ScaleMode = canvas.ImageScaleSmooth
		body = pic
	} else {
		l := widget.NewLabel(missing)
		l.Wrapping = fyne.TextWrapWord
		l.Alignment = fyne.TextAlignCenter
		body = container.NewCenter(sized(l, 240, 1))
	}
	title := widget.NewLabel(caption)
	title.Alignment = fyne.TextAlignCenter
	title.TextStyle.Bold = true
	return container.NewBorder(title, nil, nil, nil, sized(container.NewStack(canvas.NewRectangle(colPanel), body), 260, 260))
}

// updateReferralCountdown shows when the faces hide.
func (a *App) updateReferralCountdown() {
	left := a.r.until.Sub(a.o.Now())
	setLabel(a.r.countdown, "Faces hide in "+formatCountdown(max(left, 0))+". Your decision is recorded in the audit log.")
}

// decideReferral records the operator's decision and returns to the list.
func (a *App) decideReferral(same bool) {
	r := &a.r
	if r.open == nil {
		return
	}
	id := r.open.ID
	ctx, cancel := a.ctx()
	defer cancel()
	if err := a.o.Console.ResolveReferral(ctx, id, same); err != nil {
		if errors.Is(err, checkin.ErrNoReferral) {
			a.loadReferrals()
			setLabel(r.status, "That visitor was already decided.")
			return
		}
		a.consoleErr(err, "record the decision", func(s string) { setLabel(r.status, s) })
		return
	}
	a.loadReferrals()
	msg := "Confirmed: the visitor is checked in by staff. Your decision is in the audit log."
	if !same {
		msg = "Refused: the visitor is not checked in. Your decision is in the audit log."
	}
	setLabel(r.status, msg)
}

// tickReferrals hides the faces when their time runs out.
func (a *App) tickReferrals(photosUntil time.Time) {
	r := &a.r
	if r.open == nil {
		return
	}
	if photosUntil.IsZero() {
		a.loadReferrals()
		setLabel(r.status, "The faces were hidden again. Tap Compare faces to open them.")
		return
	}
	a.updateReferralCountdown()
}

// setButton changes a button's text only when it differs (a refresh
// otherwise).
func setButton(b *widget.Button, s string) {
	if b.Text != s {
		b.SetText(s)
	}
}
