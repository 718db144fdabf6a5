package catalogue

import (
	"strings"
	"testing"
	"time"

	"kiosk/checkin"
)

// TestCatalogueComplete: every prompt and key exists in every language,
// so no visitor screen falls back to another language.
func TestCatalogueComplete(t *testing.T) {
	c := New()
	if m := c.Missing(); len(m) > 0 {
		t.Fatalf("missing translations: %v", m)
	}
	for _, l := range checkin.Languages[1:] {
		for _, p := range checkin.Prompts {
			if got, en := c.Prompt(l, p, time.Time{}), c.Prompt(checkin.English, p, time.Time{}); got == en {
				t.Errorf("%s prompt %s is the English text %q", l, p, got)
			}
		}
		for _, k := range Keys {
			if k == periodMins || k == formatClock { // "minute(s)" is French too; a clock layout may match
				continue
			}
			if got, en := c.Text(l, k, nil), c.Text(checkin.English, k, nil); got == en {
				t.Errorf("%s key %s is the English text %q", l, k, got)
			}
		}
	}
	if got := c.Text("xx", Cancel, nil); got != "Cancel" {
		t.Errorf("unknown language = %q; want the default language's", got)
	}
}

func TestPeriodPlurals(t *testing.T) {
	c := New()
	for _, tc := range []struct {
		l    checkin.Lang
		d    time.Duration
		want string
	}{
		{checkin.English, time.Hour, "1 hour"},
		{checkin.English, 24 * time.Hour, "1 day"},
		{checkin.English, 36 * time.Hour, "36 hours"},
		{checkin.English, 90 * time.Minute, "90 minutes"},
		{checkin.German, 24 * time.Hour, "1 Tag"},
		{checkin.German, 48 * time.Hour, "2 Tage"},
		{checkin.German, time.Minute, "1 Minute"},
		{checkin.French, 2 * time.Hour, "2 heures"},
		{checkin.French, time.Hour, "1 heure"},
		{checkin.Spanish, 7 * 24 * time.Hour, "7 días"},
		{checkin.Spanish, 24 * time.Hour, "1 día"},
	} {
		if got := c.Period(tc.l, tc.d); got != tc.want {
			t.Errorf("Period(%s, %v) = %q; want %q", tc.l, tc.d, got, tc.want)
		}
	}
}

func TestClockAndLockout(t *testing.T) {
	c := New()
	at := time.Date(2026, 3, 14, 14, 5, 0, 0, time.UTC)
	for l, want := range map[checkin.Lang]string{checkin.English: "2:05 PM", checkin.German: "14:05 Uhr", checkin.French: "14 h 05", checkin.Spanish: "14:05"} {
		if got := c.Clock(l, at); got != want {
			t.Errorf("Clock(%s) = %q; want %q", l, got, want)
		}
		if got := c.Prompt(l, checkin.PromptLockedOut, at); !strings.Contains(got, want) {
			t.Errorf("lock-out prompt in %s = %q; want the time %q in it", l, got, want)
		}
	}
}

// TestNoticeStatesRetention: the notice's {keep} becomes the kiosk's real
// retention, or says nothing is kept in ephemeral mode.
func TestNoticeStatesRetention(t *testing.T) {
	c, n := New(), checkin.DefaultNotice()
	for _, l := range checkin.Languages {
		day := c.Notice(l, n, 24*time.Hour)
		if strings.Contains(day.Body, checkin.NoticeKeep) || !strings.Contains(day.Body, c.Period(l, 24*time.Hour)) {
			t.Errorf("%s notice at 24 h does not state the period:\n%s", l, day.Body)
		}
		none := c.Notice(l, n, 0)
		if !strings.Contains(none.Body, c.Keep(l, 0)) || day.Title != none.Title {
			t.Errorf("%s notice in ephemeral mode lacks %q:\n%s", l, c.Keep(l, 0), none.Body)
		}
	}
}
