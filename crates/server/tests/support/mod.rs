#![allow(dead_code)]
//! What the server's process tests share: a real `tessera serve` on a free loopback
//! port, and the npm tools (`tests/src/node.rs`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

#[path = "../../../../tests/src/node.rs"]
#[allow(dead_code)]
pub mod node;

/// Runs `command` to its end: its standard output then standard error, and whether it
/// succeeded.
pub fn output_of(command: &mut Command) -> (String, bool) {
    let output = command.output().expect("the program runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.success())
}

/// A `tessera serve` process on a free loopback port, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    dir: PathBuf,
    /// Every line the server logged (JSON), as it arrives.
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    /// The temp folder a server named `name` works in.
    pub fn dir_of(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()))
    }

    pub fn start_with(name: &str, settings: &[(&str, &str)]) -> Self {
        let dir = Self::dir_of(name);
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
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        // The log (on standard error) says where it listens; every line is kept.
        let log = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let kept = logs.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                kept.lock().expect("logs").push(line.clone());
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
            logs,
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
