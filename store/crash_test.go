package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashChildEnv = "STORE_CRASH_CHILD_DIR"
	crashEpochEnv = "STORE_CRASH_FIRST_EPOCH"
	crashEpochLen = time.Second
	crashRetain   = 2 * time.Second
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

func crashKeys(first uint64) (*MemoryKeys, error) {
	return NewMemoryKeys(MemoryKeysOptions{KEK: testKEK, FirstKey: testFirstKey, FirstEpoch: first})
}

// crashChild is the writer process: it stores records as fast as it can,
// purging on a 15 ms timer, and prints "ack <id> <expires ns>" after each
// commit, until it is killed.
func crashChild(dir string) int {
	first, _ := strconv.ParseUint(os.Getenv(crashEpochEnv), 10, 64)
	keys, err := crashKeys(first)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := Open(dir, Options{Keys: keys, Retention: crashRetain, EpochLength: crashEpochLen, PurgeInterval: 15 * time.Millisecond, PurgeBatch: 5})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		c := sampleCheckIn(i)
		if i%7 == 0 {
			if pid, err := s.Enroll(ctx, Person{Name: "p", Template: []byte{1}}); err == nil {
				c.PersonID = pid
			}
		}
		m, err := s.Put(ctx, c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			return 1
		}
		fmt.Fprintf(os.Stdout, "ack %d %d\n", m.ID, m.ExpiresAt.UnixNano())
	}
}

// TestCrash kills a writer with SIGKILL at random points 50 times. After
// each kill the database passes integrity_check, the purge chain verifies,
// and every acknowledged record is present or was legitimately purged.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary 50 times")
	}
	dir := filepath.Join(t.TempDir(), "data")
	first := EpochOf(time.Now(), crashEpochLen) - 1
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	acked := map[ID]int64{}
	start := time.Now()
	for round := range 50 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashEpochEnv+"="+strconv.FormatUint(first, 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() }) // a failed round leaves no writer behind
		// stopped ends the child and waits for it, so its stderr is whole
		// and no longer written to when a failure quotes it.
		stopped := func() string {
			cmd.Process.Kill()
			cmd.Wait()
			return stderr.String()
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		n := 0
		record := func(l string) {
			var id ID
			var exp int64
			if _, err := fmt.Sscanf(l, "ack %d %d", &id, &exp); err != nil {
				t.Fatalf("round %d: child printed %q", round, l)
			}
			acked[id] = exp
			n++
		}
		// Kill at a random point of the child's own progress: two rounds in
		// nine during start-up (before any commit, after 0-120 ms), the rest
		// just after its (k-1)-th acknowledged commit, k from 2 to 8, in the
		// middle of the next write. Counting commits rather than milliseconds keeps the rounds
		// the same on a busy machine, where a fixed delay may end a child
		// before it ever writes.
		if k := rng.IntN(9); k < 2 {
			time.Sleep(time.Duration(rng.IntN(120)) * time.Millisecond)
		} else {
			deadline := time.After(2 * time.Minute)
			for n < k-1 {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("round %d: the child ended after %d of %d commits; stderr: %s", round, n, k-1, stopped())
					}
					record(l)
				case <-deadline:
					t.Fatalf("round %d: no %d commits from the child in 2 min; stderr: %s", round, k-1, stopped())
				}
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			record(l)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not SIGKILL; stderr: %s", round, err, stderr.String())
		}
		checkAfterCrash(t, dir, first, acked, round, n)
	}
	t.Logf("50 kills, %d acknowledged records, %v", len(acked), time.Since(start).Round(time.Millisecond))
}

func checkAfterCrash(t *testing.T, dir string, first uint64, acked map[ID]int64, round, n int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, DBFileName)); err != nil {
		if len(acked) == 0 {
			return // killed before the database existed
		}
		t.Fatalf("round %d: %v", round, err)
	}
	keys, err := crashKeys(first)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Keys: keys, Retention: crashRetain, EpochLength: crashEpochLen, DisablePurge: true})
	if err != nil {
		t.Fatalf("round %d: Open after SIGKILL = %v", round, err)
	}
	defer s.Close()
	var ic string
	if err := s.db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("round %d: integrity_check = %q, %v", round, ic, err)
	}
	if _, _, err := s.VerifyChain(context.Background()); err != nil {
		t.Fatalf("round %d: VerifyChain = %v", round, err)
	}
	present, purged := 0, 0
	for id, exp := range acked {
		_, err := s.Get(context.Background(), id)
		now := s.Now().UnixNano() // read after Get: Get hides records expired by then
		switch {
		case err == nil:
			present++
		case errors.Is(err, ErrNotFound) && exp <= now:
			purged++
		default:
			t.Fatalf("round %d: acknowledged record %d (expires in %v) = %v; want present or legitimately purged",
				round, id, time.Duration(exp-now), err)
		}
	}
	if testing.Verbose() && round%10 == 0 {
		t.Logf("round %d: %d new acks; %d present, %d purged", round, n, present, purged)
	}
}
