// Command kiosk is the privacy-first identity check-in kiosk. It is the only
// place that reads flags and the environment; everything else takes Options.
//
// Subcommands live one per file (cmd_*.go) and add themselves to the table
// with register, so each file owns one verb and its flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at link time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes shared by every subcommand.
const (
	exitOK       = 0
	exitFailure  = 1 // the operation ran and failed, or a check did not pass
	exitBadInput = 2 // bad usage or unreadable input
)

// command is one verb of the CLI. Run parses its own flags from args and
// returns an exit code; it writes results to env.stdout and diagnostics to
// env.stderr.
type command struct {
	name    string // may hold a space for nested verbs, e.g. "models verify"
	summary string
	run     func(ctx context.Context, env *env, args []string) int
}

var commands = map[string]command{}

// register adds a subcommand; it is called from init in each cmd_*.go file.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("kiosk: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// env is what a subcommand gets from the outside world.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// dispatch finds the longest registered verb that prefixes args and runs it.
func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		return exitOK
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintf(e.stdout, "kiosk %s\n", version)
		return exitOK
	}
	for n := min(len(args), 3); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if c, ok := commands[name]; ok {
			return c.run(ctx, e, args[n:])
		}
	}
	fmt.Fprintf(e.stderr, "kiosk: unknown command %q; run 'kiosk help' for the list\n", strings.Join(args, " "))
	return exitBadInput
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "kiosk %s: privacy-first identity check-in kiosk\n\nUsage: kiosk COMMAND [flags]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'kiosk COMMAND -h' for a command's flags.\n")
}
