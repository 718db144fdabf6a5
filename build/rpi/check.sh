#!/usr/bin/env bash
# Check the arm64 build: `file` must call it an ARM aarch64 ELF, and under
# qemu-aarch64-static (user-mode emulation, run explicitly: binfmt is not set
# up in these containers) with the build's sysroot as its library root,
# `kiosk --version` and `kiosk doctor --json` must run, the latter proving
# the arm64 OpenCV, SQLite and libcrypto load, that Tesseract (with
# Leptonica and libgomp) starts on the pinned mrz.traineddata (doctor's ocr
# check initialises it), and that doctor's JSON parses.
# Then the contract kiosk.service relies on (Type=notify, WatchdogSec): a
# headless `kiosk run` on the generated clip, with $NOTIFY_SOCKET and
# $WATCHDOG_USEC set as systemd sets them, must send READY=1, keep sending
# WATCHDOG=1 while frames flow, send STOPPING=1 and exit 0.
#
#   build/rpi/check.sh [BINARY]     (default bin/kiosk-linux-arm64)
#
# Run build/rpi/build.sh first, and provision the models (make setup, or
# kiosk models fetch; KIOSK_MODELS_DIR, default ~/.cache/kiosk/models). There
# is no camera, TPM or display under qemu here: doctor reports them missing
# (exit 1) and that is expected; what is checked is that it ran and what it
# says about the parts it can see.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${KIOSK_RPI_OUT:-$root/bin/kiosk-linux-arm64}}
sysroot=${KIOSK_RPI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiosk/rpi}/sysroot
[ -x "$bin" ] || { echo "rpi-check: no $bin; run build/rpi/build.sh" >&2; exit 1; }
[ -d "$sysroot/usr/lib/aarch64-linux-gnu" ] || { echo "rpi-check: no sysroot at $sysroot; run build/rpi/build.sh" >&2; exit 1; }

desc=$(file -b "$bin")
case $desc in
*"ELF 64-bit"*"ARM aarch64"*) echo "rpi-check: ok   file: ${desc%%, BuildID*}" ;;
*) echo "rpi-check: FAIL file says: $desc" >&2; exit 1 ;;
esac

qemu=$(command -v qemu-aarch64-static || true)
[ -n "$qemu" ] || { echo "rpi-check: FAIL qemu-aarch64-static missing (Debian package qemu-user-static)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=${KIOSK_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiosk/models}
# A private data dir and config dir, so the smoke test writes nothing of the
# user's; the models are only read.
run() { # run [VAR=VALUE...] -- ARGS...
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  env -i PATH=/usr/bin:/bin LANG=en_US.UTF-8 HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" \
    KIOSK_DATA_DIR="$tmp/data" KIOSK_MODELS_DIR="$models" KIOSK_TPM=auto "${vars[@]}" \
    "$qemu" -L "$sysroot" "$bin" "$@"
}

t0=$(date +%s.%N)
v=$(run -- --version)
[[ $v == "kiosk "* ]] || { echo "rpi-check: FAIL --version printed: $v" >&2; exit 1; }
printf "rpi-check: ok   qemu: %s (%.1f s)\n" "$v" "$(echo "$(date +%s.%N) - $t0" | bc)"

t0=$(date +%s.%N)
rc=0
run -- doctor --json >"$tmp/doctor.json" 2>"$tmp/doctor.err" || rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
if [ "$rc" -gt 1 ]; then
  echo "rpi-check: FAIL doctor --json exited $rc under qemu:" >&2
  cat "$tmp/doctor.err" >&2
  exit 1
fi
# Parse the report with Go's encoding/json semantics (python3's json here):
# every check named, the OpenCV check must report the arm64 sysroot's
# OpenCV 4.6 loaded and working, and the OCR check Tesseract 5 started on
# mrz.traineddata (LoadMRZReader: model verified, a blank line read, Close).
python3 - "$tmp/doctor.json" "$rc" "$secs" <<'EOF'
import json, sys
path, rc, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
doc = json.load(open(path))
checks = {c["name"]: c for c in doc["checks"]}
for name in ("camera", "tpm", "models", "data-dir", "opencv", "ocr"):
    if name not in checks:
        sys.exit(f"rpi-check: FAIL doctor has no {name!r} check: {sorted(checks)}")
cv = checks["opencv"]
if not cv["ok"] or "OpenCV 4.6" not in cv["detail"]:
    sys.exit(f"rpi-check: FAIL opencv check: {cv}")
ocr = checks["ocr"]
if not ocr["ok"] or not ocr["detail"].startswith("Tesseract 5.") or not ocr["detail"].endswith(" with mrz.traineddata"):
    sys.exit(f"rpi-check: FAIL ocr check (Tesseract in the arm64 binary): {ocr}")
if not checks["data-dir"]["ok"]:
    sys.exit(f"rpi-check: FAIL data-dir check: {checks['data-dir']}")
if doc["can_run"] != (rc == 0):
    sys.exit(f"rpi-check: FAIL can_run={doc['can_run']} but exit {rc}")
print(f"rpi-check: ok   qemu: doctor --json ran in {float(secs):.1f} s, exit {rc} (can_run={doc['can_run']})")
for c in doc["checks"]:
    print(f"rpi-check:        {c['name']:9} {'ok  ' if c['ok'] else 'MISS'} {c['detail']}")
EOF

# --- the units' command lines -----------------------------------------------
# Each unit's ExecStart arguments, as written in build/rpi (and shipped in
# the .deb), so a flag the binary no longer knows fails here, not on a Pi.
unit_args() { # unit_args UNIT: the arguments after ExecStart=/usr/bin/kiosk
  local line
  line=$(sed -n 's|^ExecStart=/usr/bin/kiosk \{0,1\}||p' "$root/build/rpi/$1")
  [ -n "$line" ] || { echo "rpi-check: FAIL $1 has no ExecStart=/usr/bin/kiosk ARGS" >&2; exit 1; }
  echo "$line"
}
line=$(unit_args kiosk-models.service)
read -ra fetch_args <<<"$line"
line=$(unit_args kiosk.service)
read -ra run_args <<<"$line"

if ! ls "$models"/*.onnx "$models"/*.traineddata >/dev/null 2>&1; then # doctor above names what is missing
  echo "rpi-check: FAIL no models in $models: the checks below run the detector;" \
    "provision them with 'make setup' or 'bin/kiosk models fetch'" >&2
  exit 1
fi

# kiosk-models.service on a state directory that already holds the pinned
# files (a copy of the provisioned ones): every hash checked, no network.
mkdir -p "$tmp/state-models"
cp "$models"/*.onnx "$models"/*.traineddata "$tmp/state-models/"
t0=$(date +%s.%N)
if ! out=$(run KIOSK_MODELS_DIR="$tmp/state-models" -- "${fetch_args[@]}" 2>&1); then
  echo "rpi-check: FAIL kiosk ${fetch_args[*]} (kiosk-models.service) under qemu:" >&2
  echo "$out" >&2
  exit 1
fi
printf "rpi-check: ok   qemu: kiosk %s (kiosk-models.service) on provisioned files (%.1f s)\n" \
  "${fetch_args[*]}" "$(echo "$(date +%s.%N) - $t0" | bc)"

# --- the sd_notify contract of kiosk.service ---------------------------------
# systemd starts the unit with NOTIFY_SOCKET (a unixgram socket) and
# WATCHDOG_USEC; here a small listener plays systemd's part. The watchdog is
# 6 s (30 s in the unit) so a short run must show pings at a third of it.
# The unit's own arguments (and its OMP_THREAD_LIMIT), then what this
# machine needs: no display, the generated clip for a camera, a stop after
# 8 s, an API port of its own.
t0=$(date +%s.%N)
python3 - "$tmp/notify.sock" 120 "$tmp/run.log" -- env -i PATH=/usr/bin:/bin LANG=en_US.UTF-8 \
  HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" KIOSK_DATA_DIR="$tmp/data-run" KIOSK_MODELS_DIR="$models" \
  KIOSK_TPM=auto OMP_THREAD_LIMIT=1 NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=6000000 \
  "$qemu" -L "$sysroot" "$bin" "${run_args[@]}" --headless --source synthetic --duration 8s --listen 127.0.0.1:0 <<'EOF'
import os, signal, socket, subprocess, sys, time
sock_path, limit, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
cmd = sys.argv[sys.argv.index("--") + 1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.settimeout(0.2)
start = time.monotonic()
msgs = []  # (seconds since start, assignment)
timed_out = False
with open(log, "wb") as out:
    # Its own process group, so a kill also ends the swtpm it may spawn.
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    while True:
        try:
            for line in s.recv(4096).decode().splitlines():
                msgs.append((time.monotonic() - start, line))
        except socket.timeout:
            pass
        if p.poll() is not None:
            break
        late = time.monotonic() - start > (limit if "READY=1" in [m for _, m in msgs] else limit / 2)
        if late:  # half the limit to first say READY=1, all of it to stop
            os.killpg(p.pid, signal.SIGKILL); p.wait()
            timed_out = True
            break
    s.settimeout(0.5)
    try:  # a message sent just before exit may still be queued
        while True:
            for line in s.recv(4096).decode().splitlines():
                msgs.append((time.monotonic() - start, line))
    except socket.timeout:
        pass
keys = [m.split("=", 1)[0] for _, m in msgs]
def fail(why):
    text = open(log, errors="replace").read()
    if len(text) > 2400:
        text = text[:800] + "\n[...]\n" + text[-1600:]
    sys.exit(f"rpi-check: FAIL sd_notify: {why}\n  messages: {[m for _, m in msgs]}\n  exit {p.returncode}; log:\n{text}")
if not timed_out and p.returncode != 0:
    fail(f"kiosk run exited {p.returncode}" + ("" if "READY" in keys else " before READY=1"))
if "READY" not in keys:
    fail("kiosk run sent no READY=1: kiosk.service is Type=notify and would never start (TimeoutStartSec)")
if timed_out:
    fail(f"kiosk run --duration 8s did not stop within {limit:.0f} s")
ready = keys.index("READY")
pings = [t for (t, m) in msgs[ready:] if m == "WATCHDOG=1"]
if not pings:
    fail("no WATCHDOG=1 after READY=1: WatchdogSec would kill the kiosk")
gaps = [b - a for a, b in zip(pings, pings[1:])]
if gaps and max(gaps) > 6:
    fail(f"WATCHDOG=1 gaps up to {max(gaps):.1f} s with WATCHDOG_USEC=6 s")
if "STOPPING" not in keys:
    fail("no STOPPING=1 on a clean exit")
status = next((m for m in msgs if m[1].startswith("STATUS=")), (0, "STATUS=(none)"))[1]
print(f"rpi-check: ok   qemu: sd_notify: READY=1 at {msgs[ready][0]:.1f} s, {len(pings)} WATCHDOG=1"
      f" (max gap {max(gaps, default=0):.1f} s), STOPPING=1, exit 0; {status}")
EOF
printf "rpi-check: ok   qemu: kiosk ${run_args[*]} --headless --duration 8s took %.1f s\n" "$(echo "$(date +%s.%N) - $t0" | bc)"
