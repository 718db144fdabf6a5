// Package catalogue is the one place visitor text lives: every prompt code
// the check-in flow emits (checkin.Prompt), every label of the visitor
// screens, the privacy notice with the kiosk's real retention, plurals and
// clock times, in every visitor language (checkin.Languages). The flow and
// the models speak in codes; the UI and the API's public pages ask the
// catalogue for words, and nothing parses them back.
//
// The translations are go-i18n message files (translations/*.json), the
// machinery and format of Fyne's own translations. Fyne's lang package
// picks one language per process from the system locale, while a kiosk
// switches language per visitor, so the catalogue holds one localizer per
// language instead. Start with New.
package catalogue

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"kiosk/checkin"
)

// Key names one piece of visitor text other than a prompt.
type Key string

// The visitor screens' text.
const (
	IdleTouch     Key = "idle.touch"
	IdleStaff     Key = "idle.staff"
	IdleLargeText Key = "idle.large_text"
	IdleContrast  Key = "idle.contrast"
	IdleLanguage  Key = "idle.language"

	ConsentAgree   Key = "consent.agree"
	ConsentDecline Key = "consent.decline"
	ConsentQR      Key = "consent.qr"
	ConsentNoQR    Key = "consent.no_qr"

	RefImport     Key = "ref.import"
	RefCard       Key = "ref.card"
	RefEnrolled   Key = "ref.enrolled"
	RefDemo       Key = "ref.demo"
	RefAgain      Key = "ref.again"
	RefBack       Key = "ref.back"
	RefChoose     Key = "ref.choose"
	RefReading    Key = "ref.reading"
	RefBadPhoto   Key = "ref.bad_photo"
	RefNoFace     Key = "ref.no_face"
	RefManyFaces  Key = "ref.many_faces"
	RefNoEnrolled Key = "ref.no_enrolled"
	RefNoneFound  Key = "ref.none_found"
	RefTryAgain   Key = "ref.try_again"
	RefExpired    Key = "ref.expired"
	RefNoDocument Key = "ref.no_document"

	// Why the reference gate refused an imported photo.
	RefUnfitSmall  Key = "ref.unfit_small"
	RefUnfitWhole  Key = "ref.unfit_whole"
	RefUnfitTurned Key = "ref.unfit_turned"
	RefUnfitLight  Key = "ref.unfit_light"
	RefUnfitBlurry Key = "ref.unfit_blurry"
	RefUnfitEyes   Key = "ref.unfit_eyes"

	Cancel         Key = "common.cancel"
	DecidingMoment Key = "deciding.moment"
	LockedResumes  Key = "locked.resumes" // {{.Countdown}}
	ResultPass     Key = "result.pass"
	ResultFail     Key = "result.fail"
	ResultRefer    Key = "result.refer"

	WarnSoftwareTPM Key = "warn.software_tpm"
	WarnDemo        Key = "warn.demo"
	WarnNotStored   Key = "warn.not_stored"

	PrivacyTitle        Key = "privacy.title"
	PrivacyRetention    Key = "privacy.retention"
	PrivacyRetentionHow Key = "privacy.retention_how"
	PrivacyVersion      Key = "privacy.version"

	keepPeriod  Key = "keep.period"
	keepNone    Key = "keep.none"
	periodMins  Key = "period.minutes"
	periodHours Key = "period.hours"
	periodDays  Key = "period.days"
	formatClock Key = "format.clock"
)

// Keys lists every key, for the completeness check.
var Keys = []Key{IdleTouch, IdleStaff, IdleLargeText, IdleContrast, IdleLanguage,
	ConsentAgree, ConsentDecline, ConsentQR, ConsentNoQR,
	RefImport, RefCard, RefEnrolled, RefDemo, RefAgain, RefBack, RefChoose, RefReading, RefBadPhoto, RefNoFace,
	RefManyFaces, RefNoEnrolled, RefNoneFound, RefTryAgain, RefExpired, RefNoDocument,
	RefUnfitSmall, RefUnfitWhole, RefUnfitTurned, RefUnfitLight, RefUnfitBlurry, RefUnfitEyes,
	Cancel, DecidingMoment, LockedResumes, ResultPass, ResultFail, ResultRefer,
	WarnSoftwareTPM, WarnDemo, WarnNotStored,
	PrivacyTitle, PrivacyRetention, PrivacyRetentionHow, PrivacyVersion,
	keepPeriod, keepNone, periodMins, periodHours, periodDays, formatClock}

// LanguageName is each language's name in itself, as its button shows it.
var LanguageName = map[checkin.Lang]string{
	checkin.English: "English",
	checkin.German:  "Deutsch",
	checkin.French:  "Français",
	checkin.Spanish: "Español",
}

//go:embed translations/*.json
var translations embed.FS

// Catalogue turns codes into visitor text. It is immutable after New and
// safe for concurrent use.
type Catalogue struct {
	loc map[checkin.Lang]*i18n.Localizer
	ids map[checkin.Lang]map[string]bool // message ids each file defines
}

// New loads the built-in translations. It panics if they do not load:
// they are part of the binary, and the tests load them.
func New() *Catalogue {
	c, err := load()
	if err != nil {
		panic("catalogue: " + err.Error())
	}
	return c
}

func load() (*Catalogue, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &Catalogue{loc: map[checkin.Lang]*i18n.Localizer{}, ids: map[checkin.Lang]map[string]bool{}}
	for _, l := range checkin.Languages {
		data, err := translations.ReadFile("translations/" + string(l) + ".json")
		if err != nil {
			return nil, fmt.Errorf("no translations for %s: %w", l, err)
		}
		f, err := b.ParseMessageFileBytes(data, string(l)+".json")
		if err != nil {
			return nil, fmt.Errorf("translations for %s: %w", l, err)
		}
		c.ids[l] = map[string]bool{}
		for _, m := range f.Messages {
			c.ids[l][m.ID] = true
		}
		c.loc[l] = i18n.NewLocalizer(b, string(l))
	}
	return c, nil
}

// Missing lists the keys and prompts some language lacks, as "lang:key".
// Empty means every visitor screen is complete in every language.
func (c *Catalogue) Missing() []string {
	var out []string
	for _, l := range checkin.Languages {
		for _, k := range Keys {
			if !c.ids[l][string(k)] {
				out = append(out, string(l)+":"+string(k))
			}
		}
		for _, p := range checkin.Prompts {
			if !c.ids[l][promptID(p)] {
				out = append(out, string(l)+":"+promptID(p))
			}
		}
	}
	return out
}

func promptID(p checkin.Prompt) string { return "prompt." + string(p) }

// lang returns l, or the default language when l is not one of ours.
func lang(l checkin.Lang) checkin.Lang {
	for _, k := range checkin.Languages {
		if k == l {
			return l
		}
	}
	return checkin.Languages[0]
}

// localize looks id up in l; a missing message returns the id, so a gap
// shows on screen as a code a test catches, never as another language.
func (c *Catalogue) localize(l checkin.Lang, id string, count any, data map[string]any) string {
	l = lang(l)
	if !c.ids[l][id] {
		return id
	}
	s, err := c.loc[l].Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		return id
	}
	return s
}

// Text is key k in l, with data for its {{.Field}} parameters.
func (c *Catalogue) Text(l checkin.Lang, k Key, data map[string]any) string {
	return c.localize(l, string(k), nil, data)
}

// Prompt is the visitor sentence for a prompt code in l. until is when a
// lock-out ends (PromptLockedOut says the time).
func (c *Catalogue) Prompt(l checkin.Lang, p checkin.Prompt, until time.Time) string {
	var data map[string]any
	if p == checkin.PromptLockedOut {
		data = map[string]any{"Time": c.Clock(l, until)}
	}
	return c.localize(l, promptID(p), nil, data)
}

// Welcome is the pass message in l, by first name when the document gave
// one ("You're checked in. Welcome, Anna!").
func (c *Catalogue) Welcome(l checkin.Lang, name string) string {
	if name == "" {
		return c.Prompt(l, checkin.PromptPass, time.Time{})
	}
	return c.localize(l, promptID(checkin.PromptPassNamed), nil, map[string]any{"Name": name})
}

// Clock is a time of day as people read it in l ("9:32 AM", "09:32 Uhr").
func (c *Catalogue) Clock(l checkin.Lang, t time.Time) string {
	return t.Format(c.localize(l, string(formatClock), nil, nil))
}

// Period is a retention period in words with l's plural rules ("1 hour",
// "24 Stunden", "1 jour", "7 días"); it names the largest whole unit.
func (c *Catalogue) Period(l checkin.Lang, d time.Duration) string {
	n, id := int(d/time.Minute), periodMins
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		n, id = int(d/(24*time.Hour)), periodDays
	case d >= time.Hour && d%time.Hour == 0:
		n, id = int(d/time.Hour), periodHours
	}
	return c.localize(l, string(id), n, map[string]any{"Count": n})
}

// Keep is the sentence the notice's {keep} stands for: how long this
// kiosk keeps a record, or that it keeps nothing (retention 0, ephemeral
// mode).
func (c *Catalogue) Keep(l checkin.Lang, retention time.Duration) string {
	if retention <= 0 {
		return c.Text(l, keepNone, nil)
	}
	return c.Text(l, keepPeriod, map[string]any{"Period": c.Period(l, retention)})
}

// Notice is the privacy notice in l with the kiosk's retention stated in
// place of {keep}.
func (c *Catalogue) Notice(l checkin.Lang, n *checkin.Notice, retention time.Duration) checkin.NoticeText {
	t := n.Text(lang(l))
	t.Body = strings.Replace(t.Body, checkin.NoticeKeep, c.Keep(l, retention), 1)
	return t
}
