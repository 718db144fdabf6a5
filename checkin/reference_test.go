package checkin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"kiosk/models"
	"kiosk/mrz"
)

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a valid PNG header claiming w×h pixels, with one tiny row of
// data: decoding it would allocate w×h×4 bytes.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	// IHDR data starts after the 8-byte signature and the chunk's length and type.
	binary.BigEndian.PutUint32(p[16:], w)
	binary.BigEndian.PutUint32(p[20:], h)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// withEXIF inserts an APP1 Exif segment carrying marker after the SOI.
func withEXIF(jpg []byte, marker string) []byte {
	payload := append([]byte("Exif\x00\x00"), []byte(marker)...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func blankImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	return img
}

// badPhotoCases are reference photos that must be refused with a clear
// error and no panic; they seed the fuzzer too.
func badPhotoCases(t testing.TB) []struct {
	name    string
	data    []byte
	want    error
	message string
} {
	face := readData(t, "faces/pairs/img21.jpg")
	return []struct {
		name    string
		data    []byte
		want    error
		message string
	}{
		{"empty", nil, ErrBadPhoto, "empty"},
		{"text file", []byte("name,document\nAda,123\n"), ErrBadPhoto, "not a JPEG, PNG or WebP"},
		{"gif magic", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrBadPhoto, "not a JPEG, PNG or WebP"},
		{"decompression bomb", pngBomb(t, 20000, 20000), ErrBadPhoto, "exceeds"},
		{"truncated jpeg", face[:len(face)/2], ErrBadPhoto, "truncated"},
		{"jpeg magic only", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10}, ErrBadPhoto, ""},
		{"no face", encodeJPEG(t, blankImage(640, 480)), models.ErrNoFace, ""},
		{"several faces", encodeJPEG(t, twoFaces(t)), models.ErrManyFaces, ""},
	}
}

func TestPhotoReferenceBadInput(t *testing.T) {
	m := testMatcher(t)
	for _, tc := range badPhotoCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := PhotoReference(m, tc.data)
			if !errors.Is(err, tc.want) || ref != nil {
				t.Fatalf("PhotoReference(%s) = %v, %v; want %v", tc.name, ref, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

// TestReadPhotoStripsMetadata re-reads the normalised bytes: the EXIF
// segment and its GPS marker are gone, and the pixels are resized.
func TestReadPhotoStripsMetadata(t *testing.T) {
	const marker = "GPS 51.5007N 0.1246W SERIAL-KX-99"
	big := image.NewRGBA(image.Rect(0, 0, 2400, 1800))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 7)
	}
	in := withEXIF(encodeJPEG(t, big), marker)
	if !bytes.Contains(in, []byte(marker)) {
		t.Fatal("test input lacks its EXIF marker")
	}
	p, err := ReadPhoto(in)
	if err != nil {
		t.Fatalf("ReadPhoto() = %v", err)
	}
	defer p.Wipe()
	for _, leak := range []string{marker, "Exif"} {
		if bytes.Contains(p.JPEG, []byte(leak)) {
			t.Errorf("normalised JPEG still contains %q", leak)
		}
	}
	for i := 2; i+1 < len(p.JPEG) && p.JPEG[i] == 0xff; {
		mk := p.JPEG[i+1]
		if mk == 0xe1 || (mk >= 0xe2 && mk <= 0xef) || mk == 0xfe {
			t.Errorf("normalised JPEG has metadata segment 0xff%02x", mk)
		}
		if mk == 0xda { // start of scan: no more header segments
			break
		}
		i += 2 + int(binary.BigEndian.Uint16(p.JPEG[i+2:]))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != ReferenceSide || cfg.Height != 768 || p.Image.Width != cfg.Width || p.Image.Height != cfg.Height {
		t.Errorf("normalised %dx%d (pixels %dx%d); want %dx768", cfg.Width, cfg.Height, p.Image.Width, p.Image.Height, ReferenceSide)
	}
}

// TestCardReference: an ID card's portrait held to a camera becomes the
// reference; a live face held to the camera is refused, and so is a print
// held sideways with the face turned (the reference gate), with the
// prompt to hold it straight.
func TestCardReference(t *testing.T) {
	m := testMatcher(t)
	decode := func(rel string) models.Image {
		img, err := models.DecodeImage(readData(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	card, _ := visitorDocument(t, mrz.Date{Year: 2031, Month: 5, Day: 17})
	ref, err := CardReference(m, models.FromImage(card))
	if err != nil || ref.Kind != ReferenceCard || len(ref.crop) < 1000 {
		t.Fatalf("CardReference(ID card) = %v, %v; want a card reference with its face crop", ref, err)
	}
	ref.Wipe()
	var unfit *models.ReferenceError
	if _, err := CardReference(m, decode("spoof/image_F1.jpg")); !errors.As(err, &unfit) || ReferencePrompt(unfit.Check.Problem()) != PromptRefTurned {
		t.Errorf("CardReference(sideways print) = %v; want a reference error asking to hold the card straight", err)
	}
	if _, err := CardReference(m, decode("spoof/image_T1.jpg")); !errors.Is(err, ErrCardLooksLive) {
		t.Errorf("CardReference(live face) = %v; want ErrCardLooksLive", err)
	}
	if _, err := CardReference(m, models.FromImage(blankImage(320, 240))); !errors.Is(err, models.ErrNoFace) {
		t.Errorf("CardReference(no face) = %v; want ErrNoFace", err)
	}
}

func TestReferenceNeverPrints(t *testing.T) {
	ref, err := TemplateReference(7, make([]byte, 0))
	if err == nil {
		t.Fatalf("TemplateReference(empty) = %v; want an error", ref)
	}
	r := &Reference{Kind: ReferencePhoto, Name: "Ada Lovelace", DocumentNumber: "X1234567"}
	for _, s := range []string{r.String(), fmt.Sprintf("%v %+v %#v %s", r, r, r, r)} {
		if strings.Contains(s, "Ada") || strings.Contains(s, "X1234567") {
			t.Errorf("Reference printed %q", s)
		}
	}
}

func FuzzReadPhoto(f *testing.F) {
	for _, tc := range badPhotoCases(f) {
		f.Add(tc.data)
	}
	f.Add(encodeJPEG(f, blankImage(32, 24)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPhoto(data)
		if err != nil {
			if !errors.Is(err, ErrBadPhoto) {
				t.Fatalf("ReadPhoto error %v does not wrap ErrBadPhoto", err)
			}
			return
		}
		defer p.Wipe()
		if p.Image.Width <= 0 || p.Image.Width > ReferenceSide || p.Image.Height > ReferenceSide || len(p.JPEG) == 0 {
			t.Fatalf("ReadPhoto accepted an image of %dx%d", p.Image.Width, p.Image.Height)
		}
	})
}
