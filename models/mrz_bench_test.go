package models

import (
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// BenchmarkMRZRead is locate + read of one document, end to end: the
// ICAO specimen passport page (1334×880 PNG, two lines). Run it on one
// core: taskset -c 0 go test -tags 'libsqlite3 matprofile' -run '^$'
// -bench MRZ -cpu 1 ./models/ (goal ≤ 300 ms).
func BenchmarkMRZRead(b *testing.B) {
	r := newTestMRZReader(b)
	img := decodeFile(b, filepath.Join(dataDir(b, "mrz/documents"), "utopia-passport-td3.png"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rd, err := r.Read(img); err != nil || !rd.Result.Valid {
			b.Fatalf("Read = %v", err)
		}
	}
}

// BenchmarkMRZReadCameraFrame reads a generated 1280×720 camera picture
// of a TD1 card (three lines), tilted and rotated: the kiosk's case.
func BenchmarkMRZReadCameraFrame(b *testing.B) {
	r := newTestMRZReader(b)
	var img Image
	for seed := uint64(1); ; seed++ {
		g := generated(b, seed, nil)
		if g.Format.String() == "TD1" && g.Photo.Glare == 0 && g.Photo.Rotate > -90 && g.Photo.Rotate < 90 {
			img = FromImage(g.Image)
			break
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rd, err := r.Read(img); err != nil || !rd.Result.Valid {
			b.Fatalf("Read = %v", err)
		}
	}
}

// BenchmarkMRZLocate is the OpenCV part alone: finding the lines and
// grouping them into bands on the specimen page.
func BenchmarkMRZLocate(b *testing.B) {
	img := decodeFile(b, filepath.Join(dataDir(b, "mrz/documents"), "utopia-passport-td3.png"))
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(src, &gray, gocv.ColorBGRToGray)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if bands := groupBands(findTextLines(gray, locatePasses[0])); len(bands) == 0 {
			b.Fatal("no band")
		}
	}
}

// BenchmarkMRZLine is the OCR of one line crop.
func BenchmarkMRZLine(b *testing.B) {
	r := newTestMRZReader(b)
	m := gocv.IMRead(filepath.Join(dataDir(b, "mrz/lines"), "03e3b128736f0320c295b52845334f36.cbb9222050e13773c2aadbcd3d5e2fe7.jpg-1.tif"), gocv.IMReadGrayScale)
	defer m.Close()
	if m.Empty() {
		b.Skip("line crop missing")
	}
	pix := m.ToBytes()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := r.ReadLine(pix, m.Cols(), m.Rows()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMRZLineCropsAll reads all 1,657 real line crops once per
// iteration and reports exact lines and the character error rate as
// metrics: go test -tags 'libsqlite3 matprofile' -run '^$' -bench
// MRZLineCropsAll -benchtime 1x ./models/ (the model was trained on these
// lines: a regression figure, not an accuracy claim).
func BenchmarkMRZLineCropsAll(b *testing.B) {
	r := newTestMRZReader(b)
	dir := dataDir(b, "mrz/lines")
	var s MRZLineScore
	for b.Loop() {
		var err error
		if s, err = ReadMRZLines(r, dir, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Lines), "lines")
	b.ReportMetric(100*float64(s.Exact)/float64(s.Lines), "%exact")
	b.ReportMetric(100*s.CER(), "%CER")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*s.Lines), "ms/line")
}
