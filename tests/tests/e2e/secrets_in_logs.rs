//! No password, token, secret or hash reaches the logs: every log line of a full
//! sign-up, log-in, refresh, invitation, API-key and password-reset flow is captured
//! at the most verbose level and searched.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;
use tessera_tests::{Backend, PASSWORD, TestApp};

/// Every log line of this test binary, at TRACE level.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        // Another test may have installed one first; then this test cannot run.
        tracing::subscriber::set_global_default(subscriber).expect("the first global subscriber");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_identity_flow_logs_no_secret() {
    let logs = captured();
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let log_in = app
        .graphql(
            "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken refreshToken } }",
            json!({ "e": "owner@acme.example", "p": PASSWORD }),
            None,
        )
        .await;
    let refresh_token = log_in.assert_ok()["logIn"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    app.graphql(
        "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken } }",
        json!({ "t": refresh_token }),
        None,
    )
    .await
    .assert_ok();
    let (_, api_secret) = app.create_api_key(&owner, "CI", &[]).await;
    app.graphql(
        "mutation($e: String!) { requestPasswordReset(input: { email: $e }) }",
        json!({ "e": "owner@acme.example" }),
        None,
    )
    .await
    .assert_ok();
    let reset_token = app
        .mailer
        .sent()
        .into_iter()
        .find_map(|(_, _, text)| {
            text.split_whitespace()
                .find(|w| w.starts_with("pr_"))
                .map(str::to_owned)
        })
        .expect("a reset mail");
    app.graphql(
        "mutation($t: String!) { resetPassword(input: { token: $t, newPassword: \"the next passphrase\" }) }",
        json!({ "t": reset_token }),
        None,
    )
    .await
    .assert_ok();
    app.query("{ me { email } }", "garbage-token").await;
    app.stop().await;

    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    assert!(
        text.contains("sign_up"),
        "the capture works (spans of the flow are in it)"
    );
    // Lines of a request carry its id, operation, tenant and actor (never a secret).
    let request_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request_id=") && l.contains(&format!("tenant_id={}", owner.tenant_id)))
        .collect();
    assert!(
        !request_lines.is_empty(),
        "request lines name their tenant: {}",
        text.lines()
            .filter(|l| l.contains("request_id="))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        request_lines
            .iter()
            .any(|l| l.contains(&format!("actor=\"user:{}\"", owner.user_id)) && l.contains("operation=")),
        "request lines name the actor and the operation: {}",
        request_lines.iter().take(3).copied().collect::<Vec<_>>().join("\n")
    );
    for (what, secret) in [
        ("password", PASSWORD),
        ("new password", "the next passphrase"),
        ("access token", owner.token.as_str()),
        ("refresh token", refresh_token.as_str()),
        ("API key secret", api_secret.as_str()),
        ("reset token", reset_token.as_str()),
        ("password hash", "$argon2id$"),
    ] {
        assert!(!text.contains(secret), "the {what} appears in the logs");
    }
}
