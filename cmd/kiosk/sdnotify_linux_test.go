//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenNotify opens a unixgram socket standing in for systemd's notify
// socket: a path under a temp dir, or an abstract name when abstract.
func listenNotify(t testing.TB, abstract bool) (*net.UnixConn, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = fmt.Sprintf("@kiosk-sdnotify-test-%d-%d", time.Now().UnixNano(), len(t.Name()))
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%q) = %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, name
}

// recvNotify reads one datagram, failing the test after a generous deadline.
func recvNotify(t testing.TB, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading notify socket: %v", err)
	}
	return string(buf[:n])
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSDNotifySendsToSocket(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			c, name := listenNotify(t, abstract)
			n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(map[string]string{"NOTIFY_SOCKET": name})})
			if err != nil {
				t.Fatalf("newSDNotifier(NOTIFY_SOCKET=%q) = %v", name, err)
			}
			if !n.enabled() {
				t.Fatalf("enabled() = false with NOTIFY_SOCKET=%q", name)
			}
			cases := []struct {
				name string
				send func() error
				want string
			}{
				{"ready", func() error { return n.ready("") }, "READY=1\n"},
				{"ready with status", func() error { return n.ready("camera /dev/video0") }, "READY=1\nSTATUS=camera /dev/video0\n"},
				{"status newline flattened", func() error { return n.status("two\nlines\r") }, "STATUS=two lines \n"},
				{"stopping", n.stopping, "STOPPING=1\n"},
				{"raw", func() error { return n.notify("EXTEND_TIMEOUT_USEC=5000000") }, "EXTEND_TIMEOUT_USEC=5000000\n"},
			}
			for _, tc := range cases {
				if err := tc.send(); err != nil {
					t.Fatalf("%s: send = %v", tc.name, err)
				}
				if got := recvNotify(t, c); got != tc.want {
					t.Errorf("%s: socket got %q; want %q", tc.name, got, tc.want)
				}
			}
		})
	}
}

func TestSDNotifyRejectsBadAssignments(t *testing.T) {
	c, name := listenNotify(t, false)
	n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(map[string]string{"NOTIFY_SOCKET": name})})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{nil, {"READY"}, {"=1"}, {"STATUS=a\nREADY=1"}, {"READY=1", "oops"}} {
		if err := n.notify(bad...); err == nil {
			t.Errorf("notify(%q) = nil; want an error", bad)
		}
	}
	// Nothing of the rejected lines reached the socket: the next datagram
	// is the marker.
	if err := n.status("marker"); err != nil {
		t.Fatal(err)
	}
	if got := recvNotify(t, c); got != "STATUS=marker\n" {
		t.Errorf("after rejected sends the socket got %q; want only the marker", got)
	}
}

func TestSDNotifyNoSocketIsNoOp(t *testing.T) {
	n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(map[string]string{"WATCHDOG_USEC": "3000000"})})
	if err != nil {
		t.Fatalf("newSDNotifier(no NOTIFY_SOCKET) = %v; want nil", err)
	}
	var nilN *sdNotifier
	for _, x := range []*sdNotifier{n, nilN} {
		if x.enabled() || x.watchdogTimeout() != 0 {
			t.Errorf("enabled, watchdog = %v, %v; want false, 0", x.enabled(), x.watchdogTimeout())
		}
		for _, err := range []error{x.ready("s"), x.status("s"), x.stopping(), x.ping(), x.notify("bad")} {
			if err != nil {
				t.Errorf("no-op notifier returned %v; want nil", err)
			}
		}
	}
}

func TestSDNotifyMissingSocketFails(t *testing.T) {
	name := filepath.Join(t.TempDir(), "absent.sock")
	n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(map[string]string{"NOTIFY_SOCKET": name})})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.ready(""); err == nil {
		t.Errorf("ready() to missing %s = nil; want an error", name)
	}
}

func TestSDNotifyEnv(t *testing.T) {
	const pid = 4242
	cases := []struct {
		name    string
		env     map[string]string
		wantErr error // errNotifySocket, or errAny for any error
		wantWD  time.Duration
	}{
		{"path, no watchdog", map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, nil, 0},
		{"abstract", map[string]string{"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"}, nil, 0},
		{"relative path", map[string]string{"NOTIFY_SOCKET": "run/notify"}, errNotifySocket, 0},
		{"bare at", map[string]string{"NOTIFY_SOCKET": "@"}, errNotifySocket, 0},
		{"vsock", map[string]string{"NOTIFY_SOCKET": "vsock:2:1234"}, errNotifySocket, 0},
		{"watchdog for us", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, nil, 30 * time.Second},
		{"watchdog no pid", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "1500"}, nil, 1500 * time.Microsecond},
		{"watchdog for parent", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, nil, 0},
		{"watchdog zero", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "0"}, errAny, 0},
		{"watchdog junk", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "30s"}, errAny, 0},
		{"watchdog overflow", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "18446744073709551615"}, errAny, 0},
		{"watchdog pid junk", map[string]string{"NOTIFY_SOCKET": "/n", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "x"}, errAny, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(tc.env), Pid: pid})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("newSDNotifier(%v) = %v; want nil", tc.env, err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("newSDNotifier(%v) = %v; want %v", tc.env, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := n.watchdogTimeout(); got != tc.wantWD {
				t.Errorf("watchdogTimeout() = %v; want %v", got, tc.wantWD)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestSDNotifyWatchdogPacing steps a fake clock: per-frame pings send
// WATCHDOG=1 once per third of the timeout, never more often.
func TestSDNotifyWatchdogPacing(t *testing.T) {
	c, name := listenNotify(t, true)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, err := newSDNotifier(sdNotifyOptions{
		Getenv: envOf(map[string]string{"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "77"}),
		Pid:    77,
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Steps in seconds since the previous ping call, and whether a
	// WATCHDOG=1 must go out. The timeout is 30 s, so the pace is 10 s.
	steps := []struct {
		advance time.Duration
		sent    bool
	}{
		{0, true},                      // first ping always goes
		{time.Second, false},           // 1 s
		{8 * time.Second, false},       // 9 s
		{time.Second, true},            // 10 s
		{33 * time.Millisecond, false}, // per-frame calls in between
		{9 * time.Second, false},       // 9.033 s
		{time.Second, true},            // 10.033 s
		{-time.Hour, true},             // a clock stepped back must not silence the watchdog
		{time.Millisecond, false},      //
		{10*time.Second + 1, true},     //
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if err := n.ping(); err != nil {
			t.Fatalf("step %d: ping() = %v", i, err)
		}
		// A marker after each ping shows whether the ping sent anything.
		if err := n.status(fmt.Sprint("step ", i)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			m := recvNotify(t, c)
			if strings.HasPrefix(m, "STATUS=") {
				break
			}
			got = append(got, m)
		}
		want := []string(nil)
		if s.sent {
			want = []string{"WATCHDOG=1\n"}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("step %d (+%v): ping sent %q; want %q", i, s.advance, got, want)
		}
	}
}

// FuzzSDNotifyEnv: no environment makes the parser panic, and an accepted
// one yields a positive watchdog only when both variables allow it.
func FuzzSDNotifyEnv(f *testing.F) {
	f.Add("/run/systemd/notify", "30000000", "4242")
	f.Add("@abstract", "1500", "")
	f.Add("vsock:2:1", "0", "1")
	f.Add("rel", "30s", "x")
	f.Add("/n", "18446744073709551615", "4242")
	f.Fuzz(func(t *testing.T, sock, usec, wpid string) {
		env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": usec, "WATCHDOG_PID": wpid}
		n, err := newSDNotifier(sdNotifyOptions{Getenv: envOf(env), Pid: 4242})
		if err != nil {
			return
		}
		if wd := n.watchdogTimeout(); wd < 0 || (wd > 0 && (sock == "" || usec == "")) {
			t.Errorf("newSDNotifier(%q, %q, %q): watchdog %v", sock, usec, wpid, wd)
		}
	})
}
