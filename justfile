# Tessera developer commands. `just --list` shows them all.
# Nothing here is required: the README's two commands (`cargo run`, `cargo test`) work without `just`.

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
redis_url := env_var_or_default("TEST_REDIS_URL", "redis://127.0.0.1:6379")

# Run the server with the embedded defaults (SQLite file, dev mode).
run:
    cargo run

# Run every test; the Postgres suite is skipped (loudly) without TEST_DATABASE_URL.
test:
    cargo test --workspace

# Run every test against the local Postgres and Redis too.
test-pg:
    TEST_DATABASE_URL={{pg_url}} TEST_REDIS_URL={{redis_url}} cargo test --workspace

# Regenerate schema.graphql from the code.
schema:
    cargo run -q -- schema > schema.graphql

# Start the development stack of deploy/compose.yaml (profile `dev`, needs Docker):
# PostgreSQL on 127.0.0.1:55432, Redis on 127.0.0.1:56379 and the server in development
# mode on http://127.0.0.1:8081/graphiql. The production services' passwords are not
# needed for it, so placeholders stand in for them (nothing uses them).
up:
    POSTGRES_PASSWORD=unused TESSERA_OWNER_PASSWORD=unused TESSERA_RUNTIME_PASSWORD=unused \
        docker compose -f deploy/compose.yaml --profile dev up -d --build --wait postgres-dev redis-dev tessera-dev
    @echo "GraphiQL: http://127.0.0.1:8081/graphiql"
    @echo "cargo run against the same backends: DATABASE_URL=postgres://postgres@127.0.0.1:55432/tessera REDIS_URL=redis://127.0.0.1:56379 cargo run"

# Stop the development stack and drop its data.
down:
    POSTGRES_PASSWORD=unused TESSERA_OWNER_PASSWORD=unused TESSERA_RUNTIME_PASSWORD=unused \
        docker compose -f deploy/compose.yaml --profile dev down --volumes

# Render the Kubernetes overlays and check them offline (schemas and Tessera's rules).
k8s-check:
    bash scripts/deploy/validate.sh

# Fill an empty dev database with the demo tenant.
seed:
    cargo run -q -- seed --demo

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmark on Postgres + Redis: 1,000 tenants / 100,000 users, Q1–Q4 at concurrency
# 16 and 64, the pgbench ceiling for Q2, hostile documents. Report in target/bench/.
bench:
    bash scripts/bench/run.sh

# The same at 10,000 tenants / 1,000,000 users (Q1 and Q2), to see how p50 grows.
bench-large:
    BENCH_TENANTS=10000 BENCH_USERS=1000000 BENCH_DB=tessera_bench_large BENCH_QUERIES="q1 q2" BENCH_CONCURRENCY=16 BENCH_PGBENCH=0 BENCH_HOSTILE=0 bash scripts/bench/run.sh

# Metering on against metering off (METERING_ENABLED=false), side by side: Q1 and Q2 at
# concurrency 16.
bench-metering:
    BENCH_QUERIES="q1 q2" BENCH_CONCURRENCY=16 BENCH_BASELINE_ENV=METERING_ENABLED=false BENCH_PGBENCH=0 BENCH_HOSTILE=0 BENCH_REUSE_SEED=1 BENCH_LABEL=metering bash scripts/bench/run.sh

# Where the server's CPU goes under one query (default Q2): perf + a flame graph in
# target/bench/profile-<query>.svg, top symbols in profile-<query>.txt.
profile query="q2":
    PROFILE_QUERY={{query}} bash scripts/bench/profile.sh

# Tenant export of 1,000 and 100,000 rows: seconds and peak memory (target/bench/export.md).
bench-export:
    bash scripts/bench/export.sh

# The platform's analytics (Q6) at 10,000 tenants with 30 days of usage each.
bench-platform:
    BENCH_TENANTS=10000 BENCH_USERS=100000 BENCH_DB=tessera_bench_platform BENCH_QUERIES=q6 BENCH_CONCURRENCY="1 2" BENCH_PGBENCH=0 BENCH_HOSTILE=0 BENCH_REUSE_SEED=1 BENCH_LABEL=platform bash scripts/bench/run.sh

# Ten minutes of mixed reads and writes at concurrency 16: zero 5xx, memory sampled every 30 s.
soak:
    BENCH_QUERIES=mix BENCH_CONCURRENCY=16 BENCH_SECONDS=600 BENCH_REPEAT=1 BENCH_PGBENCH=0 BENCH_HOSTILE=0 BENCH_REUSE_SEED=1 BENCH_LABEL=soak bash scripts/bench/run.sh

# What CI runs.
ci:
    bash .ci/run
