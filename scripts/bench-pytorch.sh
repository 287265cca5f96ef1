#!/usr/bin/env bash
# Speed and memory of swift-train next to the same LLaMA in plain PyTorch (scripts/llama_torch.py),
# eager and torch.compile, on the same config, data, batch shape and thread count. Runs the three
# alternately R times each and prints the medians of tokens/s and peak RSS, and the ratios.
#
#   scripts/bench-pytorch.sh CONFIG [--steps N] [--threads N] [--batch-size B] [--seq-len T]
#                                   [--runs R] [--warmup W] [--json]
#
# PyTorch lives in a virtual environment, ${SWIFT_TRAIN_TORCH_VENV:-~/.cache/swift-train/torch-venv},
# created on first use. swift-train is ${SWIFT_TRAIN_BIN:-.build/release/swift-train}. Its figures come
# from OUT/summary.json (all N steps timed); PyTorch times N steps after W untimed warm-up steps.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] && [ -f "$1" ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
config=$1; shift
steps=30 threads=$(nproc) runs=3 warmup=5 json=0 shape=()
while [ $# -gt 0 ]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --batch-size|--seq-len) shape+=("$1" "$2"); shift 2 ;;
    --json) json=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

venv=${SWIFT_TRAIN_TORCH_VENV:-$HOME/.cache/swift-train/torch-venv}
if ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  echo "creating $venv (torch, numpy)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # torch from the package index pip is set up with (SWIFT_TRAIN_TORCH_SPEC picks another
  # requirement or a local wheel, e.g. a CPU-only build). On Linux x86-64 the default build also
  # brings CUDA libraries: unused on a CPU, several GB on disk.
  "$venv/bin/pip" install -q "${SWIFT_TRAIN_TORCH_SPEC:-torch}" >&2
  "$venv/bin/pip" install -q numpy >&2
fi
py=$venv/bin/python

bin=${SWIFT_TRAIN_BIN:-.build/release/swift-train}
if [ ! -x "$bin" ]; then
  [ -z "${SWIFT_TRAIN_BIN:-}" ] || { echo "SWIFT_TRAIN_BIN=$bin is not an executable" >&2; exit 1; }
  swift build -c release >&2
fi
data=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("data", "data/kjv"))' "$config")
if [ ! -f "$data/train.bin" ] && [ "$data" = data/kjv ]; then SWIFT_TRAIN_BIN="$bin" bash scripts/prepare-kjv.sh >&2; fi

load_before=$(cut -d" " -f1-3 /proc/loadavg)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
results=$tmp/results.jsonl
for ((r = 1; r <= runs; r++)); do
  echo "run $r/$runs: swift-train" >&2
  "$bin" train --config "$config" --steps "$steps" --threads "$threads" "${shape[@]}" --grad-accum 1 \
    --eval-every 0 --eval-batches 0 --checkpoint-every 0 --log-every "$steps" --out "$tmp/swift-$r" >"$tmp/swift-$r.log" 2>&1 \
    || { cat "$tmp/swift-$r.log" >&2; exit 1; }
  "$py" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(json.dumps({"impl": "swift-train", **s}))' \
    "$tmp/swift-$r/summary.json" >>"$results"
  for mode in eager compiled; do
    echo "run $r/$runs: pytorch $mode" >&2
    flag=(); [ $mode = compiled ] && flag=(--compile)
    "$py" scripts/llama_torch.py "$config" --steps "$steps" --warmup "$warmup" --threads "$threads" "${shape[@]}" "${flag[@]}" \
      2>"$tmp/torch.log" | "$py" -c 'import json, sys; print(json.dumps({"impl": "pytorch", **json.loads(sys.stdin.read())}))' \
      >>"$results" || { cat "$tmp/torch.log" >&2; exit 1; }
  done
done

"$py" - "$results" "$config" "$json" "$load_before" "$(cut -d" " -f1-3 /proc/loadavg)" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(name, key):
    sel = [r for r in rows if (r["impl"] if r["impl"] == "swift-train" else r["mode"]) == name]
    return statistics.median(r[key] for r in sel)
torch_row = next(r for r in rows if r["impl"] == "pytorch")
names = ["swift-train", "eager", "compiled"]
out = {"config": sys.argv[2], "batch": torch_row["batch"], "seq_len": torch_row["seq_len"],
       "threads": torch_row["threads"], "steps": torch_row["steps"], "warmup_steps": torch_row["warmup_steps"],
       "runs": len(rows) // 3, "torch": torch_row["torch"], "loadavg_before": sys.argv[4], "loadavg_after": sys.argv[5],
       "median": {n: {"tokens_per_s": med(n, "tokens_per_s"), "peak_rss_bytes": med(n, "peak_rss_bytes")} for n in names}}
m = out["median"]
for n in ("eager", "compiled"):
    out[f"swift_over_{n}"] = {k: m["swift-train"][k] / m[n][k] for k in ("tokens_per_s", "peak_rss_bytes")}
out["torch_import_rss_bytes"] = statistics.median(r["import_rss_bytes"] for r in rows if r["impl"] == "pytorch")
out["runs_raw"] = rows
if sys.argv[3] == "1":
    print(json.dumps(out)); sys.exit()
print(f"{out['config']}: B{out['batch']}×T{out['seq_len']}, {out['threads']} threads, {out['steps']} steps "
      f"(PyTorch after {out['warmup_steps']} warm-up), median of {out['runs']} runs, torch {out['torch']}")
print(f"{'':22}{'tokens/s':>10}{'peak RSS MiB':>14}")
for n, label in zip(names, ["swift-train", "PyTorch eager", "PyTorch compiled"]):
    print(f"{label:22}{m[n]['tokens_per_s']:10.0f}{m[n]['peak_rss_bytes'] / 2**20:14.1f}")
for n in ("eager", "compiled"):
    q = out[f"swift_over_{n}"]
    print(f"{'swift-train / ' + n:22}{q['tokens_per_s']:9.2f}x{q['peak_rss_bytes']:13.2f}x")
def runs(name):
    return [r["tokens_per_s"] for r in rows if (r["impl"] if r["impl"] == "swift-train" else r["mode"]) == name]
print("tokens/s of each run, in order (swift-train / eager / compiled, one alternation each): "
      + "; ".join(" / ".join(f"{x:.0f}" for x in t) for t in zip(*(runs(n) for n in names))))
print(f"(PyTorch's peak includes {out['torch_import_rss_bytes'] / 2**20:.0f} MiB reached by importing torch)")
print(f"load average (1/5/15 min) before: {out['loadavg_before']}, after: {out['loadavg_after']}")
if float(out["loadavg_after"].split()[0]) > out["threads"] + 1:
    print("warning: other work shared the CPU during the runs; the timings are not reliable")
EOF
