//go:build !linux

package main

// systemd exists only on Linux: here every notification is a no-op, and a
// $NOTIFY_SOCKET (which nothing should set) is refused with a clear error.

import (
	"errors"
	"os"
	"time"
)

var errNotifySocket = errors.New("sd_notify is only implemented on Linux")

type sdNotifyOptions struct {
	Getenv func(string) string
	Now    func() time.Time
	Pid    int
}

// sdNotifier does nothing off Linux; a nil one is valid.
type sdNotifier struct{}

func newSDNotifier(o sdNotifyOptions) (*sdNotifier, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Getenv("NOTIFY_SOCKET") != "" {
		return nil, errNotifySocket
	}
	return &sdNotifier{}, nil
}

func (n *sdNotifier) enabled() bool                      { return false }
func (n *sdNotifier) watchdogTimeout() time.Duration     { return 0 }
func (n *sdNotifier) notify(assignments ...string) error { return nil }
func (n *sdNotifier) ready(status string) error          { return nil }
func (n *sdNotifier) status(s string) error              { return nil }
func (n *sdNotifier) stopping() error                    { return nil }
func (n *sdNotifier) ping() error                        { return nil }
