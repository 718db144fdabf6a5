#!/usr/bin/env bash
# Check the kiosk .deb: its control file and maintainer scripts, then install,
# upgrade, remove and purge it in a throwaway root (dpkg --root with
# --force-script-chrootless: the maintainer scripts run on this machine with
# DPKG_ROOT set, and touch only the throwaway root), checking the users, the
# data directory's owner and mode, that data survives upgrade and remove and
# goes on purge, that the installed units pass systemd-analyze verify, and
# their systemd-analyze security exposure (kiosk.service and
# kiosk-models.service must score <= 3.0).
#
#   build/deb/test.sh [PATH.deb]     (default: the newest bin/kiosk_*_arm64.deb)
#
# Needs root (useradd/chown in the throwaway root). Exits non-zero on any
# failed check.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
deb=${1:-$(ls -t "$root"/bin/kiosk_*_arm64.deb 2>/dev/null | head -1)}
[ -f "$deb" ] || { echo "deb-test: no .deb; run build/deb/build.sh" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "deb-test: needs root (it runs useradd and chown inside a throwaway root)" >&2
  exit 1
fi

# systemd-analyze comes with Debian's systemd package. Installed, not booted,
# is enough: both checks read unit files only, and the throwaway root borrows
# its /usr/lib/systemd/system.
if ! command -v systemd-analyze >/dev/null; then
  echo "deb-test: installing systemd for systemd-analyze"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null ||
    { echo "deb-test: FAIL could not install systemd (for systemd-analyze verify/security)" >&2; exit 1; }
fi

fails=0
ok() { echo "deb-test: ok   $*"; }
bad() { echo "deb-test: FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}

# --- the package as built --------------------------------------------------
ctl=$(dpkg-deb --field "$deb")
contents=$(dpkg-deb --contents "$deb" | awk '{print $1, $6}')
check "Architecture is arm64" grep -qx 'Architecture: arm64' <<<"$ctl"
for dep in libopencv-core406 libopencv-dnn406 libopencv-videoio406 libsqlite3-0 libssl3 libtesseract5 liblept5 libgomp1 \
  libgl1 libx11-6 passwd tpm-udev; do
  check "Depends on $dep" grep -qE "^Depends:.*(^| )$dep([ ,]|$)" <<<"$ctl"
done
check "swtpm only suggested" grep -qE '^Suggests:.*swtpm' <<<"$ctl"
for f in ./usr/bin/kiosk ./lib/systemd/system/kiosk.service ./lib/systemd/system/kiosk-models.service \
  ./lib/systemd/system/kiosk-display.service ./usr/share/doc/kiosk/README.md; do
  check "ships $f" grep -q " $f\$" <<<"$contents"
done
check "binary is 0755" grep -qx -- '-rwxr-xr-x ./usr/bin/kiosk' <<<"$contents"
check "no model weights shipped" bash -c '! grep -qiE "\.(onnx|caffemodel|tflite|pb|traineddata)$" <<<"$1"' _ "$contents"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work"
for s in postinst prerm postrm; do check "$s is executable and parses" sh -n "$work/$s"; done
check "postrm deletes data only under purge" \
  awk '/^purge\)/{p=1} /^\t;;/{p=0} /rm -rf/{ if (!p) exit 1; n++ } END { exit n == 1 ? 0 : 1 }' "$work/postrm"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/bin/kiosk ./lib/systemd/system/kiosk.service
check "binary is an ARM aarch64 ELF" grep -q 'ARM aarch64' <<<"$(file -b "$work/usr/bin/kiosk")"
# Every library the binary names (DT_NEEDED) must come from a package in
# Depends: a library added to the build without its Depends fails here.
pkg_of() { # pkg_of SONAME: the Debian 12 arm64 package that ships it
  case $1 in
  libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | libresolv.so.2 | ld-linux-aarch64.so.1) echo libc6 ;;
  libgcc_s.so.1) echo libgcc-s1 ;;
  libstdc++.so.6) echo libstdc++6 ;;
  libgomp.so.1) echo libgomp1 ;;
  libopencv_*.so.406) local m=${1#libopencv_}; echo "libopencv-${m%.so.406}406" | tr _ - ;;
  libsqlite3.so.0) echo libsqlite3-0 ;;
  libcrypto.so.3 | libssl.so.3) echo libssl3 ;;
  libtesseract.so.5) echo libtesseract5 ;;
  liblept.so.5) echo liblept5 ;;
  libGL.so.1) echo libgl1 ;;
  libX11.so.6) echo libx11-6 ;;
  libXrandr.so.2) echo libxrandr2 ;;
  libXcursor.so.1) echo libxcursor1 ;;
  libXi.so.6) echo libxi6 ;;
  libXinerama.so.1) echo libxinerama1 ;;
  libXxf86vm.so.1) echo libxxf86vm1 ;;
  esac
}
depends=$(sed -n 's/^Depends: //p' <<<"$ctl" | tr ',' '\n' | sed 's/^ *//; s/ .*//')
needed=$(readelf -d "$work/usr/bin/kiosk" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
unmet=()
for n in $needed; do
  p=$(pkg_of "$n")
  if [ -z "$p" ]; then unmet+=("$n (no package known: add it to pkg_of here and to Depends)")
  elif ! grep -qx "$p" <<<"$depends"; then unmet+=("$n ($p)"); fi
done
((${#unmet[@]} == 0)) && ok "Depends covers all $(wc -w <<<"$needed") libraries the binary needs" ||
  bad "Depends lacks what the binary needs: ${unmet[*]}"
check "kiosk.service holds OpenMP (Tesseract) to one thread" \
  grep -qx 'Environment=OMP_THREAD_LIMIT=1' "$work/lib/systemd/system/kiosk.service"

# --- a throwaway root ------------------------------------------------------
R=$work/root
mkdir -p "$R"/usr/{bin,sbin,lib} "$R"/etc/systemd/system "$R"/var/lib/dpkg/{info,updates,triggers} "$R/var/lib"
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"
: >"$R/var/lib/dpkg/status"; : >"$R/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\n' >"$R/etc/group" # no tss/render/input: postinst must add them
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:*::\nvideo:!::\n' >"$R/etc/gshadow"
cp /etc/login.defs "$R/etc/login.defs"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
# systemd's own units, so verify can resolve the targets ours refer to.
mkdir -p "$R/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
# cage is only recommended, so not installed here: a stand-in executable
# lets verify check kiosk-display.service (it checks ExecStart exists).
printf '#!/bin/sh\nexit 1\n' >"$R/usr/bin/cage"
chmod 0755 "$R/usr/bin/cage"

# --force-depends: the throwaway root holds none of the arm64 libraries;
# --force-architecture: this machine's dpkg is amd64. Output goes to a log,
# shown if a step fails.
dpkg_r() {
  dpkg --root="$R" --force-script-chrootless --force-depends --force-architecture --log=/dev/null "$@" \
    >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; bad "dpkg $*"; }
}
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$R/etc/passwd"; }
in_group() { awk -F: -v g="$2" -v u="$1" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' "$R/etc/group"; }

echo "deb-test: install into $R"
dpkg_r -i "$deb"
check "installed" grep -q '^Status: install ok installed' "$R/var/lib/dpkg/status"
check "user kiosk created" test -n "$(uid_of kiosk)"
check "kiosk is a system user (uid < 1000)" test "$(uid_of kiosk)" -lt 1000
check "kiosk has no login shell" grep -q '^kiosk:.*:/usr/sbin/nologin$' "$R/etc/passwd"
check "kiosk in group tss" in_group kiosk tss
check "kiosk in group video" in_group kiosk video
check "kiosk not in group input" bash -c "$(declare -f in_group); R='$R'; ! in_group kiosk input"
check "kiosk-display in groups video,render,input" bash -c "$(declare -f in_group); R='$R'; in_group kiosk-display video && in_group kiosk-display render && in_group kiosk-display input"
check "data dir owned by kiosk, mode 0700" test "$(stat -c '%u %a' "$R/var/lib/kiosk")" = "$(uid_of kiosk) 700"
check "models dir owned by kiosk, mode 0700" test "$(stat -c '%u %a' "$R/var/lib/kiosk/models")" = "$(uid_of kiosk) 700"
check "kiosk.service enabled" test -L "$R/etc/systemd/system/graphical.target.wants/kiosk.service"
check "kiosk-display.service enabled" test -L "$R/etc/systemd/system/graphical.target.wants/kiosk-display.service"
out=$(systemd-analyze verify --root="$R" kiosk.service kiosk-models.service kiosk-display.service 2>&1) && [ -z "$out" ] &&
  ok "systemd-analyze verify: the installed units are clean" || bad "systemd-analyze verify: $out"
exposure() { # exposure UNIT: systemd-analyze security's overall score, offline, in the throwaway root
  systemd-analyze security --offline=true --root="$R" "$1" 2>/dev/null |
    sed -n "s/.*Overall exposure level for $1: \([0-9.]*\).*/\1/p"
}
for u in kiosk.service kiosk-models.service kiosk-display.service; do
  score=$(exposure "$u")
  echo "deb-test: systemd-analyze security $u: exposure ${score:-?}"
  case $u in
  # cage needs the GPU, the tty and input devices: not scored against 3.0.
  kiosk-display.service) [ -n "$score" ] || bad "no exposure score for $u" ;;
  *) check "$u exposure ${score:-?} <= 3.0" awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 3.0) }' ;;
  esac
done

# Data written by the kiosk must survive an upgrade (same package again
# takes the upgrade path: prerm upgrade, postinst configure OLD-VERSION).
echo sealed >"$R/var/lib/kiosk/record.db"
chown "$(uid_of kiosk)" "$R/var/lib/kiosk/record.db"
uid_before=$(uid_of kiosk)
echo "deb-test: upgrade (reinstall over itself)"
dpkg_r -i "$deb"
check "upgrade keeps the data" grep -qx sealed "$R/var/lib/kiosk/record.db"
check "upgrade keeps the uid" test "$(uid_of kiosk)" = "$uid_before"
check "upgrade adds no duplicate user" test "$(grep -c '^kiosk:' "$R/etc/passwd")" = 1

echo "deb-test: remove"
dpkg_r -r kiosk
check "binary gone after remove" test ! -e "$R/usr/bin/kiosk"
check "remove keeps the data" grep -qx sealed "$R/var/lib/kiosk/record.db"
check "remove keeps the user (files stay owned)" test -n "$(uid_of kiosk)"
check "remove disables the units" test ! -e "$R/etc/systemd/system/graphical.target.wants/kiosk.service"

echo "deb-test: purge"
dpkg_r -P kiosk
check "purge deletes the data dir" test ! -e "$R/var/lib/kiosk"
check "purge deletes the users" bash -c '! grep -qE "^kiosk(-display)?:" "$1"' _ "$R/etc/passwd"
check "purge leaves the system groups" grep -q '^tss:' "$R/etc/group"
check "package gone from dpkg" bash -c '! grep -q "^Package: kiosk$" "$1"' _ "$R/var/lib/dpkg/status"

if ((fails)); then
  echo "deb-test: $fails check(s) failed"
  exit 1
fi
echo "deb-test: all checks passed"
