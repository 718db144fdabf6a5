package checkin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"sync"
	"time"

	"kiosk/liveness"
	"kiosk/models"
	"kiosk/store"
)

// Referrals is the queue of check-ins the flow sent to staff because the
// face match fell between the model's bands. The flow adds to it; the
// operator console lists, opens and decides them. It holds ids and times
// only: the faces stay sealed in the records until an operator opens one.
//
// The queue lives in memory: a referral is about a visitor standing at
// the desk now, so one older than ReferralTTL (or from before a restart)
// is left to the records list. Safe for concurrent use.
type Referrals struct {
	mu      sync.Mutex
	next    uint64
	pending []Referral
}

// Referral is one check-in waiting for a member of staff.
type Referral struct {
	ID        uint64        // the queue's own number, for the console
	RecordID  store.ID      // the sealed record with both faces; 0 when nothing was stored (ephemeral mode, or the store failed)
	At        time.Time     // when the check-in ended
	Reference ReferenceKind // what the live face was compared with
	// Reason is why staff must look: ReasonUncertain (the faces may or may
	// not be the same person) or ReasonUncertainLive (the anti-spoof model
	// was unsure the face is live).
	Reason Reason
}

// Queue limits: a kiosk with more waiting referrals than this has a
// problem a list will not solve, and old ones are for the records list.
const (
	ReferralTTL      = 30 * time.Minute
	maxReferralQueue = 32
)

// NewReferrals returns an empty queue.
func NewReferrals() *Referrals { return &Referrals{} }

func (q *Referrals) add(r Referral) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next++
	r.ID = q.next
	q.pending = append(q.pending, r)
	if n := len(q.pending) - maxReferralQueue; n > 0 {
		q.pending = append(q.pending[:0], q.pending[n:]...)
	}
}

// Pending lists the referrals still waiting at now, oldest first.
func (q *Referrals) Pending(now time.Time) []Referral {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	keep := q.pending[:0]
	for _, r := range q.pending {
		if now.Sub(r.At) < ReferralTTL {
			keep = append(keep, r)
		}
	}
	q.pending = keep
	return append([]Referral(nil), keep...)
}

func (q *Referrals) find(id uint64) (Referral, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.pending {
		if r.ID == id {
			return r, true
		}
	}
	return Referral{}, false
}

func (q *Referrals) remove(id uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, r := range q.pending {
		if r.ID == id {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return
		}
	}
}

// ErrNoReferral means the referral was decided already, expired, or never
// existed.
var ErrNoReferral = errors.New("this referral is no longer waiting (decided, or older than 30 minutes): see the records list")

// ReferralView is an opened referral: the two faces side by side and what
// the operator needs to decide. It is personal data, in memory only, and
// dropped with the console's other decrypted views.
type ReferralView struct {
	Referral
	LiveFace      image.Image     // the live face crop; nil when nothing was stored
	ReferenceFace image.Image     // the reference's face crop; nil for an enrolled template (no photo is kept) or nothing stored
	Decision      models.Decision // the score and the bands it fell between
	// PAD is the anti-spoof score the liveness decision used, with the
	// edges it is judged by (NaN when none was measured): for a referral
	// with ReasonUncertainLive, the score that sent the visitor to staff.
	PAD, PADFailEdge, MinPAD float64
	// Name is the document's or the enrolled person's name, when known.
	Name     string
	Document *Document
}

// Referrals lists the check-ins waiting for a member of staff.
func (c *Console) Referrals() ([]Referral, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return nil, err
	}
	return c.o.Referrals.Pending(c.o.Now()), nil
}

// OpenReferral decrypts a waiting referral's record for PhotoTime, as an
// audited action, and returns both faces.
func (c *Console) OpenReferral(ctx context.Context, id uint64) (*ReferralView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return nil, err
	}
	if c.o.Referrals == nil {
		return nil, ErrNoReferral
	}
	ref, ok := c.o.Referrals.find(id)
	if !ok {
		return nil, ErrNoReferral
	}
	v := &ReferralView{Referral: ref, PAD: math.NaN(), PADFailEdge: math.NaN(), MinPAD: math.NaN()}
	if ref.RecordID != 0 {
		rec, err := c.o.Store.Get(ctx, ref.RecordID)
		if err != nil {
			return nil, fmt.Errorf("opening record %d: %w", ref.RecordID, err)
		}
		defer rec.Wipe()
		c.audit(ctx, "referral.open", ref.RecordID)
		v.LiveFace, v.ReferenceFace = decodeCrop(rec.Photo), decodeCrop(rec.ReferencePhoto)
		if len(rec.Match) > 0 {
			if err := json.Unmarshal(rec.Match, &v.Decision); err != nil {
				c.o.Logger.Warn("the referral's match details did not decode", "record_id", int64(ref.RecordID), "err", err.Error())
			}
		}
		if len(rec.Liveness) > 0 {
			var d liveness.Decision
			if err := json.Unmarshal(rec.Liveness, &d); err != nil {
				c.o.Logger.Warn("the referral's liveness details did not decode", "record_id", int64(ref.RecordID), "err", err.Error())
			}
			for _, s := range d.Signals {
				if s.Name == "pad" && s.Used {
					v.PAD, v.MinPAD, v.PADFailEdge = s.Value, s.Threshold, s.FailEdge
				}
			}
		}
		v.Name = rec.Name
		if len(rec.Document) > 0 {
			var d Document
			if json.Unmarshal(rec.Document, &d) == nil {
				v.Document, v.Name = &d, d.DisplayName()
			}
		}
		if v.Name == "" && rec.PersonID != 0 {
			if p, err := c.o.Store.Person(ctx, rec.PersonID); err == nil {
				v.Name = p.Name
				clear(p.Template)
			}
		}
	}
	c.dropReferral()
	c.referral = v
	c.photosUntil = c.o.Now().Add(c.o.PhotoTime)
	return v, nil
}

// ResolveReferral records the operator's decision on a referral: confirm
// (the same person: checked in) or refuse. It is audited against the
// record and counted, and the referral leaves the queue.
func (c *Console) ResolveReferral(ctx context.Context, id uint64, confirm bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.active(); err != nil {
		return err
	}
	if c.o.Referrals == nil {
		return ErrNoReferral
	}
	ref, ok := c.o.Referrals.find(id)
	if !ok {
		return ErrNoReferral
	}
	action, event := "referral.refuse", store.EventReferralRefused
	if confirm {
		action, event = "referral.confirm", store.EventReferralConfirmed
	}
	if err := c.o.Store.CountEvent(ctx, event); err != nil {
		return fmt.Errorf("recording the decision: %w", err)
	}
	c.audit(ctx, action, ref.RecordID)
	c.o.Referrals.remove(id)
	if c.referral != nil && c.referral.ID == id {
		c.dropReferral()
	}
	c.o.Logger.Info("referral decided", "decision", action, "record_id", int64(ref.RecordID))
	return nil
}

// OpenedReferral is the referral on screen, while its time lasts.
func (c *Console) OpenedReferral() *ReferralView {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.o.Now())
	return c.referral
}

// dropReferral wipes the opened referral's pixels. Callers hold mu.
func (c *Console) dropReferral() {
	if c.referral == nil {
		return
	}
	wipeImage(c.referral.LiveFace)
	wipeImage(c.referral.ReferenceFace)
	c.referral = nil
}

// decodeCrop decodes a sealed face crop, or returns nil.
func decodeCrop(b []byte) image.Image {
	if len(b) == 0 {
		return nil
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return img
}
