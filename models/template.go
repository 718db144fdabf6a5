package models

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// TemplateDim is the length of a face embedding.
const TemplateDim = 512

// Template is an L2-normalised face embedding. It is biometric data: it
// never prints its values (String and the fmt verbs show only a redacted
// form), refuses JSON, and leaves memory only through AppendBinary, whose
// output belongs in sealed storage. The zero Template is invalid.
type Template struct {
	v []float32
}

// ErrBadTemplate means a template's bytes are malformed.
var ErrBadTemplate = errors.New("bad face template")

// NewTemplate normalises v into a template. It fails on a wrong length, a
// non-finite value or a zero vector.
func NewTemplate(v []float32) (Template, error) {
	if len(v) != TemplateDim {
		return Template{}, fmt.Errorf("%w: %d values; want %d", ErrBadTemplate, len(v), TemplateDim)
	}
	var n float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return Template{}, fmt.Errorf("%w: non-finite value", ErrBadTemplate)
		}
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return Template{}, fmt.Errorf("%w: zero vector", ErrBadTemplate)
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, TemplateDim)
	for i, x := range v {
		out[i] = x * inv
	}
	return Template{v: out}, nil
}

// Valid reports whether t holds an embedding.
func (t Template) Valid() bool { return len(t.v) == TemplateDim }

// Similarity is the cosine similarity of two templates, in [-1, 1]. An
// invalid template scores -1 against anything.
func (t Template) Similarity(u Template) float32 {
	if !t.Valid() || !u.Valid() {
		return -1
	}
	return dot(t.v, u.v)
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// templateVersion prefixes the binary form so the format can change.
const templateVersion = 1

// AppendBinary appends the template's binary form (a version byte and 512
// little-endian float32s) to dst. Seal the result before it leaves memory.
func (t Template) AppendBinary(dst []byte) ([]byte, error) {
	if !t.Valid() {
		return dst, fmt.Errorf("%w: empty", ErrBadTemplate)
	}
	dst = append(dst, templateVersion)
	for _, x := range t.v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst, nil
}

// ParseTemplate decodes AppendBinary's output, checking version, length,
// finiteness and unit norm.
func ParseTemplate(b []byte) (Template, error) {
	if len(b) != 1+4*TemplateDim || b[0] != templateVersion {
		return Template{}, fmt.Errorf("%w: %d bytes", ErrBadTemplate, len(b))
	}
	v := make([]float32, TemplateDim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[1+4*i:]))
	}
	t, err := NewTemplate(v)
	if err != nil {
		return Template{}, err
	}
	if d := float64(dot(v, v)); math.Abs(d-1) > 1e-3 {
		return Template{}, fmt.Errorf("%w: not unit length", ErrBadTemplate)
	}
	return t, nil
}

// Wipe overwrites the template's values.
func (t Template) Wipe() { clear(t.v) }

func (t Template) String() string { return "Template(redacted)" }

// GoString keeps %#v from printing the values.
func (t Template) GoString() string { return t.String() }

// Format makes every fmt verb print the redacted form.
func (t Template) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// MarshalJSON refuses: templates never travel as JSON.
func (t Template) MarshalJSON() ([]byte, error) {
	return nil, errors.New("face templates are never serialised to JSON; seal AppendBinary's output instead")
}

// SensitiveValue marks the template for the log redactor.
func (Template) SensitiveValue() {}
