//! How deliveries travel: over TLS to a receiver whose certificate comes from a CA the
//! test makes (trusted through WEBHOOK_CA_FILE, never by turning verification off),
//! and concurrently, so a tenant whose endpoints never answer holds only its own share
//! of the senders while another tenant's deliveries go out at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_infrastructure::webhooks::verify_signature;
use tessera_tests::{Backend, TestApp, on_both_backends};

use super::webhooks::{Receiver, create_endpoint, deliveries, fast_webhooks, now, settled};

on_both_backends!(
    deliveries_reach_an_https_receiver_whose_ca_is_trusted_through_configuration,
    a_tenant_whose_endpoints_never_answer_does_not_delay_another_tenants_deliveries,
);

/// A CA made for the test, and a certificate it signed for `localhost`.
struct TestCa {
    ca_pem: String,
    server: Arc<tokio_rustls::rustls::ServerConfig>,
}

impl TestCa {
    fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tessera test CA");
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let leaf_key = rcgen::KeyPair::generate().expect("a server key");
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("server parameters")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("a server certificate");
        let server = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .expect("a TLS server configuration");
        Self {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }
}

async fn deliveries_reach_an_https_receiver_whose_ca_is_trusted_through_configuration(backend: Backend) {
    let ca = TestCa::new();
    let ca_file = std::env::temp_dir().join(format!("tessera-test-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&ca_file, &ca.ca_pem).expect("write the CA");
    let (receiver, url) = Receiver::start_tls(ca.server.clone()).await;
    assert!(url.starts_with("https://localhost:"), "{url}");

    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        fast_webhooks(config);
        config.webhooks.webhook_ca_file = Some(ca_file.clone());
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@tls.example", "tls").await;
    let (endpoint, secret) = create_endpoint(&app, &owner, &url, &["workspace.created"]).await;
    app.create_workspace(&owner, "Design", "design").await;
    let received = receiver.wait_for(1).await;
    assert!(verify_signature(
        &secret,
        received[0].header("Tessera-Signature").expect("signed"),
        &received[0].body,
        now(),
        300
    ));
    let list = settled(&app, &owner, &endpoint, 1).await;
    assert_eq!(list[0]["status"], "SUCCEEDED", "{list:?}");
    assert_eq!(receiver.failed_handshakes(), 0);
    // The delivery and the outbox show in the metrics (the recorder is the process's,
    // shared with other tests: present, and at least this one).
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    let sample = |prefix: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok())
    };
    assert!(
        sample("tessera_webhook_deliveries_total{outcome=\"delivered\"}").is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    assert!(sample("tessera_webhook_delivery_duration_seconds_count").is_some_and(|n| n >= 1.0));
    assert!(sample("tessera_outbox_lag_seconds").is_some_and(|lag| lag >= 0.0));
    app.stop().await;

    // A sender that does not trust the CA refuses the receiver's certificate: the
    // handshake fails, no request is made, and the delivery records why.
    let Some(untrusting) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let owner = untrusting.sign_up("owner@tls.example", "tls").await;
    let (endpoint, _) = create_endpoint(&untrusting, &owner, &url, &["workspace.created"]).await;
    untrusting.create_workspace(&owner, "Design", "design").await;
    let list = settled(&untrusting, &owner, &endpoint, 1).await;
    assert_eq!(list[0]["status"], "FAILED", "{list:?}");
    assert_eq!(list[0]["responseStatus"], serde_json::Value::Null);
    assert!(
        receiver.failed_handshakes() >= 1,
        "the sender reached the receiver and refused it"
    );
    assert_eq!(receiver.received().len(), 1, "nothing more came through");
    untrusting.stop().await;
    let _ = std::fs::remove_file(ca_file);
}

async fn a_tenant_whose_endpoints_never_answer_does_not_delay_another_tenants_deliveries(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        fast_webhooks(config);
        config.webhooks.webhook_timeout_seconds = 4;
        config.webhooks.webhook_max_attempts = 1;
        config.webhooks.webhook_disable_after = 100;
        config.webhooks.webhook_concurrency = 4;
        config.webhooks.webhook_concurrency_per_tenant = 2;
        config.webhooks.webhook_concurrency_per_endpoint = 1;
    })
    .await
    else {
        return;
    };
    // Tenant A points two endpoints at a receiver that never answers and piles up work.
    let (black_hole, hole_url) = Receiver::start().await;
    black_hole.script(&[0; 64]);
    let a = app.sign_up("owner@slow.example", "slow").await;
    let (slow_one, _) = create_endpoint(&app, &a, &hole_url, &["workspace.created"]).await;
    create_endpoint(&app, &a, &hole_url, &["workspace.created"]).await;
    for n in 0..6 {
        app.create_workspace(&a, &format!("Slow {n}"), &format!("slow-{n}"))
            .await;
    }
    black_hole.wait_for(2).await;

    // Tenant B's delivery goes out at once, while A's sends hang.
    let (receiver, url) = Receiver::start().await;
    let b = app.sign_up("owner@fast.example", "fast").await;
    let (fast, _) = create_endpoint(&app, &b, &url, &["workspace.created"]).await;
    let started = Instant::now();
    app.create_workspace(&b, "Fast", "fast").await;
    receiver.wait_for(1).await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "B's delivery waited {waited:?} behind A's black hole"
    );
    assert_eq!(settled(&app, &b, &fast, 1).await[0]["status"], "SUCCEEDED");
    // A never had more than its share in flight, and one at a time per endpoint.
    assert!(
        black_hole.most_open() <= 2,
        "{} held open at once",
        black_hole.most_open()
    );
    let pending = deliveries(&app, &a, &slow_one).await;
    assert!(!pending.is_empty());
    app.stop().await;
}
