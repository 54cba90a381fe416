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
        config.trusted_documents_file = path;
        config.trusted_documents_required = tessera_server::config::TrustedDocumentsRequired::ApiKeys;
    })
    .await
    .expect("SQLite is always available");
    let owner = app.sign_up("owner@example.com", "acme").await;
    let created = app
        .graphql(
            "mutation { createApiKey(input: { name: \"ci\", permissions: [] }) { secret } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    let secret = created.assert_ok()["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
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
    app.graphql(other, json!({}), Some(&owner.token)).await.assert_ok();
    app.stop().await;
    let _ = std::fs::remove_file(manifest);
}
