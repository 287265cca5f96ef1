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
  openmpi-bin libopenmpi-dev  # data-parallel training under mpirun (loaded only then) and its tests
  iproute2            # ip netns: the two-host test (scripts/mpi-two-hosts.sh)
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
  # A fresh machine often runs another package manager at boot: wait for its lock (up to
  # 10 minutes, saying so) instead of failing at once.
  apt_wait() {
    for attempt in $(seq 60); do
      if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@"; then return 0; fi
      echo "setup: apt-get $1 failed, most likely another package manager holds the lock; retrying in 10 s ($attempt/60)" >&2
      sleep 10
    done
    echo "setup: apt-get $1 still fails after 10 minutes; see the messages above" >&2
    return 1
  }
  apt_wait update -qq
  apt_wait install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
  echo "setup: the Swift toolchain (6.x) is not on PATH; install it from swift.org and re-run" >&2
  exit 1
fi

if [ "${SWIFT_TRAIN_SKIP_BUILD:-0}" != "1" ]; then
  echo "setup: building release (swift build -c release)"
  swift build -c release
fi
