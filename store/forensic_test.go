package store

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"kiosk/internal/safelog"
)

var markers = [][]byte{
	[]byte("PHOTOMARK"), []byte("EMBEDMARK"), []byte("NAMEMARK"), []byte("DOCMARK"),
	[]byte("LIVEMARK"), []byte("MATCHMARK"), []byte("PERSONMARK"), []byte("TEMPLMARK"), []byte("NOTEMARK"),
}

// scanDir returns every occurrence of any needle in any file under dir.
func scanDir(tb testing.TB, dir string, needles [][]byte) []string {
	tb.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		hits = append(hits, scanBytes(filepath.Base(path), b, needles)...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return hits
}

func scanBytes(name string, b []byte, needles [][]byte) []string {
	var hits []string
	for _, n := range needles {
		if i := bytes.Index(b, n); i >= 0 {
			hits = append(hits, fmt.Sprintf("%s@%d: %q", name, i, n))
		}
	}
	return hits
}

func listTree(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestForensicScan(t *testing.T) {
	// Anything written outside the data directory through the usual temp
	// paths would land in watched.
	watched, dataParent := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", watched)
	t.Setenv("SQLITE_TMPDIR", watched)
	wd, _ := os.Getwd()
	before := listTree(t, wd)

	dir := filepath.Join(dataParent, "data")
	var logs bytes.Buffer
	clk := newFakeClock()
	opts := defaultOpts(t, clk, newTestKeys(t))
	opts.Retention = time.Hour
	opts.Logger = safelog.New(&logs, safelog.Options{Level: slog.LevelDebug})
	s := openTest(t, dir, opts)
	ctx := context.Background()

	// The scanner itself must be able to fail: a plain copy is found.
	control := filepath.Join(t.TempDir(), "control")
	os.WriteFile(control, append([]byte("xx"), markers[2]...), 0o600)
	if hits := scanDir(t, filepath.Dir(control), markers); len(hits) != 1 {
		t.Fatalf("scanner found %v in a plaintext control file; want 1 hit", hits)
	}

	pid, err := s.Enroll(ctx, Person{Name: "PERSONMARK Curie", Template: []byte("TEMPLMARK-template")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for i := range 200 {
		c := CheckIn{
			Passed:         i%3 != 0,
			Photo:          append(bytes.Repeat([]byte{0xff, 0xd8}, 200), fmt.Sprintf("PHOTOMARK-%03d", i)...),
			Embedding:      append(bytes.Repeat([]byte{0x3e}, 2000), fmt.Sprintf("EMBEDMARK-%03d", i)...),
			Liveness:       []byte(fmt.Sprintf(`{"LIVEMARK":%d}`, i)),
			Match:          []byte(fmt.Sprintf(`{"MATCHMARK":%d}`, i)),
			Name:           fmt.Sprintf("NAMEMARK %03d", i),
			DocumentNumber: fmt.Sprintf("DOCMARK%06d", i),
		}
		if i%10 == 0 {
			c.PersonID = pid
		}
		m := mustPut(t, s, c)
		ids = append(ids, m.ID)
		// Callers logging a record by mistake must not leak it either.
		opts.Logger.Info("stored", "record", &c, "record_id", int64(m.ID), "name", c.Name)
		if i%50 == 0 {
			clk.Advance(time.Minute)
		}
	}
	if err := s.Audit(ctx, AuditEvent{Action: "records.decrypt", Subject: ids[0], Note: "NOTEMARK viewed"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:20] {
		if c, err := s.Get(ctx, id); err != nil {
			t.Fatalf("Get(%d) = %v", id, err)
		} else {
			opts.Logger.Debug("opened", "record", c)
		}
	}
	var deletedPhoto []byte // the operator-deleted record's ciphertext must be gone at once
	if err := s.db.QueryRow("SELECT photo FROM checkins WHERE id=?", int64(ids[1])).Scan(&deletedPhoto); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if hits := scanDir(t, dir, [][]byte{deletedPhoto[20:52]}); len(hits) != 0 {
		t.Errorf("ciphertext of a record deleted now is still on disk: %v", hits)
	}

	// Pieces of ciphertext of records that will be purged: after the purge
	// not even these may remain anywhere on disk.
	var cipherNeedles [][]byte
	for _, id := range ids[2:12] {
		var photo, dek []byte
		if err := s.db.QueryRow("SELECT photo, wrapped_dek FROM checkins WHERE id=?", int64(id)).Scan(&photo, &dek); err != nil {
			t.Fatal(err)
		}
		cipherNeedles = append(cipherNeedles, photo[20:52], dek[17:49])
	}
	if hits := scanDir(t, dir, markers); len(hits) != 0 {
		t.Errorf("live scan of %s found plaintext: %v", dir, hits)
	}
	if hits := scanBytes("log", logs.Bytes(), markers); len(hits) != 0 {
		t.Errorf("logs contain plaintext: %v", hits)
	}
	files := listTree(t, dir)
	t.Logf("data dir files while live: %v", files)

	// Expire everything and purge (the enrolled person stays, re-wrapped).
	clk.Advance(2 * time.Hour)
	run, err := s.Purge(ctx)
	if err != nil || run.Deleted != 199 || run.RecordsHeld != 0 {
		t.Fatalf("Purge = deleted %d held %d, %v; want 199, 0", run.Deleted, run.RecordsHeld, err)
	}
	if hits := scanDir(t, dir, markers); len(hits) != 0 {
		t.Errorf("post-purge scan found plaintext: %v", hits)
	}
	if hits := scanDir(t, dir, cipherNeedles); len(hits) != 0 {
		t.Errorf("post-purge scan found ciphertext of purged records (secure_delete/TRUNCATE failed): %v", hits)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hits := scanDir(t, dir, append(markers, cipherNeedles...)); len(hits) != 0 {
		t.Errorf("scan after Close found: %v", hits)
	}
	if hits := scanBytes("log", logs.Bytes(), markers); len(hits) != 0 {
		t.Errorf("logs contain plaintext: %v", hits)
	}
	if logs.Len() == 0 || !bytes.Contains(logs.Bytes(), []byte("purge run")) {
		t.Errorf("captured logs are empty or miss the purge; the log scan proved nothing")
	}
	// Nothing outside the data directory.
	if left := listTree(t, watched); len(left) != 1 {
		t.Errorf("files written to TMPDIR: %v", left[1:])
	}
	if after := listTree(t, wd); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("files changed in the working directory: before %d entries, after %d", len(before), len(after))
	}
	for _, f := range listTree(t, dataParent) {
		if f != dataParent && f != dir && filepath.Dir(f) != dir {
			t.Errorf("unexpected file %s beside the data directory", f)
		}
	}
	for _, f := range listTree(t, dir)[1:] {
		if b := filepath.Base(f); b != DBFileName && b != DBFileName+"-wal" && b != DBFileName+"-shm" {
			t.Errorf("unexpected file %s in the data directory", f)
		}
	}
}
