// Package mrz parses and checks the machine-readable zones of identity
// documents (ICAO 9303): TD1 cards (3×30), TD2 cards (2×36), TD3 passports
// (2×44), MRV-A and MRV-B visas (2×44, 2×36), and the French national ID
// card of 1988–2021 (2×36, its own layout). It is pure Go with no cgo: the
// OCR that produces the lines lives in package models.
//
// Start with Parse, which takes the lines as read and returns a Result:
// Valid is true only when every check digit holds, every date is a real
// date, the codes are known and the layout matches. The one rule the package
// is built around: a wrong read that passes as valid is the worst outcome,
// so in doubt a read is not valid, and Result.Err says why in a typed form
// (a *FieldError wrapping one of the sentinel errors; Code gives a short
// stable code for JSON and the UI catalogue).
//
// OCR confusions are repaired only where the field's type and its check
// digits agree:
//   - numeric fields (dates, check digits) hold digits only, so a letter
//     look-alike there (O, D→0, I→1, B→8, S→5, Z→2, G→6) becomes its digit and
//     the check digit must then hold;
//   - alphabetic fields (document code, nationality, issuer, sex, names)
//     hold letters only, so a digit look-alike becomes its letter; a country
//     code is repaired only when exactly one candidate is a known code;
//   - alphanumeric fields (document numbers, optional data) must check as
//     read. They may hold letters and digits alike, so only a check digit
//     could decide between look-alikes, and one check digit passes one
//     wrong guess in ten: measured on the OCR's own confusions, repairing
//     them made 7.5 % of misread numbers wrong-but-valid (0.8 % without).
//     Options has
//     RepairAlphanumeric to allow it anyway (only where exactly one
//     combination of look-alikes fits the field's check digit and the
//     composite; two that fit make the read ambiguous). A K beside a
//     filler, or a G between digits, in such a field is refused as
//     ambiguous: K and <, G and 6 have values 10 apart, so no check digit
//     can tell them apart.
//
// Every repair is recorded in Result.Repairs.
//
// Names, nationality and sex carry no check digit in most formats, so one
// read of them is never proof. From a camera, collect several frames in a
// Ballot (or call Vote): it takes a per-character majority and accepts only
// when enough valid reads agree and no valid read disagrees.
package mrz
