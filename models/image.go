package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeConfig for the bomb guard
	_ "image/png"

	_ "golang.org/x/image/webp"

	"gocv.io/x/gocv"
)

var colorBlack = color.RGBA{0, 0, 0, 0}

// MaxPixels bounds decoded images (the decompression-bomb guard): 40 MP
// covers any phone photo, and a 20000×20000 bomb is refused unread.
const MaxPixels = 40_000_000

// DecodeImage decodes a JPEG, PNG or WebP held in memory into BGR pixels.
// The header is checked first: unknown formats, truncated or corrupt files
// and oversized dimensions are refused before any pixel is decoded. Nothing
// touches disk.
func DecodeImage(data []byte) (Image, error) {
	if len(data) == 0 {
		return Image{}, fmt.Errorf("%w: empty file", ErrBadImage)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Image{}, fmt.Errorf("%w: not a JPEG, PNG or WebP image (%v)", ErrBadImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return Image{}, fmt.Errorf("%w: %s of %dx%d pixels exceeds the %d MP limit", ErrBadImage, format, cfg.Width, cfg.Height, MaxPixels/1_000_000)
	}
	if format == "webp" {
		// OpenCV 4.6 on Debian decodes WebP too, but go through Go's decoder
		// for one code path with the header already parsed.
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return Image{}, fmt.Errorf("%w: corrupt webp: %v", ErrBadImage, err)
		}
		return FromImage(img), nil
	}
	m, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer m.Close()
	// OpenCV applies the EXIF orientation, which may swap the sides.
	sameDims := m.Cols() == cfg.Width && m.Rows() == cfg.Height
	swapped := m.Cols() == cfg.Height && m.Rows() == cfg.Width
	if m.Empty() || !(sameDims || swapped) {
		return Image{}, fmt.Errorf("%w: corrupt or truncated %s", ErrBadImage, format)
	}
	if format == "jpeg" && !bytes.HasSuffix(bytes.TrimRight(data, "\x00\r\n"), []byte{0xff, 0xd9}) {
		// libjpeg pads a truncated JPEG with grey and only warns; a reference
		// photo with a grey lower half must not pass as good.
		return Image{}, fmt.Errorf("%w: truncated jpeg (no end-of-image marker)", ErrBadImage)
	}
	pix, err := m.DataPtrUint8()
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	return Image{Width: m.Cols(), Height: m.Rows(), Pix: bytes.Clone(pix)}, nil
}

// FromImage converts any Go image to BGR pixels.
func FromImage(img image.Image) Image {
	b := img.Bounds()
	out := Image{Width: b.Dx(), Height: b.Dy(), Pix: make([]byte, b.Dx()*b.Dy()*3)}
	if rgba, ok := img.(*image.RGBA); ok { // the common case, without a per-pixel interface call
		for y := 0; y < b.Dy(); y++ {
			src := rgba.Pix[(y+b.Min.Y-rgba.Rect.Min.Y)*rgba.Stride+(b.Min.X-rgba.Rect.Min.X)*4:]
			dst := out.Pix[y*b.Dx()*3:]
			for x := 0; x < b.Dx(); x++ {
				dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x+2], src[4*x+1], src[4*x]
			}
		}
		return out
	}
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(bl>>8), uint8(g>>8), uint8(r>>8)
			i += 3
		}
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
