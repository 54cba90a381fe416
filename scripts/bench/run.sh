#!/usr/bin/env bash
# The benchmark behind `just bench` (and `just bench-large`, `just soak`): seeds a
# Postgres database through set-based SQL, starts the release server on it (with
# Redis), drives it with wrk, and writes a Markdown report to target/bench/.
#
# Knobs (environment): BENCH_TENANTS (1000), BENCH_USERS (100000), BENCH_PRINCIPALS
# (2000 sessions to act as), BENCH_QUERIES ("q1 q2 q3 q4 q5"; "mix" is the soak load),
# BENCH_CONCURRENCY ("16 64"), BENCH_SECONDS (15), BENCH_REPEAT (3 runs of each, medians
# reported), BENCH_DB (tessera_bench),
# BENCH_REUSE_SEED (1 keeps an already seeded database), BENCH_PGBENCH (1), BENCH_HOSTILE (1),
# BENCH_LABEL (report name), BENCH_SKIP_BUILD (1 runs the release binary as built),
# BENCH_SERVER (another server binary to run; implies no build), BENCH_BASELINE_SERVER (a
# second binary run side by side, every run alternating between the two), BENCH_BASELINE_ENV
# (settings for the baseline only, e.g. METERING_ENABLED=false),
# PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL, BENCH_RUST_LOG (warn; info
# adds the access line every request writes, as in production).
# Q5 creates workspaces: the server runs with scripts/bench/plans.toml, the built-in
# catalogue with workspace quotas high enough that the check runs and never refuses.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
here="$root/scripts/bench"

tenants=${BENCH_TENANTS:-1000}
users=${BENCH_USERS:-100000}
principals=${BENCH_PRINCIPALS:-2000}
queries=${BENCH_QUERIES:-q1 q2 q3 q4 q5}
concurrency=${BENCH_CONCURRENCY:-16 64}
seconds=${BENCH_SECONDS:-15}
repeat=${BENCH_REPEAT:-3}
db=${BENCH_DB:-tessera_bench}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
redis=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/7}
label=${BENCH_LABEL:-$db-$queries}
label=${label// /-}
port=${BENCH_PORT:-18080}
out="$root/target/bench"
mkdir -p "$out"
report="$out/$label.md"
work="$out/$label"
mkdir -p "$work"
base="http://127.0.0.1:$port"
secret="bench-secret-$(date +%s)-at-least-thirty-two-bytes"
# Production serves /metrics only to a bearer of this token.
metrics_token="bench-metrics-$(date +%s)"

log() { printf '==> %s\n' "$*" >&2; }

# Tools the bench needs, installed by the project itself.
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -n1)
[ -x "$pgbench" ] || { echo "pgbench not found (it ships with the PostgreSQL server packages)" >&2; exit 1; }

if [ -n "${BENCH_SERVER:-}" ]; then
    server=$BENCH_SERVER
else
    if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
        log "release build"
        cargo build --release --locked -p tessera-server -q
    fi
    server="$root/target/release/tessera"
fi

seeded=$(psql "$pg/postgres" -Atc "select 1 from pg_database where datname = '$db'" || true)
if [ "${BENCH_REUSE_SEED:-0}" = 1 ] && [ "$seeded" = 1 ]; then
    log "reusing the seeded database $db (after applying any new migration)"
    DATABASE_URL="$pg/$db" "$server" migrate up >/dev/null
    psql "$pg/$db" -qc "VACUUM ANALYZE"
else
    log "seeding $db: $tenants tenants, $users users"
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    DATABASE_URL="$pg/$db" "$server" migrate up >/dev/null
    started=$(date +%s.%N)
    psql "$pg/$db" -q -v tenants="$tenants" -v users="$users" -f "$here/seed.sql"
    seed_seconds=$(echo "$(date +%s.%N) - $started" | bc)
    log "seeded in ${seed_seconds}s"
    echo "$seed_seconds" > "$work/seed-seconds"
fi
psql "$pg/$db" -q -v principals="$principals" -v out="$work/principals.txt" -f "$here/principals.sql"
python3 "$here/mint_tokens.py" "$secret" "$work/principals.txt" "$work/tokens.txt" >&2
if [[ " $queries " == *" q6 "* ]]; then
    log "usage rollups for the platform's analytics (Q6)"
    psql "$pg/$db" -q -f "$here/usage.sql"
fi
redis-cli -u "$redis" flushdb >/dev/null

# A long access-cache TTL (invalidation is explicit), so that statement counts show each
# request's own SQL rather than the periodic refresh of 2,000 principals' access.
start_server() { # binary port log [extra VAR=value settings]
    # The extra settings come last, so that they may replace the bench's own (an older
    # baseline may need an older PLANS_FILE).
    env TESSERA_ENV=production DATABASE_URL="$pg/$db" MIGRATE_ON_START=false DATABASE_MAX_CONNECTIONS=16 \
        ACCESS_CACHE_TTL_SECONDS=${BENCH_ACCESS_CACHE_TTL:-600} PLANS_FILE="$here/plans.toml" \
        JWT_SECRET="$secret" SECRETS_KEY="$(openssl rand -hex 32)" REDIS_URL="$redis" BIND_ADDR="127.0.0.1:$2" RUST_LOG="${BENCH_RUST_LOG:-warn}" LOG_FORMAT=json \
        METRICS_TOKEN="$metrics_token" ${4:-} \
        "$1" serve > "$3" 2>&1 &
}
wait_ready() { # url
    for _ in $(seq 1 100); do
        curl -fsS "$1/health/ready" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    curl -fsS "$1/health/ready" >/dev/null
}
log "starting the server"
start_server "$server" "$port" "$work/server.log"
pid=$!
pid_b=""
trap 'kill $pid $pid_b 2>/dev/null || true; wait $pid $pid_b 2>/dev/null || true' EXIT
wait_ready "$base"
# BENCH_BASELINE_SERVER: a second binary (say, the same commit with one change undone)
# runs next to the first on the next port; every run of a query alternates between the
# two, so both see the same database and the same minute of the machine.
urls=("$base")
names=("")
# BENCH_BASELINE_ENV: settings only the baseline gets (`METERING_ENABLED=false`); with
# it alone the baseline is the same binary.
if [ -n "${BENCH_BASELINE_ENV:-}" ] && [ -z "${BENCH_BASELINE_SERVER:-}" ]; then
    BENCH_BASELINE_SERVER=$server
fi
if [ -n "${BENCH_BASELINE_SERVER:-}" ]; then
    base_b="http://127.0.0.1:$((port + 1))"
    start_server "$BENCH_BASELINE_SERVER" "$((port + 1))" "$work/server-baseline.log" "${BENCH_BASELINE_ENV:-}"
    pid_b=$!
    wait_ready "$base_b"
    urls+=("$base_b")
    names+=(" (baseline)")
fi

statements_at() { curl -fsS -H "Authorization: Bearer $metrics_token" "$1/metrics" | awk '$1 == "tessera_db_statements_total" { print $2 }'; }
statements() { statements_at "$base"; }
# Transactions the requests began (empty for a server that does not count them).
transactions_at() { curl -fsS -H "Authorization: Bearer $metrics_token" "$1/metrics" | awk '$1 == "tessera_db_transactions_total" { print $2 }'; }
# CPU seconds (user + system) the process with this pid has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# CPU seconds all PostgreSQL processes have used so far: each live process's own, and
# (through the postmaster's children's times) those of backends that have ended.
postgres_cpu_seconds() {
    # (a process may end between the listing and the read: cat's failure is harmless)
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v hz="$(getconf CLK_TCK)" '
        { name = $0; sub(/^[0-9]+ \(/, "", name); sub(/\).*/, "", name)
          if (name == "postgres") { n = split($0, f, ") "); split(f[n], v, " "); total += v[12] + v[13] + v[14] + v[15] } }
        END { printf "%.3f", total / hz }'
}
pids=("$pid")
[ -n "$pid_b" ] && pids+=("$pid_b")
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }

log "warming up (caches and connection pool)"
for url in "${urls[@]}"; do
    wrk -t2 -c16 -d10s -s "$here/load.lua" "$url" -- mix "$work/tokens.txt" > /dev/null
done

{
    echo "# $label"
    echo
    echo "- date: $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD); $(nproc) cores; server $server${BENCH_BASELINE_SERVER:+; baseline $BENCH_BASELINE_SERVER ${BENCH_BASELINE_ENV:-}}"
    echo "- seed: $tenants tenants, $users users, $(psql "$pg/$db" -Atc 'select count(*) from memberships') memberships, $(psql "$pg/$db" -Atc 'select count(*) from workspace_members') workspace members${seed_seconds:+ (seeded in ${seed_seconds}s)}"
    echo "- load: wrk, 2 threads (1 at concurrency 1), $repeat runs of ${seconds}s for each line (medians; requests and errors summed) after a 10 s warm-up, $principals principals (random user of a random tenant per request), access cache TTL ${BENCH_ACCESS_CACHE_TTL:-600} s"
    echo
    echo "| query | concurrency | requests/s | p50 ms | p90 ms | p99 ms | p99/p50 | errors | 5xx | SQL statements/request | transactions/request | server CPU ms/request | PostgreSQL CPU ms/request |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$report"

declare -A q2_rps
for q in $queries; do
    for c in $concurrency; do
        log "$q at concurrency $c for ${seconds}s"
        declare -a before=()
        declare -a cpu_before=() pg_cpu=() tx_before=()
        for i in "${!urls[@]}"; do
            before[$i]=$(statements_at "${urls[$i]}")
            tx_before[$i]=$(transactions_at "${urls[$i]}")
            cpu_before[$i]=$(cpu_seconds "${pids[$i]}")
            pg_cpu[$i]=0
            : > "$work/wrk-$q-$c-$i.txt"
        done
        if [ "$q" = mix ]; then
            # Memory over the run, every 30 s, to show it stays flat.
            ( while kill -0 $pid 2>/dev/null; do echo "$(date +%s) $(rss_kib)"; sleep 30; done ) > "$work/rss-$c.txt" &
            sampler=$!
        fi
        for _ in $(seq 1 "$repeat"); do
            for i in "${!urls[@]}"; do
                pg_before=$(postgres_cpu_seconds)
                wrk -t"$(( c < 2 ? c : 2 ))" -c"$c" -d"${seconds}s" --timeout 10s -s "$here/load.lua" "${urls[$i]}" -- "$q" "$work/tokens.txt" \
                    >> "$work/wrk-$q-$c-$i.txt"
                pg_cpu[$i]=$(echo "${pg_cpu[$i]} + $(postgres_cpu_seconds) - $pg_before" | bc)
            done
        done
        [ "$q" = mix ] && kill "$sampler" 2>/dev/null || true
        for i in "${!urls[@]}"; do
        after=$(statements_at "${urls[$i]}")
        tx_after=$(transactions_at "${urls[$i]}")
        cpu_after=$(cpu_seconds "${pids[$i]}")
        grep '^FIRST_ERROR' "$work/wrk-$q-$c-$i.txt" >&2 || true
        # The median of each figure over the repeats; requests and errors are totals.
        result=$(grep '^RESULT' "$work/wrk-$q-$c-$i.txt" | python3 -c '
import statistics, sys
runs = [dict(f.split("=") for f in line.split()[1:]) for line in sys.stdin]
total = {"requests", "errors", "errors_5xx", "transport_errors"}
print(" ".join(f"{k}={sum(int(r[k]) for r in runs) if k in total else statistics.median(float(r[k]) for r in runs):g}"
               for k in runs[0]))')
        eval "$(echo "$result" | tr ' ' '\n' | sed 's/^/r_/')"
        per_request=$(echo "scale=2; ($after - ${before[$i]}) / $r_requests" | bc)
        ratio=$(echo "scale=2; $r_p99_ms / $r_p50_ms" | bc)
        tx_per_request=-
        [ -n "$tx_after" ] && tx_per_request=$(echo "scale=2; ($tx_after - ${tx_before[$i]:-0}) / $r_requests" | bc)
        # The server's CPU over its own runs (the other server idles meanwhile).
        cpu_per_request=$(echo "scale=3; 1000 * ($cpu_after - ${cpu_before[$i]}) / $r_requests" | bc)
        pg_per_request=$(echo "scale=3; 1000 * ${pg_cpu[$i]} / $r_requests" | bc)
        [ "$q" = q2 ] && [ "$i" = 0 ] && q2_rps[$c]=$r_rps
        echo "| $q${names[$i]} | $c | $r_rps | $r_p50_ms | $r_p90_ms | $r_p99_ms | $ratio | $r_errors | $r_errors_5xx | $per_request | $tx_per_request | $cpu_per_request | $pg_per_request |" >> "$report"
        done
    done
done

{
    echo
    echo "Server memory: peak resident $(( $(hwm_kib) / 1024 )) MiB, now $(( $(rss_kib) / 1024 )) MiB (VmHWM/VmRSS of the server process)."
    documents=$(curl -fsS -H "Authorization: Bearer $metrics_token" "$base/metrics" | awk '
        $1 ~ /^tessera_cache_requests_total\{/ && $1 ~ /kind="document"/ {
            if ($1 ~ /result="hit"/) hits += $2; else misses += $2 }
        END { if (hits + misses > 0) printf "%d hits, %d misses (%.2f%% hits)", hits, misses, 100 * hits / (hits + misses) }')
    if [ -n "$documents" ]; then echo; echo "Parsed-document cache of the server: $documents."; fi
    if ls "$work"/rss-*.txt >/dev/null 2>&1; then
        for f in "$work"/rss-*.txt; do
            echo
            echo "Resident memory every 30 s during the mixed run ($(basename "$f" .txt)), MiB: $(awk '{ printf "%d ", $2 / 1024 }' "$f")"
        done
    fi
} >> "$report"

if [ "${BENCH_PGBENCH:-1}" = 1 ] && [[ " $queries " == *" q2 "* ]]; then
    log "pgbench: Q2's SQL as the ceiling"
    {
        echo
        echo "| pgbench, Q2's SQL (median of $repeat) | clients | transactions/s | mean latency ms | server Q2 requests/s | server/pgbench |"
        echo "|---|---:|---:|---:|---:|---:|"
    } >> "$report"
    for c in $concurrency; do
        : > "$work/pgbench-$c.txt"
        for _ in $(seq 1 "$repeat"); do
            PGOPTIONS="-c role=tessera_app" "$pgbench" -n -M prepared -c "$c" -j 2 -T "$seconds" \
                -D tenants="$tenants" -f "$here/q2.pgbench" "$pg/$db" >> "$work/pgbench-$c.txt" 2>&1
        done
        tps=$(awk '/^tps = / { print $3 }' "$work/pgbench-$c.txt" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
        latency=$(awk '/^latency average/ { print $4 }' "$work/pgbench-$c.txt" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
        fraction=$(echo "scale=2; ${q2_rps[$c]:-0} / $tps" | bc)
        echo "| Q2 | $c | $tps | $latency | ${q2_rps[$c]:-} | $fraction |" >> "$report"
    done
fi

if [ "${BENCH_HOSTILE:-1}" = 1 ]; then
    log "hostile documents"
    echo >> "$report"
    python3 "$here/hostile.py" "$base" "$(head -n1 "$work/tokens.txt" | cut -d' ' -f1)" >> "$report"
fi

if grep -q '"level":"ERROR"' "$work/server.log"; then
    echo >> "$report"
    echo "Server log errors: $(grep -c '"level":"ERROR"' "$work/server.log") (see $work/server.log)" >> "$report"
fi
cat "$report"
