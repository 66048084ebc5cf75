#!/usr/bin/env bash
# Throughput of the mailserver example under Postfix's smtp-source, in one run:
#   1. Postfix smtp-sink (stores nothing)         -- the reference
#   2. mailserver --sink (reads every message completely, stores nothing)
#   3. mailserver with durable Maildir delivery (tmp/ -> new/, fsync of file
#      and directory before every 250)
# Each round runs 1-3 in turn; ROUNDS rounds (default 2), since the machine is
# shared. Prints messages per second and the server's CPU time (user +
# system, all threads, from /proc/PID/stat) per message, and per round the
# ratios to smtp-sink: messages per second (higher is better) and CPU per
# message (lower is better).
#
#   bash benches/mailserver.sh                 # smtp-source -s 10 -m 20000 -l 2048
#   MSGS=5000 ROUNDS=1 bash benches/mailserver.sh
#   DURABLE=0 bash benches/mailserver.sh       # skip 3 (the fsync run)
#   CONNECTIONS=threads bash benches/mailserver.sh   # the server's --connections (default: pool)
#   PERSIST=1 bash benches/mailserver.sh       # smtp-source -d: one connection per session, not per message
#   bash benches/mailserver.sh --build-only    # CI: build what the script runs, run nothing
#
# Needs smtp-source and smtp-sink (apt-get install postfix; bash .ci/install-peers).
# Everything listens on 127.0.0.1 only.
#
# Where the time of `--sink` goes (perf record -g -p PID and strace -c -f -p PID
# on the running server, December 2026, 2-core VM): smtp-source speaks
# lock-step HELO/MAIL/RCPT/DATA/QUIT over one connection per message, so each
# message costs 7 sendto and 6 recvfrom, one per reply and per command; no
# implementation can batch them. 65-74% of the server's CPU is in the kernel:
# tcp_sendmsg alone (which on loopback also delivers to the client and wakes it)
# is ~29%, the wake-ups and context switches of one blocked thread per
# connection ~12%, the accept thread's hand-off to a worker (mpsc channel,
# futex) ~5% (since removed, below). smtp-sink has the same socket calls plus ~19 poll and 8
# sigprocmask per message, and the same 65/35 kernel/user split. Before the
# changes below the server also made per message a shutdown() (half failing
# with ENOTCONN), a 16 KiB zeroed buffer and a dozen formatted strings; those
# are gone, which moved the CPU per message by less than the noise between
# runs (136-154 us before, 151-154 us after, smtp-sink 146-152 us, in one
# interleaved run). The accept thread's hand-off is gone too: each session
# thread accepts its own connections (leader/followers), which took the CPU
# per message from 96-104 us to 90-97 us against smtp-sink's 82-83 us (3
# alternating runs, December 2026, third machine) and left the messages per
# second where they were. Setting TCP_NODELAY and the send timeout once on
# the listening socket, which Linux's accepted sockets inherit, took two
# setsockopt calls per connection away (88-89 us against 90-92 us, 3
# alternating runs). What is left beyond the socket calls: one setsockopt
# per connection (the read timeout), the check for the recipient's forward
# file (one failing openat) and the log line (one write per message).
#
# The thread switches went with the connection pool (examples/mailserver/pool.rs,
# December 2026): one thread per CPU over an epoll set takes whichever
# connection has input, so under load it goes from one connection to the next
# without sleeping. Third machine, 3 rounds: 58-64 us CPU per message against
# smtp-sink's 78-81 (0.73-0.80x), 0.92-1.11x its messages per second; a
# minimal single-threaded epoll loop over the same SMTP machine (no mail
# server behind it) measured 47 us, and the pool with one thread instead of
# two 54 us at 0.96-0.98x the messages per second. strace -c -f per message
# now: 7 sendto, 6.5 recvfrom (0.5 of them EAGAIN: on loopback the next
# command is usually there before the server looks), 2 epoll_ctl (the
# listener's one-shot re-arm, the connection's add), 1.5 epoll_wait, accept4,
# close, the log line's write and the forward file's openat. 75% of the
# server's samples are in the kernel, 12% of all where a thread sleeps in
# epoll_wait and is woken. Messages per second are bounded by smtp-source:
# it is one process, and under /usr/bin/time it used 1.57-1.63 s of CPU for
# its 20,000 messages in 1.64-1.75 s against either server (one core full,
# 80 us a message), so no server can be given more than about 12,500 msg/s
# by it here, 1.1x smtp-sink's; 1.5x would need a load generator with more
# than one process. Half of smtp-sink's CPU per message would need about
# 40 us, below what the bare epoll loop makes of the same socket calls.
#
# With every pool thread waiting in epoll at once, each event that came while
# one thread served woke the other, which slept again after it: 1.5-1.7
# context switches per message (smtp-sink: 0.25-0.30), and over persistent
# connections (PERSIST=1, where smtp-sink makes 0.02-0.04) 0.7-1.3. Since
# December 2026 only one thread waits in epoll while no events back up; the
# others park until a blocking handler or the monitor calls them, or a tick
# passes with events waiting (examples/mailserver/pool.rs, `may_wait`). The
# same binary before and after, alternately, 3 runs, third machine: per
# connection 66-71.5 -> 60.5-63 us CPU per message (smtp-sink 83-85.5),
# switches 1.5-1.7 -> 0.8-1.0, messages per second unchanged (smtp-source's
# bound); persistent 20.5-25.3k msg/s at 34-37.5 us -> 27.0-28.8k at 32-32.5
# us, against smtp-sink's 28.2-31.1k at 30.5-33 us. Calling a follower
# whenever a second event was ready made it worse (0.5-2.4 switches per
# message: it parked again right after).
# Then the hop count and the Delivered-To: scan of the header (examples/
# mailserver/hops.rs), which pushed each byte and allocated a buffer per
# line, read a line at a time into buffers kept between lines (3 alternating
# runs): per connection 52-53 -> 47-50.5 us, persistent 30.8-32.7k msg/s at
# 28.5-30 us -> 38.4-39.7k at 22.5-23.5 us (smtp-sink 30.9-33.9k at
# 27.5-30.5 us).
set -euo pipefail
cd "$(dirname "$0")/.."

# The example with its default features (the POP3 front door needs `pop3`).
cargo build --release --example mailserver >&2
if [ "${1:-}" = "--build-only" ]; then
  exit 0
fi

MSGS=${MSGS:-20000}
SESS=${SESS:-10}
SIZE=${SIZE:-2048}
ROUNDS=${ROUNDS:-2}
DURABLE=${DURABLE:-1}
CONNECTIONS=${CONNECTIONS:-pool}
# PERSIST=1: smtp-source -d, every message of a session over one connection
# (the server's per-session limits raised to match).
KEEP=()
LIMITS=()
if [ "${PERSIST:-0}" = 1 ]; then
  KEEP=(-d)
  LIMITS=(--max-transactions 1000000 --max-recipients-per-connection 1000000)
fi
export PATH="$PATH:/usr/sbin"
for p in smtp-source smtp-sink python3; do
  command -v "$p" >/dev/null || { echo "missing $p (bash .ci/install-peers)" >&2; exit 1; }
done

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
  smtp-source "${KEEP[@]}" -s "$SESS" -m "$MSGS" -l "$SIZE" -f bench@client.test -t "$2" "127.0.0.1:$1" >/dev/null
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
  "$BIN" --sink --data "$WORK/sink$round" --smtp "127.0.0.1:$port" --no-submission --conn-rate 0 --connections "$CONNECTIONS" "${LIMITS[@]}" >/dev/null 2>"$WORK/sink$round.log" &
  pid=$!; PIDS+=("$pid"); wait_port "$port"
  measure MS "$pid" "$port"
  stop "$pid"

  # 3. mailserver, durable Maildir delivery
  if [ "$DURABLE" = 1 ]; then
    port=$(free_port)
    "$BIN" --data "$WORK/durable$round" --smtp "127.0.0.1:$port" --no-submission --conn-rate 0 --connections "$CONNECTIONS" "${LIMITS[@]}" >/dev/null 2>"$WORK/durable$round.log" &
    pid=$!; PIDS+=("$pid"); wait_port "$port"
    measure DUR "$pid" "$port"
    stop "$pid"
    stored=$(find "$WORK/durable$round/mailboxes/demo/new" -type f | wc -l)
    [ "$stored" -eq "$MSGS" ] || { echo "round $round: $stored of $MSGS messages stored" >&2; exit 1; }
  else
    R_DUR+=(0); C_DUR+=(0)
  fi
  rm -rf "$WORK/durable$round" "$WORK/sink$round"

  echo "round $round: smtp-sink ${R_SINK[-1]} msg/s (${C_SINK[-1]} us CPU/msg) | mailserver --sink ${R_MS[-1]} msg/s (${C_MS[-1]} us) | Maildir+fsync ${R_DUR[-1]} msg/s (${C_DUR[-1]} us)" >&2
done

echo "smtp-source ${KEEP[*]} -s $SESS -m $MSGS -l $SIZE, $ROUNDS rounds, mailserver --connections $CONNECTIONS: messages per second; server CPU microseconds per message"
printf '%-28s %-24s %s\n' "Postfix smtp-sink" "${R_SINK[*]}" "${C_SINK[*]}"
printf '%-28s %-24s %s\n' "mailserver --sink" "${R_MS[*]}" "${C_MS[*]}"
[ "$DURABLE" = 1 ] && printf '%-28s %-24s %s\n' "mailserver Maildir (fsync)" "${R_DUR[*]}" "${C_DUR[*]}"
for i in $(seq 0 $((ROUNDS - 1))); do
  python3 -c "
r, c = ${R_MS[$i]} / ${R_SINK[$i]}, ${C_MS[$i]} / max(${C_SINK[$i]}, 1)
line = f'round $((i + 1)): mailserver --sink / smtp-sink: {r:.2f}x messages/s, {c:.2f}x CPU per message'
if $DURABLE:
    line += f'; durable / smtp-sink: {${R_DUR[$i]} / ${R_SINK[$i]}:.2f}x messages/s'
print(line)"
done
