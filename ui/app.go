package ui

import (
	"context"
	"image"
	"log/slog"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"

	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/internal/safelog"
)

// EvidenceView is what the operator's Evidence tab shows: the latest
// signed retention report and the key that verifies it.
type EvidenceView struct {
	Summary      string // one or two sentences: period, records purged, chain status
	Report       string // the signed report, pretty JSON
	PublicKeyPEM string
	KeyID        string
}

// DiagLine is one line of the Diagnostics tab.
type DiagLine struct {
	Label, Value string
	OK           bool // false draws the line as a problem
}

// AppOptions configures NewApp. Every field is optional: a nil Flow shows
// the idle screen only, a nil Console hides operator mode, and a nil func
// hides what it would feed.
type AppOptions struct {
	Flow    *checkin.Flow
	Console *checkin.Console

	// PhotoReference builds a 1:1 reference from an imported photo held
	// in memory; its errors wrap checkin.ErrBadPhoto, models.ErrNoFace or
	// models.ErrManyFaces. Nil hides "Import ID photo" and the demo photo.
	PhotoReference func(data []byte) (*checkin.Reference, error)
	// EnrolledReference builds the 1:N reference over everyone enrolled
	// (checkin.ErrNoneEnrolled when nobody is). Nil hides "I'm enrolled".
	EnrolledReference func() (*checkin.Reference, error)
	// ImportDirs are searched (not recursively) for *.jpg, *.jpeg, *.png
	// and *.webp files to import: USB sticks' mount points, a configured
	// folder. A missing folder is skipped; a glob ("/media/*/*") is
	// expanded each time the list is shown, so sticks inserted later appear.
	ImportDirs []string
	// DemoPhoto, when set, adds "Use the demo ID photo".
	DemoPhoto []byte
	// Warnings are banners shown on every screen, in the visitor's
	// language, such as catalogue.WarnSoftwareTPM.
	Warnings []catalogue.Key

	// Catalogue says every visitor text (catalogue.New() if nil).
	Catalogue *catalogue.Catalogue
	// Language is the visitor language each visitor starts in (English
	// if empty); the idle screen switches it, and it returns to this one
	// after every check-in.
	Language checkin.Lang
	// Retention is how long the kiosk keeps a check-in record, as the
	// privacy notice states it; 0 means nothing is kept (ephemeral mode).
	Retention time.Duration
	// NoticeURL is where a visitor's phone reaches the full notice and the
	// signed retention report (the local API's /privacy, as the LAN sees
	// it). Empty shows no QR code and asks the visitor to ask staff.
	NoticeURL string

	// Evidence loads the Evidence tab; nil hides the tab.
	Evidence func(context.Context) (EvidenceView, error)
	// Diagnostics loads the Diagnostics tab; nil hides the tab.
	Diagnostics func(context.Context) []DiagLine
	// Settings loads the stored settings for the Settings tab (typically
	// checkin.LoadSettings over the running values); nil hides the tab.
	Settings func(context.Context) (checkin.Settings, error)

	// Now is the clock for countdowns (time.Now if nil); times are shown
	// in its location.
	Now func() time.Time
	// Logger gets the causes of what the screens report in words.
	Logger *slog.Logger
}

// Screen names, for tests and logs.
const (
	screenIdle      = "idle"
	screenConsent   = "consent"
	screenReference = "reference"
	screenLive      = "live"
	screenDeciding  = "deciding"
	screenResult    = "result"
	screenLocked    = "locked"
	screenPIN       = "pin"
	screenConsole   = "console"
)

// App is the kiosk's whole touchscreen UI: the visitor's check-in screens
// driven by a checkin.Flow, and operator mode behind the PIN. Build it
// once; Content goes into the window.
//
// Concurrency: Frame may be called from the frame goroutine and Refresh
// from a ticker goroutine; both hand their work to the UI goroutine with
// fyne.Do. Every other method and callback runs on the UI goroutine.
// Slow back-end calls (the PIN check, evidence, diagnostics, photo
// import) run on their own goroutine and report back through fyne.Do.
type App struct {
	o   AppOptions
	log *slog.Logger

	content fyne.CanvasObject // themed root
	themed  *container.ThemeOverride
	screens map[string]fyne.CanvasObject
	screen  string

	// async runs slow work off the UI goroutine; tests make it synchronous.
	async func(func())

	pending atomic.Bool // a frame is waiting for the UI goroutine
	shown   atomic.Uint64

	snap     checkin.Snapshot // the last snapshot shown
	haveSnap bool
	// greeting is the first name for the pass screen of snapshot version
	// greetFor (checkin.Flow.Greeting).
	greeting string
	greetFor uint64
	operator bool // operator mode owns the screen (PIN pad or console)

	v visitorScreens
	p pinScreen
	c consoleScreens
	r referralScreens

	// The visitor's choices and what follows them.
	cat      *catalogue.Catalogue
	lang     checkin.Lang
	look     look
	relabel  []func()        // set each visitor text in lang
	restyle  []func(palette) // recolour custom drawings for the look
	scalable []styledText    // custom texts whose size follows the look
}

// styledText is a canvas text that follows the visitor's look.
type styledText struct {
	t     *canvas.Text
	base  float32
	muted bool
}

// NewApp builds every screen once and shows idle.
func NewApp(o AppOptions) *App {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = safelog.Discard()
	}
	if o.Catalogue == nil {
		o.Catalogue = catalogue.New()
	}
	if _, err := checkin.ParseLang(string(o.Language)); err != nil {
		o.Language = checkin.Languages[0]
	}
	a := &App{o: o, log: o.Logger, screens: map[string]fyne.CanvasObject{}, cat: o.Catalogue, lang: o.Language}
	a.async = func(f func()) { go f() }

	stack := container.NewStack()
	add := func(name string, obj fyne.CanvasObject) {
		obj.Hide()
		a.screens[name] = obj
		stack.Add(obj)
	}
	add(screenIdle, a.buildIdle())
	add(screenConsent, a.buildConsent())
	add(screenReference, a.buildReference())
	add(screenLive, a.buildLive())
	add(screenDeciding, a.buildDeciding())
	add(screenResult, a.buildResult())
	add(screenLocked, a.buildLocked())
	add(screenPIN, a.buildPIN())
	add(screenConsole, a.buildConsole())

	var top fyne.CanvasObject
	if len(o.Warnings) > 0 {
		box := container.NewVBox()
		for _, w := range o.Warnings {
			t := newText("", 20, true, colWarn)
			a.onLanguage(func() { setText(t, a.tr(w)) })
			box.Add(t)
		}
		top = container.NewStack(canvas.NewRectangle(colWarnBg), container.NewPadded(box))
	}
	bg := canvas.NewRectangle(colBackground)
	a.onLook(func(p palette) { bg.FillColor = p.background; bg.Refresh() })
	root := container.NewStack(bg, container.NewBorder(top, nil, nil, nil, stack))
	a.themed = container.NewThemeOverride(root, newKioskTheme(a.look))
	a.content = a.themed
	a.applyLanguage()
	a.setScreen(screenIdle)
	return a
}

// tr is key k in the visitor's language.
func (a *App) tr(k catalogue.Key) string { return a.cat.Text(a.lang, k, nil) }

// prompt is prompt p in the visitor's language.
func (a *App) prompt(p checkin.Prompt) string { return a.cat.Prompt(a.lang, p, time.Time{}) }

// notice is the flow's privacy notice (the built-in one without a flow).
func (a *App) notice() *checkin.Notice {
	if a.o.Flow != nil {
		return a.o.Flow.Notice()
	}
	return checkin.DefaultNotice()
}

// onLanguage registers a function that sets a visitor text; it runs now
// and whenever the language changes.
func (a *App) onLanguage(f func()) { a.relabel = append(a.relabel, f) }

// onLook registers a function that recolours a custom drawing; it runs
// whenever the look changes.
func (a *App) onLook(f func(palette)) { a.restyle = append(a.restyle, f) }

// styled is a centred canvas text for the visitor screens whose size and
// colour follow the look (muted text is grey, or white in high contrast).
func (a *App) styled(size float32, bold, muted bool) *canvas.Text {
	col := colText
	if muted {
		col = colMuted
	}
	t := newText("", size, bold, col)
	a.scalable = append(a.scalable, styledText{t: t, base: size, muted: muted})
	return t
}

// applyLanguage sets every visitor text in the current language.
func (a *App) applyLanguage() {
	for _, f := range a.relabel {
		f()
	}
}

// setLanguage switches the visitor screens to l.
func (a *App) setLanguage(l checkin.Lang) {
	if l == a.lang {
		return
	}
	a.lang = l
	a.applyLanguage()
	a.relayout()
}

// setLook switches the visitor screens to l: text size and palette.
func (a *App) setLook(l look) {
	if l == a.look {
		return
	}
	a.look = l
	p := l.palette()
	for _, s := range a.scalable {
		s.t.TextSize = s.base * l.scale()
		s.t.Color = p.text
		if s.muted {
			s.t.Color = p.muted
		}
	}
	for _, f := range a.restyle {
		f(p)
	}
	a.themed.Theme = newKioskTheme(l)
	a.themed.Refresh()
	relayoutTree(a.themed.Content)
}

// relayoutTree refreshes every object under o, children first, so each
// container lays out again with its children's new minimum sizes (after a
// text size change, a parent's cached layout would clip the larger text).
func relayoutTree(o fyne.CanvasObject) {
	switch c := o.(type) {
	case *fyne.Container:
		for _, k := range c.Objects {
			relayoutTree(k)
		}
	case *container.Scroll:
		relayoutTree(c.Content)
	case *container.ThemeOverride:
		relayoutTree(c.Content)
	}
	o.Refresh()
}

// resetVisitor returns the language and the look to the defaults, for the
// next visitor.
func (a *App) resetVisitor() {
	a.setLook(look{})
	a.setLanguage(a.o.Language)
}

// Content is the UI's root object, to put in a (full-screen) window.
func (a *App) Content() fyne.CanvasObject { return a.content }

// Shown is how many camera frames reached the screen.
func (a *App) Shown() uint64 { return a.shown.Load() }

// Frame shows one camera frame and the flow's state after it, and
// releases the frame. Safe from any goroutine. While the previous frame
// still waits for the UI goroutine, this one is dropped, so a slow display
// never backs up capture; the next frame carries the newer state.
func (a *App) Frame(fr checkin.Frame) {
	if fr.Frame != nil {
		defer fr.Frame.Release()
	}
	if !a.pending.CompareAndSwap(false, true) {
		return
	}
	var rgba *image.RGBA
	if fr.Frame != nil && showsVideo(fr.State) {
		rgba = fr.Frame.RGBA(nil) // a fresh buffer: the renderer may still read the old one
		drawFaceCorners(rgba, fr.State.Face)
	}
	st, greeting := fr.State, fr.Greeting
	fyne.Do(func() {
		defer a.pending.Store(false)
		if greeting != "" {
			a.greeting, a.greetFor = greeting, st.Version
		}
		if rgba != nil {
			a.v.video.Image = rgba
			a.v.video.Refresh()
			a.shown.Add(1)
		}
		a.show(st)
	})
}

// showsVideo reports whether the screen for s shows the camera.
func showsVideo(s checkin.Snapshot) bool {
	switch s.Stage {
	case checkin.StageCapturing, checkin.StageLiveness:
		return true
	}
	return cardMode(s)
}

// Refresh applies the time-based changes: the flow's time-outs (a result
// returning to idle), countdowns, operator mode's idle lock and the photo
// timer. Call it about once a second from any goroutine.
func (a *App) Refresh() {
	var snap checkin.Snapshot
	var greeting string
	haveFlow := a.o.Flow != nil
	if haveFlow {
		snap = a.o.Flow.Snapshot() // off the UI goroutine: it may wait for a frame's vision work
		if snap.Stage == checkin.StageResult && snap.Outcome == checkin.OutcomePass {
			greeting = a.o.Flow.Greeting(snap.Version)
		}
	}
	unlocked, photosUntil := false, time.Time{}
	if a.o.Console != nil {
		unlocked = a.o.Console.Unlocked()
		photosUntil = a.o.Console.PhotosUntil()
	}
	fyne.Do(func() {
		if greeting != "" {
			a.greeting, a.greetFor = greeting, snap.Version
		}
		if haveFlow {
			a.show(snap)
		}
		a.tick(unlocked, photosUntil)
	})
}

// setScreen shows one screen and hides the rest.
func (a *App) setScreen(name string) {
	if a.screen == name {
		return
	}
	for n, obj := range a.screens {
		if n == name {
			obj.Show()
		} else {
			obj.Hide()
		}
	}
	a.screen = name
}

// relayout lays the current screen out again after a change of text or
// visibility that changes sizes (a wrapped message growing a line).
func (a *App) relayout() {
	if obj := a.screens[a.screen]; obj != nil {
		obj.Refresh()
	}
}

// ctx is the context for back-end calls made from the screens.
func (a *App) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// spacer is a flexible gap.
func spacer() fyne.CanvasObject { return layout.NewSpacer() }
