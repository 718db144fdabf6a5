//go:build !linux

package main

// lockDataDir does nothing off Linux: the kiosk runs on Linux, and other
// systems only build it for development.
func lockDataDir(dir string) (func() error, error) { return func() error { return nil }, nil }
