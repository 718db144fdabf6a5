package liveness

import (
	"encoding/json"
	"math"
	"strconv"
)

// JSON has no NaN or ±Inf, yet they are real states here: NaN is a signal
// that was not measured (no anti-spoof model ran), −Inf an SNR with no
// signal at all (no background patch). encoding/json refuses them, and a
// sealed record would then lose its liveness details. So the types below
// write a non-finite value as null and read null back as the field's
// "absent" value: −Inf for SNRs and correlations, NaN for everything else.

// num is one float field as JSON, pointing at the field it encodes.
type num struct {
	p      *float64
	absent float64 // what null reads back as
}

func (n num) MarshalJSON() ([]byte, error) {
	v := *n.p
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n.p = n.absent
		return nil
	}
	return json.Unmarshal(b, n.p)
}

var noSignal = math.Inf(-1)

// field returns a num for marshalling v (a copy) or decoding into p.
func field(p *float64, absent float64) num { return num{p: p, absent: absent} }

// MarshalJSON writes non-finite values as null.
func (p PatchResult) MarshalJSON() ([]byte, error) {
	type plain PatchResult
	return json.Marshal(struct {
		plain
		BPM num `json:"bpm"`
		SNR num `json:"snr_db"`
	}{plain(p), field(&p.BPM, 0), field(&p.SNR, 0)})
}

// UnmarshalJSON reads null as NaN (rate) or −Inf (SNR).
func (p *PatchResult) UnmarshalJSON(b []byte) error {
	type plain PatchResult
	return json.Unmarshal(b, &struct {
		*plain
		BPM num `json:"bpm"`
		SNR num `json:"snr_db"`
	}{(*plain)(p), field(&p.BPM, math.NaN()), field(&p.SNR, noSignal)})
}

// MarshalJSON writes non-finite values as null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		BPM            num `json:"bpm"`
		SNR            num `json:"snr_db"`
		Agreement      num `json:"agreement"`
		Coherence      num `json:"coherence"`
		PulseCoherence num `json:"pulse_coherence"`
		ReferenceSNR   num `json:"reference_snr_db"`
		Motion         num `json:"motion"`
	}{plain(r), field(&r.BPM, 0), field(&r.SNR, 0), field(&r.Agreement, 0), field(&r.Coherence, 0), field(&r.PulseCoherence, 0),
		field(&r.ReferenceSNR, 0), field(&r.Motion, 0)})
}

// UnmarshalJSON reads null as −Inf for the SNRs and NaN otherwise.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	nan := math.NaN()
	return json.Unmarshal(b, &struct {
		*plain
		BPM            num `json:"bpm"`
		SNR            num `json:"snr_db"`
		Agreement      num `json:"agreement"`
		Coherence      num `json:"coherence"`
		PulseCoherence num `json:"pulse_coherence"`
		ReferenceSNR   num `json:"reference_snr_db"`
		Motion         num `json:"motion"`
	}{(*plain)(r), field(&r.BPM, nan), field(&r.SNR, noSignal), field(&r.Agreement, nan), field(&r.Coherence, nan), field(&r.PulseCoherence, nan),
		field(&r.ReferenceSNR, noSignal), field(&r.Motion, nan)})
}

// MarshalJSON writes non-finite values as null.
func (s Signal) MarshalJSON() ([]byte, error) {
	type plain Signal
	return json.Marshal(struct {
		plain
		Value     num `json:"value"`
		Threshold num `json:"threshold"`
	}{plain(s), field(&s.Value, 0), field(&s.Threshold, 0)})
}

// UnmarshalJSON reads null as NaN: the signal had no value.
func (s *Signal) UnmarshalJSON(b []byte) error {
	type plain Signal
	nan := math.NaN()
	return json.Unmarshal(b, &struct {
		*plain
		Value     num `json:"value"`
		Threshold num `json:"threshold"`
	}{(*plain)(s), field(&s.Value, nan), field(&s.Threshold, nan)})
}

// MarshalJSON writes a non-finite correlation as null.
func (c ChallengeResult) MarshalJSON() ([]byte, error) {
	type plain ChallengeResult
	return json.Marshal(struct {
		plain
		Correlation num `json:"correlation"`
	}{plain(c), field(&c.Correlation, 0)})
}

// UnmarshalJSON reads a null correlation as −Inf (nothing to correlate).
func (c *ChallengeResult) UnmarshalJSON(b []byte) error {
	type plain ChallengeResult
	return json.Unmarshal(b, &struct {
		*plain
		Correlation num `json:"correlation"`
	}{(*plain)(c), field(&c.Correlation, noSignal)})
}
