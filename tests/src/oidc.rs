//! A real OpenID Connect provider for the tests: the `oidc-provider` npm package, run by
//! `tests/ecosystem/oidc-provider.cjs` on a free loopback port, and a browser stand-in
//! (`oidc-sign-in.cjs`) that walks a sign-in through it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::node;

/// A running provider; killed when dropped.
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Provider {
    /// Starts a provider with one client whose redirect URI is `redirect_uri`.
    pub fn start(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        let mut child = Command::new("node")
            .arg(node::root().join("tests/ecosystem/oidc-provider.cjs"))
            .args([
                "--port",
                "0",
                "--client-id",
                client_id,
                "--client-secret",
                client_secret,
            ])
            .args(["--redirect-uri", redirect_uri])
            .env("NODE_PATH", node::node_modules(false))
            // Held open: the provider exits when its stdin closes (the test died).
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the provider");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("the provider's first line");
        // Whatever it writes later is drained: a closed pipe would end it.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("the provider did not start: {line}"));
        let issuer = ready["issuer"].as_str().expect("an issuer").to_owned();
        Self { child, issuer }
    }

    /// Replaces the provider's signing key (a new `kid`).
    pub async fn rotate_keys(&self) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/__rotate", self.issuer))
            .send()
            .await
            .expect("rotate")
            .json()
            .await
            .expect("json");
        answer["kid"].as_str().expect("a kid").to_owned()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Walks a browser sign-in from `start_url` through the provider as `login`: the
/// relying party's answer to the callback (`status`, `location`, `body`), or with
/// `stop_at_callback` the callback URL and the cookie the browser would send.
pub async fn sign_in(start_url: &str, login: &str, stop_at_callback: bool) -> Value {
    let (start_url, login) = (start_url.to_owned(), login.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut args = vec![start_url.as_str(), login.as_str()];
        if stop_at_callback {
            args.push("--stop-at-callback");
        }
        let output = node::run("oidc-sign-in.cjs", &args, false);
        let line = output.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|_| panic!("no answer from the sign-in: {output}"))
    })
    .await
    .expect("the sign-in ran")
}

/// An ID token the provider issued to `client_id` for `login`, with the nonce it carries.
pub async fn raw_id_token(
    issuer: &str,
    client_id: &str,
    secret: &str,
    redirect_uri: &str,
    login: &str,
) -> (String, String) {
    let args: Vec<String> = ["--raw-tokens", issuer, client_id, secret, redirect_uri, login]
        .iter()
        .map(|s| s.to_string())
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = node::run("oidc-sign-in.cjs", &args, false);
        let line = output.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
        let tokens: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("no tokens: {output}"));
        (
            tokens["id_token"].as_str().expect("id token").to_owned(),
            tokens["nonce"].as_str().expect("nonce").to_owned(),
        )
    })
    .await
    .expect("the sign-in ran")
}
