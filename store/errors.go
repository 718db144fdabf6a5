package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Check them with errors.Is.
var (
	// ErrEphemeral is returned by Put, Enroll and Audit in ephemeral mode
	// (retention 0): the call succeeded in the sense that the aggregate
	// counters were updated, and nothing personal was stored.
	ErrEphemeral = errors.New("store: ephemeral mode (retention 0): nothing personal was stored")
	// ErrNotFound means no record has that id (never written, deleted or purged).
	ErrNotFound = errors.New("store: record not found")
	// ErrUnreadable is the one opaque error for any ciphertext that does not
	// open: tampered, truncated, moved to another row or column, wrapped under
	// a wrong key, or belonging to an erased epoch. Nothing is returned with it.
	ErrUnreadable = errors.New("store: record cannot be opened (tampered, wrong key, or erased)")
	// ErrDegraded means the store cannot serve the request because it is in
	// a degraded state; Health says why. Errors returned in that state wrap
	// both ErrDegraded and the cause (ErrCorrupt, ErrWrongKey, ErrDiskFull, ...).
	ErrDegraded = errors.New("store: degraded")
	// ErrCorrupt means the database file is not a valid SQLite database or
	// fails its integrity check. Move the data directory aside and restart.
	ErrCorrupt = errors.New("store: database is corrupt")
	// ErrWrongKey means the key provider's KEK does not open this database's
	// key check: the data directory belongs to another machine or key.
	ErrWrongKey = errors.New("store: key provider does not hold this database's KEK")
	// ErrDiskFull means a write failed because the disk is full. Records
	// already stored stay readable; free space and the store recovers.
	ErrDiskFull = errors.New("store: disk full")
	// ErrSchemaTooNew means the database was written by a newer kiosk.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this build")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
)

// DegradedError reports why the store is degraded. It matches ErrDegraded
// and unwraps to its cause.
type DegradedError struct {
	Reason string // short, safe for an operator screen; never personal
	Err    error
}

func (e *DegradedError) Error() string {
	return fmt.Sprintf("store degraded: %s: %v", e.Reason, e.Err)
}

// Unwrap returns the cause and ErrDegraded.
func (e *DegradedError) Unwrap() []error { return []error{ErrDegraded, e.Err} }

// ChainError reports the first purge run whose hash or link does not verify.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("store: purge chain broken at run %d: %s", e.Seq, e.Reason)
}
