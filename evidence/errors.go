package evidence

import (
	"errors"
	"fmt"
)

// Sentinels, one per way a report can fail. Verify wraps each in a
// *CheckError naming the check; test them with errors.Is.
var (
	// ErrMalformed: the input is not a compact JWS (or served envelope)
	// holding a canonical, internally consistent report of this schema.
	ErrMalformed = errors.New("malformed report")
	// ErrBadSignature: the signature does not verify with the pinned key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrWrongKey: the report names, or was signed by, another key than the
	// pinned one (for example another kiosk's TPM).
	ErrWrongKey = errors.New("signed by a different key")
	// ErrSoftwareTPM: the signing key lives in a software TPM, so the
	// signature proves nothing about the box.
	ErrSoftwareTPM = errors.New("software TPM: not secure")
	// ErrStale: the report's server time is older than the freshness bound.
	ErrStale = errors.New("report is stale")
	// ErrFromFuture: the report's server time is ahead of the verifier's
	// clock by more than the allowed skew.
	ErrFromFuture = errors.New("report is from the future")
	// ErrRetentionExceeded: a record is held longer than retention plus two
	// purge intervals, or an ephemeral kiosk holds records.
	ErrRetentionExceeded = errors.New("retention bound exceeded")
	// ErrNoPurgeRun: the chain has no run yet.
	ErrNoPurgeRun = errors.New("no purge run recorded")
	// ErrPurgeFailed: the latest purge run reported errors.
	ErrPurgeFailed = errors.New("latest purge run had errors")
	// ErrPurgeOverdue: the latest run finished more than two purge
	// intervals before the report was made: the purge timer is not running.
	ErrPurgeOverdue = errors.New("purge is overdue")
	// ErrChainRegressed: the report is older than the earlier report, or
	// its chain has fewer runs: a replay or a truncated chain.
	ErrChainRegressed = errors.New("purge chain went backwards")
	// ErrChainForked: the chain does not pass through the earlier report's
	// head: a run was removed, edited or replaced.
	ErrChainForked = errors.New("purge chain does not extend the earlier report")
	// ErrChainGap: more runs happened since the earlier report than this
	// report lists, so continuity cannot be shown either way.
	ErrChainGap = errors.New("purge chain gap too long to check")
	// ErrKioskMismatch: the earlier report is from another kiosk id.
	ErrKioskMismatch = errors.New("earlier report is from another kiosk")
	// ErrSignerBroken: the signer returned something that is not a valid
	// ES256 signature for its own public key. Build fails closed.
	ErrSignerBroken = errors.New("evidence: signer returned an invalid signature")
)

// CheckError is the failure of one named check.
type CheckError struct {
	Check  string // "format", "signature", "tpm", "freshness", "retention", "purge", "chain"
	Err    error  // one of the sentinels above
	Detail string // what exactly was wrong, safe to print
}

func (e *CheckError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("evidence: %s check failed: %v", e.Check, e.Err)
	}
	return fmt.Sprintf("evidence: %s check failed: %v: %s", e.Check, e.Err, e.Detail)
}

func (e *CheckError) Unwrap() error { return e.Err }
