#!/usr/bin/env bash
# Runs the per-frame benchmarks and a 30-second file run, and writes the
# skeleton's bench report to docs/bench/skeleton.md. Numbers on shared
# 2-core machines are noisy: compare ratios from one run, not absolute times
# across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/bench; mkdir -p "$out" docs/bench
tags="${TAGS:-libsqlite3}"
export LANG=en_US.UTF-8

echo "bench: go benchmarks (count 6, one core)"
go test -tags "$tags" -run '^$' -bench . -benchmem -count 6 -cpu 1 ./models ./capture ./checkin | tee "$out/frame.txt"
go tool benchstat -filter ".unit:sec/op" "$out/frame.txt" > "$out/frame.stat" 2>/dev/null || go tool benchstat "$out/frame.txt" > "$out/frame.stat"

echo "bench: 30-second file run"
# A real sample face with a pulse, checked in over and over against its
# matching ID photo, so every frame goes through the check-in's per-frame
# path (detection, quality gate, skin patches, rPPG, anti-spoof).
shared="${KIOSK_SHARED_DIR:-$(cd .. && pwd)/shared}"
face="$shared/data/faces/pairs/img20.jpg"
idphoto="$shared/data/faces/pairs/img21.jpg"
[ -f "$face" ] && [ -f "$idphoto" ] || { echo "bench: needs the shared sample photos in $shared/data/faces/pairs" >&2; exit 1; }
clip="$out/clip30.avi"
./bin/kiosk gen-clip --out "$clip" --seconds 30 --fps 30 --face "$face" --bpm 72 >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
run() { ./bin/kiosk run --headless --listen "" --data-dir "$data" --tpm sim --source "file:$clip" --auto-checkin --demo-photo "$idphoto" "$@" 2>/dev/null; }
unpaced=$(run --pace=false)
paced=$(run)
ops=$(run --pace=false --input-size 640)

{
  echo "# Bench report: capture and detection (walking skeleton)"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), OpenCV $(pkg-config --modversion opencv4)."
  echo "Command: \`make bench\` (build/bench.sh). Medians over 6 runs on one core (\`-cpu 1\`), by benchstat."
  echo
  echo "## Per-frame path"
  echo
  echo "\`BenchmarkFramePath\`: YuNet at 320 px on a 640×480 frame plus drawing the box. \`BenchmarkDetect640\` is the same detector at full size, for the ratio. \`BenchmarkStepLiveness\`: one frame of the check-in's pulse window (detection, quality gate, 14 skin patches, the estimator, the anti-spoof model every 8th frame). \`BenchmarkCheckIn\`: a whole check-in on recorded frames, from the ID photo to the sealed record."
  echo
  echo '```'
  cat "$out/frame.stat"
  echo '```'
  echo
  echo "## 30-second file run"
  echo
  echo "A generated 640×480, 30 fps, 900-frame lossless clip of the shared sample face with a 72 bpm pulse (\`kiosk gen-clip --seconds 30 --face … --bpm 72\`), through the headless kiosk checking the visitor in over and over (\`kiosk run --headless --auto-checkin --demo-photo …\`):"
  echo
  echo "- unpaced (\`--pace=false\`: every frame decoded and through the check-in, detection at 320 px, as fast as it goes): $unpaced"
  echo "- the same with detection at 640 px (\`--input-size 640\`), for the ratio: $ops"
  echo "- paced at the file's 30 fps, as a camera would deliver it: $paced"
} > docs/bench/skeleton.md
echo "bench: wrote docs/bench/skeleton.md"
