package checkin

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	xdraw "golang.org/x/image/draw"

	"kiosk/capture"
	"kiosk/models"
	"kiosk/mrz"
)

// Document is what the check-in read from the visitor's identity document:
// the machine-readable zone's fields, every check digit verified. It is
// personal data: it lives in memory and in the sealed record only.
type Document struct {
	Format string     `json:"format"`
	Fields mrz.Fields `json:"fields"`
	// Source says where it was read: "card" (frames of the document held
	// up to the camera, voted across reads) or "photo" (an imported
	// image, voted across rescaled reads of it).
	Source string `json:"source"`
	// Agree is how many valid reads agreed on it.
	Agree int `json:"agree"`
}

// Document sources.
const (
	DocumentFromCard  = "card"
	DocumentFromPhoto = "photo"
)

// DisplayName is the name as a person writes it: given names, then the
// surname.
func (d *Document) DisplayName() string {
	if d == nil {
		return ""
	}
	if d.Fields.GivenNames == "" {
		return d.Fields.Surname
	}
	return d.Fields.GivenNames + " " + d.Fields.Surname
}

// FirstName is the first given name, to greet the visitor by.
func (d *Document) FirstName() string {
	if d == nil {
		return ""
	}
	for i, r := range d.Fields.GivenNames {
		if r == ' ' {
			return d.Fields.GivenNames[:i]
		}
	}
	return d.Fields.GivenNames
}

// Sentinels for documents the policy refuses.
var (
	// ErrDocumentExpired: the document's expiry date has passed and the
	// operator has not allowed expired documents.
	ErrDocumentExpired = errors.New("the identity document has expired")
	// ErrNoDocument: the operator requires a readable machine-readable
	// zone and none was read.
	ErrNoDocument = errors.New("no readable machine-readable zone on the identity document")
)

// DocumentPolicy is what the operator allows.
type DocumentPolicy struct {
	// RequireMRZ refuses a reference whose document's zone could not be
	// read (default: a check-in without one goes on, face only).
	RequireMRZ bool
	// AllowExpired accepts an expired document (default: refused).
	AllowExpired bool
}

// check applies the policy to what was read (nil: nothing valid).
func (p DocumentPolicy) check(d *Document, now time.Time) error {
	switch {
	case d == nil && p.RequireMRZ:
		return ErrNoDocument
	case d != nil && !p.AllowExpired && d.Fields.Expired(now):
		return fmt.Errorf("%w (expiry %s)", ErrDocumentExpired, d.Fields.ExpiryDate)
	}
	return nil
}

// stillScales are the sizes an imported photo's zone is read at: one
// photo gives no second frame, so the names (which no check digit covers)
// are accepted only when reads of differently scaled copies agree.
var stillScales = []float64{1, 0.85, 0.7}

// readStillDocument reads the zone of one photo, voting across rescaled
// reads (at least 2 must agree). It returns nil and the reason when
// nothing valid came out; a photo without a zone (a plain portrait) is
// models.MRZReasonNoZone, not an error.
func readStillDocument(r models.MRZReader, img models.Image, now func() time.Time) (*Document, models.MRZReason) {
	opts := mrz.BallotOptions{MinAgree: 2, Parse: mrz.Options{Now: now}}
	b := mrz.NewBallot(opts)
	reason := models.MRZReasonNoZone
	for i, k := range stillScales {
		in := img
		if i > 0 {
			in = scaled(img, k)
		}
		rd, err := r.Read(in)
		if i > 0 {
			clear(in.Pix)
		}
		if err != nil {
			var me *models.MRZError
			if errors.As(err, &me) && (reason == models.MRZReasonNoZone || me.Reason != models.MRZReasonNoZone) {
				reason = me.Reason
			}
			if i == 0 && reason == models.MRZReasonNoZone {
				break // no zone at full size: a plain portrait
			}
			continue
		}
		b.AddResult(rd.Result)
		if d := b.Decide(); d.Accepted {
			return &Document{Format: d.Result.Format.String(), Fields: d.Result.Fields, Source: DocumentFromPhoto, Agree: d.Agree}, ""
		}
	}
	if reason == "" {
		reason = models.MRZReasonNotValid
	}
	return nil, reason
}

// scaled is img resized by k (bilinear), BGR.
func scaled(img models.Image, k float64) models.Image {
	w, h := max(1, int(float64(img.Width)*k)), max(1, int(float64(img.Height)*k))
	src := &image.RGBA{Pix: make([]byte, img.Width*img.Height*4), Stride: img.Width * 4, Rect: image.Rect(0, 0, img.Width, img.Height)}
	for i, j := 0, 0; i+2 < len(img.Pix); i, j = i+3, j+4 {
		src.Pix[j], src.Pix[j+1], src.Pix[j+2], src.Pix[j+3] = img.Pix[i], img.Pix[i+1], img.Pix[i+2], 0xff
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.BiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	clear(src.Pix)
	out := models.Image{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	for i, j := 0, 0; i+2 < len(out.Pix); i, j = i+3, j+4 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = dst.Pix[j], dst.Pix[j+1], dst.Pix[j+2]
	}
	clear(dst.Pix)
	return out
}

// cardReader reads the zone of a document held up to the camera, off the
// frame loop: OCR takes a few hundred milliseconds, and the preview must
// keep its frame rate. The frame loop offers frames; when no read is in
// flight, one copy goes to a goroutine, whose result is added to a ballot:
// names carry no check digit, so the zone is accepted only when several
// frames agree (mrz.Ballot). Safe for concurrent use.
type cardReader struct {
	r   models.MRZReader
	now func() time.Time

	mu      sync.Mutex
	gen     uint64 // session; a read from an earlier one is dropped
	busy    bool
	ballot  *mrz.Ballot
	reason  models.MRZReason // the last read's, "" once valid reads come in
	reads   int
	decided *Document
}

// cardVotes is how many agreeing valid reads accept a card's zone.
const cardVotes = 3

func newCardReader(r models.MRZReader, now func() time.Time) *cardReader {
	c := &cardReader{r: r, now: now}
	c.reset()
	return c
}

// reset starts a new session: earlier reads and decisions are forgotten,
// and a read still in flight will be dropped.
func (c *cardReader) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.ballot = mrz.NewBallot(mrz.BallotOptions{MinAgree: cardVotes, Parse: mrz.Options{Now: c.now}})
	c.reason, c.reads, c.decided = models.MRZReasonNoZone, 0, nil
}

// offer hands the frame to the reader if it is idle. The frame stays the
// caller's: a copy is read and wiped.
func (c *cardReader) offer(fr *capture.Frame) {
	c.mu.Lock()
	if c.busy || c.decided != nil {
		c.mu.Unlock()
		return
	}
	c.busy = true
	gen := c.gen
	c.mu.Unlock()
	cp := fr.Clone()
	go func() {
		rd, err := c.r.Read(models.Image{Width: cp.Width, Height: cp.Height, Pix: cp.Pix})
		clear(cp.Pix)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.busy = false
		if gen != c.gen {
			return
		}
		c.reads++
		var me *models.MRZError
		switch {
		case err == nil:
			c.reason = ""
			c.ballot.AddResult(rd.Result)
		case errors.As(err, &me):
			c.reason = me.Reason
			if rd.Found {
				c.ballot.AddResult(rd.Result) // an invalid read counts against agreement
			}
		default:
			c.reason = models.MRZReasonNotValid
		}
		if d := c.ballot.Decide(); d.Accepted {
			c.decided = &Document{Format: d.Result.Format.String(), Fields: d.Result.Fields, Source: DocumentFromCard, Agree: d.Agree}
		}
	}()
}

// cardState is the reader's progress, for prompts.
type cardState struct {
	doc    *Document        // non-nil once accepted
	reason models.MRZReason // why the latest read was not valid ("" if it was)
	agree  int              // valid reads agreeing so far
	reads  int
}

func (c *cardReader) state() cardState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := cardState{doc: c.decided, reason: c.reason, reads: c.reads}
	if s.doc == nil {
		s.agree = c.ballot.Decide().Agree
	}
	return s
}
