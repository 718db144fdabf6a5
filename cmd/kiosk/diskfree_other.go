//go:build !linux

package main

import "errors"

var errNoStatfs = errors.New("free-space check is only implemented on Linux")

func freeBytes(dir string) (uint64, error) { return 0, errNoStatfs }
