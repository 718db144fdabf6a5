package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"kiosk/internal/testclock"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var sealedColumns = []string{"wrapped_dek", "photo", "embedding", "details", "personal"}

// TestTamperRows moves ciphertexts between rows and columns, edits the
// plaintext metadata they are bound to, and flips and truncates stored
// bytes: every case must make Get fail with ErrUnreadable.
func TestTamperRows(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, t.TempDir(), defaultOpts(t, clk, newTestKeys(t)))
	ctx := context.Background()
	a, b := mustPut(t, s, sampleCheckIn(1)), mustPut(t, s, sampleCheckIn(2))
	col := func(id ID, c string) []byte {
		var v []byte
		if err := s.db.QueryRow("SELECT "+c+" FROM checkins WHERE id=?", int64(id)).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	set := func(id ID, c string, v any) {
		if _, err := s.db.Exec("UPDATE checkins SET "+c+"=? WHERE id=?", v, int64(id)); err != nil {
			t.Fatal(err)
		}
	}
	tried, detected := 0, 0
	expectUnreadable := func(what string, id ID) {
		t.Helper()
		tried++
		c, err := s.Get(ctx, id)
		if errors.Is(err, ErrUnreadable) && c == nil {
			detected++
			return
		}
		t.Errorf("Get after %s = %v, %v; want ErrUnreadable", what, c, err)
	}
	expectOK := func(id ID) {
		t.Helper()
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("Get(%d) after restoring = %v", id, err)
		}
	}

	// Swap each sealed column between the two rows.
	for _, c := range sealedColumns {
		va, vb := col(a.ID, c), col(b.ID, c)
		set(a.ID, c, vb)
		set(b.ID, c, va)
		expectUnreadable("row swap of "+c, a.ID)
		expectUnreadable("row swap of "+c, b.ID)
		set(a.ID, c, va)
		set(b.ID, c, vb)
		expectOK(a.ID)
	}
	// Swap every pair of sealed columns within a row.
	for i, c1 := range sealedColumns {
		for _, c2 := range sealedColumns[i+1:] {
			v1, v2 := col(a.ID, c1), col(a.ID, c2)
			set(a.ID, c1, v2)
			set(a.ID, c2, v1)
			expectUnreadable("column swap "+c1+"<->"+c2, a.ID)
			set(a.ID, c1, v1)
			set(a.ID, c2, v2)
			expectOK(a.ID)
		}
	}
	// Edit the plaintext the ciphertexts are bound to.
	for _, tc := range []struct{ c, expr string }{
		{"epoch", "epoch+1"}, {"kek_version", "kek_version+1"}, {"kek_version", "0"}, {"epoch", "-1"},
	} {
		var orig int64
		s.db.QueryRow("SELECT "+tc.c+" FROM checkins WHERE id=?", int64(a.ID)).Scan(&orig)
		if _, err := s.db.Exec("UPDATE checkins SET "+tc.c+"="+tc.expr+" WHERE id=?", int64(a.ID)); err != nil {
			t.Fatal(err)
		}
		expectUnreadable("setting "+tc.c+"="+tc.expr, a.ID)
		set(a.ID, tc.c, orig)
		expectOK(a.ID)
	}
	// Move the whole row to another id.
	if _, err := s.db.Exec("UPDATE checkins SET id=777 WHERE id=?", int64(a.ID)); err != nil {
		t.Fatal(err)
	}
	expectUnreadable("renumbering the row", 777)
	s.db.Exec("UPDATE checkins SET id=? WHERE id=777", int64(a.ID))
	expectOK(a.ID)
	// Flip every bit of the wrapped DEK and of the personal column, flip
	// one bit per byte of the others, and truncate each at every length.
	for _, c := range sealedColumns {
		orig := col(a.ID, c)
		step := 1
		if len(orig) > 200 {
			step = 8 // one bit per byte for large columns
		}
		for i := 0; i < len(orig)*8; i += step {
			v := bytes.Clone(orig)
			v[i/8] ^= 1 << (i % 8)
			set(a.ID, c, v)
			expectUnreadable("bit flip in "+c, a.ID)
		}
		for n := 0; n < len(orig); n += max(1, len(orig)/97) {
			set(a.ID, c, orig[:n])
			expectUnreadable("truncating "+c, a.ID)
		}
		set(a.ID, c, orig)
		expectOK(a.ID)
	}
	if detected != tried || tried < 1000 {
		t.Errorf("detected %d of %d tampered rows; want all (and at least 1000 cases)", detected, tried)
	}
	t.Logf("%d tampered rows, all detected", tried)
}

// TestCryptoErase copies the whole data directory, lets some records expire
// and be purged, and opens the copy with the same provider: the purged
// epochs stay sealed, the live ones open.
func TestCryptoErase(t *testing.T) {
	clk := newFakeClock()
	keys := newTestKeys(t)
	dir := t.TempDir()
	opts := defaultOpts(t, clk, keys)
	opts.Retention = 90 * time.Minute
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var early, late []Meta
	for i := range 5 {
		early = append(early, mustPut(t, s, sampleCheckIn(i)))
	}
	clk.Advance(time.Hour)
	for i := range 5 {
		late = append(late, mustPut(t, s, sampleCheckIn(i)))
	}
	if early[0].Epoch == late[0].Epoch {
		t.Fatalf("test setup: both groups in epoch %d", early[0].Epoch)
	}
	s.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)

	s = openTest(t, dir, opts)
	clk.Advance(31 * time.Minute) // early expired at +90 min, late not
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 5 || run.RatchetOldest != late[0].Epoch {
		t.Fatalf("Purge = deleted %d ratchet %d, %v; want 5, %d", run.Deleted, run.RatchetOldest, err, late[0].Epoch)
	}

	// Open the backup with the same provider, at a time when every record
	// in it is still within retention, without purging it.
	bclk := testclock.New(late[0].CreatedAt)
	bopts := opts
	bopts.Now, bopts.Elapsed, bopts.DisablePurge = bclk.Now, bclk.Elapsed, true
	b := openTest(t, backup, bopts)
	for _, m := range early {
		if c, err := b.Get(ctx, m.ID); !errors.Is(err, ErrUnreadable) {
			t.Errorf("backup Get(purged-epoch record %d) = %v, %v; want ErrUnreadable", m.ID, c, err)
		}
	}
	for _, m := range late {
		if _, err := b.Get(ctx, m.ID); err != nil {
			t.Errorf("backup Get(live-epoch record %d) = %v; want nil", m.ID, err)
		}
	}
	// And at the raw level, without the store's expiry checks: decoding the
	// backup's rows directly fails exactly for the erased epoch.
	db, err := sql.Open(driverName, "file:"+filepath.Join(backup, DBFileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT " + checkinColumns + " FROM checkins")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	opened, sealed := 0, 0
	for rows.Next() {
		r, err := scanCheckIn(rows)
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodeCheckIn(keys, r)
		switch {
		case uint64(r.Epoch) == early[0].Epoch && errors.Is(err, ErrUnreadable):
			sealed++
		case uint64(r.Epoch) == late[0].Epoch && err == nil:
			opened++
		default:
			t.Errorf("raw decode of backup row in epoch %d = %v", r.Epoch, err)
		}
	}
	if sealed != 5 || opened != 5 {
		t.Errorf("backup rows: %d sealed, %d opened; want 5, 5", sealed, opened)
	}
}

func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	keys, err := NewMemoryKeys(MemoryKeysOptions{KEK: testKEK, FirstKey: testFirstKey, FirstEpoch: 100})
	if err != nil {
		f.Fatal(err)
	}
	for i, c := range []CheckIn{sampleCheckIn(1), {}, {Passed: true, Name: "n"}} {
		c.Photo = c.Photo[:min(len(c.Photo), 64)]
		c.Embedding = c.Embedding[:min(len(c.Embedding), 64)]
		r, err := sealCheckIn(keys, ID(i+1), 1, 100+uint64(i), t0, t0.Add(time.Hour), &c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(r.ID, r.Epoch, r.KEKVersion, r.WrappedDEK, r.Photo, r.Embedding, r.Details, r.Personal)
	}
	f.Add(int64(0), int64(-1), int64(1<<40), []byte{}, []byte{1}, []byte(nil), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, id, epoch, v int64, dek, photo, emb, details, personal []byte) {
		r := &rawCheckIn{ID: id, Epoch: epoch, KEKVersion: v, WrappedDEK: dek, Photo: photo,
			Embedding: emb, Details: details, Personal: personal}
		c, err := decodeCheckIn(keys, r)
		if err != nil {
			if c != nil || !errors.Is(err, ErrUnreadable) {
				t.Fatalf("decodeCheckIn = %v, %v; want nil, ErrUnreadable", c, err)
			}
			return
		}
		if c.ID != ID(id) || c.Epoch != uint64(epoch) {
			t.Fatalf("decoded metadata %d/%d; want %d/%d", c.ID, c.Epoch, id, epoch)
		}
	})
}
