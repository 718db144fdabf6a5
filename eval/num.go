package eval

import (
	"encoding/json"
	"math"
	"strconv"
)

// Num is a measurement that may be unknown: NaN (no truth, no estimate, a
// rate over no videos) or ±Inf (an SNR with no signal). JSON has neither,
// and encoding/json refuses them, so a Num is written as null when it is
// not finite and null reads back as NaN.
type Num float64

// NaN is the unknown Num.
func NaN() Num { return Num(math.NaN()) }

// Known reports whether n is finite.
func (n Num) Known() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// MarshalJSON writes a non-finite value as null.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Known() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(n), 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = NaN()
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}
