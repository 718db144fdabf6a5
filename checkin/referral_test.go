package checkin

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"kiosk/liveness"
	"kiosk/models"
	"kiosk/store"
)

// TestFlowRefersUncertainMatch: a live visitor whose score falls between
// the matcher's bands is sent to staff, not passed or failed: the visitor
// sees "see staff", the failure count is untouched (MaxFailures 1 would
// lock at once), the record is sealed with both faces, and the console
// opens it on demand, shows the two faces, and audits and counts the
// operator's decision. The bands are moved so that this genuine pair
// scores in the middle band; the flow must honour whatever bands the
// matcher carries.
func TestFlowRefersUncertainMatch(t *testing.T) {
	m := *testMatcher(t)
	m.Bands = models.Bands{Fail: 0.2, Pass: 0.99}
	clk := newClock()
	st, dir, log, logs := scannedStore(t, clk)
	ctx := context.Background()
	f, err := NewFlow(Options{Matcher: &m, Records: st, Now: clk.Now, Logger: log, MaxFailures: 1, ResultHold: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := PhotoReference(&m, readData(t, visitorIDPhoto))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.UseReference(agreed(ref)); err != nil {
		t.Fatal(err)
	}
	last, prompts := run(t, f, visitorClip(t, clk, visitorClipFace, 72, 12))
	if last.Stage != StageResult || last.Outcome != OutcomeRefer || last.Reason != ReasonUncertain || last.Prompt != PromptSeeStaff {
		t.Fatalf("check-in ended %s %s/%q prompt %q (prompts %q); want the result screen, refer/uncertain_match, see_staff",
			last.Stage, last.Outcome, last.Reason, last.Prompt, prompts)
	}
	clk.Advance(2 * time.Second)
	if err := f.Begin(); err != nil {
		t.Fatalf("Begin() after a referral = %v; a referral must not count towards the lock-out", err)
	}
	f.Cancel()

	pending := f.Referrals().Pending(clk.Now())
	if len(pending) != 1 || pending[0].RecordID == 0 || pending[0].Reference != ReferencePhoto {
		t.Fatalf("referral queue = %+v; want one referral with its record", pending)
	}
	rec, err := st.Get(ctx, pending[0].RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Referred || rec.Passed || len(rec.Photo) < 1000 || len(rec.ReferencePhoto) < 1000 {
		t.Fatalf("record referred=%v passed=%v live crop %d bytes reference crop %d bytes; want a referral with both faces (StoreFaceCrop is off)",
			rec.Referred, rec.Passed, len(rec.Photo), len(rec.ReferencePhoto))
	}
	markers := map[string][]byte{"the live face crop": bytes.Clone(rec.Photo[600:632]), "the reference's face crop": bytes.Clone(rec.ReferencePhoto[600:632])}
	rec.Wipe()

	c, err := NewConsole(ConsoleOptions{PIN: pinCheck{"482916"}, Store: st, Matcher: &m, Now: clk.Now, Referrals: f.Referrals(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenReferral(ctx, pending[0].ID); !errors.Is(err, ErrConsoleLocked) {
		t.Fatalf("OpenReferral() while locked = %v; want ErrConsoleLocked", err)
	}
	if err := c.Unlock(ctx, "482916"); err != nil {
		t.Fatal(err)
	}
	listed, err := c.Referrals()
	if err != nil || len(listed) != 1 {
		t.Fatalf("Referrals() = %+v, %v; want the one waiting", listed, err)
	}
	v, err := c.OpenReferral(ctx, listed[0].ID)
	if err != nil {
		t.Fatalf("OpenReferral() = %v", err)
	}
	if v.LiveFace == nil || v.ReferenceFace == nil || v.LiveFace.Bounds().Dx() < 80 || v.ReferenceFace.Bounds().Dx() < 80 {
		t.Fatalf("opened referral shows live %v and reference %v; want both faces", v.LiveFace, v.ReferenceFace)
	}
	if d := v.Decision; d.Outcome != models.OutcomeRefer || d.Score < 0.2 || d.Score >= 0.99 || d.Match {
		t.Errorf("opened referral's decision %+v; want refer with a score between the bands", d)
	}
	if err := c.ResolveReferral(ctx, listed[0].ID, true); err != nil {
		t.Fatalf("ResolveReferral(confirm) = %v", err)
	}
	if c.OpenedReferral() != nil {
		t.Error("the decided referral's faces are still held")
	}
	if err := c.ResolveReferral(ctx, listed[0].ID, false); !errors.Is(err, ErrNoReferral) {
		t.Errorf("deciding twice = %v; want ErrNoReferral", err)
	}
	if left, _ := c.Referrals(); len(left) != 0 {
		t.Errorf("%d referrals still waiting after the decision", len(left))
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Counters.Referred != 1 || stats.Counters.Confirmed != 1 || stats.Counters.Failed != 0 {
		t.Errorf("counters %+v; want 1 referred, 1 confirmed, 0 failed", stats.Counters)
	}
	events, _, err := st.AuditEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]store.ID{}
	for _, ev := range events {
		audited[ev.Action] = ev.Subject
	}
	for _, action := range []string{"referral.open", "referral.confirm"} {
		if audited[action] != pending[0].RecordID {
			t.Errorf("audit %s subject %d; want record %d (events %v)", action, audited[action], pending[0].RecordID, audited)
		}
	}

	// Neither face reaches the data directory or the log in plaintext.
	st.Close()
	assertNotStored(t, dir, logs.Bytes(), markers)
}

// TestReferralWithoutRecord: in ephemeral mode a referral is still queued
// for staff, without faces to show (nothing was kept), and is decided and
// counted all the same.
func TestReferralWithoutRecord(t *testing.T) {
	m := *testMatcher(t)
	m.Bands = models.Bands{Fail: 0.2, Pass: 0.99}
	clk := newClock()
	st := testStore(t, clk, 0)
	f, err := NewFlow(Options{Matcher: &m, Records: st, Now: clk.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := PhotoReference(&m, readData(t, visitorIDPhoto))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.UseReference(agreed(ref)); err != nil {
		t.Fatal(err)
	}
	if last, _ := run(t, f, visitorClip(t, clk, visitorClipFace, 72, 12)); last.Outcome != OutcomeRefer {
		t.Fatalf("outcome %s/%q; want refer", last.Outcome, last.Reason)
	}
	c, err := NewConsole(ConsoleOptions{PIN: pinCheck{"1234"}, Store: st, Now: clk.Now, Referrals: f.Referrals(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Unlock(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	list, _ := c.Referrals()
	if len(list) != 1 || list[0].RecordID != 0 {
		t.Fatalf("Referrals() = %+v; want one without a record", list)
	}
	v, err := c.OpenReferral(ctx, list[0].ID)
	if err != nil || v.LiveFace != nil || v.ReferenceFace != nil {
		t.Fatalf("OpenReferral() = %+v, %v; want a view without faces", v, err)
	}
	if err := c.ResolveReferral(ctx, list[0].ID, false); err != nil {
		t.Fatalf("ResolveReferral(refuse) = %v", err)
	}
	if s, _ := st.Stats(ctx); s.Counters.Refused != 1 || s.Counters.Referred != 1 {
		t.Errorf("counters %+v; want 1 referred and 1 refused", s.Counters)
	}
	clk.Advance(ReferralTTL)
	f.Referrals().add(Referral{At: clk.Now().Add(-ReferralTTL)})
	if left := f.Referrals().Pending(clk.Now()); len(left) != 0 {
		t.Errorf("a referral older than ReferralTTL is still waiting: %+v", left)
	}
}

// TestFlowRefersUnsureAntiSpoof: a visitor with a clear pulse whose
// anti-spoof score sits between the fail edge and the pass edge is sent to
// staff after the full window, not turned away and not passed. The clip is
// a real studio portrait (faces/pairs/img10.jpg, the person of img5.jpg)
// that the anti-spoof model scores 0.10–0.93 per frame (the lowest judged
// median 0.34): real models, no score made up. Before the doubt band, the
// same clip was "not live" at the first decision.
func TestFlowRefersUnsureAntiSpoof(t *testing.T) {
	m := testMatcher(t)
	clk := newClock()
	st := testStore(t, clk, time.Hour)
	ctx := context.Background()
	var results []Result
	f, err := NewFlow(Options{Matcher: m, Records: st, Now: clk.Now, Logger: testLogger(t), MaxFailures: 1, ResultHold: time.Second,
		OnResult: func(r Result) { results = append(results, r) }})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := PhotoReference(m, readData(t, "faces/pairs/img5.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.UseReference(agreed(ref)); err != nil {
		t.Fatal(err)
	}
	last, prompts := run(t, f, visitorClip(t, clk, "faces/pairs/img10.jpg", 72, 14))
	if last.Stage != StageResult || last.Outcome != OutcomeRefer || last.Reason != ReasonUncertainLive || last.Prompt != PromptSeeStaff {
		t.Fatalf("check-in ended %s %s/%q prompt %q (prompts %q); want the result screen, refer/uncertain_liveness, see_staff",
			last.Stage, last.Outcome, last.Reason, last.Prompt, prompts)
	}
	if len(results) != 1 {
		t.Fatalf("OnResult called %d times; want 1", len(results))
	}
	r := results[0]
	th := liveness.DefaultThresholds
	var pad liveness.Signal
	for _, s := range r.Liveness.Signals {
		if s.Name == "pad" {
			pad = s
		}
	}
	if r.Liveness.Verdict != liveness.Refer || !pad.Used || pad.Value < th.PADFailEdge || pad.Value >= th.MinPAD || r.Liveness.RPPG.Span < th.GiveUpAfter {
		t.Fatalf("liveness %s after %s, anti-spoof %+v (%s); want refer at the give-up time with a score in [%.2f, %.2f)",
			r.Liveness.Verdict, r.Liveness.RPPG.Span, pad, r.Liveness.Reason, th.PADFailEdge, th.MinPAD)
	}
	if r.Match == nil || r.Match.Outcome == models.OutcomeNoMatch {
		t.Fatalf("match %+v; want the face matched (or nearly) against the same person's photo", r.Match)
	}
	clk.Advance(2 * time.Second)
	if err := f.Begin(); err != nil {
		t.Fatalf("Begin() after a referral = %v; a referral must not count towards the lock-out", err)
	}
	f.Cancel()

	pending := f.Referrals().Pending(clk.Now())
	if len(pending) != 1 || pending[0].Reason != ReasonUncertainLive || pending[0].RecordID == 0 {
		t.Fatalf("referral queue = %+v; want one referral for an unsure anti-spoof score, with its record", pending)
	}
	rec, err := st.Get(ctx, pending[0].RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Referred || rec.Passed || len(rec.Photo) < 1000 {
		t.Errorf("record referred=%v passed=%v live crop %d bytes; want a referral with the live face", rec.Referred, rec.Passed, len(rec.Photo))
	}
	rec.Wipe()
	c, err := NewConsole(ConsoleOptions{PIN: pinCheck{"482916"}, Store: st, Matcher: m, Now: clk.Now, Referrals: f.Referrals(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Unlock(ctx, "482916"); err != nil {
		t.Fatal(err)
	}
	v, err := c.OpenReferral(ctx, pending[0].ID)
	if err != nil {
		t.Fatalf("OpenReferral() = %v", err)
	}
	if v.Reason != ReasonUncertainLive || v.PAD != pad.Value || v.PADFailEdge != th.PADFailEdge || v.MinPAD != th.MinPAD {
		t.Errorf("opened referral: reason %q, anti-spoof %.3f in [%.2f, %.2f); want %q, %.3f in [%.2f, %.2f)",
			v.Reason, v.PAD, v.PADFailEdge, v.MinPAD, ReasonUncertainLive, pad.Value, th.PADFailEdge, th.MinPAD)
	}
}
