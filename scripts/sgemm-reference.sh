#!/usr/bin/env bash
# Compares `swift-train bench`'s sgemm GFLOP/s with a plain C program calling the same
# system OpenBLAS (scripts/sgemm_reference.c, same timing method), measured back to back in
# one run, and prints both side by side with the Swift/C ratio.
#
# Usage: scripts/sgemm-reference.sh [--threads N] [--quick] [--rounds R]
#   --threads N  threads for both (0 = all cores, the default)
#   --quick      few repetitions (smoke test)
#   --rounds R   alternate C and Swift R times (default 1), one table per round
# SWIFT_TRAIN=path selects the swift-train binary (default .build/release/swift-train,
# built with `swift build -c release` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

threads=0 quick=() rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="${2:?--threads needs a count}"; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --rounds) rounds="${2:?--rounds needs a count}"; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--quick] [--rounds R]" >&2; exit 2 ;;
  esac
done
case "$threads$rounds" in *[!0-9]*) echo "sgemm-reference: --threads and --rounds take whole numbers" >&2; exit 2 ;; esac

bash scripts/setup.sh   # packages (OpenBLAS, pkg-config) and the release build
mkdir -p .build
reference=.build/sgemm-reference
if [ ! -x "$reference" ] || [ scripts/sgemm_reference.c -nt "$reference" ]; then
  # shellcheck disable=SC2046  # pkg-config prints several flags
  gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -o "$reference" scripts/sgemm_reference.c $(pkg-config --cflags --libs openblas)
fi

swift_train="${SWIFT_TRAIN:-.build/release/swift-train}"
if [ ! -x "$swift_train" ]; then
  echo "sgemm-reference: building $swift_train" >&2
  swift build -c release >&2
fi

# The value of "n": in the "sgemm_gflops" object of a one-line JSON report.
gflops() {
  sed -e 's/.*"sgemm_gflops": {\([^}]*\)}.*/\1/' <<<"$1" | tr ',' '\n' | sed -n "s/ *\"$2\": *//p"
}

c_threads=$threads
[ "$threads" -eq 0 ] && c_threads=$(nproc)
# The C program runs OpenBLAS with the settings swift-train gives it (its kernels, as
# "openblas_core" reports them, and the thread timeout), so both use the same code.
core=$("$swift_train" bench --json --quick --threads 1 | sed -n 's/.*"openblas_core": *"\([^"]*\)".*/\1/p')
for ((round = 1; round <= rounds; round++)); do
  c_json=$(OPENBLAS_CORETYPE="${core:-${OPENBLAS_CORETYPE:-}}" OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-18}" \
    "$reference" --json --threads "$c_threads" "${quick[@]}")
  swift_json=$("$swift_train" bench --json --threads "$threads" "${quick[@]}")
  echo "sgemm C = A·B, square, GFLOP/s (median of repetitions), threads $c_threads, OpenBLAS kernels ${core:-?}; round $round of $rounds"
  printf '  %6s %10s %10s %9s\n' n C Swift Swift/C
  for n in 512 1024 2048; do
    c=$(gflops "$c_json" "$n") s=$(gflops "$swift_json" "$n")
    printf '  %6s %10.1f %10.1f %9.3f\n' "$n" "$c" "$s" "$(awk -v s="$s" -v c="$c" 'BEGIN { printf "%.3f", s / c }')"
  done
done
