package main

import (
	"context"
	"fmt"
	"time"

	"kiosk/api"
	"kiosk/evidence"
)

func init() {
	register(command{name: "serve", summary: "serve the signed retention report and metrics over local HTTP, purging on a timer", run: runServe})
	register(command{name: "purge", summary: "run one purge now and print the run appended to the chain", run: runPurge})
}

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "serve", "serve [--listen ADDR] [--tpm SPEC] [--retention D] [--purge-interval D]\n\nServes GET /api/retention (public, signed in the TPM), GET /metrics and GET /healthz until interrupted.")
	cfg := addCommonFlags(fs, e)
	var rf retentionFlags
	rf.register(fs, e)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on; anything but loopback needs --tls-cert and --tls-key")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM), for listening on the LAN")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	kioskID := fs.String("kiosk-id", "kiosk", "this machine's name in the report")
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	if err := checkListen(*listen, *certFile, *keyFile); err != nil {
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitBadInput
	}
	notice, err := loadNotice(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitBadInput
	}
	metrics := api.NewMetrics()
	v, err := openVault(ctx, cfg.dataDir, &rf, log, metrics.ObservePurge, false)
	if v == nil {
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitFailure
	}
	defer v.close()
	if err != nil {
		log.Warn("store degraded; serving what it can", "reason", v.store.Health().Reason)
	}
	v.watch(ctx, metrics)
	b, err := evidence.NewBuilder(v.custody.Signer(), evidence.Options{KioskID: *kioskID, TPMKind: evidenceKind(v.custody.Kind()), Logger: log})
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitFailure
	}
	retention := func() time.Duration {
		if p := v.store.Policy(); !p.Ephemeral {
			return p.Retention
		}
		return 0
	}
	h := api.NewHandler(api.Options{Retention: v.evidenceHandler(b, log), Metrics: metrics,
		Notice: notice, NoticeRetention: retention, Attestation: v.attestation, Activate: v.activate})
	srv, err := startAPI(h, *listen, *certFile, *keyFile)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitFailure
	}
	defer srv.stop()
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	fmt.Fprintf(e.stdout, "serving %s://%s/api/retention (TPM: %s)\n", scheme, srv.addr(), v.custody.Kind())
	select {
	case <-ctx.Done():
	case err := <-srv.errc:
		fmt.Fprintf(e.stderr, "kiosk serve: %v\n", err)
		return exitFailure
	}
	log.Info("server stopped")
	return exitOK
}

func runPurge(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "purge", "purge [--tpm SPEC] [--retention D]\n\nDeletes expired records, erases their epochs' keys in the TPM, and appends a run to the hash chain.")
	cfg := addCommonFlags(fs, e)
	var rf retentionFlags
	rf.register(fs, e)
	if ok, code := parseArgs(fs, args, exactly(0)); !ok {
		return code
	}
	log, err := cfg.logger(e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "kiosk:", err)
		return exitBadInput
	}
	v, err := openVault(ctx, cfg.dataDir, &rf, log, nil, true)
	if v == nil {
		fmt.Fprintf(e.stderr, "kiosk purge: %v\n", err)
		return exitFailure
	}
	defer v.close()
	r, err := v.store.Purge(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "kiosk purge: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "purge run %d: scanned %d, deleted %d, errors %d, %d records held, oldest %s; chain head %s\n",
		r.Seq, r.Scanned, r.Deleted, r.Errors, r.RecordsHeld, r.OldestAge.Round(time.Second), r.Hash)
	if r.Errors > 0 {
		return exitFailure
	}
	return exitOK
}
