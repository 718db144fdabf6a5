package models

// Annotate draws each face's box and landmarks into img in place, in pure
// Go (no Mat round trip on the per-frame path). Boxes are pure green
// (BGR 0,255,0) so tests and screenshots can find them.
func Annotate(img Image, faces []Face) {
	for _, f := range faces {
		r := f.Rect()
		t := max(2, img.Width/320)
		fillRect(img, r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+t)
		fillRect(img, r.Min.X, r.Max.Y-t, r.Max.X, r.Max.Y)
		fillRect(img, r.Min.X, r.Min.Y, r.Min.X+t, r.Max.Y)
		fillRect(img, r.Max.X-t, r.Min.Y, r.Max.X, r.Max.Y)
		for _, p := range f.Landmarks {
			x, y := int(p.X), int(p.Y)
			fillRect(img, x-t, y-t, x+t, y+t)
		}
	}
}

func fillRect(img Image, x0, y0, x1, y1 int) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, img.Width), min(y1, img.Height)
	for y := y0; y < y1; y++ {
		row := img.Pix[y*img.Width*3:]
		for x := x0; x < x1; x++ {
			row[x*3], row[x*3+1], row[x*3+2] = 0, 255, 0
		}
	}
}
