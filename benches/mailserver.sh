#!/usr/bin/env bash
# Throughput of the mailserver example under Postfix's smtp-source, in one run:
#   1. Postfix smtp-sink (stores nothing)         -- the reference
#   2. mailserver --sink (reads every message completely, stores nothing)
#   3. mailserver with durable Maildir delivery (tmp/ -> new/, fsync of file
#      and directory before every 250)
# Each round runs 1-3 in turn; ROUNDS rounds (default 2), since the machine is
# shared. Prints messages per second and the ratio to smtp-sink.
#
#   bash benches/mailserver.sh                 # smtp-source -s 10 -m 20000 -l 2048
#   MSGS=5000 ROUNDS=1 bash benches/mailserver.sh
#
# Needs smtp-source and smtp-sink (apt-get install postfix; bash .ci/install-peers).
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESS=${SESS:-10}
SIZE=${SIZE:-2048}
ROUNDS=${ROUNDS:-2}
export PATH="$PATH:/usr/sbin"
for p in smtp-source smtp-sink python3; do
  command -v "$p" >/dev/null || { echo "missing $p (bash .ci/install-peers)" >&2; exit 1; }
done

cargo build --release --example mailserver --no-default-features --features line,sasl,message,mime,smtp >&2
BIN="${CARGO_TARGET_DIR:-target}/release/examples/mailserver"
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mailserver-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# CPU time (user + system, all threads) a process has used, in microseconds.
cpu_us() {
  python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print(int((int(f[11])+int(f[12]))*1e6/os.sysconf('SC_CLK_TCK')))"
}

# load PORT RCPT -> prints messages per second
load() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s "$SESS" -m "$MSGS" -l "$SIZE" -f bench@client.test -t "$2" "127.0.0.1:$1" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$MSGS/($end-$start):.0f}')"
}

declare -a R_SINK R_MS R_DUR C_SINK C_MS C_DUR
# measure NAME PID PORT: runs the load, records msg/s and server CPU us/msg
measure() {
  local c0 rate c1
  c0=$(cpu_us "$2")
  rate=$(load "$3" demo@localhost)
  c1=$(cpu_us "$2")
  eval "R_$1+=($rate)"
  eval "C_$1+=($(( (c1 - c0) / MSGS )))"
}
for round in $(seq 1 "$ROUNDS"); do
  # 1. Postfix smtp-sink
  port=$(free_port)
  smtp-sink -u nobody "127.0.0.1:$port" 256 &
  pid=$!; PIDS+=("$pid"); wait_port "$port"
  measure SINK "$pid" "$port"
  stop "$pid"

  # 2. mailserver --sink
  port=$(free_port)
  "$BIN" --sink --data "$WORK/sink$round" --smtp "127.0.0.1:$port" --no-submission --conn-rate 0 >/dev/null 2>"$WORK/sink$round.log" &
  pid=$!; PIDS+=("$pid"); wait_port "$port"
  measure MS "$pid" "$port"
  stop "$pid"

  # 3. mailserver, durable Maildir delivery
  port=$(free_port)
  "$BIN" --data "$WORK/durable$round" --smtp "127.0.0.1:$port" --no-submission --conn-rate 0 >/dev/null 2>"$WORK/durable$round.log" &
  pid=$!; PIDS+=("$pid"); wait_port "$port"
  measure DUR "$pid" "$port"
  stop "$pid"
  stored=$(find "$WORK/durable$round/mailboxes/demo/new" -type f | wc -l)
  [ "$stored" -eq "$MSGS" ] || { echo "round $round: $stored of $MSGS messages stored" >&2; exit 1; }
  rm -rf "$WORK/durable$round" "$WORK/sink$round"

  echo "round $round: smtp-sink ${R_SINK[-1]} msg/s (${C_SINK[-1]} us CPU/msg) | mailserver --sink ${R_MS[-1]} msg/s (${C_MS[-1]} us) | Maildir+fsync ${R_DUR[-1]} msg/s (${C_DUR[-1]} us)" >&2
done

echo "smtp-source -s $SESS -m $MSGS -l $SIZE, $ROUNDS rounds: messages per second; server CPU microseconds per message"
printf '%-28s %-24s %s\n' "Postfix smtp-sink" "${R_SINK[*]}" "${C_SINK[*]}"
printf '%-28s %-24s %s\n' "mailserver --sink" "${R_MS[*]}" "${C_MS[*]}"
printf '%-28s %-24s %s\n' "mailserver Maildir (fsync)" "${R_DUR[*]}" "${C_DUR[*]}"
for i in $(seq 0 $((ROUNDS - 1))); do
  python3 -c "print(f'round $((i + 1)): mailserver --sink / smtp-sink = {${R_MS[$i]}/${R_SINK[$i]}:.2f}, durable / smtp-sink = {${R_DUR[$i]}/${R_SINK[$i]}:.2f}')"
done
