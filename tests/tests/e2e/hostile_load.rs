//! One address throws junk at the server: thousands of well-formed API keys that do
//! not exist, a revoked key presented again and again, persisted documents that are
//! not GraphQL, and sockets that never say who they are. The server's work stays
//! bounded by the address's budget: the SQL statements run, the audit events written,
//! the memory held and the time taken are all asserted, and the owner is served
//! throughout.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tessera_api::http::sha256_hex;
use tessera_tests::live::{Ending, LiveClient};
use tessera_tests::{Backend, TestApp, on_both_backends};

on_both_backends!(junk_from_one_address_costs_a_bounded_amount_of_work);

/// This process's resident memory, in KiB (the server runs inside the test process).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

const ADDRESS: &str = "203.0.113.66";

async fn junk_from_one_address_costs_a_bounded_amount_of_work(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        // The production default for requests without a credential, and the test's
        // own address through a trusted proxy.
        config.limits.rate_limit_anonymous_per_minute = 120;
        config.http.trusted_proxies = Some("127.0.0.1".into());
        config.limits.ws_init_timeout_seconds = 1;
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@victim.example", "victim").await;
    let (key_id, revoked) = app.create_api_key(&owner, "Old", &["members:read"]).await;
    app.revoke_api_key(&owner, &key_id).await;
    let tenant = owner.tenant_id.replace('-', "");
    let audit_before = app.db.count("audit_events").await;
    let statements_before = app.statements();
    let memory_before = resident_kib();
    let started = Instant::now();

    // 2,000 bogus keys, 1,000 presentations of the revoked key, 1,000 junk documents.
    let url = format!("{}/graphql", app.base_url);
    let requests = (0..4_000).map(|n| {
        let body = if n % 4 == 3 {
            let junk = format!("{{ junk {n} ");
            json!({ "query": junk, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(&junk) } } })
        } else {
            json!({ "query": "{ members(first: 1) { totalCount } }" })
        };
        let key = match n % 4 {
            0 | 1 => Some(format!(
                "tsk_{tenant}_{}_{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )),
            2 => Some(revoked.clone()),
            _ => None,
        };
        let mut request = app
            .client
            .post(&url)
            .header("x-forwarded-for", ADDRESS)
            .json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move { request.send().await.map(|response| response.status().as_u16()) }
    });
    let statuses: Vec<u16> = futures_util::stream::iter(requests)
        .buffer_unordered(32)
        .filter_map(|status| async move { status.ok() })
        .collect()
        .await;
    assert_eq!(statuses.len(), 4_000, "every request was answered");
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert!(refused >= 3_800, "{refused} of 4,000 refused by address");

    // 200 sockets that never initialise: most are refused at the upgrade, the rest are
    // closed by the server after the initialisation timeout.
    let addr = app.addr().expect("running");
    let mut opened = Vec::new();
    for _ in 0..200 {
        if let Ok(socket) = LiveClient::open(addr, Some(ADDRESS)).await {
            opened.push(socket);
        }
    }
    assert!(opened.len() <= 10, "{} sockets were let in", opened.len());
    for mut socket in opened {
        assert!(matches!(
            socket.ending(Duration::from_secs(4)).await,
            Ending::Closed(4408, _)
        ));
    }
    let elapsed = started.elapsed();

    let statements = app.statements() - statements_before;
    let written = app.db.count("audit_events").await - audit_before;
    let grown = resident_kib().saturating_sub(memory_before);
    eprintln!(
        "hostile load ({backend:?}): {statements} statements, {written} audit events, \
         {grown} KiB more resident memory, {elapsed:?}"
    );
    // At most the address's burst of look-ups (one or two statements each) and one
    // recorded use of the revoked key.
    assert!(statements <= 300, "{statements} statements");
    assert!(written <= 1, "{written} audit events written");
    assert!(grown < 64 * 1024, "{grown} KiB more resident memory");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");

    // The tenant's own people are served all along.
    app.query("{ members(first: 1) { totalCount } }", &owner.token)
        .await
        .assert_ok();
    app.stop().await;
}
