package mrz

import "strings"

// iso3166 is every ISO 3166-1 alpha-3 code in use; ICAO 9303 uses them for
// states.
const iso3166 = `
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR BHR BHS
BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV
CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM
GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN
IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE
LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS
MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK
PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR
SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY
USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE`

// icaoCodes are the codes ICAO 9303 part 3 adds to ISO 3166: Germany's D,
// the British nationality classes, the United Nations and other issuing
// organisations, the stateless and refugee codes, Kosovo as documents
// write it, and the Utopia of the specimen documents.
const icaoCodes = `
D GBD GBN GBO GBP GBS UNO UNA UNK EUE XXA XXB XXC XXX XBA XIM XCC XCE XCO XEC XPO XES XMP XOM XDC
RKS XKX UTO UTS`

var countries = func() map[string]bool {
	m := make(map[string]bool, 280)
	for _, c := range strings.Fields(iso3166 + icaoCodes) {
		m[c] = true
	}
	return m
}()

// KnownCountry reports whether code (as written in a zone, with filler:
// "UTO", "D<<") is an ICAO state or organisation code.
func KnownCountry(code string) bool {
	return countries[strings.TrimRight(code, "<")] && len(code) == 3 && validCodeFill(code)
}

// validCodeFill allows fillers only at the end of a code: "D<<" but not
// "<D<".
func validCodeFill(code string) bool {
	t := strings.TrimRight(code, "<")
	return t != "" && !strings.Contains(t, "<")
}
