package models

import (
	"errors"
	"fmt"
	"image"
	"sync"

	"gocv.io/x/gocv"

	"kiosk/mrz"
)

// MRZReader reads the machine-readable zone of an identity document in a
// photo or a camera frame. The check-in depends on this, not on Tesseract.
type MRZReader interface {
	Read(img Image) (MRZRead, error)
}

var _ MRZReader = (*MRZOCR)(nil)

// MRZReason says why no valid zone came out of an image, so the screen can
// say what to do about it. It is a code, not a sentence.
type MRZReason string

// Reasons, from "nothing there" to "read but not trusted".
const (
	MRZReasonNone     MRZReason = ""
	MRZReasonNoZone   MRZReason = "no_zone"   // nothing like a zone: show the zone to the camera
	MRZReasonTooSmall MRZReason = "too_small" // characters too small to read: closer
	MRZReasonBlurry   MRZReason = "blurry"    // a zone, but blurred: hold still
	MRZReasonGlare    MRZReason = "glare"     // a zone, washed out by reflections: tilt the card
	MRZReasonNotValid MRZReason = "not_valid" // read, but the check digits do not hold: try again
)

// Sentinel errors of Read. Every failure is an *MRZError that matches one
// of them with errors.Is.
var (
	// ErrNoMRZ: no machine-readable zone was found in the image (reasons
	// no_zone and too_small).
	ErrNoMRZ = errors.New("no machine-readable zone found")
	// ErrMRZUnreadable: a zone was found, but no valid read came out of it
	// (reasons blurry, glare, not_valid).
	ErrMRZUnreadable = errors.New("machine-readable zone found but not readable")
)

// MRZError is the error Read returns when it has no valid read.
type MRZError struct {
	Reason MRZReason
	// Parse is why the best read failed the checks, when there was one.
	Parse error
}

func (e *MRZError) Error() string {
	msg := ErrMRZUnreadable.Error()
	if e.Reason == MRZReasonNoZone || e.Reason == MRZReasonTooSmall {
		msg = ErrNoMRZ.Error()
	}
	if e.Parse != nil {
		return fmt.Sprintf("%s (%s: %v)", msg, e.Reason, e.Parse)
	}
	return fmt.Sprintf("%s (%s)", msg, e.Reason)
}

// Unwrap gives the sentinel, and the parse error if any.
func (e *MRZError) Unwrap() []error {
	s := ErrMRZUnreadable
	if e.Reason == MRZReasonNoZone || e.Reason == MRZReasonTooSmall {
		s = ErrNoMRZ
	}
	if e.Parse != nil {
		return []error{s, e.Parse}
	}
	return []error{s}
}

// MRZRead is what one image gave. It holds personal data: keep it in
// memory and never log it.
type MRZRead struct {
	// Found is true when a band with the zone's geometry was read.
	Found bool `json:"found"`
	// Lines are the OCR's text, top to bottom, before any repair;
	// Confidence is Tesseract's per line (0–100).
	Lines      []string  `json:"lines,omitempty"`
	Confidence []float64 `json:"confidence,omitempty"`
	// Angle is the direction of the zone's lines of text in the image, in
	// degrees clockwise from left-to-right (0 upright, 180 upside down,
	// 90 turned a quarter clockwise); Rotation is Angle rounded to a
	// quarter turn: 0, 90, 180 or 270.
	Angle    float64 `json:"angle"`
	Rotation int     `json:"rotation"`
	// Corners are the zone's corners in the image: top-left, top-right,
	// bottom-right, bottom-left of the upright zone.
	Corners [4]image.Point `json:"corners"`
	// LineHeight is the zone's text line height in image pixels.
	LineHeight float64 `json:"line_height"`
	// Sharpness is the zone's lines' Laplacian spread over their grey
	// spread, measured at a fixed line height; below about 1 the
	// characters blur together.
	Sharpness float64 `json:"sharpness"`
	// Result is mrz.Parse of Lines; Result.Valid says every check held.
	Result mrz.Result `json:"result"`
	// Reason is empty for a valid read.
	Reason MRZReason `json:"reason,omitempty"`
}

// MRZOptions configures an MRZOCR. The zero value works.
type MRZOptions struct {
	// Parse is given to mrz.Parse (its clock resolves two-digit years).
	Parse mrz.Options
	// TempDir is where the verified model is staged for Tesseract to load
	// (removed straight after); "" is the system default.
	TempDir string
	// WorkSize is the longest side, in pixels, of the copy the zone is
	// searched in first (a second search for small zones uses twice as
	// much). Default 1000.
	WorkSize int
	// MaxBands caps the candidate bands read per image. Default 3.
	MaxBands int
	// MinLineHeight is the smallest text line height, in image pixels,
	// worth reading: below it the reason is too_small. Default 9.
	MinLineHeight float64
}

func (o *MRZOptions) defaults() {
	if o.WorkSize <= 0 {
		o.WorkSize = 1000
	}
	if o.MaxBands <= 0 {
		o.MaxBands = 3
	}
	if o.MinLineHeight <= 0 {
		o.MinLineHeight = 9
	}
}

// MRZOCR locates zones with OpenCV and reads them with Tesseract. It holds
// one Tesseract instance: calls are serialised by a mutex, so one reader
// serves one read at a time (a read takes a few hundred milliseconds: run
// it off the frame loop). Close frees Tesseract; the reader must not be
// used afterwards.
type MRZOCR struct {
	o      MRZOptions
	mu     sync.Mutex
	ocr    *lineOCR
	closed bool
}

// LoadMRZReader reads the MRZ model from dir, checks its pinned sha256 on
// the very bytes it loads, and starts Tesseract on them.
func LoadMRZReader(dir string, o MRZOptions) (*MRZOCR, error) {
	b, err := ReadVerified(dir, MRZModel)
	if err != nil {
		return nil, err
	}
	return NewMRZReader(b, o)
}

// NewMRZReader starts a reader on the model's bytes, which must be the
// pinned model: anything else is refused with a *ChecksumError.
func NewMRZReader(model []byte, o MRZOptions) (*MRZOCR, error) {
	o.defaults()
	e, ok := Lookup(MRZModel)
	if !ok {
		return nil, fmt.Errorf("model %s is not in the manifest", MRZModel)
	}
	if got := sha256Hex(model); got != e.SHA256 {
		return nil, &ChecksumError{File: MRZModel, Where: "bytes given to NewMRZReader", Want: e.SHA256, Got: got}
	}
	ocr, err := newLineOCR(model, o.TempDir)
	if err != nil {
		return nil, err
	}
	return &MRZOCR{o: o, ocr: ocr}, nil
}

// Close frees Tesseract.
func (r *MRZOCR) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.ocr.close()
}

// ReadLine recognises one already cropped, upright line (8-bit grey, dark
// text on a light ground) and returns its text and confidence. It is the
// OCR step of Read alone, for evaluating on line crops.
func (r *MRZOCR) ReadLine(gray []byte, w, h int) (string, float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", 0, errOCRClosed
	}
	return r.ocr.read(gray, w, h)
}

// Read finds and reads the zone in img. It returns a valid read and a nil
// error, or the best read it had and an *MRZError saying why it is not
// valid (errors.Is ErrNoMRZ or ErrMRZUnreadable). A bad image gives
// ErrBadImage. It never panics on any image.
func (r *MRZOCR) Read(img Image) (MRZRead, error) {
	if err := img.check(); err != nil {
		return MRZRead{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return MRZRead{}, errOCRClosed
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return MRZRead{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(src, &gray, gocv.ColorBGRToGray)
	if gray.Empty() {
		return MRZRead{}, fmt.Errorf("%w: could not convert to grey", ErrBadImage)
	}
	return r.read(gray)
}
