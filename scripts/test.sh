#!/usr/bin/env bash
# Runs the whole test suite: set-up (packages), then `swift test` in release, because the
# numeric tests are unusably slow at -Onone. Release tests use only the public API.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT_TRAIN_SKIP_BUILD=1 bash scripts/setup.sh
swift build -c release --build-tests
swift test -c release --skip-build "$@"
