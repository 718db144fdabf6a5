package models

import "github.com/otiai10/gosseract/v2"

// OCRVersion is the version of the Tesseract library the MRZ reader runs on
// (the one loaded at run time, e.g. "5.3.0").
func OCRVersion() string { return gosseract.Version() }
