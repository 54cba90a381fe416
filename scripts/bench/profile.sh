#!/usr/bin/env bash
# Where the server's CPU goes under one query's load: builds the server with frame
# pointers and line tables (its own target folder, so the bench binary is untouched),
# runs the bench's load for that query (scripts/bench/run.sh, the seeded database
# reused when it exists), records the server with `perf record -g` while wrk runs, and
# writes a flame graph (inferno, installed once into the tools cache) and the top
# symbols by their own time:
#
#   target/bench/profile-<query>.svg, target/bench/profile-<query>.txt
#
# Knobs: PROFILE_QUERY (q2), PROFILE_SECONDS (10), PROFILE_CONCURRENCY (16),
# PROFILE_BINARY (a server binary to profile instead of building one), and the bench's
# own (BENCH_TENANTS, BENCH_USERS, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
query=${PROFILE_QUERY:-q2}
seconds=${PROFILE_SECONDS:-10}
concurrency=${PROFILE_CONCURRENCY:-16}
out="$root/target/bench"
cache_root="${TESSERA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
mkdir -p "$out"
log() { printf '==> %s\n' "$*" >&2; }

command -v perf >/dev/null 2>&1 || {
    log "installing perf"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
}
inferno="$cache_root/inferno/bin"
if [ ! -x "$inferno/inferno-flamegraph" ]; then
    log "installing inferno (flame graphs)"
    cargo install inferno --locked --quiet --root "$cache_root/inferno"
fi

binary=${PROFILE_BINARY:-}
if [ -z "$binary" ]; then
    log "profiling build (frame pointers, line tables)"
    CARGO_TARGET_DIR="$root/target/profile" RUSTFLAGS="-C force-frame-pointers=yes" \
        CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --locked -q -p tessera-server
    binary="$root/target/profile/release/tessera"
fi

log "load: $query at concurrency $concurrency"
BENCH_SERVER="$binary" BENCH_QUERIES="$query" BENCH_CONCURRENCY="$concurrency" BENCH_REPEAT=1 \
    BENCH_SECONDS=$((seconds + 10)) BENCH_REUSE_SEED=1 BENCH_PGBENCH=0 BENCH_HOSTILE=0 \
    BENCH_LABEL="profile-$query" bash "$root/scripts/bench/run.sh" > "$out/profile-$query.bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT

# Wait for wrk to run against the server, then record the server alone.
for _ in $(seq 1 1200); do
    pgrep -x wrk >/dev/null 2>&1 && break
    kill -0 $bench 2>/dev/null || { cat "$out/profile-$query.bench.log" >&2; exit 1; }
    sleep 0.5
done
sleep 2
pid=$(pgrep -o -f "^$binary serve" || true)
[ -n "$pid" ] || { echo "the server is not running" >&2; exit 1; }
log "recording pid $pid for ${seconds}s"
perf record -F 999 -g -p "$pid" -o "$out/profile-$query.perf.data" -- sleep "$seconds" 2>/dev/null
wait $bench || true
trap - EXIT

perf script -i "$out/profile-$query.perf.data" 2>/dev/null \
    | "$inferno/inferno-collapse-perf" > "$out/profile-$query.folded"
"$inferno/inferno-flamegraph" --title "tessera under $query, c$concurrency" \
    < "$out/profile-$query.folded" > "$out/profile-$query.svg"
# Self time by symbol, the 40 heaviest (sed, not head, so nothing upstream gets SIGPIPE).
perf report -i "$out/profile-$query.perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' \
    | sed -n '1,40p' > "$out/profile-$query.txt"
log "flame graph: $out/profile-$query.svg; top symbols: $out/profile-$query.txt"
cat "$out/profile-$query.txt"
