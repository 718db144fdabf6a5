package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// avi builds a minimal AVI 1.0 file whose idx1 marks the given video
// frames as keyframes, with an audio entry between frames.
func avi(tb testing.TB, frames int, key func(i int) bool) []byte {
	tb.Helper()
	var idx bytes.Buffer
	for i := 0; i < frames; i++ {
		flags := uint32(0)
		if key(i) {
			flags = 0x10
		}
		idx.WriteString("00dc")
		binary.Write(&idx, binary.LittleEndian, [3]uint32{flags, uint32(4 + 8*i), 0})
		idx.WriteString("01wb")
		binary.Write(&idx, binary.LittleEndian, [3]uint32{0x10, 0, 0})
	}
	var body bytes.Buffer
	body.WriteString("AVI ")
	body.WriteString("LIST")
	binary.Write(&body, binary.LittleEndian, uint32(5))
	body.WriteString("movi\x00\x00") // odd size: padded to even
	body.WriteString("idx1")
	binary.Write(&body, binary.LittleEndian, uint32(idx.Len()))
	body.Write(idx.Bytes())
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

func TestAVIKeyframeInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		gop  int
		ok   bool
	}{
		{"gop 12", avi(t, 120, func(i int) bool { return i%12 == 0 }), 12, true},
		{"gop 12 with scene cuts", avi(t, 120, func(i int) bool { return i%12 == 0 || i == 17 || i == 18 || i == 50 }), 12, true},
		{"gop 30", avi(t, 300, func(i int) bool { return i%30 == 0 }), 30, true},
		{"stray long gaps", avi(t, 120, func(i int) bool { return i < 80 || i == 87 || i == 94 || i == 101 || i == 108 }), 0, false},
		{"intra only", avi(t, 60, func(int) bool { return true }), 0, false},
		{"one keyframe", avi(t, 60, func(i int) bool { return i == 0 }), 0, false},
		{"not riff", []byte("RIFX\x00\x00\x00\x00AVI "), 0, false},
		{"wave file", []byte("RIFF\x04\x00\x00\x00WAVE"), 0, false},
		{"no index", []byte("RIFF\x04\x00\x00\x00AVI "), 0, false},
		{"empty", nil, 0, false},
		{"truncated index", avi(t, 120, func(i int) bool { return i%12 == 0 })[:200], 0, false},
		{"huge index size", []byte("RIFF\x10\x00\x00\x00AVI idx1\xff\xff\xff\xff"), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gop, ok := AVIKeyframeInterval(bytes.NewReader(tc.data))
			if gop != tc.gop || ok != tc.ok {
				t.Errorf("AVIKeyframeInterval(%s) = %d, %v; want %d, %v", tc.name, gop, ok, tc.gop, tc.ok)
			}
		})
	}
}

func TestKeyframeRates(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, gop := range []int{12, 12, 30} {
		p := filepath.Join(dir, fmt.Sprintf("patch%d.avi", i))
		if err := os.WriteFile(p, avi(t, 120, func(k int) bool { return k%gop == 0 }), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	files = append(files, filepath.Join(dir, "missing.avi"))
	got := KeyframeRates(files, 15)
	if len(got) != 2 || got[0] != 1.25 || got[1] != 0.5 {
		t.Errorf("KeyframeRates(GOP 12, 12, 30, missing; 15 fps) = %v; want [1.25 0.5]", got)
	}
}

func FuzzAVIKeyframeInterval(f *testing.F) {
	f.Add(avi(f, 120, func(i int) bool { return i%12 == 0 }))
	f.Add(avi(f, 60, func(int) bool { return true }))
	f.Add([]byte("RIFF\x10\x00\x00\x00AVI idx1\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		gop, ok := AVIKeyframeInterval(bytes.NewReader(data))
		if ok != (gop >= 2) {
			t.Fatalf("aviKeyframeInterval = %d, %v; ok must mean a GOP of at least 2", gop, ok)
		}
	})
}
