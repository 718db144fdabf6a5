package capture

import (
	"encoding/binary"
	"io"
	"os"
	"slices"
)

// A recorded video's codec leaves a trace in its colour: every keyframe
// (GOP start) is coded afresh, so a clip's brightness and chroma jump at
// the keyframe rate. In a skin patch that periodic artefact can outshine
// a pulse. These read the keyframe rhythm from an AVI file's index so the
// rPPG estimator can remove its harmonics (liveness.Options.Interference).

// KeyframeRates is the distinct keyframe rates (fps / GOP, Hz) of the
// files that have an AVI index with a regular keyframe interval.
func KeyframeRates(files []string, fps float64) []float64 {
	var rates []float64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		gop, ok := AVIKeyframeInterval(f)
		f.Close()
		if !ok || fps <= 0 {
			continue
		}
		if r := fps / float64(gop); !slices.Contains(rates, r) {
			rates = append(rates, r)
		}
	}
	return rates
}

// maxAVIIndex bounds the idx1 chunk read (16 bytes per entry: over four
// million entries).
const maxAVIIndex = 64 << 20

// AVIKeyframeInterval reads an AVI 1.0 file's idx1 index and returns its
// regular keyframe interval (GOP length) in video frames: the longest gap
// between keyframes that recurs at least three times and spans at least a
// quarter of the frames (scene-cut keyframes only shorten gaps, and a few
// stray long gaps are not a rhythm). ok is false for other containers,
// for intra-only video (every frame a keyframe), and for damaged indexes.
func AVIKeyframeInterval(r io.ReadSeeker) (gop int, ok bool) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "AVI " {
		return 0, false
	}
	var idx []byte
	for {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return 0, false
		}
		size := int64(binary.LittleEndian.Uint32(ck[4:]))
		if string(ck[:4]) == "idx1" {
			if size > maxAVIIndex {
				return 0, false
			}
			idx = make([]byte, size)
			if _, err := io.ReadFull(r, idx); err != nil {
				return 0, false
			}
			break
		}
		if _, err := r.Seek(size+size&1, io.SeekCurrent); err != nil {
			return 0, false
		}
	}
	gaps := map[int]int{}
	frame, last := 0, -1
	for off := 0; off+16 <= len(idx); off += 16 {
		id := idx[off : off+4]
		if string(id[2:]) != "dc" && string(id[2:]) != "db" {
			continue // audio, text, padding
		}
		if binary.LittleEndian.Uint32(idx[off+4:])&0x10 != 0 { // AVIIF_KEYFRAME
			if last >= 0 {
				gaps[frame-last]++
			}
			last = frame
		}
		frame++
	}
	for g, n := range gaps {
		if g >= 2 && n >= 3 && 4*g*n >= frame && g > gop {
			gop = g
		}
	}
	return gop, gop > 0
}
