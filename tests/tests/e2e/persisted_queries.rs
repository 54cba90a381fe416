//! Automatic persisted queries (Apollo's protocol: hash miss → register → hit, a hash
//! that does not match is refused) and trusted documents required of API keys.

use serde_json::{Value, json};
use tessera_api::http::sha256_hex;
use tessera_tests::{Backend, GqlResponse, TestApp};

async fn send(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> GqlResponse {
    let mut request = app.client.post(format!("{}/graphql", app.base_url)).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    TestApp::read(request.send().await.expect("answered")).await
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_misses_then_registers_then_runs_and_a_wrong_hash_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let query = "query Catalogue { permissions { name } }";
    let hash = sha256_hex(query);

    let miss = send(&app, json!({ "extensions": persisted(&hash) }), &[]).await;
    assert_eq!(miss.status, 200, "{}", miss.body);
    assert_eq!(miss.body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(miss.error_code(), Some("PERSISTED_QUERY_NOT_FOUND"));

    let register = send(&app, json!({ "query": query, "extensions": persisted(&hash) }), &[]).await;
    let registered = register.assert_ok()["permissions"].clone();
    let hit = send(&app, json!({ "extensions": persisted(&hash) }), &[]).await;
    assert_eq!(
        hit.assert_ok()["permissions"],
        registered,
        "the hash alone runs the document"
    );

    let forged = send(
        &app,
        json!({ "query": "{ permissions { name description } }", "extensions": persisted(&hash) }),
        &[],
    )
    .await;
    assert_eq!(forged.status, 400);
    assert_eq!(forged.error_code(), Some("PERSISTED_QUERY_HASH_MISMATCH"));
    let malformed = send(&app, json!({ "extensions": persisted("not-a-hash") }), &[]).await;
    assert_eq!(malformed.status, 400);

    // A registered mutation cannot be run over GET by its hash.
    let mutation = "mutation { requestPasswordReset(input: { email: \"nobody@example.com\" }) }";
    let mutation_hash = sha256_hex(mutation);
    send(
        &app,
        json!({ "query": mutation, "extensions": persisted(&mutation_hash) }),
        &[],
    )
    .await
    .assert_ok();
    let extensions = persisted(&mutation_hash).to_string();
    let over_get = app
        .client
        .get(format!("{}/graphql", app.base_url))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .expect("answered");
    assert_eq!(over_get.status(), 405);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_may_be_held_to_trusted_documents() {
    let trusted = "{ currentTenant { slug } }";
    let manifest = std::env::temp_dir().join(format!("tessera-trusted-{}.json", uuid::Uuid::new_v4().simple()));
    tessera_server::trusted::add(&manifest, trusted).expect("manifest written");
    let path = manifest.clone();
    let app = TestApp::spawn_configured(Backend::Sqlite, move |config, _| {
        config.trusted_documents.file = path;
        config.trusted_documents.required = tessera_server::config::TrustedDocumentsRequired::ApiKeys;
    })
    .await
    .expect("SQLite is always available");
    let owner = app.sign_up("owner@example.com", "acme").await;
    let (_, secret) = app.create_api_key(&owner, "ci", &[]).await;
    let key = [("x-api-key", secret.as_str())];

    let plain = send(&app, json!({ "query": trusted }), &key).await;
    assert_eq!(plain.status, 403, "{}", plain.body);
    assert_eq!(plain.error_code(), Some("PERSISTED_QUERY_REQUIRED"));
    let by_hash = send(&app, json!({ "extensions": persisted(&sha256_hex(trusted)) }), &key).await;
    assert_eq!(by_hash.assert_ok()["currentTenant"]["slug"], "acme");
    let other = "{ me { email } }";
    let untrusted = send(
        &app,
        json!({ "query": other, "extensions": persisted(&sha256_hex(other)) }),
        &key,
    )
    .await;
    assert_eq!(untrusted.status, 403);
    assert_eq!(untrusted.error_code(), Some("PERSISTED_QUERY_NOT_TRUSTED"));

    // People (access tokens) are not held to the manifest in this mode.
    app.query(other, &owner.token).await.assert_ok();
    app.stop().await;
    let _ = std::fs::remove_file(manifest);
}

tessera_tests::on_both_backends!(junk_is_never_registered_and_each_caller_registers_a_bounded_number_a_day);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_store_in_redis_is_bounded_the_same_way() {
    let Some(redis) = tessera_tests::redis_url() else {
        return;
    };
    registration_bounds(Backend::Sqlite, Some(redis)).await;
}

async fn junk_is_never_registered_and_each_caller_registers_a_bounded_number_a_day(backend: Backend) {
    registration_bounds(backend, None).await;
}

async fn registration_bounds(backend: Backend, redis: Option<String>) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.limits.persisted_query_registrations_per_day = 3;
        config.redis.url = redis.map(Into::into);
        // Its own address (through a trusted proxy): a Redis budget outlives the test.
        config.http.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    let id = uuid::Uuid::new_v4().as_u128();
    let client = format!("2001:db8:{:x}:{:x}::7", (id >> 16) as u16, id as u16);
    let from = [("x-forwarded-for", client.as_str())];
    // Not GraphQL, or GraphQL the schema does not have: refused, and not remembered.
    for junk in ["{ this is not graphql", "{ noSuchField }", &"x".repeat(5000)] {
        let hash = sha256_hex(junk);
        let sent = send(&app, json!({ "query": junk, "extensions": persisted(&hash) }), &from).await;
        assert!(sent.body.get("errors").is_some(), "{}", sent.body);
        let again = send(&app, json!({ "extensions": persisted(&hash) }), &from).await;
        assert_eq!(
            again.error_code(),
            Some("PERSISTED_QUERY_NOT_FOUND"),
            "{junk:.20}: {}",
            again.body
        );
    }
    // Three new documents a day from this address are kept; the fourth is answered
    // but not stored.
    // (Each run its own documents: a Redis store outlives the test's database.)
    let run = uuid::Uuid::new_v4().simple().to_string();
    let documents: Vec<String> = (0..4)
        .map(|n| format!("query Q{n}_{run} {{ permissions {{ name }} }}"))
        .collect();
    for document in &documents {
        let hash = sha256_hex(document);
        send(
            &app,
            json!({ "query": document, "extensions": persisted(&hash) }),
            &from,
        )
        .await
        .assert_ok();
    }
    for (n, document) in documents.iter().enumerate() {
        let by_hash = send(&app, json!({ "extensions": persisted(&sha256_hex(document)) }), &from).await;
        if n < 3 {
            by_hash.assert_ok();
        } else {
            assert_eq!(
                by_hash.error_code(),
                Some("PERSISTED_QUERY_NOT_FOUND"),
                "{}",
                by_hash.body
            );
        }
    }
    // A tenant's members register from the tenant's own budget.
    let ada = app.sign_up("ada@example.com", "acme").await;
    let document = format!("query Mine_{run} {{ me {{ email }} }}");
    let hash = sha256_hex(&document);
    let bearer = format!("Bearer {}", ada.token);
    send(
        &app,
        json!({ "query": document, "extensions": persisted(&hash) }),
        &[("authorization", bearer.as_str())],
    )
    .await
    .assert_ok();
    send(
        &app,
        json!({ "extensions": persisted(&hash) }),
        &[("authorization", bearer.as_str())],
    )
    .await
    .assert_ok();
    app.stop().await;
}
