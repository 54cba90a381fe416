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

# Fill an empty dev database with the demo tenant.
seed:
    cargo run -q -- seed --demo

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# What CI runs.
ci:
    bash .ci/run
