package models

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
)

// TemplateDim is the length of a template from the default embedding model
// (fr_feature.onnx). Other models' templates have their recipe's dim.
const TemplateDim = 512

// Template is an L2-normalised face embedding. It is biometric data: it
// never prints its values (String and the fmt verbs show only a redacted
// form), refuses JSON, and leaves memory only through AppendBinary, whose
// output belongs in sealed storage. The zero Template is invalid.
//
// A template remembers which embedding model made it (its ModelTag), so
// templates from different models, whose scores mean nothing to each
// other, are never compared: a deployment that swaps models must enrol
// people again, and ErrOtherModel says so.
type Template struct {
	v     []float32
	model ModelTag
}

// ModelTag identifies the embedding model a template came from and the
// recipe it was fed with: four bytes of a hash of the model file's sha256
// and its recipe. Zero means unknown (a template built by NewTemplate from
// bare values), which compares with any template of the same length.
type ModelTag uint32

func tagOfHex(h string) ModelTag {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) < 4 {
		return 0
	}
	return ModelTag(binary.BigEndian.Uint32(b))
}

// featureTag is fr_feature.onnx's tag under its manifest recipe: the model
// every version-1 template (written before templates carried a tag) came
// from.
var featureTag = sync.OnceValue(func() ModelTag {
	e, _ := Lookup(FeatureModel)
	return tagFor(e.SHA256, e.Recipe)
})

var (
	// ErrBadTemplate means a template's bytes are malformed.
	ErrBadTemplate = errors.New("bad face template")
	// ErrOtherModel means templates from different embedding models met:
	// their scores are meaningless, so people enrolled under the old model
	// must be enrolled again.
	ErrOtherModel = errors.New("face template from another embedding model (enrol again)")
)

// NewTemplate normalises v into a template of unknown model. It fails on a
// length outside MinTemplateDim–MaxTemplateDim, a non-finite value or a
// zero vector.
func NewTemplate(v []float32) (Template, error) {
	return newTemplate(v, 0)
}

func newTemplate(v []float32, tag ModelTag) (Template, error) {
	if len(v) < MinTemplateDim || len(v) > MaxTemplateDim {
		return Template{}, fmt.Errorf("%w: %d values; want %d–%d", ErrBadTemplate, len(v), MinTemplateDim, MaxTemplateDim)
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
	inv := 1 / math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return Template{v: out, model: tag}, nil
}

// Valid reports whether t holds an embedding.
func (t Template) Valid() bool { return len(t.v) >= MinTemplateDim }

// Dim is the template's length (0 when invalid).
func (t Template) Dim() int { return len(t.v) }

// Model is the tag of the model that made t (0: unknown).
func (t Template) Model() ModelTag { return t.model }

// Compatible reports whether t and u can be compared: both valid, the same
// length, and not from two different known models.
func (t Template) Compatible(u Template) bool {
	return t.Valid() && u.Valid() && len(t.v) == len(u.v) && (t.model == 0 || u.model == 0 || t.model == u.model)
}

// Similarity is the cosine similarity of two templates, in [-1, 1]. An
// invalid template, or one from another model, scores -1 against anything
// (no match, never a pass).
func (t Template) Similarity(u Template) float32 {
	if !t.Compatible(u) {
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

// Binary form versions: 1 is fr_feature.onnx's 512 values, as written
// before templates carried a model tag (kept for the default model, so
// records stay readable by older kiosks); 2 adds the tag and the length.
const (
	templateV1 = 1
	templateV2 = 2
)

// AppendBinary appends the template's binary form to dst: for the default
// model a version byte and 512 little-endian float32s; for any other, a
// version byte, the model tag (4 bytes), the length (2 bytes) and the
// values. Seal the result before it leaves memory.
func (t Template) AppendBinary(dst []byte) ([]byte, error) {
	if !t.Valid() {
		return dst, fmt.Errorf("%w: empty", ErrBadTemplate)
	}
	if len(t.v) == TemplateDim && (t.model == 0 || t.model == featureTag()) {
		dst = append(dst, templateV1)
	} else {
		dst = append(dst, templateV2)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(t.model))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(t.v)))
	}
	for _, x := range t.v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst, nil
}

// ParseTemplate decodes AppendBinary's output, checking version, length,
// finiteness and unit norm. A version-1 template is fr_feature.onnx's.
func ParseTemplate(b []byte) (Template, error) {
	var tag ModelTag
	var body []byte
	switch {
	case len(b) == 1+4*TemplateDim && b[0] == templateV1:
		tag, body = featureTag(), b[1:]
	case len(b) >= 7 && b[0] == templateV2:
		tag = ModelTag(binary.LittleEndian.Uint32(b[1:]))
		n := int(binary.LittleEndian.Uint16(b[5:]))
		body = b[7:]
		if n < MinTemplateDim || n > MaxTemplateDim || len(body) != 4*n {
			return Template{}, fmt.Errorf("%w: version 2 with %d values in %d bytes", ErrBadTemplate, n, len(body))
		}
	default:
		return Template{}, fmt.Errorf("%w: %d bytes", ErrBadTemplate, len(b))
	}
	v := make([]float32, len(body)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	t, err := newTemplate(v, tag)
	if err != nil {
		return Template{}, err
	}
	if d := float64(dot(v, v)); math.Abs(d-1) > 1e-3 {
		return Template{}, fmt.Errorf("%w: not unit length", ErrBadTemplate)
	}
	return t, nil
}

// Clone is an independent copy, to be wiped on its own.
func (t Template) Clone() Template {
	return Template{v: append([]float32(nil), t.v...), model: t.model}
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
