package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchRow is a realistic check-in: a 48 KiB JPEG-sized photo and a
// 512-float32 embedding.
func benchRow() CheckIn {
	photo := make([]byte, 48<<10)
	rand.Read(photo)
	emb := make([]byte, 2048)
	rand.Read(emb)
	return CheckIn{Passed: true, Photo: photo, Embedding: emb, Liveness: bytes.Repeat([]byte("l"), 200),
		Match: bytes.Repeat([]byte("m"), 60), Name: "Ada Lovelace", DocumentNumber: "X1234567"}
}

// BenchmarkInsert compares Put (seal + insert) with inserting the same row
// in plaintext through the same transaction code, at the product's
// synchronous=FULL and at NORMAL (which removes the fsync from the commit
// and so exposes the crypto cost).
func BenchmarkInsert(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, mode := range []string{"plain", "encrypted"} {
			b.Run(fmt.Sprintf("sync=%s/%s", sync, mode), func(b *testing.B) {
				clk := newFakeClock()
				opts := defaultOpts(b, clk, newTestKeys(b))
				opts.Logger = nil
				s := openTest(b, b.TempDir(), opts)
				if _, err := s.db.Exec("PRAGMA synchronous=" + sync); err != nil {
					b.Fatal(err)
				}
				c := benchRow()
				ctx := context.Background()
				wrapped := make([]byte, 65)
				details := appendFields(nil, field{tagPassed, []byte{1}}, field{tagLiveness, c.Liveness}, field{tagMatch, c.Match})
				personal := appendFields(nil, field{tagName, []byte(c.Name)}, field{tagDocument, []byte(c.DocumentNumber)})
				b.SetBytes(int64(len(c.Photo) + len(c.Embedding)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if mode == "encrypted" {
						if _, err := s.Put(ctx, c); err != nil {
							b.Fatal(err)
						}
						continue
					}
					now := s.clk.Now()
					r := &rawCheckIn{ID: int64(newID()), CreatedAt: now.UnixNano(), ExpiresAt: now.Add(time.Hour).UnixNano(),
						Epoch: int64(s.epochFor(now)), KEKVersion: 1, WrappedDEK: wrapped, Photo: c.Photo,
						Embedding: c.Embedding, Details: details, Personal: personal}
					if err := insertCheckIn(ctx, s.db, r, "checkins_passed", now); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, size := range []int{2 << 10, 48 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			k := NewDataKey()
			pt := make([]byte, size)
			dst := make([]byte, 0, size+EnvelopeOverhead)
			c := Context{Table: "checkins", Column: "photo", RecordID: 1, KeyID: 1}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = k.Seal(dst[:0], c, pt)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, size := range []int{2 << 10, 48 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			k := NewDataKey()
			c := Context{Table: "checkins", Column: "photo", RecordID: 1, KeyID: 1}
			env := k.Seal(nil, c, make([]byte, size))
			dst := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = k.Open(dst[:0], c, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet measures opening a whole record: unwrap the DEK, open four columns.
func BenchmarkGet(b *testing.B) {
	clk := newFakeClock()
	opts := defaultOpts(b, clk, newTestKeys(b))
	opts.Logger = nil
	s := openTest(b, b.TempDir(), opts)
	m := mustPut(b, s, benchRow())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPurge10k times one purge run that deletes 10,000 expired
// records (48 KiB photos) with secure_delete, checkpoints and advances the
// ratchet. Setup (sealing and bulk-inserting the records) is untimed.
func BenchmarkPurge10k(b *testing.B) {
	const n = 10000
	clk := newFakeClock()
	keys := newTestKeys(b)
	opts := defaultOpts(b, clk, keys)
	opts.Logger = nil
	opts.Retention = time.Hour
	s := openTest(b, b.TempDir(), opts)
	ctx := context.Background()
	c := benchRow()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		now := s.clk.Now()
		epoch := s.epochFor(now)
		tx, err := s.db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for range n {
			r, err := sealCheckIn(keys, newID(), 1, epoch, now, now.Add(time.Hour), &c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO checkins (`+checkinColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, r.PersonID, r.CreatedAt, r.ExpiresAt, r.Epoch, r.KEKVersion, r.WrappedDEK, r.Photo, r.Embedding, r.Details, r.Personal); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := checkpoint(ctx, s.db); err != nil {
			b.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		b.StartTimer()
		run, err := s.Purge(ctx)
		if err != nil || run.Deleted != n || run.Errors != 0 {
			b.Fatalf("Purge = deleted %d errors %d, %v; want %d, 0", run.Deleted, run.Errors, err, n)
		}
	}
}

// BenchmarkInsertRatio alternates a plaintext insert and an encrypted Put
// of the same row into one database, so machine load hits both equally,
// and reports their per-insert times and ratio (the ≤ 1.15 goal).
func BenchmarkInsertRatio(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			clk := newFakeClock()
			opts := defaultOpts(b, clk, newTestKeys(b))
			opts.Logger = nil
			s := openTest(b, b.TempDir(), opts)
			if _, err := s.db.Exec("PRAGMA synchronous=" + sync); err != nil {
				b.Fatal(err)
			}
			c := benchRow()
			ctx := context.Background()
			wrapped := make([]byte, 65)
			details := appendFields(nil, field{tagPassed, []byte{1}}, field{tagLiveness, c.Liveness}, field{tagMatch, c.Match})
			personal := appendFields(nil, field{tagName, []byte(c.Name)}, field{tagDocument, []byte(c.DocumentNumber)})
			var plain, enc time.Duration
			var plainS, encS []time.Duration
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				doPlain := func() {
					start := time.Now()
					now := s.clk.Now()
					r := &rawCheckIn{ID: int64(newID()), CreatedAt: now.UnixNano(), ExpiresAt: now.Add(time.Hour).UnixNano(),
						Epoch: int64(s.epochFor(now)), KEKVersion: 1, WrappedDEK: wrapped, Photo: c.Photo,
						Embedding: c.Embedding, Details: details, Personal: personal}
					if err := insertCheckIn(ctx, s.db, r, "checkins_passed", now); err != nil {
						b.Fatal(err)
					}
					d := time.Since(start)
					plain += d
					plainS = append(plainS, d)
				}
				doEnc := func() {
					start := time.Now()
					if _, err := s.Put(ctx, c); err != nil {
						b.Fatal(err)
					}
					d := time.Since(start)
					enc += d
					encS = append(encS, d)
				}
				if i%2 == 0 { // alternate which goes first
					doPlain()
					doEnc()
				} else {
					doEnc()
					doPlain()
				}
			}
			// Means include the WAL auto-checkpoints, which land on whichever
			// commit crosses the threshold; medians show the steady cost.
			b.ReportMetric(float64(enc)/float64(plain), "enc/plain-mean")
			b.ReportMetric(float64(median(encS))/float64(median(plainS)), "enc/plain-median")
			b.ReportMetric(float64(median(plainS).Nanoseconds()), "plain-ns/insert-median")
			b.ReportMetric(float64(median(encS).Nanoseconds()), "enc-ns/insert-median")
		})
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
