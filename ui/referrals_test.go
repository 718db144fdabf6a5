package ui

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"kiosk/capture"
	"kiosk/checkin"
	"kiosk/models"
)

// sharedFile reads a file of ../shared/data, skipping when the shared
// data is absent.
func sharedFile(t testing.TB, rel string) []byte {
	t.Helper()
	dir := os.Getenv("KIOSK_SHARED_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "shared")
	}
	b, err := os.ReadFile(filepath.Join(dir, "data", rel))
	if err != nil {
		t.Skipf("shared data not found (%v): put ../shared beside the repository or set KIOSK_SHARED_DIR", err)
	}
	return b
}

// referVisitor runs a real check-in through the rig's flow that ends in a
// referral: a generated clip of one photo of a person against another
// photo of them, with the matcher's bands moved so that their score falls
// between them. The clock follows the frames.
func referVisitor(t *testing.T, r *rig) {
	t.Helper()
	r.m.Bands = models.Bands{Fail: 0.2, Pass: 0.99}
	checkInClip(t, r, "faces/pairs/img20.jpg", "faces/pairs/img21.jpg", 12, checkin.ReasonUncertain)
}

// checkInClip runs a real check-in of a generated clip of the photo face
// (a 72 bpm pulse, seconds long) against the photo reference, and fails
// unless it ends in a referral for the reason given.
func checkInClip(t *testing.T, r *rig, face, reference string, seconds int, want checkin.Reason) {
	t.Helper()
	r.agree(t)
	ref, err := checkin.PhotoReference(r.m, sharedFile(t, reference))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.flow.UseReference(ref); err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(sharedFile(t, face)))
	if err != nil {
		t.Fatal(err)
	}
	src := capture.NewSynthetic(capture.SyntheticOptions{Face: img, PulseBPM: 72, Start: r.clk.Now(), Frames: seconds * 30, Seed: 7})
	defer src.Close()
	ctx := context.Background()
	for {
		fr, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("the clip ended before a result: %v", err)
		}
		r.clk.Follow(fr.Time)
		s := r.flow.Step(ctx, fr)
		fr.Release()
		if s.Stage == checkin.StageResult {
			if s.Outcome != checkin.OutcomeRefer || s.Reason != want {
				t.Fatalf("check-in ended %s/%s; want refer/%s", s.Outcome, s.Reason, want)
			}
			r.app.show(s)
			return
		}
	}
}

// TestReferralScreens: the visitor is told to see staff; the console opens
// on the Referrals tab; Compare faces shows the ID photo and the live face
// side by side with the score between the edges; confirming records the
// decision and empties the list. Goldens: see_staff (visitor),
// referrals_list, referral_compare, referral_decided.
func TestReferralScreens(t *testing.T) {
	r := newRig(t, nil)
	referVisitor(t, r)
	wantScreen(t, r.app, screenResult)
	if !r.app.v.resRefer.Visible() || r.app.v.resPass.Visible() || r.app.v.resFail.Visible() {
		t.Fatal("the result screen does not show the staff mark alone")
	}
	if got, want := r.app.v.resHead.Text, r.app.cat.Text(checkin.English, "result.refer", nil); got != want {
		t.Fatalf("result heading %q; want %q", got, want)
	}
	r.golden(t, "see_staff.en.png")

	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	wantScreen(t, r.app, screenConsole)
	if r.app.c.tab != tabReferrals || len(r.app.r.rows) != 1 {
		t.Fatalf("console opened on %q with %d referrals; want the Referrals tab with 1", r.app.c.tab, len(r.app.r.rows))
	}
	if got := r.app.c.tabs[tabReferrals].Text; got != "Referrals (1)" {
		t.Errorf("tab label %q; want the count", got)
	}
	r.golden(t, "referrals_list.png")

	r.app.openReferral(r.app.r.rows[0].ID)
	v := r.app.r.open
	if v == nil || v.LiveFace == nil || v.ReferenceFace == nil {
		t.Fatalf("Compare faces opened %+v; want both faces", v)
	}
	if !strings.Contains(r.app.r.facts.Text, "between the edges: refused below 0.20, checked in from 0.99") {
		t.Errorf("facts %q; want the score and both edges", r.app.r.facts.Text)
	}
	r.golden(t, "referral_compare.png")

	rec := v.RecordID
	r.app.decideReferral(true)
	if r.app.r.open != nil || len(r.app.r.rows) != 0 {
		t.Fatal("the decided referral is still shown or listed")
	}
	if !strings.Contains(r.app.r.status.Text, "Confirmed") {
		t.Errorf("status %q; want the confirmation", r.app.r.status.Text)
	}
	r.golden(t, "referral_decided.png")
	events, _, err := r.st.AuditEvents(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	var confirmed bool
	for _, ev := range events {
		confirmed = confirmed || (ev.Action == "referral.confirm" && ev.Subject == rec)
	}
	if !confirmed {
		t.Errorf("no referral.confirm audit event for record %d", rec)
	}
	if st, _ := r.st.Stats(context.Background()); st.Counters.Confirmed != 1 {
		t.Errorf("confirmed counter %d; want 1", st.Counters.Confirmed)
	}
}

// TestReferralScreensUnsureLiveness: a visitor with a pulse whose
// anti-spoof score was between the edges (a real studio portrait the
// model scores around 0.4) waits on the Referrals tab as "not sure the
// face is live", and the comparison asks whether they are at the desk in
// person, with the score and its edges. Goldens: referrals_list_live,
// referral_compare_live.
func TestReferralScreensUnsureLiveness(t *testing.T) {
	r := newRig(t, nil)
	checkInClip(t, r, "faces/pairs/img10.jpg", "faces/pairs/img5.jpg", 14, checkin.ReasonUncertainLive)
	wantScreen(t, r.app, screenResult)
	if !r.app.v.resRefer.Visible() {
		t.Fatal("the result screen does not show the staff mark")
	}
	test.Tap(r.app.v.staff)
	r.typePIN(t, "2468")
	wantScreen(t, r.app, screenConsole)
	if r.app.c.tab != tabReferrals || len(r.app.r.rows) != 1 || r.app.r.rows[0].Reason != checkin.ReasonUncertainLive {
		t.Fatalf("console opened on %q with referrals %+v; want the Referrals tab with one for an unsure liveness", r.app.c.tab, r.app.r.rows)
	}
	r.golden(t, "referrals_list_live.png")
	r.app.openReferral(r.app.r.rows[0].ID)
	if r.app.r.open == nil || r.app.r.question.Text != referralQuestionLive {
		t.Fatalf("Compare faces opened %+v asking %q; want the in-person question", r.app.r.open, r.app.r.question.Text)
	}
	if f := r.app.r.facts.Text; !strings.Contains(f, "anti-spoof model was not sure") || !strings.Contains(f, "refused below 0.10, checked in from 0.50") {
		t.Errorf("facts %q; want the anti-spoof doubt with its edges", f)
	}
	r.golden(t, "referral_compare_live.png")
}
