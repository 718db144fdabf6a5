package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"kiosk/api"
	"kiosk/capture"
	"kiosk/catalogue"
	"kiosk/checkin"
	"kiosk/models"
	"kiosk/ui"
)

// demoPIN is the operator PIN a demo sets on a software TPM that has none,
// so operator mode can be tried; `kiosk keys set-pin` changes it.
const demoPIN = "246810"

// runFlags are the options of `kiosk run` beyond the frame source and the
// retention policy.
type runFlags struct {
	headless, windowed bool
	duration, every    time.Duration
	checkins           int64
	frameClock         bool
	inputSize          int
	listen             string
	tlsCert, tlsKey    string
	kioskID            string
	demoPhoto          string
	autoCheckin        bool
	importDirs         string
	storeFaceCrop      bool
	matchPass          float64
	matchFail          float64
	screenChallenge    bool
	noticeURL          string
	language           string
	requireMRZ         bool
	allowExpired       bool
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&r.headless, "headless", false, "no window: log the frame rate and check-ins (automatic when there is no display)")
	fs.BoolVar(&r.windowed, "windowed", false, "UI in a window (field laptops); the default fills the screen, as a kiosk does")
	fs.DurationVar(&r.duration, "duration", 0, "stop after this long (0 = until interrupted or the source ends)")
	fs.BoolVar(&r.frameClock, "frame-clock", false, "files and the generated video: process every frame and run the check-in on the frames' own clock (default: on when --pace=false); with --pace a busy machine plays the video slower instead of dropping frames")
	fs.Int64Var(&r.checkins, "checkins", 0, "stop after this many finished check-ins (0 = no limit); with --demo --pace=false a test of the whole kiosk that a busy machine only slows down")
	fs.DurationVar(&r.every, "stats-interval", 5*time.Second, "headless: how often to log the frame rate")
	fs.IntVar(&r.inputSize, "input-size", 320, "longest side frames are scaled to for face detection")
	fs.StringVar(&r.listen, "listen", "127.0.0.1:8080", "local API address (retention evidence, metrics, /v1/checkins); empty turns it off; beyond loopback needs --tls-cert and --tls-key")
	fs.StringVar(&r.tlsCert, "tls-cert", "", "TLS certificate (PEM), for the API on the LAN")
	fs.StringVar(&r.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringVar(&r.kioskID, "kiosk-id", "kiosk", "this machine's name in the retention report")
	fs.StringVar(&r.demoPhoto, "demo-photo", "", "ID photo offered by the demo's \"Use the demo ID photo\" (default: the shared sample matching the demo face)")
	fs.BoolVar(&r.autoCheckin, "auto-checkin", false, "headless: check in with the demo ID photo over and over, logging each result (on by default with --demo)")
	fs.StringVar(&r.importDirs, "import-dirs", "/media/*/*,/run/media/*/*,/mnt", "comma-separated folders or globs (USB sticks) listed by \"Import ID photo\"")
	fs.BoolVar(&r.storeFaceCrop, "store-face-crop", true, "keep the live face crop (sealed) in each record, for operator review")
	fs.BoolVar(&r.screenChallenge, "screen-challenge", false, "after a live pulse, flash a random colour sequence the face must reflect (defeats replayed video; adds about 3.3 s)")
	fs.Float64Var(&r.matchPass, "match-threshold", models.DefaultPassEdge, "the face match's pass edge: a score at or above it checks the visitor in (default: the operator's setting, else the model's calibration; docs/matching.md)")
	fs.Float64Var(&r.matchFail, "match-fail-edge", models.DefaultFailEdge, "the face match's fail edge: below it no match; between the edges a member of staff decides (default: the operator's setting, else the model's calibration)")
	fs.StringVar(&r.noticeURL, "notice-url", "", "where a visitor's phone reaches this kiosk's full privacy notice and signed retention report (the local API's /privacy as the LAN sees it), shown as a QR code on the notice; default: derived from a --listen address a phone can reach, else no QR code")
	fs.BoolVar(&r.requireMRZ, "require-mrz", false, "refuse a check-in whose identity document's machine-readable zone cannot be read (default: the operator's setting, else read it when present)")
	fs.BoolVar(&r.allowExpired, "allow-expired", false, "accept expired identity documents (default: the operator's setting, else refused)")
	fs.StringVar(&r.language, "language", "", "the visitor language each visitor starts in: en, de, fr or es (default: the operator's setting, else en)")
}

// noticeURL is where the notice's QR code points: --notice-url, or the
// API's /privacy when --listen names a specific address beyond loopback
// (served with TLS, as checkListen requires). Empty: no QR code.
func noticeURL(r runFlags) string {
	if r.noticeURL != "" {
		return r.noticeURL
	}
	host, _, err := net.SplitHostPort(r.listen)
	if err != nil || host == "" || r.tlsCert == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		return ""
	}
	return "https://" + r.listen + "/privacy"
}

func runRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "run", "run [--demo] [--headless] [--windowed] [--source S] [--tpm SPEC] [--retention D] [--listen ADDR]\n\nThe check-in kiosk: camera, check-in flow, touchscreen UI (or headless), operator mode and the local API.")
	cfg := addCommonFlags(fs, e)
	var sf sourceFlags
	sf.register(fs)
	var rf retentionFlags
	rf.register(fs, e)
	var r runFlags
	r.register(fs)
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "kiosk run: "+format+"\n", a...)
		return exitFailure
	}
	match := models.Bands{Pass: float32(r.matchPass), Fail: float32(r.matchFail)}
	if err := models.DefaultCalibration.Check(match); err != nil {
		fmt.Fprintf(e.stderr, "kiosk run: --match-threshold %.2f --match-fail-edge %.2f: %v\n", r.matchPass, r.matchFail, err)
		return exitBadInput
	}
	if r.listen != "" {
		if err := checkListen(r.listen, r.tlsCert, r.tlsKey); err != nil {
			fmt.Fprintf(e.stderr, "kiosk run: %v\n", err)
			return exitBadInput
		}
	}
	notify, err := newSDNotifier(sdNotifyOptions{Getenv: e.getenv})
	if err != nil {
		log.Warn("systemd notifications off", "err", err.Error())
	}
	demoPhoto := applyDemoDefaults(&sf, &r, cfg, explicit, log)
	headless := r.headless || !hasDisplay(e)
	if sf.demo && headless && !explicit["auto-checkin"] {
		r.autoCheckin = true
	}

	var lang checkin.Lang
	if r.language != "" {
		if lang, err = checkin.ParseLang(r.language); err != nil {
			fmt.Fprintf(e.stderr, "kiosk run: --language: %v\n", err)
			return exitBadInput
		}
	}
	notice, err := loadNotice(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk run: %v\n", err)
		return exitBadInput
	}
	if r.checkins < 0 {
		fmt.Fprintf(e.stderr, "kiosk run: --checkins %d: want 0 (no limit) or more\n", r.checkins)
		return exitBadInput
	}
	// The flow runs on the frames' clock when they come unpaced from a
	// file or the generator (set below, once the source is known), and on
	// the wall clock for a camera.
	clock := &checkin.FrameClock{}
	k, err := openKiosk(ctx, kioskOptions{dataDir: cfg.dataDir, modelsDir: cfg.modelsDir, inputSize: r.inputSize, rf: &rf,
		explicit: explicit, kioskID: r.kioskID, storeFaceCrop: r.storeFaceCrop, demoPIN: demoPINFor(sf.demo), screenChallenge: r.screenChallenge,
		match: match, now: clock.Now, notice: notice, language: lang,
		documents: checkin.DocumentPolicy{RequireMRZ: r.requireMRZ, AllowExpired: r.allowExpired}}, log)
	if err != nil {
		return fail("%v", err)
	}
	defer k.close()
	ctx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	if r.checkins > 0 {
		k.afterCheckIns = func(n int64) {
			if n >= r.checkins {
				stopRun(errEnoughCheckIns)
			}
		}
	}

	sf.screenLight = k.flow.ScreenLightAt // the generated face reflects the screen, as a real one does
	raw, label, standIn, err := sf.open(log)
	if err != nil {
		return fail("%v", err)
	}
	if !standIn && !explicit["demo-photo"] {
		demoPhoto = nil // a real camera sees a real visitor, not the sample face
	}
	// On the frames' clock (a file or the generator, unpaced by default)
	// every frame is processed and the check-in's time-outs and decision
	// times follow the frames: a busy machine plays the video slower but
	// decides the same. Otherwise frames go through Latest, so a slow frame
	// drops instead of stalling the camera, and time is the wall clock.
	frameClock := standIn && !sf.pace
	if explicit["frame-clock"] {
		frameClock = r.frameClock
	}
	if frameClock && !standIn {
		return fail("--frame-clock is for files and the generated video: a camera's frames cannot wait")
	}
	src := raw
	if !frameClock {
		src = capture.NewLatest(raw)
	}
	defer src.Close()
	if r.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.duration)
		defer cancel()
	}
	// Banners on every screen, in the visitor's language; the log says
	// the same in full.
	var warnings []catalogue.Key
	if !k.vault.custody.Kind().Secure() {
		warnings = append(warnings, catalogue.WarnSoftwareTPM)
		log.Warn("Software TPM: not secure")
	}
	if standIn {
		warnings = append(warnings, catalogue.WarnDemo)
		log.Warn("Demo: " + label + ", not a camera")
	}
	if h := k.vault.store.Health(); !h.OK {
		warnings = append(warnings, catalogue.WarnNotStored)
		log.Warn("Records are not being stored: " + h.Reason)
	}
	log.Info("kiosk starting", "source", label, "version", version, "ui", !headless, "tpm", k.vault.custody.Kind().String(),
		"retention", k.settings.Retention.String(), "language", string(k.settings.Language), "notice", short(k.notice.Version()))
	loop := &checkin.Loop{Flow: k.flow, Source: src}
	if frameClock {
		loop.Clock = clock
	}

	if r.listen != "" {
		// Check-in at the screen does not need the API: a busy port is
		// reported, not fatal.
		if stop, addr, err := serveAPI(k, loop, r, cfg.dataDir, log); err != nil {
			log.Error("local API off: the retention report, metrics and /v1/checkins are not served; free the port or pick another with --listen", "err", err.Error())
		} else {
			defer stop()
			log.Info("local API listening", "listen", addr)
		}
	}
	notify.ready(fmt.Sprintf("checking in: %s, TPM %s", label, k.vault.custody.Kind()))
	defer notify.stopping()

	start := time.Now()
	k.metrics.SetCameraRunning(true)
	if headless {
		err = runHeadless(ctx, k, loop, notify, log, r.every, r.autoCheckin, demoPhoto)
	} else {
		err = runWindow(ctx, k, loop, notify, log, uiOptions(k, loop, label, cfg, warnings, demoPhoto, r), !r.windowed && !sf.demo)
	}
	k.metrics.SetCameraRunning(false)
	st := loop.Stats()
	elapsed := time.Since(start)
	fmt.Fprintf(e.stdout, "processed %d frames in %.1f s: %.1f fps sustained, %d dropped; %d check-ins, %d passed\n",
		st.Frames, elapsed.Seconds(), float64(st.Frames)/max(elapsed.Seconds(), 1e-9), st.Dropped, k.checkIns.Load(), k.passed.Load())
	if err != nil {
		return fail("%v", err)
	}
	return exitOK
}

// errEnoughCheckIns stops kiosk run after --checkins check-ins.
var errEnoughCheckIns = errors.New("the requested number of check-ins finished")

// demoPINFor is the PIN a demo sets on a software TPM with none.
func demoPINFor(demo bool) string {
	if demo {
		return demoPIN
	}
	return ""
}

// applyDemoDefaults points a demo at the shared sample face (a real photo
// the models recognise, with a pulse) and its matching ID photo when the
// shared data is beside the project, and returns the ID photo's bytes
// (nil when there is none).
func applyDemoDefaults(sf *sourceFlags, r *runFlags, cfg *config, explicit map[string]bool, log *slog.Logger) []byte {
	sample := func(name string) string {
		if cfg.sharedDir == "" {
			return ""
		}
		p := filepath.Join(cfg.sharedDir, "data", "faces", "pairs", name)
		if _, err := os.Stat(p); err != nil {
			log.Warn("demo sample missing from the shared folder", "file", p)
			return ""
		}
		return p
	}
	if (sf.demo || sf.spec == "synthetic") && cfg.sharedDir == "" {
		log.Warn("no shared folder with the demo's sample face and ID photo: the demo shows a drawn face and offers no ID photo; put the shared folder beside the repository or set KIOSK_SHARED_DIR",
			"looked_in", strings.Join(sharedDirCandidates(), ", "))
	}
	if sf.demo || sf.spec == "synthetic" {
		if sf.face == "" {
			sf.face = sample("img20.jpg")
		}
		if sf.bpm == 0 && !explicit["bpm"] {
			sf.bpm = 72
		}
		if r.demoPhoto == "" {
			r.demoPhoto = sample("img21.jpg")
		}
	}
	if r.demoPhoto == "" {
		return nil
	}
	b, err := os.ReadFile(r.demoPhoto)
	if err != nil {
		log.Warn("demo ID photo unreadable", "err", err.Error())
		return nil
	}
	return b
}

// checkListen refuses an API address beyond loopback without TLS.
func checkListen(listen, cert, key string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("bad --listen %q: %v", listen, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && (cert == "" || key == "") {
		return fmt.Errorf("%s is not loopback: serving on the LAN needs --tls-cert and --tls-key", listen)
	}
	return nil
}

// apiServer is the local HTTP server of kiosk run and kiosk serve.
type apiServer struct {
	srv  *http.Server
	ln   net.Listener
	errc chan error // receives the error that stopped it, if not stop
}

// startAPI listens on listen (TLS when cert and key are given) and serves h.
// The time-outs allow a 16 MB upload and a check-in waited for (?wait=60s).
func startAPI(h http.Handler, listen, cert, key string) (*apiServer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	s := &apiServer{ln: ln, errc: make(chan error, 1),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 90 * time.Second, MaxHeaderBytes: 16 << 10}}
	go func() {
		var err error
		if cert != "" {
			err = s.srv.ServeTLS(ln, cert, key)
		} else {
			err = s.srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return s, nil
}

func (s *apiServer) addr() string { return s.ln.Addr().String() }

// stop shuts the server down, giving requests in flight 5 s.
func (s *apiServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// serveAPI starts the local API of kiosk run: the signed retention report,
// metrics (with the camera's frame rate) and the check-in integration. It
// returns a function that shuts it down.
func serveAPI(k *station, loop *checkin.Loop, r runFlags, dataDir string, log *slog.Logger) (func(), string, error) {
	h := api.NewHandler(api.Options{Retention: k.evidence, Metrics: k.metrics, CheckIns: k.flow,
		Tokens: api.NewTokenFile(filepath.Join(dataDir, api.TokenFileName), nil), Logger: log,
		Notice: k.notice, NoticeRetention: k.retention, Attestation: k.vault.attestation, Activate: k.vault.activate})
	srv, err := startAPI(h, r.listen, r.tlsCert, r.tlsKey)
	if err != nil {
		return nil, "", err
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				k.metrics.ObserveCamera(loop.Stats())
			case err := <-srv.errc:
				log.Error("local API stopped", "err", err.Error())
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); srv.stop() }, srv.addr(), nil
}

// runHeadless runs the check-in loop with no screen: check-ins come from
// the API (or, in a demo, from autoCheckin), and the frame rate and stage
// are logged every interval.
func runHeadless(ctx context.Context, k *station, loop *checkin.Loop, notify *sdNotifier, log *slog.Logger, every time.Duration, auto bool, demoPhoto []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if auto {
		if demoPhoto == nil {
			log.Warn("--auto-checkin needs a demo ID photo: no check-ins will start; give one with --demo-photo, or put the shared folder (data/faces/pairs/img21.jpg) beside the repository or at KIOSK_SHARED_DIR")
		} else {
			go autoCheckin(ctx, k.flow, demoPhoto, log)
		}
	}
	var next time.Time
	return loop.Run(ctx, func(f checkin.Frame) {
		f.Frame.Release()
		notify.ping()
		if now := time.Now(); now.After(next) {
			next = now.Add(every)
			s := loop.Stats()
			faces := 0
			if !f.State.Face.Empty() {
				faces = 1
			}
			log.Info("preview", "fps", fmt.Sprintf("%.1f", s.FPS), "stage", f.State.Stage.String(), "faces", faces,
				"frame_count", s.Frames, "dropped", s.Dropped)
		}
	})
}

// autoCheckin checks the demo visitor in over and over, as a tap on "Use
// the demo ID photo" would, logging each outcome and how long it took.
func autoCheckin(ctx context.Context, flow *checkin.Flow, photo []byte, log *slog.Logger) {
	for ctx.Err() == nil {
		start := time.Now()
		// The generated visitor is nobody; the demo attests the notice
		// on its behalf, marked as such in the (sealed) record.
		consent := checkin.Consent{Notice: flow.Notice().Version(), At: time.Now().UTC(), Language: checkin.Languages[0], Via: checkin.ConsentDemo}
		n, err := flow.SubmitPhoto(photo, "", "", consent)
		if errors.Is(err, checkin.ErrBusy) || errors.Is(err, checkin.ErrLockedOut) {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		if err != nil {
			log.Error("demo check-in could not start", "err", err.Error())
			return
		}
		res, err := flow.Wait(ctx, n)
		if err != nil {
			return
		}
		log.Info("demo check-in", "checkin", n, "outcome", res.Outcome.String(), "reason", string(res.Reason),
			"seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
		select { // the result screen's time, as a visitor would see it
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	}
}

// uiOptions binds the screens to the kiosk.
func uiOptions(k *station, loop *checkin.Loop, label string, cfg *config, warnings []catalogue.Key, demoPhoto []byte, r runFlags) ui.AppOptions {
	var dirs []string
	for _, d := range strings.Split(r.importDirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, filepath.Join(cfg.dataDir, "import"))
	return ui.AppOptions{
		Flow: k.flow, Console: k.console, PhotoReference: k.photoReference, EnrolledReference: k.enrolledReference,
		ImportDirs: dirs, DemoPhoto: demoPhoto, Warnings: warnings, Evidence: k.evidenceView,
		Language: k.settings.Language, Retention: k.retention(), NoticeURL: noticeURL(r),
		Diagnostics: func(ctx context.Context) []ui.DiagLine { return k.diagnostics(ctx, loop.Stats(), label, cfg) },
		Settings: func(ctx context.Context) (checkin.Settings, error) {
			return checkin.LoadSettings(ctx, k.vault.store, k.settings)
		},
		Logger: k.log,
	}
}

// runWindow shows the UI and runs the loop until the window closes, ctx
// ends or the source fails.
func runWindow(ctx context.Context, k *station, loop *checkin.Loop, notify *sdNotifier, log *slog.Logger, o ui.AppOptions, fullscreen bool) error {
	a := app.NewWithID("dev.kiosk.checkin")
	w := a.NewWindow("Check-in kiosk")
	screen := ui.NewApp(o)
	w.SetPadded(false)
	w.SetContent(screen.Content())
	w.Resize(fyne.NewSize(1024, 768))
	w.SetFullScreen(fullscreen)

	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	w.SetOnClosed(stop)
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		err = loop.Run(loopCtx, func(f checkin.Frame) {
			notify.ping()
			screen.Frame(f)
		})
	}()
	go func() { // countdowns, auto-lock and photo timers
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				screen.Refresh()
			case <-loopCtx.Done():
				return
			}
		}
	}()
	// Fyne catches SIGINT and SIGTERM itself and quits the app; quitting it
	// a second time after GLFW has shut down panics. So the app is quit
	// here only for our own reasons (the duration ran out, the source
	// failed), never for a signal, and never once it has stopped.
	var stopped atomic.Bool
	a.Lifecycle().SetOnStopped(func() { stopped.Store(true) })
	shown := make(chan struct{})
	go func() {
		select {
		case <-shown:
			return
		case <-loopCtx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(context.Cause(ctx), errEnoughCheckIns) {
				return // a signal or the window closing: Fyne is quitting
			}
		case <-done:
			if err == nil {
				return // a finished file leaves its last frame on screen
			}
		}
		stop()
		<-done
		fyne.Do(func() {
			if !stopped.Load() {
				a.Quit()
			}
		})
	}()
	w.ShowAndRun()
	close(shown)
	stop()
	<-done
	log.Info("window closed", "frames_shown", screen.Shown())
	return err
}
