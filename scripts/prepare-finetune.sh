#!/usr/bin/env bash
# Builds the fine-tuning corpus: the software licenses every Debian system ships in
# /usr/share/common-licenses (Apache, Artistic, BSD, GFDL, GPL, LGPL, MPL, CC0; each text
# once, symlinked aliases skipped), modern legal English, far from the King James Bible the
# models are pre-trained on. Tokenized with data/kjv's tokenizer, so a model pre-trained on
# data/kjv can be fine-tuned on it:
#   data/licenses.txt  one license per document (blank lines between paragraphs kept inside)
#   data/licenses/     tokenizer.model (a copy of data/kjv's), train.bin, val.bin
# Environment: SWIFT_TRAIN_BIN (default .build/release/swift-train).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN="${SWIFT_TRAIN_BIN:-.build/release/swift-train}"
SRC=/usr/share/common-licenses

if [ ! -f data/kjv/tokenizer.model ]; then
    echo "data/kjv is missing; making it first (scripts/prepare-kjv.sh) ..." >&2
    bash scripts/prepare-kjv.sh
fi
if [ ! -d "$SRC" ]; then
    echo "error: $SRC is missing (Debian's base-files package provides it); give another text with: $BIN prepare --input FILE --out data/NAME --tokenizer data/kjv/tokenizer.model" >&2
    exit 1
fi

mkdir -p data
tmp="data/.licenses.txt.tmp-$$"
trap 'rm -f "$tmp"' EXIT
: > "$tmp"
count=0
# Regular files only (GPL, LGPL, GFDL are symlinks to a versioned text), in name order.
for f in $(find "$SRC" -maxdepth 1 -type f | LC_ALL=C sort); do
    # Paragraph breaks inside a license become single line breaks, so that the blank line
    # between licenses is the only document boundary.
    awk 'NF > 0 { sub(/^[ \t]+/, ""); print }' "$f" >> "$tmp"
    echo >> "$tmp"
    count=$((count + 1))
done
mv "$tmp" data/licenses.txt
trap - EXIT
echo "data/licenses.txt: $count licenses, $(wc -c < data/licenses.txt) bytes" >&2

"$BIN" prepare --input data/licenses.txt --out data/licenses --tokenizer data/kjv/tokenizer.model --val-fraction 0.15
