package models

import (
	"context"
	"errors"
	"testing"

	"kiosk/capture"
	"kiosk/mrz"
)

// TestMRZClipBallot holds a generated TD1 card up in front of the generated
// face clip and reads frames while it is held, as the check-in will: the
// ballot accepts the zone once three frames agree, and frames from before
// the card is raised find no zone.
func TestMRZClipBallot(t *testing.T) {
	lines := []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}
	portrait := samplePortrait(t)
	doc, err := capture.RenderDocument(capture.DocumentOptions{Lines: lines, Portrait: portrait, PxPerMM: 10})
	if errors.Is(err, capture.ErrNoOCRBFont) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	clip, err := capture.NewDocumentClip(capture.DocumentClipOptions{
		Scene:    capture.SyntheticOptions{Width: 960, Height: 540, Face: portrait, Frames: 40, JPEGQuality: 90, Seed: 2},
		Document: doc, Start: 4, Enter: 6, Hold: 20, Leave: 6, Fill: 0.6, Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer clip.Close()
	r := newTestMRZReader(t)
	ballot := mrz.NewBallot(mrz.BallotOptions{Parse: mrzRef})
	var d mrz.Decision
	for {
		f, err := clip.Read(context.Background())
		if err != nil {
			t.Fatalf("clip ended before the ballot accepted (%d reads): %v", ballot.Len(), d.Err)
		}
		img := Image{Width: f.Width, Height: f.Height, Pix: f.Pix}
		switch {
		case f.Seq == 2: // the card is not up yet
			if rd, err := r.Read(img); !errors.Is(err, ErrNoMRZ) {
				t.Errorf("frame before the card: Read = %q, %v; want ErrNoMRZ", rd.Lines, err)
			}
		case clip.Held(f.Seq) && f.Seq%3 == 0: // a read every third frame, off the frame loop
			rd, _ := r.Read(img)
			ballot.AddResult(rd.Result)
			d = ballot.Decide()
		}
		f.Release()
		if d.Accepted {
			break
		}
	}
	if got := d.Result.Lines; len(got) != 3 || got[0] != lines[0] || got[1] != lines[1] || got[2] != lines[2] {
		t.Errorf("accepted %q; want %q", got, lines)
	}
	if d.Agree < 3 {
		t.Errorf("accepted with %d agreeing reads; want ≥ 3", d.Agree)
	}
	t.Logf("accepted after %d reads (%d valid, %d agree): %s %s", d.Reads, d.Valid, d.Agree, d.Result.Fields.Surname, d.Result.Fields.DocumentNumber)
}
