#!/usr/bin/env bash
# Cross-build kiosk for a Raspberry Pi 4/5 (linux/arm64, Debian 12 / Raspberry
# Pi OS bookworm) on an amd64 Debian 12 machine, with cgo (OpenCV, SQLite,
# OpenSSL for the TPM simulator, Tesseract/Leptonica with OpenMP for the MRZ,
# Fyne/GLES, V4L2).
#
#   build/rpi/build.sh            -> bin/kiosk-linux-arm64
#
# Route (see build/rpi/README.md, "How the arm64 build works"):
#  1. host tools from Debian: gcc/g++-aarch64-linux-gnu, qemu-user-static, file;
#  2. a private apt instance for arm64 (own lists, an empty dpkg status, no
#     dpkg --add-architecture), so the host's amd64 OpenCV is never touched;
#  3. the arm64 .debs of what the binary links and runs with, with their
#     dependency closure, unpacked with dpkg -x into a sysroot (cached; the
#     same sysroot serves qemu-aarch64-static -L for the smoke test);
#  4. go build with CC/CXX=aarch64-linux-gnu-gcc/g++ --sysroot, the gocv
#     customenv tag and an explicit OpenCV link list; the sysroot's library
#     folder first on the link path (gosseract hard-codes -L/usr/local/lib).
#
# Idempotent: a warm run skips apt entirely (a stamp records the package set)
# and reuses Go's build cache. Set KIOSK_RPI_REFRESH=1 to re-resolve the
# package set (e.g. after a Debian point release), or remove the cache.
#
# The cache (arm64 apt lists and .debs, the sysroot: about 1 GB) lives
# outside the clone, in ~/.cache/kiosk/rpi (KIOSK_RPI_CACHE overrides), so a
# fresh clone on a machine that built before (CI) starts warm; a new machine
# fills it once.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KIOSK_RPI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiosk/rpi}
sysroot=$cache/sysroot
out=${KIOSK_RPI_OUT:-$root/bin/kiosk-linux-arm64}
version=${VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)}
triple=aarch64-linux-gnu

t_start=$(date +%s.%N)
t_last=$t_start
lap() { # lap LABEL: print the time since the previous lap
  local now; now=$(date +%s.%N)
  printf 'rpi: %-34s %6.1f s\n' "$1" "$(echo "$now - $t_last" | bc)"
  t_last=$now
}

# --- 1. host tools -----------------------------------------------------------
host_pkgs=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static file pkg-config bc python3
  debian-archive-keyring ca-certificates)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "rpi: installing host packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # LC_ALL=C: the caller's locale (make exports en_US.UTF-8) may not be
  # generated, and apt's perl would warn about it.
  $sudo env LC_ALL=C apt-get update -qq
  $sudo env LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "rpi: could not install the host packages: ${missing[*]}" >&2; exit 1; }
fi
lap "host tools"

# --- 2+3. the arm64 sysroot --------------------------------------------------
# One builder at a time per cache: two clones building at once (CI next to a
# developer) wait here rather than unpack over each other.
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "rpi: waiting for another build holding $cache/.lock"
  flock 9
fi
# What the binary loads on the Pi (DT_NEEDED plus what GLFW dlopens). Their
# closure is the run set for qemu; the .deb's Depends list mirrors it.
run_pkgs=(
  libc6 libgcc-s1 libstdc++6
  libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libopencv-videoio406
  libopencv-highgui406 libopencv-video406 libopencv-objdetect406 libopencv-calib3d406
  libopencv-features2d406 libopencv-dnn406 libopencv-photo406
  libsqlite3-0 libssl3
  libtesseract5 liblept5 libgomp1
  libgl1 libgles2 libegl1 libx11-6 libxrandr2 libxcursor1 libxi6 libxinerama1 libxxf86vm1
)
# Headers and .so links the cgo packages compile and link against: gocv's
# opencv.hpp (every main module), go-sqlite3 -tags libsqlite3, go-tpm-tools'
# simulator (libcrypto), gosseract (Tesseract's C API, Leptonica; libgomp for
# models' -fopenmp comes with the cross compiler), GLFW/X11 + GLES, V4L2
# (linux-libc-dev).
dev_pkgs=(
  libc6-dev linux-libc-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libopencv-highgui-dev libopencv-video-dev libopencv-objdetect-dev libopencv-calib3d-dev
  libopencv-features2d-dev libopencv-dnn-dev libopencv-photo-dev libopencv-flann-dev
  libopencv-ml-dev libopencv-stitching-dev
  libsqlite3-dev libssl-dev
  libtesseract-dev libleptonica-dev
  libx11-dev libxrandr-dev libxcursor-dev libxi-dev libxinerama-dev libxxf86vm-dev
  libgl-dev libgles-dev libegl-dev
)
want=$(printf '%s\n' "${run_pkgs[@]}" "${dev_pkgs[@]}" | sort | sha256sum | cut -c1-16)
stamp=$sysroot/.kiosk-sysroot
if [ "${KIOSK_RPI_REFRESH:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(head -1 "$stamp")" = "$want" ] \
  && [ -e "$sysroot/usr/include/opencv4/opencv2/opencv.hpp" ]; then
  echo "rpi: sysroot up to date ($(($(wc -l <"$stamp") - 1)) packages in $sysroot)"
else
  apt_dir=$cache/apt
  mkdir -p "$apt_dir"/{state/lists/partial,cache/archives/partial,etc/apt.conf.d,etc/preferences.d,etc/sources.list.d}
  : >"$apt_dir/status"
  # Raspberry Pi OS 64-bit is Debian bookworm arm64 plus a few Pi packages;
  # the libraries used here come from Debian itself.
  cat >"$apt_dir/etc/sources.list" <<EOF
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
  cat >"$apt_dir/apt.conf" <<EOF
Dir::State "$apt_dir/state";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir/cache";
Dir::Etc::sourcelist "$apt_dir/etc/sources.list";
Dir::Etc::sourceparts "$apt_dir/etc/sources.list.d";
Dir::Etc::parts "$apt_dir/etc/apt.conf.d";
Dir::Etc::preferences "$apt_dir/etc/preferences";
Dir::Etc::preferencesparts "$apt_dir/etc/preferences.d";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
APT::Sandbox::User "$(id -un)";
EOF
  export APT_CONFIG=$apt_dir/apt.conf
  apt-get update -qq || {
    echo "rpi: apt-get update of the private arm64 lists failed (sources: $apt_dir/etc/sources.list);" \
      "this needs Debian's mirror (deb.debian.org)" >&2
    exit 1
  }
  lap "arm64 package lists"
  # The resolver over an empty status gives the full closure, essential
  # packages included; --download-only verifies every .deb's hash and
  # keeps the cache, so a refresh only fetches what changed.
  apt-get install -qq -y --download-only "${run_pkgs[@]}" "${dev_pkgs[@]}" >"$apt_dir/download.log" 2>&1 || {
    cat "$apt_dir/download.log" >&2
    echo "rpi: could not resolve or download the arm64 packages (log above, also in $apt_dir/download.log)" >&2
    exit 1
  }
  # --print-uris lists only what is not cached yet: ask it against an empty
  # archive dir to name every .deb of the closure.
  mkdir -p "$apt_dir/none/partial"
  mapfile -t debs < <(apt-get install -qq --print-uris -o Dir::Cache::Archives="$apt_dir/none" \
    "${run_pkgs[@]}" "${dev_pkgs[@]}" | awk '{print $2}')
  ((${#debs[@]} > 50)) || { echo "rpi: apt named only ${#debs[@]} arm64 .debs for the sysroot; expected hundreds" >&2; exit 1; }
  # Drop .debs superseded by a point release, so the cache does not grow.
  apt-get autoclean -qq >/dev/null 2>&1 || true
  lap "download ${#debs[@]} arm64 .debs"
  unset APT_CONFIG

  tmp=$sysroot.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp/usr/lib" "$tmp/usr/bin" "$tmp/usr/sbin"
  # Debian 12 is merged-/usr: /lib is a link to usr/lib, as on the Pi.
  ln -s usr/lib "$tmp/lib"
  ln -s usr/bin "$tmp/bin"
  ln -s usr/sbin "$tmp/sbin"
  # dpkg-deb -x would replace those links with directories; tar keeps them.
  # Documentation is left out (a third of the bytes, none of it needed).
  for d in "${debs[@]}"; do
    dpkg-deb --fsys-tarfile "$apt_dir/cache/archives/$d" |
      tar -x -C "$tmp" --keep-directory-symlink --no-same-owner \
        --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale \
        --exclude=./usr/share/info --exclude=./usr/share/lintian
  done
  # Absolute symlinks would point into the build machine: make them
  # relative to the sysroot.
  while IFS= read -r l; do
    target=$(readlink "$l")
    rel=$(realpath -m --relative-to="$(dirname "$l")" "$tmp$target")
    ln -sfn "$rel" "$l"
  done < <(find "$tmp" -type l -lname '/*')
  # update-alternatives does not run under dpkg -x: give BLAS/LAPACK their
  # usual names (libopencv_core needs liblapack.so.3 -> libblas.so.3).
  libdir=$tmp/usr/lib/$triple
  for alt in blas lapack; do
    for f in "$libdir/$alt"/lib*.so.*; do
      [ -e "$f" ] || continue
      [ -e "$libdir/$(basename "$f")" ] || ln -s "$alt/$(basename "$f")" "$libdir/$(basename "$f")"
    done
  done
  for f in usr/include/opencv4/opencv2/opencv.hpp usr/include/sqlite3.h usr/lib/$triple/libc.so.6 \
    usr/include/tesseract/capi.h usr/include/leptonica/allheaders.h usr/lib/$triple/libtesseract.so \
    usr/lib/$triple/libleptonica.so usr/lib/$triple/libgomp.so.1; do
    [ -e "$tmp/$f" ] || { echo "rpi: sysroot is missing $f; see $tmp" >&2; exit 1; }
  done
  { echo "$want"; printf '%s\n' "${debs[@]}"; } >"$tmp/.kiosk-sysroot"
  rm -rf "$sysroot"
  mv "$tmp" "$sysroot"
  lap "unpack sysroot ($(du -sh "$sysroot" | cut -f1))"
fi

# --- 4. go build -------------------------------------------------------------
# gocv's default cgo.go asks pkg-config for opencv4, whose .pc file is in the
# metapackage (libopencv-dev) that drags in every contrib module; customenv
# takes the flags from here instead, listing only the modules gocv links.
opencv_libs=(core imgproc imgcodecs videoio highgui video objdetect calib3d features2d dnn photo)
ldflags=""
for m in "${opencv_libs[@]}"; do ldflags+=" -lopencv_$m"; done

# gosseract hard-codes -I/usr/local/include and -L/usr/local/lib: host
# paths, which --sysroot does not rewrite. Go puts CGO_CPPFLAGS/CGO_LDFLAGS
# before a package's own #cgo flags, so the sysroot's library folder is
# searched first, and Tesseract's and Leptonica's headers come from a folder
# that holds only those two (a plain -I of the sysroot's usr/include would be
# ignored: it is already a system folder). A Tesseract built from source
# into /usr/local on this machine (amd64, maybe another version) therefore
# never reaches the arm64 build.
incfirst=$cache/include-first
mkdir -p "$incfirst"
for d in tesseract leptonica; do ln -sfn "$sysroot/usr/include/$d" "$incfirst/$d"; done

cd "$root"
mkdir -p "$(dirname "$out")"
env \
  CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
  CC="$triple-gcc --sysroot=$sysroot" CXX="$triple-g++ --sysroot=$sysroot" \
  PKG_CONFIG_SYSROOT_DIR="$sysroot" PKG_CONFIG_PATH="" \
  PKG_CONFIG_LIBDIR="$sysroot/usr/lib/$triple/pkgconfig:$sysroot/usr/share/pkgconfig" \
  CGO_CPPFLAGS="-I$sysroot/usr/include/opencv4 -I$incfirst" \
  CGO_CXXFLAGS="-O2 -g" \
  CGO_LDFLAGS="-O2 -g -L$sysroot/usr/lib/$triple${ldflags}" \
  go build -tags 'libsqlite3 customenv' -ldflags "-X main.version=$version" -o "$out" ./cmd/kiosk
lap "go build (linux/arm64, cgo)"

# Every shared library the binary names must be in the sysroot (the same
# packages the .deb depends on; build/deb/test.sh maps each to a Depends).
mapfile -t needed < <("$triple-readelf" -d "$out" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
for n in "${needed[@]}"; do
  [ -e "$sysroot/usr/lib/$triple/$n" ] || [ -e "$sysroot/usr/lib/$n" ] ||
    { echo "rpi: $out needs $n, which is not in the sysroot" >&2; exit 1; }
done
for n in libtesseract.so.5 liblept.so.5 libgomp.so.1; do
  printf '%s\n' "${needed[@]}" | grep -qx "$n" || { echo "rpi: $out does not link $n (the MRZ OCR)" >&2; exit 1; }
done

size=$(stat -c %s "$out")
tmpstrip=$(mktemp)
"$triple-strip" -o "$tmpstrip" "$out"
stripped=$(stat -c %s "$tmpstrip")
rm -f "$tmpstrip"
printf 'rpi: %s: %.1f MB (%.1f MB stripped), %d shared libraries, version %s\n' "${out#"$root"/}" \
  "$(echo "$size / 1048576" | bc -l)" "$(echo "$stripped / 1048576" | bc -l)" "${#needed[@]}" "$version"
printf 'rpi: total %.1f s\n' "$(echo "$(date +%s.%N) - $t_start" | bc)"
