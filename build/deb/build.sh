#!/usr/bin/env bash
# Package the arm64 kiosk as a .deb for Raspberry Pi OS / Debian 12 arm64,
# with dpkg-deb (no debhelper, no network):
#
#   build/deb/build.sh        -> bin/kiosk_VERSION_arm64.deb
#
# Builds bin/kiosk-linux-arm64 first (build/rpi/build.sh) if it is missing.
# The package carries the stripped binary, the three systemd units and the Pi
# guide; no model weights, the OCR's mrz.traineddata included
# (kiosk-models.service fetches them all, pinned by sha256, on first start).
# Maintainer scripts are in this folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${KIOSK_RPI_OUT:-$root/bin/kiosk-linux-arm64}
[ -x "$bin" ] || "$root/build/rpi/build.sh"

# A Debian version must start with a digit; git describe gives the rest.
desc=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
count=$(git -C "$root" rev-list --count HEAD 2>/dev/null || echo 0)
version=${DEB_VERSION:-0.1.0~git$count.$(echo "$desc" | tr -c 'A-Za-z0-9.+~\n' '.')}
out=${DEB_OUT:-$root/bin/kiosk_${version}_arm64.deb}

stage=$root/.cache/deb/kiosk
rm -rf "$stage"
install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/share/doc/kiosk"
aarch64-linux-gnu-strip -o "$stage/usr/bin/kiosk" "$bin"
chmod 0755 "$stage/usr/bin/kiosk"
for u in kiosk.service kiosk-models.service kiosk-display.service; do
  install -m 0644 "$root/build/rpi/$u" "$stage/lib/systemd/system/$u"
done
install -m 0644 "$root/build/rpi/README.md" "$stage/usr/share/doc/kiosk/README.md"
cat >"$stage/usr/share/doc/kiosk/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kiosk
Comment: Model weights (the face models and the OCR's mrz.traineddata) are
 not included; "kiosk models fetch" downloads them from their upstream
 sources under their own licences.
EOF
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$stage/DEBIAN/$s"; done

# Depends: what the binary loads (DT_NEEDED: OpenCV 4.6 modules, SQLite,
# libcrypto, Tesseract and Leptonica for the MRZ, libgomp for their OpenMP,
# libGL, X11; build/deb/test.sh maps every DT_NEEDED to one of these) plus
# the X libraries GLFW opens at run time; passwd for useradd; tpm-udev for
# the tss group and the /dev/tpmrm0 rule. Versions as Debian's shlibs say.
cat >"$stage/DEBIAN/control" <<EOF
Package: kiosk
Version: $version
Architecture: arm64
Maintainer: Kiosk maintainers <kiosk@localhost>
Section: misc
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: libc6 (>= 2.36), libgcc-s1, libstdc++6 (>= 12), libopencv-core406, libopencv-imgproc406, libopencv-imgcodecs406, libopencv-videoio406, libopencv-highgui406, libopencv-video406, libopencv-objdetect406, libopencv-calib3d406, libopencv-features2d406, libopencv-dnn406, libopencv-photo406, libsqlite3-0 (>= 3.40), libssl3, libtesseract5 (>= 5.3.0), liblept5, libgomp1, libgl1, libx11-6, libxrandr2, libxcursor1, libxi6, libxinerama1, libxxf86vm1, passwd, tpm-udev
Recommends: cage, xwayland, libgl1-mesa-dri, locales
Suggests: swtpm, swtpm-tools, tpm2-tools
Description: privacy-first identity check-in kiosk
 Camera capture, face detection and matching, the identity document's
 machine-readable zone read with Tesseract, with a TPM-sealed local store,
 shown fullscreen on a touchscreen. Runs as the sandboxed kiosk.service on
 the display of kiosk-display.service (cage). Removing the package keeps
 /var/lib/kiosk; purging it deletes the sealed records and key blobs.
EOF

mkdir -p "$(dirname "$out")"
# One package in bin/ at a time (test.sh takes the newest): drop those of
# earlier versions rather than let them pile up.
if [ -z "${DEB_OUT:-}" ]; then
  for old in "$root"/bin/kiosk_*_arm64.deb; do
    [ "$old" = "$out" ] || rm -f "$old"
  done
fi
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "deb: ${out#"$root"/} ($(du -h "$out" | cut -f1))"
