package models

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// AlignedSize is the side of the aligned face crop the embedder takes.
const AlignedSize = 112

// arcFaceTemplate is where the five landmarks sit in a 112×112 ArcFace
// crop: the eye and mouth corner on the image's left first, as YuNet
// orders them.
var arcFaceTemplate = [5]Point{
	{X: 38.2946, Y: 51.6963}, {X: 73.5318, Y: 51.5014}, {X: 56.0252, Y: 71.7366},
	{X: 41.5493, Y: 92.3655}, {X: 70.7299, Y: 92.2041},
}

// Similarity is a 2-D similarity transform [a -b tx; b a ty]: rotation,
// uniform scale and translation, no shear or reflection.
type Similarity struct{ A, B, TX, TY float64 }

// Apply maps a point.
func (s Similarity) Apply(p Point) Point {
	x, y := float64(p.X), float64(p.Y)
	return Point{X: float32(s.A*x - s.B*y + s.TX), Y: float32(s.B*x + s.A*y + s.TY)}
}

// EstimateSimilarity is the closed-form least-squares similarity taking src
// onto dst (Umeyama's method, which in 2-D needs no SVD). OpenCV 4.6's
// estimateAffinePartial2D is RANSAC-only in gocv and shifts crops, so we
// solve it exactly here.
func EstimateSimilarity(src, dst [5]Point) Similarity {
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	n := float64(len(src))
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var dot, cross, norm float64
	for i := range src {
		sx, sy := float64(src[i].X)-msx, float64(src[i].Y)-msy
		dx, dy := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		dot += sx*dx + sy*dy
		cross += sx*dy - sy*dx
		norm += sx*sx + sy*sy
	}
	if norm == 0 {
		return Similarity{A: 1}
	}
	a, b := dot/norm, cross/norm
	return Similarity{A: a, B: b, TX: mdx - (a*msx - b*msy), TY: mdy - (b*msx + a*msy)}
}

// Align warps the face to the 112×112 ArcFace template and returns the crop
// as BGR pixels. The face's landmarks must come from a detection on img.
func Align(img Image, f Face) (Image, error) {
	if err := img.check(); err != nil {
		return Image{}, err
	}
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrBadImage, err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	if err := alignMat(src, &dst, f); err != nil {
		return Image{}, err
	}
	pix, err := dst.DataPtrUint8()
	if err != nil {
		return Image{}, err
	}
	return Image{Width: AlignedSize, Height: AlignedSize, Pix: append([]byte(nil), pix...)}, nil
}

func alignMat(src gocv.Mat, dst *gocv.Mat, f Face) error {
	return alignMatTo(src, dst, f, arcFaceTemplate, AlignedSize)
}

// alignMatTo warps the face onto template points in a size×size crop.
func alignMatTo(src gocv.Mat, dst *gocv.Mat, f Face, template [5]Point, size int) error {
	s := EstimateSimilarity(f.Landmarks, template)
	if s.A == 1 && s.B == 0 && s.TX == 0 && s.TY == 0 {
		return fmt.Errorf("cannot align a face whose landmarks coincide")
	}
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	m.SetDoubleAt(0, 0, s.A)
	m.SetDoubleAt(0, 1, -s.B)
	m.SetDoubleAt(0, 2, s.TX)
	m.SetDoubleAt(1, 0, s.B)
	m.SetDoubleAt(1, 1, s.A)
	m.SetDoubleAt(1, 2, s.TY)
	gocv.WarpAffineWithParams(src, dst, m, image.Pt(size, size), gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	return nil
}
