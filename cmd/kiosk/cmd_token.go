package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"kiosk/api"
)

func init() {
	register(command{name: "api-token add", summary: "create an API token for the integration endpoint (shown once; only its hash is stored)", run: runTokenAdd})
	register(command{name: "api-token list", summary: "list the API tokens' names and hash fingerprints", run: runTokenList})
	register(command{name: "api-token revoke", summary: "revoke an API token by name (a running kiosk serve notices within a second)", run: runTokenRevoke})
}

// tokenPath parses the shared flags and returns the token file's path.
func tokenPath(e *env, verb, synopsis string, args []string, n int) (string, []string, int) {
	fs := newFlagSet(e, "api-token "+verb, synopsis)
	cfg := addCommonFlags(fs, e)
	if ok, code := parseArgs(fs, args, exactly(n)); !ok {
		return "", nil, code
	}
	return filepath.Join(cfg.dataDir, api.TokenFileName), fs.Args(), -1
}

func runTokenAdd(ctx context.Context, e *env, args []string) int {
	path, rest, code := tokenPath(e, "add", "api-token add NAME\n\nCreates a random token for an integration and prints it once, to stdout.\nThe data directory keeps only its SHA-256. Send it as 'Authorization: Bearer TOKEN'.", args, 1)
	if code >= 0 {
		return code
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token add: %v\n", err)
		return exitFailure
	}
	s, err := api.ReadTokenFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token add: %v\n", err)
		return exitFailure
	}
	tok, err := s.Add(rest[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token add: %v\n", err)
		return exitBadInput
	}
	if err := api.WriteTokenFile(path, s); err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token add: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(e.stdout, tok)
	fmt.Fprintf(e.stderr, "token %q created; it is shown only this once. Store it in the integration's secret store.\n", rest[0])
	return exitOK
}

func runTokenList(ctx context.Context, e *env, args []string) int {
	path, _, code := tokenPath(e, "list", "api-token list\n\nLists the API tokens' names and the first 8 hex digits of each hash.", args, 0)
	if code >= 0 {
		return code
	}
	s, err := api.ReadTokenFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token list: %v\n", err)
		return exitFailure
	}
	names, fps := s.Names()
	if len(names) == 0 {
		fmt.Fprintln(e.stderr, "no API tokens: create one with 'kiosk api-token add NAME'")
		return exitOK
	}
	for i, n := range names {
		fmt.Fprintf(e.stdout, "%s\tsha256:%s…\n", n, fps[i])
	}
	return exitOK
}

func runTokenRevoke(ctx context.Context, e *env, args []string) int {
	path, rest, code := tokenPath(e, "revoke", "api-token revoke NAME\n\nRevokes the API token called NAME.", args, 1)
	if code >= 0 {
		return code
	}
	s, err := api.ReadTokenFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token revoke: %v\n", err)
		return exitFailure
	}
	if !s.Revoke(rest[0]) {
		fmt.Fprintf(e.stderr, "kiosk api-token revoke: no token called %q\n", rest[0])
		return exitFailure
	}
	if err := api.WriteTokenFile(path, s); err != nil {
		fmt.Fprintf(e.stderr, "kiosk api-token revoke: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "token %q revoked\n", rest[0])
	return exitOK
}
