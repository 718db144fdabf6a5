package models

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"
	xdraw "golang.org/x/image/draw"

	"kiosk/capture"
	"kiosk/mrz"
)

// mrzRef resolves two-digit years in the tests, never the wall clock.
var mrzRef = mrz.Options{Now: func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }}

// mrzModelDir finds a verified MRZ model like modelDir finds YuNet: the
// provisioned cache, else the shared models folder.
func mrzModelDir(t testing.TB) string {
	t.Helper()
	for _, d := range []string{os.Getenv("KIOSK_MODELS_DIR"), filepath.Join(sharedDir(), "models")} {
		if d == "" {
			continue
		}
		if err := VerifyFile(filepath.Join(d, MRZModel), mustLookup(t, MRZModel)); err == nil {
			return d
		}
	}
	if _, err := os.Stat(sharedDir()); err != nil {
		t.Skipf("no verified %s and no shared folder: %v", MRZModel, err)
	}
	t.Fatalf("no verified %s found: run 'kiosk models fetch' (or set KIOSK_MODELS_DIR)", MRZModel)
	return ""
}

func newTestMRZReader(t testing.TB) *MRZOCR {
	t.Helper()
	r, err := LoadMRZReader(mrzModelDir(t), MRZOptions{Parse: mrzRef})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestMRZDocuments reads every specimen document of the shared truth file
// exactly, and reports the low-resolution Austrian card (no truth: its
// printed zone lacks a check digit) as not valid.
func TestMRZDocuments(t *testing.T) {
	dir := dataDir(t, "mrz/documents")
	r := newTestMRZReader(t)
	truth, err := ReadMRZTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) < 6 {
		t.Fatalf("truth.csv has %d documents", len(truth))
	}
	for _, tr := range truth {
		t.Run(tr.File, func(t *testing.T) {
			rd, err := ReadMRZFile(r, filepath.Join(dir, tr.File))
			s := ScoreMRZ(rd, tr.Lines)
			t.Logf("%s: valid %v, %d/%d lines exact, %d char errors, rotation %d, line height %.0f px, confidence %.0f",
				tr.File, rd.Result.Valid, s.LinesExact, s.Lines, s.CharErrors, rd.Rotation, rd.LineHeight, rd.Confidence)
			if s.WrongValid {
				t.Fatalf("WRONG READ REPORTED VALID: %q; truth %q", rd.Result.Lines, tr.Lines)
			}
			if !s.Exact || err != nil {
				t.Errorf("ReadMRZFile = %q, %v; want exactly %q", rd.Lines, err, tr.Lines)
			}
			if rd.Result.Format != tr.Format {
				t.Errorf("format %v; want %v", rd.Result.Format, tr.Format)
			}
		})
	}
	t.Run("low-resolution card without truth", func(t *testing.T) {
		rd, err := ReadMRZFile(r, filepath.Join(dir, "mrzdetection-id_fail.png"))
		var me *MRZError
		if rd.Result.Valid || !errors.As(err, &me) {
			t.Fatalf("read = valid %v, %v; want an MRZError", rd.Result.Valid, err)
		}
		t.Logf("reported %v (%s)", err, me.Reason)
	})
}

// TestMRZLineCrops runs the OCR alone over a sample of the real line crops.
// The model was trained on them, so this guards against regressions (the
// crop pipeline, the whitelist, the thread setting) rather than measuring
// accuracy; ReadMRZLines with no limit scores all 1,657.
func TestMRZLineCrops(t *testing.T) {
	dir := dataDir(t, "mrz/lines")
	r := newTestMRZReader(t)
	s, err := ReadMRZLines(r, dir, 200)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d line crops: %d exact (%.1f %%), CER %.2f %%, mean confidence %.0f, %d failed",
		s.Lines, s.Exact, 100*float64(s.Exact)/float64(s.Lines), 100*s.CER(), s.MeanConfidence, s.Failed)
	if s.Lines != 200 || s.Failed != 0 {
		t.Fatalf("%d lines read, %d failed; want 200 and 0", s.Lines, s.Failed)
	}
	if s.Exact < 180 || s.CER() > 0.02 {
		t.Errorf("%d of 200 lines exact, CER %.2f %%; want ≥ 180 and ≤ 2 %%", s.Exact, 100*s.CER())
	}
}

// samplePortrait is a real face for generated documents, or nil (a drawn
// face) without the shared data.
func samplePortrait(t testing.TB) image.Image {
	b, err := os.ReadFile(filepath.Join(sharedDir(), "data", "faces", "pairs", "img1.jpg"))
	if err != nil {
		return nil
	}
	img, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	// Once, at about the size a document prints it.
	full := bgrToRGBA(img)
	small := image.NewRGBA(image.Rect(0, 0, 300, 300*img.Height/img.Width))
	xdraw.CatmullRom.Scale(small, small.Bounds(), full, full.Bounds(), xdraw.Src, nil)
	return small
}

func bgrToRGBA(img Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i, j := 0, 0; i < len(img.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = img.Pix[i+2], img.Pix[i+1], img.Pix[i], 255
	}
	return out
}

func generated(t testing.TB, seed uint64, portrait image.Image) capture.GeneratedDocument {
	t.Helper()
	g, err := capture.GenerateDocument(seed, portrait)
	if errors.Is(err, capture.ErrNoOCRBFont) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMRZGeneratedDocuments reads 54 generated camera pictures of TD1, TD2
// and TD3 documents (perspective, rotation, one in ten upside down, blur,
// noise, JPEG, glare on a quarter): at least 90 % read exactly, and no
// wrong read is ever reported valid.
func TestMRZGeneratedDocuments(t *testing.T) {
	r := newTestMRZReader(t)
	portrait := samplePortrait(t)
	const n = 54
	exact, wrong := 0, 0
	for seed := uint64(1); seed <= n; seed++ {
		g := generated(t, seed, portrait)
		rd, err := r.Read(FromImage(g.Image))
		s := ScoreMRZ(rd, g.Lines)
		if s.Exact {
			exact++
			continue
		}
		if s.WrongValid {
			wrong++
			t.Errorf("seed %d: WRONG READ REPORTED VALID: %q; truth %q", seed, rd.Result.Lines, g.Lines)
			continue
		}
		t.Logf("seed %d (%v, rotate %.0f°, tilt %.0f/%.0f°, blur %.1f, glare %.1f): %v; read %q",
			seed, g.Format, g.Photo.Rotate, g.Photo.TiltX, g.Photo.TiltY, g.Photo.Blur, g.Photo.Glare, err, rd.Lines)
	}
	t.Logf("generated documents: %d of %d exact (%.0f %%), %d wrong but valid", exact, n, 100*float64(exact)/n, wrong)
	if exact < n*9/10 {
		t.Errorf("%d of %d generated documents read exactly; want ≥ 90 %%", exact, n)
	}
}

// TestMRZReadTurned: a passport page photographed upside down or sideways
// reads the same, and the reader says how it was turned.
func TestMRZReadTurned(t *testing.T) {
	dir := dataDir(t, "mrz/documents")
	r := newTestMRZReader(t)
	img := decodeFile(t, filepath.Join(dir, "utopia-passport-td3.png"))
	for _, tc := range []struct {
		name string
		flag gocv.RotateFlag
		want int
	}{
		{"upside down", gocv.Rotate180Clockwise, 180},
		{"a quarter clockwise", gocv.Rotate90Clockwise, 90},
		{"a quarter anticlockwise", gocv.Rotate90CounterClockwise, 270},
	} {
		t.Run(tc.name, func(t *testing.T) {
			turned := rotateImage(t, img, tc.flag)
			rd, err := r.Read(turned)
			if err != nil || !rd.Result.Valid {
				t.Fatalf("Read = %q, %v; want valid", rd.Lines, err)
			}
			if rd.Rotation != tc.want {
				t.Errorf("Rotation = %d; want %d", rd.Rotation, tc.want)
			}
			// The zone's upright top-left corner, mapped back into the
			// turned picture, lies in the half where the zone starts.
			c := rd.Corners[0]
			if c.X < 0 || c.Y < 0 || c.X >= turned.Width || c.Y >= turned.Height {
				t.Errorf("corner %v outside the %dx%d picture", c, turned.Width, turned.Height)
			}
		})
	}
}

func rotateImage(t testing.TB, img Image, flag gocv.RotateFlag) Image {
	t.Helper()
	src, err := gocv.NewMatFromBytes(img.Height, img.Width, gocv.MatTypeCV8UC3, img.Pix)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.Rotate(src, &dst, flag)
	return Image{Width: dst.Cols(), Height: dst.Rows(), Pix: dst.ToBytes()}
}

// TestMRZNoZone: blank, dark, tiny, huge, noisy and non-document pictures,
// and a card without a zone, all say "no machine-readable zone found",
// never panic, and leak no Mat (TestMain counts them).
func TestMRZNoZone(t *testing.T) {
	r := newTestMRZReader(t)
	solid := func(w, h int, v byte) Image {
		im := Image{Width: w, Height: h, Pix: make([]byte, w*h*3)}
		for i := range im.Pix {
			im.Pix[i] = v
		}
		return im
	}
	noise := solid(800, 600, 0)
	for i := range noise.Pix {
		noise.Pix[i] = byte((i*7919 + i/3*104729) % 251)
	}
	cases := []struct {
		name string
		img  Image
	}{
		{"white", solid(640, 480, 255)},
		{"black", solid(640, 480, 0)},
		{"one pixel", solid(1, 1, 128)},
		{"tiny", solid(12, 9, 200)},
		{"a thin strip", solid(4000, 3, 90)},
		{"huge", solid(7000, 5000, 230)},
		{"noise", noise},
	}
	if _, err := os.Stat(filepath.Join(sharedDir(), "data", "faces")); err == nil {
		cases = append(cases, struct {
			name string
			img  Image
		}{"a face photo", decodeFile(t, filepath.Join(sharedDir(), "data", "faces", "scenes", "bbt1.jpg"))})
	}
	doc, err := capture.RenderDocument(capture.DocumentOptions{Lines: []string{"I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"}, PxPerMM: 8})
	if err == nil {
		// The same card with its zone painted over: a card with no zone.
		b := doc.Bounds()
		for y := b.Dy() * 62 / 100; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				i := doc.PixOffset(x, y)
				if doc.Pix[i+3] != 0 {
					doc.Pix[i], doc.Pix[i+1], doc.Pix[i+2] = 240, 238, 242
				}
			}
		}
		photo, _, err := capture.Photograph(doc, capture.PhotoOptions{Width: 960, Height: 720, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			img  Image
		}{"a card without a zone", FromImage(photo)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := r.Read(tc.img)
			if !errors.Is(err, ErrNoMRZ) {
				t.Fatalf("Read = %q, %v; want ErrNoMRZ", rd.Lines, err)
			}
			if rd.Found || rd.Result.Valid || (rd.Reason != MRZReasonNoZone && rd.Reason != MRZReasonTooSmall) {
				t.Errorf("read %+v; want not found", rd)
			}
		})
	}
	t.Run("inconsistent pixels", func(t *testing.T) {
		if _, err := r.Read(Image{Width: 10, Height: 10, Pix: make([]byte, 7)}); !errors.Is(err, ErrBadImage) {
			t.Errorf("Read = %v; want ErrBadImage", err)
		}
	})
}

// TestMRZReasons: a zone that cannot be read says why: too small (move
// closer), blurred (hold still) or washed out by glare (tilt the card).
func TestMRZReasons(t *testing.T) {
	r := newTestMRZReader(t)
	lines := []string{"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}
	doc, err := capture.RenderDocument(capture.DocumentOptions{Lines: lines, PxPerMM: 10})
	if errors.Is(err, capture.ErrNoOCRBFont) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    capture.PhotoOptions
		want MRZReason
	}{
		{"far away", capture.PhotoOptions{Fill: 0.2}, MRZReasonTooSmall},
		{"out of focus", capture.PhotoOptions{Fill: 0.6, Blur: 3}, MRZReasonBlurry},
		{"a little out of focus, far", capture.PhotoOptions{Fill: 0.35, Blur: 1.5}, MRZReasonBlurry},
		{"a lamp's reflection on the zone", capture.PhotoOptions{Fill: 0.6, Glare: 1, GlareX: 0.45, GlareY: 0.9, GlareRadius: 0.2}, MRZReasonGlare},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Width, tc.o.Height, tc.o.Seed = 1280, 720, 1
			photo, _, err := capture.Photograph(doc, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := r.Read(FromImage(photo))
			var me *MRZError
			if !errors.As(err, &me) || me.Reason != tc.want || rd.Reason != tc.want {
				t.Errorf("Read = %q, %v (reason %q); want %q", rd.Lines, err, rd.Reason, tc.want)
			}
		})
	}
}

// TestOCRRunsOnOneThread: Tesseract's OpenMP regions get one thread, even
// when they ask for four, whatever OMP_THREAD_LIMIT says.
func TestOCRRunsOnOneThread(t *testing.T) {
	if n := ompTeamSize(); n != 1 {
		t.Errorf("an OpenMP region asking for 4 threads got %d; want 1", n)
	}
}

func TestMRZReaderRefusesOtherModels(t *testing.T) {
	var ce *ChecksumError
	if _, err := NewMRZReader([]byte("not a model"), MRZOptions{}); !errors.As(err, &ce) {
		t.Errorf("NewMRZReader(junk) = %v; want a ChecksumError", err)
	}
	if _, err := LoadMRZReader(t.TempDir(), MRZOptions{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadMRZReader(empty folder) = %v; want not found", err)
	}
	r := newTestMRZReader(t)
	r.Close()
	if _, err := r.Read(Image{Width: 1, Height: 1, Pix: []byte{0, 0, 0}}); err == nil {
		t.Error("Read after Close succeeded")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestProvisionMRZModel: the provisioner fetches the OCR model like the
// others, and refuses a tampered copy in the cache.
func TestProvisionMRZModel(t *testing.T) {
	shared := filepath.Join(sharedDir(), "models")
	if _, err := os.Stat(filepath.Join(shared, MRZModel)); err != nil {
		t.Skipf("shared models folder has no %s: %v", MRZModel, err)
	}
	cache := t.TempDir()
	p := &Provisioner{CacheDir: cache, SharedDir: shared, NPM: "-"}
	e := mustLookup(t, MRZModel)
	if e.Licence != "BSD-3-Clause" || len(e.Sources) < 2 {
		t.Errorf("manifest entry %+v; want BSD-3-Clause with a shared and an upstream source", e)
	}
	res, err := p.Ensure(t.Context(), e)
	if err != nil || res.Source != "shared models folder" {
		t.Fatalf("Ensure = %+v, %v", res, err)
	}
	b, _ := os.ReadFile(res.Path)
	b[len(b)/2] ^= 1
	os.WriteFile(res.Path, b, 0o600)
	if _, err := LoadMRZReader(cache, MRZOptions{}); !errors.As(err, new(*ChecksumError)) {
		t.Errorf("LoadMRZReader(tampered) = %v; want a ChecksumError", err)
	}
	if res, err := p.Ensure(t.Context(), e); err != nil || res.Source == "cache" {
		t.Errorf("Ensure after tampering = %+v, %v; want a fresh copy", res, err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"ABC", "", 3}, {"", "AB", 2}, {"L898902C3", "L898902C3", 0},
		{"L898902C3", "L8989O2C3", 1}, {"P<UTO", "P<<UTO", 1}, {"ABC", "CBA", 2},
	} {
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// FuzzMRZRead feeds the reader arbitrary pixels at arbitrary small sizes:
// no panic, no abort from OpenCV, and every answer is a read or one of
// the reader's errors.
func FuzzMRZRead(f *testing.F) {
	r := newTestMRZReader(f)
	f.Add(uint8(0), uint8(0), []byte{0})
	f.Add(uint8(15), uint8(15), []byte{255})
	f.Add(uint8(199), uint8(40), []byte{0, 255, 0, 255, 255, 255})
	f.Add(uint8(120), uint8(199), []byte("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"))
	f.Fuzz(func(t *testing.T, w, h uint8, seed []byte) {
		img := Image{Width: 1 + int(w)%200, Height: 1 + int(h)%200}
		img.Pix = make([]byte, img.Width*img.Height*3)
		if len(seed) > 0 {
			for i := range img.Pix {
				img.Pix[i] = seed[i%len(seed)] ^ byte(i/len(seed))
			}
		}
		rd, err := r.Read(img)
		switch {
		case err == nil:
			if !rd.Result.Valid {
				t.Fatalf("no error but not valid: %+v", rd)
			}
		case errors.Is(err, ErrNoMRZ), errors.Is(err, ErrMRZUnreadable):
			if rd.Result.Valid {
				t.Fatalf("error %v with a valid result", err)
			}
		default:
			t.Fatalf("Read = %v; want a read or an MRZError", err)
		}
	})
}
