package evidence

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gowebpki/jcs"
)

// SchemaVersion is the version of the report layout this package writes and
// reads. A verifier rejects any other version rather than guess.
const SchemaVersion = 1

// maxSafeInt is the largest integer a JSON number carries exactly through
// RFC 8785 (which treats every number as an IEEE 754 double): 2^53 - 1.
const maxSafeInt = 1<<53 - 1

// Hash is a SHA-256 digest of a purge run as computed by the store's chain.
// It marshals as 64 lower-case hex digits; the zero Hash stands for "no run
// yet" (the first run's previous hash).
type Hash [32]byte

// String returns the lower-case hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts exactly 64 lower-case hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash: want 64 hex digits, got %d characters", len(b))
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("hash: %q is not a lower-case hex digit", c)
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// TPMKind says what holds the signing key. Only TPMHardware means the key
// cannot be copied off the box; a software TPM keeps its state in a file
// the operator can read, so its signature proves nothing about the box.
type TPMKind string

const (
	TPMHardware TPMKind = "hardware"
	TPMSoftware TPMKind = "software TPM: not secure"
)

// Policy is the retention policy in force when the report was built.
type Policy struct {
	// RetentionSeconds is how long a check-in record may be kept; 0 with
	// Ephemeral means nothing personal is written at all.
	RetentionSeconds int64 `json:"retention_seconds"`
	// PurgeIntervalSeconds is the period of the purge timer.
	PurgeIntervalSeconds int64 `json:"purge_interval_seconds"`
	// EpochSeconds is the length of a crypto-erase epoch.
	EpochSeconds int64 `json:"epoch_seconds"`
	// Ephemeral is true when the kiosk stores no personal record.
	Ephemeral bool `json:"ephemeral"`
}

// PurgeRun is the latest link of the store's purge chain, as the store
// recorded it. Hash and PrevHash are the store's own digests; the verifier
// compares them across reports but does not recompute them.
type PurgeRun struct {
	// Seq is the run's position in the chain, from 1.
	Seq      int64     `json:"seq"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Scanned  int64     `json:"scanned"`
	Deleted  int64     `json:"deleted"`
	Errors   int64     `json:"errors"`
	// OldestRemainingAgeSeconds is the age of the oldest record left when
	// the run finished (0 if none).
	OldestRemainingAgeSeconds int64 `json:"oldest_remaining_age_seconds"`
	// RecordsHeld is the number of records left when the run finished.
	RecordsHeld int64 `json:"records_held"`
	PrevHash    Hash  `json:"prev_hash"`
	Hash        Hash  `json:"hash"`
}

// Chain summarises the purge chain.
type Chain struct {
	// Runs is the number of runs in the chain; the latest run's Seq.
	Runs int64 `json:"runs"`
	// Head is the hash of the latest run (zero when Runs is 0).
	Head Hash `json:"head"`
	// Recent holds the hashes of the latest len(Recent) runs, oldest first,
	// so Recent[len(Recent)-1] == Head. It lets a verifier holding an
	// earlier report check that this chain passes through that report's
	// head, as long as fewer than len(Recent) runs happened in between.
	Recent []Hash `json:"recent"`
}

// Report is the signed retention report. Its JSON form, canonicalised by
// RFC 8785, is the JWS payload. Every field is an aggregate, a policy value,
// a time, a hash or an identifier of the machine: nothing personal.
type Report struct {
	Schema     int       `json:"schema"`
	KioskID    string    `json:"kiosk_id"`
	ServerTime time.Time `json:"server_time"`
	TPMKind    TPMKind   `json:"tpm_kind"`
	// KeyID is the RFC 7638 SHA-256 thumbprint (base64url) of the signing
	// key's public JWK; it equals the JWS "kid" header.
	KeyID     string    `json:"key_id"`
	Policy    Policy    `json:"policy"`
	LatestRun *PurgeRun `json:"latest_run"`
	Chain     Chain     `json:"chain"`
	// OldestRemainingRecordAgeSeconds is the age of the oldest record held
	// at ServerTime (0 when none is held).
	OldestRemainingRecordAgeSeconds int64 `json:"oldest_remaining_record_age_seconds"`
	RecordsHeld                     int64 `json:"records_held"`
}

// Snapshot is what the kiosk knows about its retention state; Builder adds
// the schema, server time, kiosk id, TPM kind and key id to make a Report.
// The lead maps store statistics onto it; Seconds converts durations.
type Snapshot struct {
	Policy                          Policy
	LatestRun                       *PurgeRun
	Chain                           Chain
	OldestRemainingRecordAgeSeconds int64
	RecordsHeld                     int64
}

// Seconds converts a duration to whole seconds for a report, rounding down
// and clamping negatives to 0.
func Seconds(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}

// Canonical returns the RFC 8785 canonical JSON of r: the exact bytes that
// are signed.
func Canonical(r *Report) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalising report: %w", err)
	}
	return out, nil
}

// decodeReport parses a payload strictly: no unknown or duplicate fields,
// no trailing data, and the bytes must be exactly the canonical encoding of
// the decoded report (so a reordered key, extra whitespace, "1.0" or an
// upper-case hash is rejected). It then checks the report's internal
// consistency. The result is untrusted until the signature over the same
// bytes has been verified.
func decodeReport(payload []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding report: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decoding report: trailing data after the JSON object")
	}
	canon, err := Canonical(&r)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, payload) {
		return nil, fmt.Errorf("report is not in RFC 8785 canonical form")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// validate checks the report's internal consistency: what a correct kiosk
// always produces, whoever reads it.
func (r *Report) validate() error {
	if r.Schema != SchemaVersion {
		return fmt.Errorf("schema %d; this verifier reads schema %d", r.Schema, SchemaVersion)
	}
	if err := checkKioskID(r.KioskID); err != nil {
		return err
	}
	if r.ServerTime.IsZero() || r.ServerTime.Location() != time.UTC {
		return fmt.Errorf("server_time must be a UTC time")
	}
	if r.TPMKind != TPMHardware && r.TPMKind != TPMSoftware {
		return fmt.Errorf("tpm_kind %q is neither %q nor %q", r.TPMKind, TPMHardware, TPMSoftware)
	}
	if r.KeyID == "" {
		return fmt.Errorf("key_id is empty")
	}
	p := r.Policy
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"policy.retention_seconds", p.RetentionSeconds},
		{"policy.purge_interval_seconds", p.PurgeIntervalSeconds},
		{"policy.epoch_seconds", p.EpochSeconds},
		{"oldest_remaining_record_age_seconds", r.OldestRemainingRecordAgeSeconds},
		{"records_held", r.RecordsHeld},
		{"chain.runs", r.Chain.Runs},
	} {
		if f.v < 0 || f.v > maxSafeInt/4 {
			return fmt.Errorf("%s = %d is out of range", f.name, f.v)
		}
	}
	if p.Ephemeral && p.RetentionSeconds != 0 {
		return fmt.Errorf("ephemeral policy with retention %d s", p.RetentionSeconds)
	}
	if r.RecordsHeld == 0 && r.OldestRemainingRecordAgeSeconds != 0 {
		return fmt.Errorf("no records held but the oldest is %d s old", r.OldestRemainingRecordAgeSeconds)
	}
	return r.Chain.validate(r.LatestRun)
}

func (c *Chain) validate(latest *PurgeRun) error {
	if c.Recent == nil {
		return fmt.Errorf("chain.recent is missing")
	}
	if c.Runs == 0 {
		if latest != nil || !c.Head.IsZero() || len(c.Recent) != 0 {
			return fmt.Errorf("chain has no runs but names a run")
		}
		return nil
	}
	if latest == nil {
		return fmt.Errorf("chain has %d runs but latest_run is null", c.Runs)
	}
	if int64(len(c.Recent)) > c.Runs || len(c.Recent) == 0 {
		return fmt.Errorf("chain.recent has %d hashes for %d runs", len(c.Recent), c.Runs)
	}
	if latest.Seq != c.Runs {
		return fmt.Errorf("latest_run.seq %d != chain.runs %d", latest.Seq, c.Runs)
	}
	if latest.Hash != c.Head || c.Recent[len(c.Recent)-1] != c.Head {
		return fmt.Errorf("latest_run.hash, chain.head and the last of chain.recent differ")
	}
	if len(c.Recent) >= 2 && c.Recent[len(c.Recent)-2] != latest.PrevHash {
		return fmt.Errorf("latest_run.prev_hash is not the previous hash in chain.recent")
	}
	if latest.Seq == 1 && !latest.PrevHash.IsZero() {
		return fmt.Errorf("the first run has a non-zero prev_hash")
	}
	for _, v := range []int64{latest.Scanned, latest.Deleted, latest.Errors, latest.OldestRemainingAgeSeconds, latest.RecordsHeld} {
		if v < 0 || v > maxSafeInt/4 {
			return fmt.Errorf("latest_run has a count out of range: %d", v)
		}
	}
	if latest.Started.IsZero() || latest.Finished.Before(latest.Started) ||
		latest.Started.Location() != time.UTC || latest.Finished.Location() != time.UTC {
		return fmt.Errorf("latest_run times must be UTC with finished >= started")
	}
	return nil
}

// checkKioskID allows 1 to 64 characters from [A-Za-z0-9._:-]: a host name
// or a serial, never free text.
func checkKioskID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("kiosk_id must be 1 to 64 characters, got %d", len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("kiosk_id may hold only letters, digits and . _ : - (found %q)", c)
		}
	}
	return nil
}
