package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/otiai10/gosseract/v2"
)

// MRZModel is the Tesseract model for OCR-B machine-readable zones, by its
// file name in the manifest.
const MRZModel = "mrz.traineddata"

// mrzWhitelist is every character a zone can hold.
const mrzWhitelist = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"

// lineOCR is one Tesseract instance set up to read one MRZ line at a time
// (page segmentation mode 7, the zone's characters only). It is not safe
// for concurrent use; MRZOCR serialises calls to it.
type lineOCR struct {
	c *gosseract.Client
}

// newLineOCR starts Tesseract on the model bytes, which the caller has
// checked against the manifest. Tesseract reads its model from a folder, so
// the verified bytes are written to a fresh private folder (0700, under
// tmpDir; "" is the system default), loaded, and the folder is removed
// before this returns: the bytes Tesseract loads are the bytes verified,
// whatever happens to the model cache meanwhile.
func newLineOCR(model []byte, tmpDir string) (_ *lineOCR, err error) {
	dir, err := os.MkdirTemp(tmpDir, "kiosk-tessdata-")
	if err != nil {
		return nil, fmt.Errorf("staging the OCR model: %w (set a writable temporary folder)", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, MRZModel), model, 0o400); err != nil {
		return nil, fmt.Errorf("staging the OCR model: %w", err)
	}
	c := gosseract.NewClient()
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	// Tesseract's debug output would go to stderr; the kiosk logs only
	// through slog.
	for _, set := range []error{
		c.SetTessdataPrefix(dir),
		c.SetLanguage(strings.TrimSuffix(MRZModel, ".traineddata")),
		c.DisableOutput(),
		c.SetWhitelist(mrzWhitelist),
		// Line crops carry no resolution; say what they are scaled to,
		// so Tesseract does not warn and guess 70 dpi.
		c.SetVariable("user_defined_dpi", "300"),
	} {
		if set != nil {
			return nil, fmt.Errorf("configuring the OCR: %w", set)
		}
	}
	o := &lineOCR{c: c}
	// Tesseract loads the model at the first recognition: make that
	// happen now, while the staged copy exists, and on a blank line.
	blank := make([]byte, 64*16)
	for i := range blank {
		blank[i] = 0xff
	}
	if _, _, err := o.read(blank, 64, 16); err != nil {
		return nil, fmt.Errorf("loading the OCR model: %w", err)
	}
	return o, nil
}

// read recognises one line of text in an 8-bit grey image (dark text on a
// light ground), returning the text with spaces removed and Tesseract's
// mean confidence (0–100).
func (o *lineOCR) read(gray []byte, w, h int) (string, float64, error) {
	if w <= 0 || h <= 0 || len(gray) != w*h {
		return "", 0, fmt.Errorf("%w: line image %dx%d with %d bytes", ErrBadImage, w, h, len(gray))
	}
	if err := o.c.SetImageFromBytes(pgm(gray, w, h)); err != nil {
		return "", 0, err
	}
	// Tesseract's OpenMP threads: one, on this thread (see mrz_omp.go).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ompSingle()
	if err := o.c.SetPageSegMode(gosseract.PSM_SINGLE_LINE); err != nil {
		return "", 0, err
	}
	boxes, err := o.c.GetBoundingBoxes(gosseract.RIL_TEXTLINE)
	if err != nil {
		return "", 0, err
	}
	var b strings.Builder
	conf, n := 0.0, 0
	for _, bx := range boxes {
		for _, r := range bx.Word {
			if r > ' ' {
				b.WriteRune(r)
			}
		}
		conf += bx.Confidence
		n++
	}
	if n > 0 {
		conf /= float64(n)
	}
	return b.String(), conf, nil
}

// close frees Tesseract.
func (o *lineOCR) close() error {
	if o == nil || o.c == nil {
		return nil
	}
	err := o.c.Close()
	o.c = nil
	return err
}

// pgm encodes grey pixels as a binary PGM, which Leptonica reads without a
// codec.
func pgm(gray []byte, w, h int) []byte {
	head := "P5\n" + strconv.Itoa(w) + " " + strconv.Itoa(h) + "\n255\n"
	out := make([]byte, 0, len(head)+len(gray))
	return append(append(out, head...), gray...)
}

// errOCRClosed is returned by a reader used after Close.
var errOCRClosed = errors.New("MRZ reader is closed")
