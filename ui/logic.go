package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/models"
)

// maxPINDigits bounds what the keypad accepts; the TPM PIN is shorter.
const maxPINDigits = 12

// Keypad keys besides the digits.
const (
	keyDelete = "del"
	keyOK     = "ok"
)

// pinEntry is the keypad's state: the digits typed so far. It never
// shows them, only one dot per digit.
type pinEntry struct{ digits []byte }

// Press applies one key and reports whether it submits the PIN (OK with
// at least one digit typed).
func (p *pinEntry) Press(key string) (submit bool) {
	switch {
	case key == keyDelete:
		if n := len(p.digits); n > 0 {
			p.digits[n-1] = 0
			p.digits = p.digits[:n-1]
		}
	case key == keyOK:
		return len(p.digits) > 0
	case len(key) == 1 && key[0] >= '0' && key[0] <= '9':
		if len(p.digits) < maxPINDigits {
			p.digits = append(p.digits, key[0])
		}
	}
	return false
}

// Dots is what the display shows: one dot per digit, or a hint when empty.
func (p *pinEntry) Dots() string {
	if len(p.digits) == 0 {
		return "Enter the staff PIN"
	}
	return strings.TrimSpace(strings.Repeat("● ", len(p.digits)))
}

// Take returns the PIN and clears the entry (zeroing the digits).
func (p *pinEntry) Take() string {
	s := string(p.digits)
	p.Clear()
	return s
}

// Clear forgets the digits.
func (p *pinEntry) Clear() {
	clear(p.digits)
	p.digits = p.digits[:0]
}

// formatCountdown shows time left as m:ss (h:mm:ss from an hour), rounded
// up so "0:00" appears only when the time is over.
func formatCountdown(d time.Duration) string {
	if d <= 0 {
		return "0:00"
	}
	s := int((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// formatSpan names a setting's duration in words: "15 minutes", "1 day".
func formatSpan(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// visitorPrompt is the one instruction for the visitor in s, in l. The
// flow always sets a prompt code; an empty one (a snapshot built by hand)
// falls back to the stage's own, so the screen never shows a blank.
func visitorPrompt(c *catalogue.Catalogue, l checkin.Lang, s checkin.Snapshot) string {
	p := s.Prompt
	if p == "" {
		switch s.Stage {
		case checkin.StageIdle:
			p = checkin.PromptTap
		case checkin.StageConsent:
			p = checkin.PromptConsent
		case checkin.StageReference:
			p = checkin.PromptReference
		case checkin.StageLiveness:
			p = checkin.PromptKeepStill
		case checkin.StageDeciding:
			p = checkin.PromptChecking
		case checkin.StageResult:
			p = checkin.ResultPrompt(s.Outcome, s.Reason)
		case checkin.StageLockedOut:
			p = checkin.PromptLockedOut
		default:
			p = checkin.PromptNoFace
		}
	}
	return c.Prompt(l, p, s.Until)
}

// resultMessage is the visitor's sentence for a result or lock-out: pass
// or fail in words, never the reason code or a score.
func resultMessage(c *catalogue.Catalogue, l checkin.Lang, s checkin.Snapshot) string {
	switch s.Stage {
	case checkin.StageLockedOut:
		return c.Prompt(l, checkin.PromptLockedOut, s.Until)
	case checkin.StageResult:
		return c.Prompt(l, checkin.ResultPrompt(s.Outcome, s.Reason), s.Until)
	}
	return visitorPrompt(c, l, s)
}

// cardMode reports whether the reference screen is waiting for an ID card
// held up to the camera (after ExpectCard): the visitor then needs to see
// the camera, not the buttons.
func cardMode(s checkin.Snapshot) bool {
	return s.Stage == checkin.StageReference && s.Card
}

// photoMessage is the visitor's message for a reference error. The Go
// error never reaches the screen; the caller logs it.
func photoMessage(err error) catalogue.Key {
	var unfit *models.ReferenceError
	switch {
	case errors.As(err, &unfit) && unfit.Check.Problem() > models.ReferenceSeveralFaces:
		return unfitMessage(unfit.Check.Problem())
	case errors.Is(err, checkin.ErrBadPhoto):
		return catalogue.RefBadPhoto
	case errors.Is(err, models.ErrNoFace):
		return catalogue.RefNoFace
	case errors.Is(err, models.ErrManyFaces):
		return catalogue.RefManyFaces
	case errors.Is(err, checkin.ErrNoneEnrolled):
		return catalogue.RefNoEnrolled
	case errors.Is(err, checkin.ErrDocumentExpired):
		return catalogue.RefExpired
	case errors.Is(err, checkin.ErrNoDocument):
		return catalogue.RefNoDocument
	}
	return catalogue.RefTryAgain
}

// unfitMessage words the reference gate's first problem with an imported
// photo (no face and several faces have their own messages).
func unfitMessage(p models.ReferenceProblem) catalogue.Key {
	switch p {
	case models.ReferenceFaceTooSmall:
		return catalogue.RefUnfitSmall
	case models.ReferenceFaceCutOff:
		return catalogue.RefUnfitWhole
	case models.ReferenceTurned, models.ReferenceTilted, models.ReferenceUpDown:
		return catalogue.RefUnfitTurned
	case models.ReferenceTooDark, models.ReferenceTooBright:
		return catalogue.RefUnfitLight
	case models.ReferenceBlurry:
		return catalogue.RefUnfitBlurry
	case models.ReferenceEyesHidden:
		return catalogue.RefUnfitEyes
	}
	return catalogue.RefTryAgain
}

// pinMessage is the keypad's line after a refused PIN, and until when
// sign-in is locked (zero if it is not).
func pinMessage(err error, now time.Time) (string, time.Time) {
	var lock *checkin.PINLockoutError
	switch {
	case errors.As(err, &lock):
		if lock.RetryAfter <= 0 {
			return "Too many wrong PINs. Sign-in is locked: ask the administrator to reset it.", time.Time{}
		}
		until := now.Add(lock.RetryAfter)
		return lockoutLine(until, now), until
	case errors.Is(err, checkin.ErrWrongPIN):
		return "Wrong PIN", time.Time{}
	}
	return "Sign-in failed. Please try again.", time.Time{}
}

// lockoutLine is the keypad's message while the TPM lockout runs.
func lockoutLine(until, now time.Time) string {
	return fmt.Sprintf("Too many wrong PINs. Try again in %s (at %s).", formatCountdown(until.Sub(now)), until.Format("15:04"))
}

// count writes n with the noun's singular or plural form ("1 record",
// "2 records").
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
