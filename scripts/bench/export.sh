#!/usr/bin/env bash
# `just bench-export`: how long `tessera tenant export` takes and how much memory it
# holds for a tenant of 1,000 rows and one of 100,000 rows (seeded with set-based SQL
# into a Postgres database of their own), three runs each, medians reported; every
# archive is checked with `tessera tenant verify-export`. The peak resident set is the
# whole process's (`/usr/bin/time`): flat across sizes means rows are streamed.
#
# Knobs: BENCH_SKIP_BUILD (1 runs the release binary as built), BENCH_REPEAT (3),
# PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_EXPORT_SIZES ("1000 100000").
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
repeat=${BENCH_REPEAT:-3}
sizes=${BENCH_EXPORT_SIZES:-1000 100000}
db=tessera_bench_export
out="$root/target/bench"
work="$out/export"
mkdir -p "$work"
report="$out/export.md"
log() { printf '==> %s\n' "$*" >&2; }

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "release build"
    cargo build --release --locked -p tessera-server -q
fi
server="$root/target/release/tessera"
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
DATABASE_URL="$pg/$db" "$server" migrate up >/dev/null

# One tenant per size: 60% workspaces, 40% daily usage rows (both tenant tables).
for rows in $sizes; do
    log "seeding tenant rows-$rows"
    psql "$pg/$db" -q -v rows="$rows" <<'SQL'
\set slug 'rows-' :rows
INSERT INTO tenants (id, slug, name, status, plan, plan_overrides, created_at, updated_at)
VALUES (gen_random_uuid(), :'slug', :'slug', 'active', 'enterprise', '[]', now(), now());
INSERT INTO workspaces (tenant_id, id, slug, name, created_at, updated_at)
SELECT t.id, gen_random_uuid(), 'w' || n, 'Workspace ' || n, now(), now()
FROM tenants t, generate_series(1, (:rows * 6) / 10) AS n WHERE t.slug = :'slug';
INSERT INTO usage_daily (tenant_id, day, principal_kind, principal_id, api_calls, errors, refused)
SELECT t.id, date '2026-01-01' + (n % 300), 'person', gen_random_uuid(), n, 0, 0
FROM tenants t, generate_series(1, :rows - (:rows * 6) / 10) AS n WHERE t.slug = :'slug';
SQL
done
psql "$pg/$db" -qc "VACUUM ANALYZE"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
{
    echo "# Tenant export: time and peak memory"
    echo
    echo "\`just bench-export\` on $(nproc) cores, $(date -u +%Y-%m-%d), PostgreSQL $(psql "$pg/postgres" -Atc 'show server_version'),"
    echo "$repeat runs per size, medians. Peak RSS is the whole \`tessera tenant export\` process."
    echo
    echo "| tenant rows | rows exported | archive bytes | seconds (median) | peak RSS MiB (median) | verify-export |"
    echo "|---|---|---|---|---|---|"
} > "$report"
for rows in $sizes; do
    : > "$work/seconds-$rows"
    : > "$work/rss-$rows"
    for run in $(seq "$repeat"); do
        file="$work/rows-$rows.tar.gz"
        rm -f "$file"
        DATABASE_URL="$pg/$db" EXPORT_DIR="$work/store" /usr/bin/time -f "%e %M" -o "$work/time" \
            "$server" tenant export "rows-$rows" "$file" > "$work/export-$rows.log"
        read -r seconds kib < "$work/time"
        echo "$seconds" >> "$work/seconds-$rows"
        echo "$((kib / 1024))" >> "$work/rss-$rows"
        log "rows-$rows run $run: ${seconds}s, $((kib / 1024)) MiB"
    done
    exported=$(grep -o '[0-9]* rows from' "$work/export-$rows.log" | grep -o '^[0-9]*')
    bytes=$(stat -c %s "$file")
    if "$server" tenant verify-export "$file" > "$work/verify-$rows.log"; then verdict=intact; else verdict=BROKEN; fi
    echo "| $rows | $exported | $bytes | $(median < "$work/seconds-$rows") | $(median < "$work/rss-$rows") | $verdict |" >> "$report"
done
cat "$report"
