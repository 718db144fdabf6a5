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
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
