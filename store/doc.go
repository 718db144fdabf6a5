// Package store owns the kiosk's on-disk state: a SQLite database (WAL,
// secure_delete) whose personal columns are sealed with per-record keys,
// the retention policy that fixes each record's expiry when it is written,
// the purge that deletes expired rows and crypto-erases whole retention
// epochs, and the hash chain of purge runs that the evidence package
// publishes.
//
// Start with Open, which takes a data directory and Options (the zero value
// is ephemeral mode: nothing personal is ever written). Keys come from a
// KeyProvider: tpmkeys in the kiosk, MemoryKeys in tests.
//
// Key hierarchy: KEK(version) and EpochKey(epoch) are combined with HKDF
// into a wrapping key; it wraps a random per-record DataKey (AES-256-GCM,
// AAD = table, record id, KEK version, epoch); the DataKey seals every
// sensitive column (AES-256-GCM, fresh 96-bit nonce, AAD = table, column,
// record id, envelope version, key id). See docs/store.md.
//
// The package is pure Go apart from github.com/mattn/go-sqlite3. Build it
// with -tags libsqlite3 to link the system SQLite.
package store
