#!/usr/bin/env bash
# Peak memory of the streaming summary on a message with a 1 GiB base64
# attachment, and the check of the SHA-256 it prints.
#
#   bash crates/mime/scripts/stream-rss.sh [SIZE_BYTES]
#
# Needs /usr/bin/time (GNU time) and ~1.5 GB of free space in $TMPDIR.
set -euo pipefail
size="${1:-1073741824}"
cd "$(dirname "$0")/../../.."
cargo build --release -q -p mailwire-mime --example stream_summary
bin="${CARGO_TARGET_DIR:-target}/release/examples/stream_summary"
msg="${TMPDIR:-/tmp}/mailwire-mime-big.eml"
# The message, the summary and time's report go when the script ends,
# whichever way.
trap 'rm -f "$msg" "$msg.json" "$msg.time"' EXIT
want="$("$bin" gen "$msg" "$size")"
/usr/bin/time -v "$bin" "$msg" >"$msg.json" 2>"$msg.time"
rss_kb="$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$msg.time")"
got="$(grep -o '"sha256":"[0-9a-f]*"' "$msg.json" | tail -1 | cut -d'"' -f4)"
echo "peak RSS: ${rss_kb} KiB; attachment sha256: ${got}"
[ "$got" = "$want" ] || { echo "FAIL: sha256 differs from $want"; exit 1; }
[ "$rss_kb" -lt 32768 ] || { echo "FAIL: peak RSS over 32 MiB"; exit 1; }
echo "OK: under 32 MiB and the sha256 is right"
