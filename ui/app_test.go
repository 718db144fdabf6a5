package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"kiosk/internal/testclock"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"kiosk/capture"
	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/internal/safelog"
	"kiosk/models"
	"kiosk/store"
)

// t0 is the fixed wall time of every test (UTC, so renders do not depend
// on the machine's zone).
var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// clock is a settable test clock.
type clock = testclock.Clock

func newClock() *clock { return testclock.New(t0) }

// testPIN checks against a fixed PIN, as cmd/kiosk's TPM adapter reports:
// wrong PINs wrap checkin.ErrWrongPIN; Lockout, when set, refuses all.
type testPIN struct {
	pin     string
	lockout *checkin.PINLockoutError
}

func (p *testPIN) VerifyPIN(pin string) error {
	switch {
	case p.lockout != nil:
		return p.lockout
	case pin != p.pin:
		return fmt.Errorf("tpm: %w", checkin.ErrWrongPIN)
	}
	return nil
}

// modelsDir finds the verified model files, or skips.
func modelsDir(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("KIOSK_MODELS_DIR")}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "kiosk", "models"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "face_detection_yunet_2022mar.onnx")); err == nil {
			return d
		}
	}
	t.Skip("face models not found: run 'make setup' or set KIOSK_MODELS_DIR")
	return ""
}

// testMatcher loads the real face models.
func testMatcher(t testing.TB) *models.Matcher {
	t.Helper()
	dir := modelsDir(t)
	det, err := models.LoadDetector(dir, models.DetectorOptions{})
	if err != nil {
		t.Fatalf("LoadDetector(%q) = %v", dir, err)
	}
	t.Cleanup(func() { det.Close() })
	emb, err := models.LoadEmbedder(dir)
	if err != nil {
		t.Fatalf("LoadEmbedder(%q) = %v", dir, err)
	}
	t.Cleanup(func() { emb.Close() })
	pad, err := models.LoadPAD(dir)
	if err != nil {
		t.Fatalf("LoadPAD(%q) = %v", dir, err)
	}
	t.Cleanup(func() { pad.Close() })
	return models.NewMatcher(det, emb, pad)
}

// testStore opens a real sealed store on the test clock with in-memory keys.
func testStore(t testing.TB, clk *clock) *store.Store {
	t.Helper()
	mk, err := store.NewMemoryKeys(store.MemoryKeysOptions{FirstEpoch: store.EpochOf(t0, store.DefaultEpochLength) - 2})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{Keys: mk, Retention: time.Hour, Now: clk.Now, Elapsed: clk.Elapsed,
		Tick: make(chan time.Time), Logger: safelog.Discard()})
	if err != nil {
		t.Fatalf("store.Open = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rig is an App on a real flow, console and store, in an 800×600 test window.
type rig struct {
	app  *App
	clk  *clock
	st   *store.Store
	flow *checkin.Flow
	con  *checkin.Console
	pin  *testPIN
	win  fyne.Window
	m    *models.Matcher
}

func newRig(t *testing.T, tweak func(*AppOptions)) *rig {
	t.Helper()
	test.NewTempApp(t)
	r := &rig{clk: newClock(), pin: &testPIN{pin: "2468"}}
	r.m = testMatcher(t)
	r.st = testStore(t, r.clk)
	var err error
	r.flow, err = checkin.NewFlow(checkin.Options{Matcher: r.m, Records: r.st, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.con, err = checkin.NewConsole(checkin.ConsoleOptions{PIN: r.pin, Store: r.st, Matcher: r.m, Now: r.clk.Now, Referrals: r.flow.Referrals()})
	if err != nil {
		t.Fatal(err)
	}
	o := AppOptions{
		Flow: r.flow, Console: r.con, Now: r.clk.Now, Retention: time.Hour,
		PhotoReference:    func(b []byte) (*checkin.Reference, error) { return checkin.PhotoReference(r.m, b) },
		EnrolledReference: func() (*checkin.Reference, error) { return checkin.GalleryReference(nil) },
		DemoPhoto:         []byte("demo"),
		Settings: func(ctx context.Context) (checkin.Settings, error) {
			return checkin.LoadSettings(ctx, r.st, checkin.Settings{Retention: time.Hour, PurgeInterval: 5 * time.Minute, Match: models.DefaultBands})
		},
		Evidence: func(context.Context) (EvidenceView, error) {
			return EvidenceView{
				Summary:      "Report 12, signed 14 Mar 09:00: 3 records purged on time, chain intact.",
				Report:       "{\n  \"seq\": 12,\n  \"purged\": 3,\n  \"overdue\": 0,\n  \"prev\": \"9f2c…e1\",\n  \"sig\": \"MEUCIQ…\"\n}",
				PublicKeyPEM: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3Nw1v0PqN5fJ0mYpT1yXvQ3lB8rG\nq1c9Zt2WcJb8u6yKkS1hXo0r2b4m7dFqA5sT9pLxUe0vHn3jCwYkR2aQ==\n-----END PUBLIC KEY-----",
				KeyID:        "tpm:ak:5c1e9a07",
			}, nil
		},
		Diagnostics: func(context.Context) []DiagLine {
			return []DiagLine{
				{"Camera", "29.8 fps, 640×480, 3 dropped", true},
				{"TPM", "software TPM: not secure", false},
				{"Face detector", "sha256 8f1e…c2a9 verified", true},
				{"Disk", "12.4 GB free of 29 GB", true},
				{"Store", "healthy, 3 records", true},
			}
		},
	}
	if tweak != nil {
		tweak(&o)
	}
	r.app = NewApp(o)
	r.app.async = func(f func()) { f() }
	r.win = test.NewWindow(r.app.Content())
	r.win.SetPadded(false)
	r.win.Resize(fyne.NewSize(800, 600))
	t.Cleanup(r.win.Close)
	r.app.show(r.flow.Snapshot())
	return r
}

// frame is a fixed generated camera frame (no noise, no motion).
func frame(t testing.TB) *capture.Frame {
	t.Helper()
	src := capture.NewSynthetic(capture.SyntheticOptions{Width: 320, Height: 240, Noise: -1, Motion: -1, Start: t0})
	f, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// faceJPEG is a face crop from a generated frame, as the flow stores it.
func faceJPEG(t testing.TB) []byte {
	t.Helper()
	f := frame(t)
	defer f.Release()
	rgba := f.RGBA(nil)
	crop := rgba.SubImage(image.Rect(100, 40, 220, 200))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, crop, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// press types keys on the PIN pad.
func (r *rig) press(t *testing.T, keys ...string) {
	t.Helper()
	order := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", keyDelete, "0", keyOK}
	for _, k := range keys {
		for _, ch := range []string{k} {
			i := -1
			for j, o := range order {
				if o == ch {
					i = j
				}
			}
			if i < 0 {
				t.Fatalf("no key %q", ch)
			}
			test.Tap(r.app.p.keys[i])
		}
	}
}

func (r *rig) typePIN(t *testing.T, pin string) {
	t.Helper()
	for _, c := range pin {
		r.press(t, string(c))
	}
	r.press(t, keyOK)
}

func (r *rig) golden(t *testing.T, name string) {
	t.Helper()
	test.AssertRendersToImage(t, name, r.win.Canvas())
}

func wantScreen(t *testing.T, a *App, want string) {
	t.Helper()
	if a.screen != want {
		t.Fatalf("screen = %q; want %q", a.screen, want)
	}
}

// TestVisitorGoldens renders every visitor screen in every visitor
// language, as <screen>.<lang>.png. Idle, consent, reference and the card
// prompt come from the real flow, reached by tapping; the vision-driven
// stages are drawn from snapshots, since show is pure in the snapshot, the
// language and the clock. The renders are reviewed by eye: no clipped or
// overflowing text in the longest language.
func TestVisitorGoldens(t *testing.T) {
	for _, l := range checkin.Languages {
		golden := func(r *rig, screen string) { r.golden(t, screen+"."+string(l)+".png") }
		t.Run(string(l), func(t *testing.T) {
			t.Run("idle", func(t *testing.T) {
				r := newRig(t, func(o *AppOptions) { o.Language = l })
				wantScreen(t, r.app, screenIdle)
				golden(r, "idle")
			})
			t.Run("idle_banners", func(t *testing.T) {
				r := newRig(t, func(o *AppOptions) {
					o.Language = l
					o.Warnings = []catalogue.Key{catalogue.WarnSoftwareTPM, catalogue.WarnDemo}
				})
				golden(r, "idle_banners")
			})
			t.Run("consent", func(t *testing.T) {
				r := newRig(t, func(o *AppOptions) { o.Language = l; o.NoticeURL = "https://kiosk-7.example.org/privacy" })
				test.TapCanvas(r.win.Canvas(), fyne.NewPos(400, 300)) // anywhere on idle starts
				if got := r.flow.Snapshot().Stage; got != checkin.StageConsent {
					t.Fatalf("after tapping idle, stage = %v; want consent", got)
				}
				wantScreen(t, r.app, screenConsent)
				golden(r, "consent")
			})
			t.Run("reference", func(t *testing.T) {
				r := newRig(t, func(o *AppOptions) { o.Language = l })
				r.agree(t)
				wantScreen(t, r.app, screenReference)
				golden(r, "reference")
			})
			t.Run("reference_bad_photo", func(t *testing.T) {
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "passport.jpg"), []byte("not a photo"), 0o600)
				os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
				r := newRig(t, func(o *AppOptions) { o.Language = l; o.ImportDirs = []string{dir, filepath.Join(dir, "missing")} })
				r.agree(t)
				test.Tap(r.app.v.refButtons[0]) // Import ID photo
				if n := len(r.app.v.refFiles.Objects); n != 1 {
					t.Fatalf("import lists %d files; want 1 (passport.jpg)", n)
				}
				test.Tap(r.app.v.refButtons[len(r.app.v.refButtons)-1])
				if got, want := r.app.v.refMsg.Text, r.app.cat.Text(l, catalogue.RefBadPhoto, nil); got != want {
					t.Fatalf("message after a bad photo = %q; want %q", got, want)
				}
				if got := r.flow.Snapshot().Stage; got != checkin.StageReference {
					t.Fatalf("stage after a bad photo = %v; want reference", got)
				}
				golden(r, "reference_bad_photo")
			})
			t.Run("card", func(t *testing.T) {
				r := newRig(t, func(o *AppOptions) { o.Language = l })
				r.agree(t)
				test.Tap(r.app.v.refButtons[1]) // Hold up ID card
				s := r.flow.Snapshot()
				r.app.Frame(checkin.Frame{Frame: frame(t), State: s})
				wantScreen(t, r.app, screenLive)
				golden(r, "card")
				test.Tap(r.app.v.liveCancel)
				if got := r.flow.Snapshot().Stage; got != checkin.StageIdle {
					t.Fatalf("after Cancel, stage = %v; want idle", got)
				}
				wantScreen(t, r.app, screenIdle)
			})
			until := t0.Add(6 * time.Second)
			for _, tc := range []struct {
				name   string
				snap   checkin.Snapshot
				screen string
			}{
				{"capturing", checkin.Snapshot{Stage: checkin.StageCapturing, Prompt: checkin.PromptComeCloser}, screenLive},
				{"liveness_50", checkin.Snapshot{Stage: checkin.StageLiveness, Prompt: checkin.PromptKeepStill, Progress: 0.5}, screenLive},
				{"challenge_flash", checkin.Snapshot{Stage: checkin.StageLiveness, Prompt: checkin.PromptFlash, Progress: 1, Flashing: true,
					Flash: color.NRGBA{R: 255, G: 40, B: 255, A: 255}}, screenLive},
				{"deciding", checkin.Snapshot{Stage: checkin.StageDeciding, Prompt: checkin.PromptChecking}, screenDeciding},
				{"result_pass", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomePass, Prompt: checkin.PromptPass, Until: until}, screenResult},
				{"result_fail", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomeFail, Reason: checkin.ReasonNoMatch, Prompt: checkin.PromptFail, Until: until}, screenResult},
				{"result_refer", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomeRefer, Reason: checkin.ReasonUncertain, Prompt: checkin.PromptSeeStaff, Until: until}, screenResult},
				{"result_timeout", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomeFail, Reason: checkin.ReasonTimeout, Prompt: checkin.PromptTimeout, Until: until}, screenResult},
				{"locked_out", checkin.Snapshot{Stage: checkin.StageLockedOut, Outcome: checkin.OutcomeFail, Reason: checkin.ReasonNotLive,
					Prompt: checkin.PromptLockedOut, Until: t0.Add(105 * time.Second)}, screenLocked},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := newRig(t, func(o *AppOptions) { o.Language = l })
					tc.snap.Version = 1000 // newer than the real flow's
					r.app.Frame(checkin.Frame{Frame: frame(t), State: tc.snap})
					wantScreen(t, r.app, tc.screen)
					if r.app.pending.Load() {
						t.Fatal("a frame is still pending after fyne.Do ran")
					}
					golden(r, tc.name)
				})
			}
		})
	}
}

// agree taps the idle screen and agrees to the notice.
func (r *rig) agree(t *testing.T) {
	t.Helper()
	test.Tap(r.app.v.idleTap)
	wantScreen(t, r.app, screenConsent)
	test.Tap(r.app.v.agree)
	if got := r.flow.Snapshot().Stage; got != checkin.StageReference {
		t.Fatalf("after agreeing, stage = %v; want reference", got)
	}
}

// TestLanguageButtonAndReset: the idle screen's language button switches
// every visitor text, the notice is agreed to in that language, and after
// the check-in ends the next visitor starts in the kiosk's default.
func TestLanguageButtonAndReset(t *testing.T) {
	r := newRig(t, func(o *AppOptions) { o.Language = checkin.English })
	test.Tap(r.app.v.langs[checkin.German])
	if r.app.lang != checkin.German || r.app.v.staff.Text != "Personal" {
		t.Fatalf("after tapping Deutsch: language %s, staff button %q; want German", r.app.lang, r.app.v.staff.Text)
	}
	if got := r.flow.Snapshot().Stage; got != checkin.StageIdle {
		t.Fatalf("tapping a language started a check-in (stage %v)", got)
	}
	test.Tap(r.app.v.idleTap)
	if got, want := r.app.v.noticeTitle.Text, checkin.DefaultNotice().Text(checkin.German).Title; got != want {
		t.Errorf("notice title %q; want the German %q", got, want)
	}
	if !strings.Contains(r.app.v.noticeBody.Text, "1 Stunde") {
		t.Errorf("German notice does not state the kiosk's retention (1 hour):\n%s", r.app.v.noticeBody.Text)
	}
	test.Tap(r.app.v.agree)
	test.Tap(r.app.v.refButtons[len(r.app.v.refButtons)-3]) // Cancel, above Look again and Back
	if got := r.flow.Snapshot().Stage; got != checkin.StageIdle {
		t.Fatalf("after Cancel: stage %v; want idle", got)
	}
	if r.app.lang != checkin.English || r.app.v.staff.Text != "Staff" {
		t.Errorf("after the check-in: language %s; want the default, English", r.app.lang)
	}
}

// TestDeclineOnScreen: "No thanks" returns to idle and counts a decline;
// nothing is stored.
func TestDeclineOnScreen(t *testing.T) {
	r := newRig(t, nil)
	test.Tap(r.app.v.idleTap)
	test.Tap(r.app.v.decline)
	wantScreen(t, r.app, screenIdle)
	st, err := r.st.Stats(context.Background())
	if err != nil || st.Counters.Declined != 1 || st.RecordsHeld != 0 {
		t.Errorf("after a decline: %+v, %v; want 1 decline, no record", st.Counters, err)
	}
}

// TestAccessibleLooks renders idle and consent in large text and in high
// contrast, and checks that every visible button of every visitor screen
// is a touch target of at least 48 px in each look.
func TestAccessibleLooks(t *testing.T) {
	r := newRig(t, func(o *AppOptions) { o.NoticeURL = "https://kiosk-7.example.org/privacy" })
	test.Tap(r.app.v.largeText)
	if !r.app.look.large {
		t.Fatal("the large-text button did not switch")
	}
	r.golden(t, "idle_large.en.png")
	test.Tap(r.app.v.contrast)
	r.golden(t, "idle_large_contrast.en.png")
	test.Tap(r.app.v.largeText)
	test.Tap(r.app.v.idleTap)
	r.golden(t, "consent_contrast.en.png")

	for _, lk := range []look{{}, {large: true}, {contrast: true}, {large: true, contrast: true}} {
		r := newRig(t, func(o *AppOptions) { o.Language = checkin.French })
		r.app.setLook(lk)
		for _, screen := range []func(){
			func() {},
			func() { test.Tap(r.app.v.idleTap) },
			func() { test.Tap(r.app.v.agree) },
			func() {
				r.app.Frame(checkin.Frame{Frame: frame(t), State: checkin.Snapshot{Stage: checkin.StageCapturing, Prompt: checkin.PromptNoFace, Version: 500}})
			},
		} {
			screen()
			checkTargets(t, r, lk)
		}
	}
}

// checkTargets walks the visible screen and fails on a button smaller
// than 48 × 48 px.
func checkTargets(t *testing.T, r *rig, lk look) {
	t.Helper()
	var walk func(o fyne.CanvasObject)
	n := 0
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if b, ok := o.(*widget.Button); ok {
			n++
			if sz := b.Size(); sz.Height < 48 || sz.Width < 48 {
				t.Errorf("look %+v, screen %s: button %q is %.0f × %.0f px; want at least 48 × 48", lk, r.app.screen, b.Text, sz.Width, sz.Height)
			}
			return
		}
		if c, ok := o.(*fyne.Container); ok {
			for _, k := range c.Objects {
				walk(k)
			}
			return
		}
		switch w := o.(type) {
		case *container.Scroll:
			walk(w.Content)
		case *container.ThemeOverride:
			walk(w.Content)
		}
	}
	walk(r.win.Content())
	if n == 0 {
		t.Errorf("look %+v, screen %s: no buttons found to check", lk, r.app.screen)
	}
}

func TestResultReturnsToIdleWhenTheFlowDoes(t *testing.T) {
	r := newRig(t, nil)
	r.app.show(checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomePass, Version: 10})
	wantScreen(t, r.app, screenResult)
	r.app.show(checkin.Snapshot{Stage: checkin.StageIdle, Version: 11})
	wantScreen(t, r.app, screenIdle)
}

func TestFrameDropsWhilePending(t *testing.T) {
	r := newRig(t, nil)
	r.app.pending.Store(true) // as if the UI goroutine had not drawn the last frame
	r.app.Frame(checkin.Frame{Frame: frame(t), State: checkin.Snapshot{Stage: checkin.StageCapturing, Version: 99}})
	if r.app.Shown() != 0 || r.app.screen != screenIdle {
		t.Fatalf("a frame was drawn while the previous one was pending (shown %d, screen %q)", r.app.Shown(), r.app.screen)
	}
	r.app.pending.Store(false)
	r.app.Frame(checkin.Frame{Frame: frame(t), State: checkin.Snapshot{Stage: checkin.StageCapturing, Version: 99}})
	if r.app.Shown() != 1 {
		t.Fatalf("Shown() = %d; want 1", r.app.Shown())
	}
	// An older snapshot (a frame overtaken by a tap) must not redraw.
	r.app.Frame(checkin.Frame{Frame: frame(t), State: checkin.Snapshot{Stage: checkin.StageIdle, Version: 98}})
	wantScreen(t, r.app, screenLive)
}

// stableIDs redraws the listed records with fixed IDs (the store draws
// them at random), so the render is repeatable. It leaves the console's
// state alone; loadRecords brings the real IDs back.
func (r *rig) stableIDs() {
	for i := range r.app.c.rows {
		r.app.c.rows[i].ID = store.ID(1001 + i)
	}
	r.app.drawRecords()
}

// seed stores n records; the first has a face crop.
func (r *rig) seed(t *testing.T, n int) {
	t.Helper()
	photo := faceJPEG(t)
	for i := range n {
		c := store.CheckIn{Passed: i%2 == 0, Liveness: []byte(`{}`)}
		if i == n-1 {
			c.Photo = photo
		}
		if _, err := r.st.Put(context.Background(), c); err != nil {
			t.Fatalf("Put = %v", err)
		}
		r.clk.Advance(7 * time.Minute)
	}
}

func TestOperatorGoldens(t *testing.T) {
	t.Run("pin", func(t *testing.T) {
		r := newRig(t, nil)
		test.Tap(r.app.v.staff)
		wantScreen(t, r.app, screenPIN)
		r.golden(t, "pin_empty.png")
		r.press(t, "1", "3", "5", "7", keyDelete, "9")
		if got := r.app.p.dots.Text; got != "● ● ● ●" {
			t.Fatalf("dots = %q; want 4", got)
		}
		r.press(t, keyOK)
		if got := r.app.p.msg.Text; got != "Wrong PIN" {
			t.Fatalf("message = %q; want Wrong PIN", got)
		}
		if r.con.Unlocked() {
			t.Fatal("console unlocked by a wrong PIN")
		}
		r.golden(t, "pin_wrong.png")
	})
	t.Run("pin_lockout", func(t *testing.T) {
		r := newRig(t, nil)
		r.pin.lockout = &checkin.PINLockoutError{RetryAfter: 10 * time.Minute}
		test.Tap(r.app.v.staff)
		r.typePIN(t, "2468")
		if r.con.Unlocked() {
			t.Fatal("console unlocked during the TPM lockout")
		}
		r.clk.Advance(30 * time.Second)
		r.app.Refresh()
		if got, want := r.app.p.msg.Text, "Too many wrong PINs. Try again in 9:30 (at 09:40)."; got != want {
			t.Fatalf("message = %q; want %q", got, want)
		}
		r.golden(t, "pin_lockout.png")
	})
	t.Run("records", func(t *testing.T) {
		r := newRig(t, nil)
		r.seed(t, 3)
		test.Tap(r.app.v.staff)
		r.typePIN(t, "2468")
		wantScreen(t, r.app, screenConsole)
		if n := len(r.app.c.rows); n != 3 {
			t.Fatalf("records listed = %d; want 3", n)
		}
		for _, row := range r.app.c.rows {
			if row.Photo != nil {
				t.Fatalf("record %d has a photo before Decrypt photos", row.ID)
			}
		}
		r.stableIDs()
		r.golden(t, "records_locked.png")
		r.app.loadRecords()

		test.Tap(r.app.c.decrypt)
		if r.app.c.rows[0].Photo == nil {
			t.Fatal("the newest record's photo is not shown after Decrypt photos")
		}
		r.clk.Advance(5 * time.Second)
		r.app.Refresh()
		r.stableIDs()
		r.golden(t, "records_decrypted.png")

		r.clk.Advance(26 * time.Second) // past the console's 30 s
		r.app.Refresh()
		for _, row := range r.app.c.rows {
			if row.Photo != nil {
				t.Fatalf("record %d still shows its photo after the time-out", row.ID)
			}
		}

		// Erase asks first.
		real := r.app.c.rows[1]
		r.stableIDs()
		r.app.c.confirm = int64(r.app.c.rows[1].ID)
		r.app.drawRecords()
		r.golden(t, "records_erase_confirm.png")
		r.app.loadRecords()
		r.app.eraseRecord(real)
		if n := len(r.app.c.rows); n != 2 {
			t.Fatalf("records after erase = %d; want 2", n)
		}
	})
	t.Run("idle_lock", func(t *testing.T) {
		r := newRig(t, nil)
		test.Tap(r.app.v.staff)
		r.typePIN(t, "2468")
		wantScreen(t, r.app, screenConsole)
		r.clk.Advance(3 * time.Minute)
		r.app.Refresh()
		wantScreen(t, r.app, screenIdle)
		if r.con.Unlocked() {
			t.Fatal("console still unlocked after inactivity")
		}
	})
	for _, tc := range []struct{ tab, file string }{
		{tabEnrol, "enrol.png"},
		{tabSettings, "settings.png"},
		{tabEvidence, "evidence.png"},
		{tabDiagnostics, "diagnostics.png"},
	} {
		t.Run(tc.tab, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "ada.jpg"), faceJPEG(t), 0o600)
			os.WriteFile(filepath.Join(dir, "grace.png"), []byte("x"), 0o600)
			r := newRig(t, func(o *AppOptions) { o.ImportDirs = []string{dir} })
			test.Tap(r.app.v.staff)
			r.typePIN(t, "2468")
			test.Tap(r.app.c.tabs[tc.tab])
			if tc.tab == tabEnrol {
				r.app.c.name.SetText("Ada Lovelace")
				r.app.c.enrolPick = filepath.Join(dir, "ada.jpg")
				r.app.loadEnrolFiles()
			}
			r.golden(t, tc.file)
		})
	}
}

func TestSettingsSave(t *testing.T) {
	r := newRig(t, nil)
	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	test.Tap(r.app.c.tabs[tabSettings])
	r.app.c.settings.Retention = stepDuration(r.app.c.settings.Retention, retentionSteps, 1)
	r.app.saveSettings()
	got, err := checkin.LoadSettings(context.Background(), r.st, checkin.Settings{})
	if err != nil || got.Retention != 8*time.Hour {
		t.Fatalf("stored retention = %v, %v; want 8h", got.Retention, err)
	}
}

func TestPINEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		keys   []string
		submit bool
		pin    string
	}{
		{"digits", []string{"1", "2", "3", "4"}, false, "1234"},
		{"delete", []string{"1", "2", keyDelete, "3"}, false, "13"},
		{"delete empty", []string{keyDelete, keyDelete, "5"}, false, "5"},
		{"ok empty", []string{keyOK}, false, ""},
		{"ok", []string{"9", keyOK}, true, "9"},
		{"junk ignored", []string{"x", "12", "7"}, false, "7"},
		{"max length", []string{"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}, false, "111111111111"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pinEntry
			submit := false
			for _, k := range tc.keys {
				submit = p.Press(k)
			}
			if submit != tc.submit {
				t.Errorf("last Press = %v; want %v", submit, tc.submit)
			}
			if got := string(p.digits); got != tc.pin {
				t.Errorf("digits = %q; want %q", got, tc.pin)
			}
			if got := p.Take(); got != tc.pin || len(p.digits) != 0 {
				t.Errorf("Take() = %q (left %d); want %q and empty", got, len(p.digits), tc.pin)
			}
		})
	}
}

func TestFormatCountdown(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0:00"}, {0, "0:00"}, {time.Millisecond, "0:01"}, {59 * time.Second, "0:59"},
		{60 * time.Second, "1:00"}, {105*time.Second + time.Millisecond, "1:46"}, {time.Hour + 2*time.Second, "1:00:02"},
	} {
		if got := formatCountdown(tc.d); got != tc.want {
			t.Errorf("formatCountdown(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatSpan(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {time.Minute, "1 minute"}, {15 * time.Minute, "15 minutes"}, {time.Hour, "1 hour"},
		{8 * time.Hour, "8 hours"}, {24 * time.Hour, "1 day"}, {30 * 24 * time.Hour, "30 days"}, {90 * time.Second, "1m30s"},
	} {
		if got := formatSpan(tc.d); got != tc.want {
			t.Errorf("formatSpan(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

func TestVisitorPrompt(t *testing.T) {
	c := catalogue.New()
	for _, tc := range []struct {
		name string
		s    checkin.Snapshot
		want string
	}{
		{"flow prompt", checkin.Snapshot{Stage: checkin.StageCapturing, Prompt: checkin.PromptComeCloser}, "Please come closer"},
		{"empty capturing", checkin.Snapshot{Stage: checkin.StageCapturing}, "Please look at the camera"},
		{"idle", checkin.Snapshot{Stage: checkin.StageIdle}, "Tap to check in"},
		{"pass without prompt", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomePass}, "You're checked in. Welcome!"},
		{"timeout without prompt", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomeFail, Reason: checkin.ReasonTimeout}, "We couldn't see your face clearly. Please try again."},
		{"no match never says why", checkin.Snapshot{Stage: checkin.StageResult, Outcome: checkin.OutcomeFail, Reason: checkin.ReasonNoMatch}, "We couldn't check you in. Please ask a member of staff."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := visitorPrompt(c, checkin.English, tc.s); got != tc.want {
				t.Errorf("visitorPrompt(%+v) = %q; want %q", tc.s, got, tc.want)
			}
		})
	}
}

func TestPhotoMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want catalogue.Key
	}{
		{fmt.Errorf("%w: not a JPEG", checkin.ErrBadPhoto), catalogue.RefBadPhoto},
		{fmt.Errorf("reference: %w", models.ErrNoFace), catalogue.RefNoFace},
		{fmt.Errorf("reference: %w (3)", models.ErrManyFaces), catalogue.RefManyFaces},
		{checkin.ErrNoneEnrolled, catalogue.RefNoEnrolled},
		{errors.New("onnx: exploded"), catalogue.RefTryAgain},
		{&models.ReferenceError{Check: models.ReferenceCheck{Faces: 1, Problems: []models.ReferenceProblem{models.ReferenceBlurry, models.ReferenceEyesHidden}}}, catalogue.RefUnfitBlurry},
		{fmt.Errorf("photo: %w", &models.ReferenceError{Check: models.ReferenceCheck{Faces: 1, Problems: []models.ReferenceProblem{models.ReferenceTurned}}}), catalogue.RefUnfitTurned},
		{&models.ReferenceError{Check: models.ReferenceCheck{Problems: []models.ReferenceProblem{models.ReferenceNoFace}}}, catalogue.RefNoFace},
	} {
		if got := photoMessage(tc.err); got != tc.want {
			t.Errorf("photoMessage(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}

func TestPINMessage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		want      string
		wantUntil time.Time
	}{
		{"wrong", fmt.Errorf("tpm: %w", checkin.ErrWrongPIN), "Wrong PIN", time.Time{}},
		{"lockout", fmt.Errorf("tpm: %w", &checkin.PINLockoutError{RetryAfter: 90 * time.Second}), "Too many wrong PINs. Try again in 1:30 (at 09:31).", t0.Add(90 * time.Second)},
		{"lockout unknown", &checkin.PINLockoutError{}, "Too many wrong PINs. Sign-in is locked: ask the administrator to reset it.", time.Time{}},
		{"other", errors.New("tpm: device gone"), "Sign-in failed. Please try again.", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, until := pinMessage(tc.err, t0)
			if got != tc.want || !until.Equal(tc.wantUntil) {
				t.Errorf("pinMessage(%v) = %q, %v; want %q, %v", tc.err, got, until, tc.want, tc.wantUntil)
			}
		})
	}
}

func TestStepSettings(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		dir  int
		want time.Duration
	}{
		{0, 1, time.Hour}, {0, -1, 0}, {2 * time.Hour, 1, 8 * time.Hour}, {2 * time.Hour, -1, time.Hour},
		{366 * 24 * time.Hour, 1, 366 * 24 * time.Hour},
	} {
		if got := stepDuration(tc.d, retentionSteps, tc.dir); got != tc.want {
			t.Errorf("stepDuration(%v, %d) = %v; want %v", tc.d, tc.dir, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    float32
		dir  int
		want float32
	}{{0.56, 1, 0.57}, {0.56, -1, 0.55}, {0.50, -1, 0.50}, {0.90, 1, 0.90}, {0.555, 1, 0.57}} {
		if got := stepThreshold(tc.v, tc.dir, [2]float32{0.5, 0.9}); got != tc.want {
			t.Errorf("stepThreshold(%v, %d) = %v; want %v", tc.v, tc.dir, got, tc.want)
		}
	}
}

func TestEnrolMessages(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "grace.png"), []byte("\x89PNG\r\n\x1a\ntruncated"), 0o600)
	r := newRig(t, func(o *AppOptions) { o.ImportDirs = []string{dir} })
	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	test.Tap(r.app.c.tabs[tabEnrol])
	for _, tc := range []struct {
		name, person, pick, want string
	}{
		{"no name", "", "grace.png", "Enter the person's name."},
		{"no photo", "Grace Hopper", "", "Choose a photo."},
		{"bad photo", "Grace Hopper", "grace.png", "That file is not a usable JPEG, PNG or WebP photo."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.app.c.name.SetText(tc.person)
			r.app.c.enrolPick = ""
			if tc.pick != "" {
				r.app.c.enrolPick = filepath.Join(dir, tc.pick)
			}
			r.app.enrol()
			if got := r.app.c.enrolMsg.Text; got != tc.want {
				t.Errorf("enrol message = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestPINPadLeaves(t *testing.T) {
	r := newRig(t, nil)
	test.Tap(r.app.v.staff)
	wantScreen(t, r.app, screenPIN)
	r.clk.Advance(pinIdle)
	r.app.Refresh()
	wantScreen(t, r.app, screenIdle)

	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	wantScreen(t, r.app, screenConsole)
	test.Tap(r.app.c.lock)
	wantScreen(t, r.app, screenIdle)
	if r.con.Unlocked() {
		t.Fatal("console still unlocked after Lock")
	}
	test.Tap(r.app.v.idleTap) // the visitor side works again
	if got := r.flow.Snapshot().Stage; got != checkin.StageConsent {
		t.Fatalf("after Lock and a tap, stage = %v; want consent (the notice)", got)
	}
}

func TestImportable(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"stick1/b.JPG", "stick1/a.png", "stick1/.hidden.jpg", "stick1/c.txt", "stick2/d.webp", "stick2/sub/e.jpg", "folder/f.jpeg"} {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("x"), 0o600)
	}
	got := importable([]string{filepath.Join(root, "stick*"), filepath.Join(root, "folder"), filepath.Join(root, "folder"), filepath.Join(root, "gone")})
	var names []string
	for _, p := range got {
		rel, _ := filepath.Rel(root, p)
		names = append(names, rel)
	}
	want := []string{"stick1/a.png", "stick1/b.JPG", "stick2/d.webp", "folder/f.jpeg"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("importable = %v; want %v", names, want)
	}
}
