package capture

import (
	"fmt"
	"image"
	"math/rand/v2"
	"strings"

	"kiosk/mrz"
)

// GeneratedDocument is one camera-like picture of a generated document,
// with the truth it was made from.
type GeneratedDocument struct {
	Image  *image.RGBA
	Format mrz.Format
	Lines  []string // the zone printed on the document
	Photo  PhotoOptions
}

var (
	syllables   = []string{"AN", "BER", "CO", "DA", "EL", "FI", "GRA", "HO", "IN", "JO", "KA", "LU", "MAR", "NI", "OR", "PE", "QUI", "RO", "SA", "TI", "UL", "VA", "WEN", "XI", "YA", "ZO"}
	nationCodes = []string{"UTO", "FRA", "DEU", "ESP", "ITA", "NLD", "BEL", "EST", "POL", "SWE", "GBR", "USA", "CAN", "BRA", "IND", "CHN", "JPN", "NGA", "KEN", "AUS", "D<<", "XXA", "UNO", "EUE"}
)

// GenerateDocument makes a random but valid zone (TD1, TD2 or TD3), renders
// the document with portrait (nil draws a face), and photographs it with
// camera effects drawn from a range a kiosk camera sees: 1280×720, the
// document filling 45–70 % of the width, turned up to ±10° (one in ten
// upside down), tilted up to ±14°, slightly blurred, noisy, JPEG 70–95, and
// a lamp's glare on one in four. The same seed gives the same picture.
func GenerateDocument(seed uint64, portrait image.Image) (GeneratedDocument, error) {
	rng := rand.New(rand.NewPCG(seed, 0x67656e646f63))
	f := []mrz.Format{mrz.TD1, mrz.TD2, mrz.TD3}[rng.IntN(3)]
	lines, err := mrz.Compose(f, randomFields(rng, f))
	if err != nil {
		return GeneratedDocument{}, fmt.Errorf("generating document %d: %w", seed, err)
	}
	sz, err := sizeFor(lines)
	if err != nil {
		return GeneratedDocument{}, err
	}
	u := func(a, b float64) float64 { return a + (b-a)*rng.Float64() }
	p := PhotoOptions{
		Width: 1280, Height: 720,
		Fill:    u(0.45, 0.7),
		OffsetX: u(-0.08, 0.08), OffsetY: u(-0.05, 0.05),
		Rotate: u(-10, 10),
		TiltX:  u(-14, 14), TiltY: u(-14, 14),
		Blur:        u(0, 1.2),
		Noise:       u(1.5, 4),
		Light:       u(0.8, 1.1),
		JPEGQuality: 70 + rng.IntN(26),
		Seed:        seed,
	}
	if rng.IntN(10) == 0 {
		p.Rotate += 180
	}
	if rng.IntN(4) == 0 {
		// Glare on the upper part: the portrait or the printed fields.
		p.Glare, p.GlareX, p.GlareY = u(0.3, 0.7), u(0.2, 0.8), u(0.15, 0.5)
	}
	// A document taller than the frame allows is shrunk to fit.
	if h := p.Fill * float64(p.Width) * sz.h / sz.w; h > 0.85*float64(p.Height) {
		p.Fill *= 0.85 * float64(p.Height) / h
	}
	// Render finer than the picture needs: Photograph's filtered
	// shrinking then gives the soft, anti-aliased glyph edges of a lens.
	doc, err := RenderDocument(DocumentOptions{Lines: lines, Portrait: portrait, PxPerMM: 10, Seed: seed})
	if err != nil {
		return GeneratedDocument{}, err
	}
	img, _, err := Photograph(doc, p)
	if err != nil {
		return GeneratedDocument{}, err
	}
	return GeneratedDocument{Image: img, Format: f, Lines: lines, Photo: p}, nil
}

func randomFields(rng *rand.Rand, f mrz.Format) mrz.Fields {
	word := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		return b.String()
	}
	// Document numbers: one or two letters then digits, as most states
	// issue them (no K or G, which sit on the check digits' blind spots).
	const letters = "ABCDEFHIJLMNOPQRSTUVWXYZ"
	num := []byte{letters[rng.IntN(len(letters))]}
	if rng.IntN(2) == 0 {
		num = append(num, letters[rng.IntN(len(letters))])
	}
	for len(num) < 9 {
		num = append(num, byte('0'+rng.IntN(10)))
	}
	code := map[mrz.Format]string{mrz.TD1: "I", mrz.TD2: "I", mrz.TD3: "P"}[f]
	if rng.IntN(2) == 0 {
		code += []string{"D", "<", "R"}[rng.IntN(3)]
	}
	nat := strings.TrimRight(nationCodes[rng.IntN(len(nationCodes))], "<")
	by := 1940 + rng.IntN(65)
	ey := 2020 + rng.IntN(15)
	fl := mrz.Fields{
		DocumentCode: strings.TrimRight(code, "<"), Issuer: nat, Nationality: nat,
		Surname:        word(1 + rng.IntN(3)),
		GivenNames:     word(1+rng.IntN(2)) + map[bool]string{true: " " + word(1+rng.IntN(2)), false: ""}[rng.IntN(2) == 0],
		DocumentNumber: string(num),
		BirthDate:      mrz.Date{Year: by, Month: 1 + rng.IntN(12), Day: 1 + rng.IntN(28)},
		ExpiryDate:     mrz.Date{Year: ey, Month: 1 + rng.IntN(12), Day: 1 + rng.IntN(28)},
		Sex:            []mrz.Sex{mrz.SexMale, mrz.SexFemale, mrz.SexX, mrz.SexUnspecified}[rng.IntN(4)],
	}
	if f == mrz.TD3 && rng.IntN(2) == 0 {
		fl.PersonalNumber = fmt.Sprintf("%011d", rng.Int64N(1e11))
	}
	return fl
}
