package models

// ReadLineFile reads one line crop file (a grey or colour image of one
// upright zone line, such as the .tif crops in ../shared/data/mrz/lines)
// and recognises it with the OCR step alone, as ReadMRZLines does: no
// locating, straightening or binarising. It gives the text, Tesseract's
// confidence (0–100), and an error matching ErrBadImage for a file that is
// not a readable image.
func (r *MRZOCR) ReadLineFile(path string) (string, float64, error) {
	return readCrop(r, path)
}
