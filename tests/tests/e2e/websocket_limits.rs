//! `/graphql/ws` is bounded: a socket that does not initialise in time is closed, a
//! message over the size limit ends the socket, connections are capped per person or
//! key and per tenant, a connection runs a bounded number of subscriptions, and
//! `connection_init` spends from the rate limits like a request.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::live::{Ending, LiveClient};
use tessera_tests::{Backend, Member, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    a_socket_that_does_not_initialise_in_time_is_closed,
    a_message_over_the_size_limit_ends_the_socket,
    connections_are_capped_per_person_and_per_tenant,
    a_connection_runs_a_bounded_number_of_subscriptions,
    connection_init_spends_the_principals_budget_and_a_failed_one_the_addresss,
);

const LIVE: &str = "subscription { tenantEvents { id type } }";

fn bearer(member: &Member) -> Value {
    json!({ "Authorization": format!("Bearer {}", member.token) })
}

async fn a_socket_that_does_not_initialise_in_time_is_closed(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.limits.ws_init_timeout_seconds = 1).await
    else {
        return;
    };
    let addr = app.addr().expect("running");
    let mut idle = LiveClient::open(addr, None).await.expect("upgraded");
    let ending = idle.ending(Duration::from_secs(4)).await;
    assert_eq!(
        ending,
        Ending::Closed(4408, "Connection initialisation timeout".into()),
        "an idle socket is closed after the timeout"
    );
    // An initialised connection outlives the timeout.
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let mut live = LiveClient::connect(addr, bearer(&owner)).await.expect("connected");
    assert_eq!(live.ending(Duration::from_secs(2)).await, Ending::StillOpen);
    app.stop().await;
}

async fn a_message_over_the_size_limit_ends_the_socket(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.limits.ws_max_message_bytes = 4096).await
    else {
        return;
    };
    let addr = app.addr().expect("running");
    let owner = app.sign_up("owner@acme.example", "acme").await;
    // A valid credential in an oversized message: the message never reaches the server.
    let mut oversized = bearer(&owner);
    oversized["padding"] = json!("x".repeat(64 * 1024));
    let mut client = LiveClient::open(addr, None).await.expect("upgraded");
    let refused = client.init(oversized).await;
    assert!(refused.is_err(), "no acknowledgement for a 64 KiB message");
    assert_ne!(client.ending(Duration::from_secs(2)).await, Ending::StillOpen);
    // A message within the limit is served as usual.
    LiveClient::connect(addr, bearer(&owner)).await.expect("connected");
    app.stop().await;
}

async fn connections_are_capped_per_person_and_per_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.limits.ws_max_connections_per_principal = 2;
        config.limits.ws_max_connections_per_tenant = 3;
    })
    .await
    else {
        return;
    };
    let addr = app.addr().expect("running");
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let colleague = app
        .join(&owner, "colleague@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let first = LiveClient::connect(addr, bearer(&owner)).await.expect("first");
    let _second = LiveClient::connect(addr, bearer(&owner)).await.expect("second");
    let third = LiveClient::connect(addr, bearer(&owner)).await;
    assert!(
        third
            .as_ref()
            .err()
            .is_some_and(|e| e.contains("open connections per person")),
        "{:?}",
        third.err()
    );
    let _admins = LiveClient::connect(addr, bearer(&admin))
        .await
        .expect("the tenant's third");
    let fourth = LiveClient::connect(addr, bearer(&colleague)).await;
    assert!(
        fourth
            .as_ref()
            .err()
            .is_some_and(|e| e.contains("open connections per tenant")),
        "{:?}",
        fourth.err()
    );
    // Another tenant is not affected; a closed connection gives its slots back.
    let other = app.sign_up("owner@globex.example", "globex").await;
    LiveClient::connect(addr, bearer(&other)).await.expect("another tenant");
    first.close().await;
    let mut again = None;
    for _ in 0..20 {
        if let Ok(client) = LiveClient::connect(addr, bearer(&owner)).await {
            again = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the closed connection's slot came back");
    app.stop().await;
}

async fn a_connection_runs_a_bounded_number_of_subscriptions(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.limits.ws_max_subscriptions_per_connection = 2
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let mut live = LiveClient::connect(app.addr().expect("running"), bearer(&owner))
        .await
        .expect("connected");
    for id in ["1", "2", "3"] {
        live.subscribe_as(id, LIVE).await;
    }
    // Two of the three run (which two is the server's order of starting them).
    let refused = live.next_message(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["reason"], "TOO_MANY_SUBSCRIPTIONS",
        "{refused}"
    );
    let refused = refused["id"].as_str().expect("an id").to_owned();
    let running: Vec<&str> = ["1", "2", "3"].into_iter().filter(|id| *id != refused).collect();
    // Completing one frees its slot for the next.
    live.complete(running[0]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    live.subscribe_as("4", LIVE).await;
    app.create_workspace(&owner, "Design", "design").await;
    let mut heard = Vec::new();
    while let Some(message) = live.next_message(Duration::from_secs(3)).await {
        assert!(message["payload"].get("errors").is_none(), "{message}");
        if message["type"] == "next" {
            heard.push(message["id"].as_str().unwrap_or_default().to_owned());
        }
        if heard.len() == 2 {
            break;
        }
    }
    heard.sort();
    let mut expected = vec![running[1].to_owned(), "4".to_owned()];
    expected.sort();
    assert_eq!(heard, expected, "the one still running and the new one hear the event");
    app.stop().await;
}

async fn connection_init_spends_the_principals_budget_and_a_failed_one_the_addresss(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.limits.rate_limit_principal_per_minute = 3;
        config.limits.rate_limit_anonymous_per_minute = 6;
        config.limits.ws_max_connections_per_principal = 100;
        config.http.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    let addr = app.addr().expect("running");
    let owner = app.sign_up("owner@acme.example", "acme").await;
    // Each connection_init is one request of the person: the fourth is refused.
    let mut open = Vec::new();
    for n in 0..3 {
        open.push(
            LiveClient::connect(addr, bearer(&owner))
                .await
                .unwrap_or_else(|e| panic!("{n}: {e}")),
        );
    }
    let refused = LiveClient::connect(addr, bearer(&owner)).await;
    assert!(
        refused.as_ref().err().is_some_and(|e| e.contains("too many requests")),
        "{:?}",
        refused.err()
    );
    // From an address of its own: each upgrade and each failed init spends its
    // budget of six; then the address is refused before any upgrade.
    let client = "2001:db8:77:1::1";
    for _ in 0..3 {
        let mut forged = LiveClient::open(addr, Some(client)).await.expect("upgraded");
        assert!(forged.init(json!({ "Authorization": "Bearer forged" })).await.is_err());
    }
    let spent = LiveClient::open(addr, Some(client)).await;
    assert!(
        spent.as_ref().err().is_some_and(|e| e.contains("429")),
        "{:?}",
        spent.as_ref().err()
    );
    app.stop().await;
}
