#!/usr/bin/env bash
# Runs the whole test suite: set-up (packages), then `swift test` in release, because the
# numeric tests are unusably slow at -Onone. Release tests use only the public API.
# Ends with a plain "N passed, N failed, N skipped" line taken from XCTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT_TRAIN_SKIP_BUILD=1 bash scripts/setup.sh
swift build -c release --build-tests
# WideTiles is built for AVX-512 and called only where the processor has it. It must define no
# shared (weak) code: the linker keeps one copy of such code for the whole binary, and the
# AVX-512 copy could then run on processors without AVX-512.
for wide in .build/release/WideTiles.build/*.o; do
  [ -f "$wide" ] && command -v nm >/dev/null || continue
  shared=$(nm "$wide" | awk '$2 == "W" { print $3 }')
  if [ -n "$shared" ]; then
    echo "error: $wide defines shared code built for AVX-512 (inline it into WideTiles' own functions):" >&2
    echo "$shared" >&2
    exit 1
  fi
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test -c release --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
summary=$(grep -E "Executed [0-9]+ tests?, with " "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
  skipped=0
  if grep -qE "[0-9]+ tests? skipped" <<<"$summary"; then
    skipped=$(sed -E 's/.* ([0-9]+) tests? skipped.*/\1/' <<<"$summary")
  fi
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$status"
