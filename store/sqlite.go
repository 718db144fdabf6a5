package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"

	sqlite3 "github.com/mattn/go-sqlite3"
)

const driverName = "kiosk-store-sqlite3"

// connPragmas run on every new connection. All exist in SQLite 3.40.
//   - secure_delete overwrites deleted content with zeros;
//   - temp_store=MEMORY keeps sort and temp tables out of TMPDIR;
//   - synchronous=FULL makes a commit durable before Put returns;
//   - journal_size_limit caps the WAL file left after a checkpoint;
//   - page_size=16384 (only takes effect when the file is created) puts a
//     48 KiB photo on 3 overflow pages instead of 12: purging 10k records
//     takes about half the time of 4 KiB pages (docs/bench/store.md).
var connPragmas = []string{
	"PRAGMA page_size=16384",
	"PRAGMA secure_delete=ON",
	"PRAGMA foreign_keys=ON",
	"PRAGMA temp_store=MEMORY",
	"PRAGMA busy_timeout=5000",
	"PRAGMA journal_mode=WAL",
	"PRAGMA synchronous=FULL",
	"PRAGMA journal_size_limit=1048576",
	"PRAGMA cell_size_check=ON",
}

var registerOnce sync.Once

func registerDriver() {
	registerOnce.Do(func() {
		sql.Register(driverName, &sqlite3.SQLiteDriver{
			ConnectHook: func(c *sqlite3.SQLiteConn) error {
				for _, p := range connPragmas {
					if _, err := c.Exec(p, nil); err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
				}
				return nil
			},
		})
	})
}

func openDB(path string) (*sql.DB, error) {
	registerDriver()
	dsn := "file:" + url.PathEscape(path) + "?_txlock=immediate"
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite serialises writers anyway, and a single
	// connection keeps checkpoints from being blocked by our own readers.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, classify(err)
	}
	return db, nil
}

// classify maps SQLite failures onto the package's sentinels, keeping the cause.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		case sqlite3.ErrIoErr:
			// ENOSPC during a WAL write surfaces as an I/O error on
			// some paths; SQLite reports SQLITE_FULL for the common ones.
			return fmt.Errorf("disk I/O error: %w", err)
		}
	}
	return err
}

// migrations are applied in order; PRAGMA user_version holds how many ran.
// Never edit a released migration: append a new one.
var migrations = []string{
	// 1: the base schema. Plaintext columns are ids, timestamps (unix ns),
	// expiry, epoch, KEK version and the wrapped DEK; every other column is
	// an envelope.
	`CREATE TABLE people (
		id          INTEGER PRIMARY KEY,
		created_at  INTEGER NOT NULL,
		epoch       INTEGER NOT NULL,
		kek_version INTEGER NOT NULL,
		wrapped_dek BLOB NOT NULL,
		name        BLOB NOT NULL,
		template    BLOB NOT NULL
	);
	CREATE TABLE checkins (
		id          INTEGER PRIMARY KEY,
		person_id   INTEGER REFERENCES people(id) ON DELETE SET NULL,
		created_at  INTEGER NOT NULL,
		expires_at  INTEGER NOT NULL,
		epoch       INTEGER NOT NULL,
		kek_version INTEGER NOT NULL,
		wrapped_dek BLOB NOT NULL,
		photo       BLOB NOT NULL,
		embedding   BLOB NOT NULL,
		details     BLOB NOT NULL,
		personal    BLOB NOT NULL
	);
	CREATE INDEX checkins_expires_at ON checkins(expires_at);
	CREATE INDEX checkins_epoch ON checkins(epoch);
	CREATE INDEX checkins_person ON checkins(person_id);
	CREATE TABLE audit_events (
		id          INTEGER PRIMARY KEY,
		at          INTEGER NOT NULL,
		expires_at  INTEGER NOT NULL,
		epoch       INTEGER NOT NULL,
		kek_version INTEGER NOT NULL,
		wrapped_dek BLOB NOT NULL,
		action      TEXT NOT NULL CHECK (action GLOB '[a-z]*' AND action NOT GLOB '*[^a-z0-9._-]*'),
		subject     INTEGER,
		note        BLOB NOT NULL
	);
	CREATE INDEX audit_events_expires_at ON audit_events(expires_at);
	CREATE TABLE settings (
		key   TEXT PRIMARY KEY,
		value BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE purge_runs (
		seq            INTEGER PRIMARY KEY,
		started        INTEGER NOT NULL,
		finished       INTEGER NOT NULL,
		scanned        INTEGER NOT NULL,
		deleted        INTEGER NOT NULL,
		errors         INTEGER NOT NULL,
		oldest_age     INTEGER NOT NULL,
		records_held   INTEGER NOT NULL,
		ratchet_oldest INTEGER NOT NULL,
		prev_hash      BLOB NOT NULL,
		hash           BLOB NOT NULL
	);`,
	// 2: aggregate counters, the only thing ephemeral mode writes.
	`CREATE TABLE counters (
		name  TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) WITHOUT ROWID;`,
	// 3: the oldest record's age is read on every metrics scrape.
	`CREATE INDEX checkins_created_at ON checkins(created_at);`,
}

// SchemaVersion is the schema version this build writes.
var SchemaVersion = len(migrations)

// migrate brings the schema to SchemaVersion, one transaction per step.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return classify(err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: database is at version %d, this build knows %d", ErrSchemaTooNew, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return classify(err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, classify(err))
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, classify(err))
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, classify(err))
		}
	}
	return nil
}
