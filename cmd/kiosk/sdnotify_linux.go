//go:build linux

package main

// systemd's readiness and watchdog protocol (sd_notify(3)) in pure Go: one
// datagram of newline-separated KEY=VALUE assignments sent to the unix
// socket named by $NOTIFY_SOCKET. A path starting with '@' is an abstract
// socket; the Go runtime turns the '@' into the leading NUL byte itself.
// With $NOTIFY_SOCKET unset (not started by systemd, or not Type=notify)
// every call is a no-op, so the run loop can call it unconditionally.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errNotifySocket says $NOTIFY_SOCKET names something this implementation
// cannot send to (a relative path, or systemd's vsock: form, which is for
// VMs and never set for a service on the Pi).
var errNotifySocket = errors.New("unsupported NOTIFY_SOCKET: want an absolute path or an @abstract name")

// notifyWriteTimeout bounds one send, so a wedged service manager can never
// stall the frame loop that pings the watchdog.
const notifyWriteTimeout = time.Second

// sdNotifyOptions configure newSDNotifier. The zero value reads the process
// environment, the real clock and the real pid.
type sdNotifyOptions struct {
	Getenv func(string) string // default os.Getenv
	Now    func() time.Time    // default time.Now; only paces watchdog pings
	Pid    int                 // default os.Getpid(); compared with $WATCHDOG_PID
}

// sdNotifier sends service notifications to systemd. A nil *sdNotifier, or
// one made without $NOTIFY_SOCKET, is valid and does nothing. It holds no
// open socket (each message dials, sends and closes, as libsystemd does,
// so a re-executed manager is found again), so it needs no Close. Safe for
// concurrent use.
type sdNotifier struct {
	addr     *net.UnixAddr // nil: every call is a no-op
	watchdog time.Duration // this process's watchdog timeout; 0: none
	now      func() time.Time

	mu       sync.Mutex
	lastPing time.Time // when WATCHDOG=1 was last sent
}

// newSDNotifier reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID.
func newSDNotifier(o sdNotifyOptions) (*sdNotifier, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Pid == 0 {
		o.Pid = os.Getpid()
	}
	n := &sdNotifier{now: o.Now}
	sock := o.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return n, nil
	}
	if !strings.HasPrefix(sock, "/") && !(strings.HasPrefix(sock, "@") && len(sock) > 1) {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: %w", sock, errNotifySocket)
	}
	n.addr = &net.UnixAddr{Name: sock, Net: "unixgram"}
	wd, err := parseWatchdogEnv(o.Getenv("WATCHDOG_USEC"), o.Getenv("WATCHDOG_PID"), o.Pid)
	if err != nil {
		return nil, err
	}
	n.watchdog = wd
	return n, nil
}

// parseWatchdogEnv returns the watchdog timeout systemd set for pid, or 0
// when there is none or it is meant for another process (WATCHDOG_PID set
// to a different pid, e.g. inherited by a child).
func parseWatchdogEnv(usec, wpid string, pid int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if wpid != "" {
		p, err := strconv.Atoi(wpid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("WATCHDOG_PID=%q: want a positive process id", wpid)
		}
		if p != pid {
			return 0, nil
		}
	}
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil || u == 0 || u > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: want a positive number of microseconds", usec)
	}
	return time.Duration(u) * time.Microsecond, nil
}

// enabled reports whether notifications go anywhere.
func (n *sdNotifier) enabled() bool { return n != nil && n.addr != nil }

// watchdogTimeout is the timeout systemd enforces (WatchdogSec=), or 0 when
// the service has no watchdog.
func (n *sdNotifier) watchdogTimeout() time.Duration {
	if !n.enabled() {
		return 0
	}
	return n.watchdog
}

// notify sends the assignments (e.g. "READY=1", "STATUS=...") as one
// datagram. Each must be KEY=VALUE with no newline.
func (n *sdNotifier) notify(assignments ...string) error {
	if !n.enabled() {
		return nil
	}
	if len(assignments) == 0 {
		return errors.New("sd_notify: nothing to send")
	}
	for _, a := range assignments {
		k, _, ok := strings.Cut(a, "=")
		if !ok || k == "" || strings.ContainsRune(a, '\n') {
			return fmt.Errorf("sd_notify: %q is not a KEY=VALUE line", a)
		}
	}
	msg := strings.Join(assignments, "\n") + "\n"
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: connecting to %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(notifyWriteTimeout)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify: sending to %s: %w", n.addr.Name, err)
	}
	return nil
}

// oneLine makes a free-text status safe to send: newlines would start new
// assignments.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// ready tells systemd start-up is complete (Type=notify leaves "activating"),
// with an optional status line.
func (n *sdNotifier) ready(status string) error {
	if status == "" {
		return n.notify("READY=1")
	}
	return n.notify("READY=1", "STATUS="+oneLine(status))
}

// status sets the free-text line `systemctl status` shows.
func (n *sdNotifier) status(s string) error { return n.notify("STATUS=" + oneLine(s)) }

// stopping tells systemd a clean shutdown has begun.
func (n *sdNotifier) stopping() error { return n.notify("STOPPING=1") }

// ping keeps the watchdog fed. Call it each time the loop makes progress
// (every processed frame): it sends WATCHDOG=1 at most once per third of the
// timeout, so calling it per frame costs a clock read, and a loop that stops
// calling it is killed and restarted by systemd after WatchdogSec. A no-op
// without a watchdog.
func (n *sdNotifier) ping() error {
	wd := n.watchdogTimeout()
	if wd == 0 {
		return nil
	}
	now := n.now()
	n.mu.Lock()
	if !n.lastPing.IsZero() && now.Sub(n.lastPing) < wd/3 && !now.Before(n.lastPing) {
		n.mu.Unlock()
		return nil
	}
	n.lastPing = now
	n.mu.Unlock()
	return n.notify("WATCHDOG=1")
}
