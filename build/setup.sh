#!/usr/bin/env bash
# Idempotent machine setup for building, testing and running the kiosk on
# Debian 12: installs only the Debian packages that are missing, downloads Go
# modules, then provisions the pinned models into the cache (sha256-checked).
# Safe to run again; a second run does no network work when all is present.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages, one reason each:
pkgs=(
  pkg-config libopencv-dev          # gocv (OpenCV 4.6 from Debian)
  libsqlite3-dev                    # go-sqlite3 links Debian's SQLite (-tags libsqlite3)
  libssl-dev                        # go-tpm-tools' in-process TPM simulator
  swtpm swtpm-tools                 # software TPM for tests and machines without a chip
  libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
  libgl1-mesa-dev libxkbcommon-dev  # Fyne (GLFW/X11)
  xvfb xauth imagemagick xdotool    # the UI test: a real X server, screenshots and taps
  libtesseract-dev libleptonica-dev # gosseract: Tesseract 5.3 OCR for the passport's machine-readable zone
  fonts-ocr-b                       # the OCR-B font the generated test documents are printed in
  prometheus                        # promtool and the server build/monitoring's tests start on a port of their own
  file                              # the arm64 build check
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # prometheus is a daemon package, but only its programs are wanted: the
  # tests run their own server on a free port, with a config and storage of
  # their own. Its postinst would start the system service (on :9090; in a
  # CI container a start that fails fails the whole install). So while apt
  # runs, a policy-rc.d of ours (Debian's switch, honoured by invoke-rc.d and
  # deb-systemd-invoke) refuses every service start, as Docker's images do:
  # nothing installed here is wanted as a service. A policy-rc.d already
  # there is the machine's and is left alone. A fresh prometheus is then
  # disabled, so it does not start at the next boot either.
  policy=/usr/sbin/policy-rc.d
  mark="# kiosk build/setup.sh: no service starts while it installs packages"
  if [ -e "$policy" ] && grep -qxF "$mark" "$policy"; then
    $sudo rm -f "$policy" # left behind by an interrupted run
  fi
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n%s\nexit 101\n' "$mark" | $sudo tee "$policy" >/dev/null
    $sudo chmod 0755 "$policy"
    own_policy=1
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((own_policy)); then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --quiet prometheus.service 2>/dev/null || true
  fi
  echo "setup: Debian packages installed"
else
  echo "setup: Debian packages already installed"
fi

cd "$here"
echo "setup: downloading Go modules (pinned in go.mod/go.sum)"
go mod download

echo "setup: building bin/kiosk (a cold build of OpenCV, Fyne and SQLite bindings takes several minutes)"
make --no-print-directory build

echo "setup: provisioning models into ${KIOSK_MODELS_DIR:-the default cache}"
./bin/kiosk models fetch
