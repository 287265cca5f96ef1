#!/usr/bin/env bash
# The main job on the shipped default data: set-up, the King James Bible corpus (prepared
# into data/kjv when missing), llama-tiny trained for 500 steps with AdamW, an evaluation
# and a sample. A few minutes on 2 cores; running it again starts the run over (--overwrite).
# Extra arguments go to `swift-train train`
# (e.g. --optimizer sgd --momentum 0.9 --lr 0.05 --out runs/sgd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BIN=.build/release/swift-train
if [ ! -f data/kjv/train.bin ] || [ ! -f data/kjv/val.bin ] || [ ! -f data/kjv/tokenizer.model ]; then
  SWIFT_TRAIN_BIN="$BIN" bash scripts/prepare-kjv.sh
fi
out=runs/llama-tiny
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = "--out" ] && out="${args[i+1]:-$out}"; done
"$BIN" train --config configs/llama-tiny.json --overwrite "$@"
"$BIN" eval --checkpoint "$out"
echo "sample:"
"$BIN" sample --checkpoint "$out" --prompt "In the beginning" --tokens 60 --seed 1
