//! Tessera as tools nobody here wrote see it, each against a real server process (this
//! crate's binary on a temporary SQLite file): the `graphql-http` audit of the
//! GraphQL-over-HTTP specification (every MUST and SHOULD), and GraphiQL in a headless
//! Chromium (documentation, a query with a token, a subscription). The npm packages are
//! installed once into a cache folder, and Chromium from Debian's package when the
//! machine has none, by `scripts/ecosystem/setup.sh`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../../../tests/src/node.rs"]
mod node;

/// A `tessera serve` process on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Server {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let database = format!("sqlite://{}?mode=rwc", dir.join("tessera.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TESSERA_ENV", "development")
            .env("LOG_FORMAT", "json")
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database)
            .env("JWT_SECRET", "ecosystem-check-secret-of-more-than-32-bytes")
            .env("ONBOARDING_GATE", "false")
            .env("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "100000")
            .env("RATE_LIMIT_AUTHENTICATION_PER_MINUTE", "1000")
            .env("EXPORT_DIR", dir.join("exports"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        // The log (on standard error) says where it listens; the rest of it is drained.
        let log = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                if !sent && line.contains("Tessera is listening") {
                    let addr = serde_json::from_str::<serde_json::Value>(&line)
                        .ok()
                        .and_then(|log| log["fields"]["addr"].as_str().map(str::to_owned));
                    sent = tx.send(addr).is_ok();
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
        // Stopped by its drop, also when it never said where it listens.
        let mut server = Self {
            child,
            base: String::new(),
            dir,
        };
        let addr = addr.expect("the server logs the address it listens on");
        server.base = format!("http://{addr}");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_graphql_over_http_audit_passes_every_must_and_should() {
    let server = Server::start("audit");
    let report = node::run("graphql-http-audit.cjs", &[&format!("{}/graphql", server.base)], false);
    assert!(!report.contains("FAIL"), "{report}");
    assert!(
        report.contains("SHOULD accept */* and use application/json"),
        "{report}"
    );
}

#[test]
fn graphiql_shows_the_docs_runs_a_query_and_a_subscription_in_a_real_browser() {
    let server = Server::start("graphiql");
    let report = node::run("graphiql-browser.cjs", &[&server.base], true);
    for step in [
        "the documentation explorer lists the fields of Query … ok",
        "a query runs with the access token and shows its result … ok",
        "a subscription runs over /graphql/ws and shows an event … ok",
    ] {
        assert!(report.contains(step), "{report}");
    }
}
