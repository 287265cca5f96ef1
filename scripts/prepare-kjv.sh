#!/usr/bin/env bash
# Builds the King James Bible corpus from Debian's bible-kjv package and tokenizes it:
#   data/kjv.txt  one verse per line, verse references removed, a blank line between books
#                 (so each of the 66 books is one document);
#   data/kjv/     tokenizer.model (BPE, 4096 pieces), train.bin, val.bin (llm.c shards).
# Environment: SWIFT_TRAIN_BIN (default .build/release/swift-train), VOCAB_SIZE (4096).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN="${SWIFT_TRAIN_BIN:-.build/release/swift-train}"
VOCAB_SIZE="${VOCAB_SIZE:-4096}"

# scripts/setup.sh installs bible-kjv and builds the release binary; use it when either is
# missing (skipping its build when the binary is already there).
if { ! command -v bible >/dev/null 2>&1 || [ ! -x "$BIN" ]; } && [ -f scripts/setup.sh ]; then
    if [ -x "$BIN" ]; then SWIFT_TRAIN_SKIP_BUILD=1 bash scripts/setup.sh; else bash scripts/setup.sh; fi
fi
if ! command -v bible >/dev/null 2>&1; then
    echo "installing bible-kjv (apt-get) ..." >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "error: the 'bible' command (Debian package bible-kjv) is missing and neither root nor sudo is available; install bible-kjv" >&2
        exit 1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bible-kjv
fi
if [ ! -x "$BIN" ]; then
    echo "error: $BIN not found; build it with 'swift build -c release --product swift-train' or set SWIFT_TRAIN_BIN" >&2
    exit 1
fi

mkdir -p data
# `bible -f` turns pretty-printing off: one verse per line, "Ge1:1 In the beginning ...".
# A line that does not start with a reference continues the previous verse (bible wraps
# only with -l, but join defensively). The book name (letters after an optional digit)
# changes between books; a blank line is written there.
tmp="data/.kjv.txt.tmp-$$"
trap 'rm -f "$tmp"' EXIT
bible -f "Gen1:1-Rev22:21" | awk '
    /^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ / {
        ref = $1
        book = ref; sub(/[0-9]+:[0-9]+$/, "", book)
        text = substr($0, length(ref) + 2)
        if (verse != "") print verse
        if (lastbook != "" && book != lastbook) print ""
        lastbook = book
        verse = text
        next
    }
    NF > 0 { sub(/^[ \t]+/, ""); verse = verse " " $0 }
    END { if (verse != "") print verse }
' > "$tmp"
lines=$(grep -c . "$tmp" || true)
if [ "$lines" -ne 31102 ]; then
    echo "error: expected 31102 verses from bible-kjv, got $lines" >&2
    exit 1
fi
mv "$tmp" data/kjv.txt
trap - EXIT
echo "data/kjv.txt: $lines verses, $(wc -c < data/kjv.txt) bytes" >&2

"$BIN" prepare --input data/kjv.txt --out data/kjv --vocab-size "$VOCAB_SIZE" --model-type bpe
