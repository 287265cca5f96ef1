#!/usr/bin/env bash
# Set-up for swift-train on Debian: installs the system packages the project needs when
# they are missing (as root, or through sudo), then builds the release binary
# .build/release/swift-train. Safe to run again: it installs only what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  pkg-config          # SwiftPM finds OpenBLAS through pkg-config
  libopenblas-dev     # BLAS (sgemm) and LAPACK (SVD, eigen, QR)
  libsentencepiece-dev sentencepiece  # tokenizer library, and spm_encode for the cross-check test
  zlib1g-dev
  bible-kjv           # the shipped default corpus (King James Bible, public domain)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
  echo "setup: the Swift toolchain (6.x) is not on PATH; install it from swift.org and re-run" >&2
  exit 1
fi

if [ "${SWIFT_TRAIN_SKIP_BUILD:-0}" != "1" ]; then
  echo "setup: building release (swift build -c release)"
  swift build -c release
fi
