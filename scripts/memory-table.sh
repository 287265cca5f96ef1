#!/usr/bin/env bash
# Measured peak memory per optimizer and memory lever, for the README's memory section.
# For each model config, optimizer and lever set it trains a few steps on data/kjv (one
# process per run; grad_accum 1 and grad_clip 0 everywhere, so per_layer_update is allowed
# and every row runs the same step) and reads the run's summary.json: peak RSS and its
# account (parameters, gradients, optimizer state, activations, pool free). The prediction of
# `swift-train memory` for the same settings is printed beside it.
# Usage: scripts/memory-table.sh [CONFIG:B:T …]   (default: llama-small 8×256, llama-60m 8×256)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SWIFT_TRAIN_BIN:-.build/release/swift-train}
STEPS=${STEPS:-3}
THREADS=${THREADS:-2}
[ -x "$BIN" ] || swift build -c release >/dev/null
[ -f data/kjv/train.bin ] || SWIFT_TRAIN_BIN="$BIN" bash scripts/prepare-kjv.sh
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(configs/llama-small.json:8:256 configs/llama-60m.json:8:256)
optimizers=("adamw" "adamw,state_bits=8" "galore" "apollo-mini")
levers=("" "per_layer_update=true" "activation_checkpointing=true" "per_layer_update=true,activation_checkpointing=true")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
echo "| model, B×T | optimizer | levers | peak RSS MiB | parameters | gradients | optimizer state | activations | optimizer work | pool free | predicted MiB |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for shape in "${shapes[@]}"; do
  IFS=: read -r config b t <<<"$shape"
  name=$(basename "$config" .json)
  for opt in "${optimizers[@]}"; do
    for lever in "${levers[@]}"; do
      spec="$opt${lever:+,$lever}"
      flags=()
      IFS=, read -ra parts <<<"$spec"
      for kv in "${parts[@]:1}"; do flags+=("--${kv%%=*}" "${kv#*=}"); done
      flags=("${flags[@]//_/-}")
      out="$tmp/run"
      rm -rf "$out"
      "$BIN" train --config "$config" --optimizer "${parts[0]}" "${flags[@]}" --batch-size "$b" --seq-len "$t" \
        --grad-accum 1 --grad-clip 0 --steps "$STEPS" --warmup-steps 0 --eval-batches 0 --eval-every 0 \
        --threads "$THREADS" --out "$out" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
      s="$out/summary.json"
      predicted=$("$BIN" memory --config "$config" --optimizer "$spec,grad_accum=1,grad_clip=0" --batch-size "$b" --seq-len "$t" \
        --threads "$THREADS" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['rows'][0]['total_bytes'])")
      echo "| $name, $b×$t | \`$opt\` | ${lever:-none} | $(mib "$(field "$s" peak_rss_bytes)") | $(mib "$(field "$s" mem_parameters_bytes)") | $(mib "$(field "$s" mem_gradients_bytes)") | $(mib "$(field "$s" opt_state_bytes)") | $(mib "$(field "$s" mem_activations_bytes)") | $(mib "$(field "$s" mem_optimizer_work_bytes)") | $(mib "$(field "$s" mem_pool_free_bytes)") | $(mib "$predicted") |"
    done
  done
done
