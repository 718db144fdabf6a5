package checkin

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	xdraw "golang.org/x/image/draw"

	"kiosk/models"
	"kiosk/store"
)

// Reference intake limits.
const (
	// MaxPhotoBytes caps an imported reference photo (a phone photo is
	// 2–8 MB; the API caps its request bodies to the same).
	MaxPhotoBytes = 16 << 20
	// ReferenceSide is the longest side a reference photo is resized to:
	// an aligned face crop is 112 px, so 1024 px keeps faces that fill a
	// tenth of the photo usable while bounding memory and detection time.
	ReferenceSide = 1024
)

// ErrBadPhoto is returned for a reference photo that cannot be used as an
// image: wrong format, too big, truncated or corrupt. The wrapped message
// says which, in words an operator can act on.
var ErrBadPhoto = errors.New("the reference photo cannot be used")

// ErrCardLooksLive means the face shown as an ID card's portrait scored as
// a live face: the visitor held up their own face, not the card.
var ErrCardLooksLive = errors.New("the face shown looks live, not like an ID card's photo")

// ErrNoneEnrolled means enrolled check-in was chosen but nobody is enrolled.
var ErrNoneEnrolled = errors.New("nobody is enrolled on this kiosk")

// Photo is a validated reference photo, decoded and re-encoded in memory:
// the re-encoding drops EXIF, GPS, XMP, ICC and every other metadata
// segment. Wipe it when done.
type Photo struct {
	Image models.Image // BGR pixels, longest side ≤ ReferenceSide
	JPEG  []byte       // the same pixels as a metadata-free JPEG
}

// Wipe zeroes the pixels and the JPEG bytes.
func (p *Photo) Wipe() {
	if p == nil {
		return
	}
	clear(p.Image.Pix)
	clear(p.JPEG)
}

// sniff names the image format from its magic bytes, or returns "".
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "jpeg"
	case len(b) >= 8 && bytes.Equal(b[:8], []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return "webp"
	}
	return ""
}

// ReadPhoto validates and normalises a reference photo held in memory:
// magic bytes (JPEG, PNG or WebP), size, dimensions before any pixel is
// decoded (the decompression-bomb guard), a full decode that refuses
// truncation, EXIF orientation applied, a resize to ReferenceSide, and a
// re-encode that strips all metadata. Nothing touches disk.
func ReadPhoto(data []byte) (*Photo, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrBadPhoto)
	}
	if len(data) > MaxPhotoBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d MB limit", ErrBadPhoto, len(data), MaxPhotoBytes>>20)
	}
	if sniff(data) == "" {
		return nil, fmt.Errorf("%w: not a JPEG, PNG or WebP image", ErrBadPhoto)
	}
	img, err := models.DecodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPhoto, err)
	}
	rgba := resizeBGR(img, ReferenceSide)
	clear(img.Pix)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 92}); err != nil {
		return nil, fmt.Errorf("%w: re-encoding: %v", ErrBadPhoto, err)
	}
	p := &Photo{Image: models.FromImage(rgba), JPEG: buf.Bytes()}
	clear(rgba.Pix)
	return p, nil
}

// resizeBGR converts BGR pixels to RGBA, scaled down so the longest side
// is at most maxSide (never up).
func resizeBGR(img models.Image, maxSide int) *image.RGBA {
	src := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i+2 < len(img.Pix); i, j = i+3, j+4 {
		src.Pix[j], src.Pix[j+1], src.Pix[j+2], src.Pix[j+3] = img.Pix[i+2], img.Pix[i+1], img.Pix[i], 0xff
	}
	w, h := img.Width, img.Height
	if max(w, h) <= maxSide {
		return src
	}
	if w >= h {
		h, w = max(1, h*maxSide/w), maxSide
	} else {
		w, h = max(1, w*maxSide/h), maxSide
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	clear(src.Pix)
	return dst
}

// Reference is the face a check-in is matched against: one template (an
// ID photo or card), or the enrolled gallery (1:N). The flow owns it once
// handed over and wipes it when the check-in ends.
type Reference struct {
	Kind     ReferenceKind
	template models.Template
	gallery  *models.Gallery
	// Name and DocumentNumber, when known (from the API or an enrolment),
	// go into the sealed record.
	Name           string
	DocumentNumber string
	// PersonID is the enrolled person a 1:1 reference came from; 0 if none.
	PersonID store.ID
	// Document is what was read from the identity document's zone (nil
	// when none was read); it goes into the sealed record.
	Document *Document
	// Consent is the visitor's agreement when it was given elsewhere (an
	// integration that showed the notice); on the kiosk's own screens the
	// flow records it at Agree.
	Consent *Consent
	// crop is the reference's face as a JPEG, in memory only: sealed into
	// the record only when the check-in is referred to staff, who compare
	// it with the live face.
	crop []byte
}

// Wipe zeroes the reference template and face crop.
func (r *Reference) Wipe() {
	if r == nil {
		return
	}
	r.template.Wipe()
	clear(r.crop)
	r.crop = nil
	r.Name, r.DocumentNumber = "", ""
	r.Document = nil
}

// String never prints the template or the name.
func (r *Reference) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("checkin.Reference{%s [redacted]}", r.Kind)
}

// GoString never prints the template or the name.
func (r *Reference) GoString() string { return r.String() }

// Format never prints the template or the name, whatever the verb.
func (r *Reference) Format(f fmt.State, _ rune) { f.Write([]byte(r.String())) }

// SensitiveValue marks Reference for safelog.
func (r *Reference) SensitiveValue() {}

// PhotoReference builds a 1:1 reference from an ID photo held in memory,
// behind the reference gate. Errors wrap ErrBadPhoto, or are a
// *models.ReferenceError (matching models.ErrUnfitReference, and
// models.ErrNoFace or models.ErrManyFaces when that is the problem).
func PhotoReference(m *models.Matcher, data []byte) (*Reference, error) {
	p, err := ReadPhoto(data)
	if err != nil {
		return nil, err
	}
	defer p.Wipe()
	return photoReference(m, p.Image)
}

// photoReference gates, embeds and crops the face of a decoded photo.
func photoReference(m *models.Matcher, img models.Image) (*Reference, error) {
	t, face, err := m.FitReference(img)
	if err != nil {
		return nil, err
	}
	return &Reference{Kind: ReferencePhoto, template: t, crop: faceCrop(img, face)}, nil
}

// TemplateReference builds a 1:1 reference from a stored template (an
// enrolled person picked by the operator).
func TemplateReference(personID store.ID, tmpl []byte) (*Reference, error) {
	t, err := models.ParseTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	return &Reference{Kind: ReferencePhoto, template: t, PersonID: personID}, nil
}

// GalleryReference checks the visitor in against everyone enrolled (1:N).
func GalleryReference(g *models.Gallery) (*Reference, error) {
	if g == nil || g.Len() == 0 {
		return nil, ErrNoneEnrolled
	}
	return &Reference{Kind: ReferenceEnrolled, gallery: g}, nil
}

// CardReference takes the reference from a camera frame showing an ID
// card's portrait. The portrait must be the only face, and the passive
// anti-spoof model must see it as a print (score below its threshold):
// a live face held to the camera is refused, so visitors cannot enrol
// their own live face as the reference they are then compared with. Then
// the reference gate: a small, blurred, turned or glaring portrait is
// refused with a *models.ReferenceError, whose first problem the flow asks
// the visitor to fix (ReferencePrompt).
func CardReference(m *models.Matcher, img models.Image) (*Reference, error) {
	if m.PAD == nil {
		return nil, errors.New("ID card intake needs the anti-spoof model")
	}
	faces, err := m.Det.Detect(img)
	if err != nil {
		return nil, err
	}
	switch len(faces) {
	case 0:
		return nil, fmt.Errorf("ID card: %w", models.ErrNoFace)
	case 1:
	default:
		return nil, fmt.Errorf("ID card: %w (%d)", models.ErrManyFaces, len(faces))
	}
	score, err := m.PAD.Score(img, faces[0])
	if err != nil {
		return nil, err
	}
	if score >= models.DefaultPADThreshold {
		return nil, ErrCardLooksLive
	}
	if err := m.CheckReference(img, faces); err != nil {
		return nil, err
	}
	t, err := m.Emb.EmbedFace(img, faces[0])
	if err != nil {
		return nil, err
	}
	return &Reference{Kind: ReferenceCard, template: t, crop: faceCrop(img, faces[0])}, nil
}

// faceCrop encodes the face box, grown by half, as a JPEG in memory (nil
// when the box lies outside the picture). The RGBA copy is wiped.
func faceCrop(img models.Image, face models.Face) []byte {
	box := face.Rect()
	grow := box.Dx() / 4
	box = image.Rect(box.Min.X-grow, box.Min.Y-grow, box.Max.X+grow, box.Max.Y+grow).Intersect(image.Rect(0, 0, img.Width, img.Height))
	if box.Empty() || len(img.Pix) < img.Width*img.Height*3 {
		return nil
	}
	rgba := image.NewRGBA(image.Rect(0, 0, box.Dx(), box.Dy()))
	defer clear(rgba.Pix)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		src := img.Pix[(y*img.Width+box.Min.X)*3 : (y*img.Width+box.Max.X)*3]
		dst := rgba.Pix[(y-box.Min.Y)*rgba.Stride:]
		for i, j := 0, 0; i+2 < len(src); i, j = i+3, j+4 {
			dst[j], dst[j+1], dst[j+2], dst[j+3] = src[i+2], src[i+1], src[i], 0xff
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 90}); err != nil {
		return nil
	}
	return buf.Bytes()
}
