//! GraphQL over HTTP: media types, status codes, GET rules, limits, GraphiQL, health
//! and the headers on every response. The HTTP layer does not depend on the store, so
//! these run on the embedded backend.

use reqwest::StatusCode;
use serde_json::json;
use tessera_tests::{Backend, TestApp};

async fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

/// `operationName` picks the operation of a GET request's document (the engine's own
/// parser only knew `operation_name`, so a two-operation document was refused), and a
/// `documentId` names a document like an APQ hash, over GET and POST.
#[tokio::test]
async fn get_takes_operation_name_and_both_methods_take_a_document_id() {
    let app = app().await;
    let ada = app.sign_up("ada@example.com", "acme").await;
    let url = format!("{}/graphql", app.base_url);
    let two = "query Mine { me { email } } query Tenant { currentTenant { slug } }";
    let picked = app
        .client
        .get(&url)
        .query(&[("query", two), ("operationName", "Tenant")])
        .bearer_auth(&ada.token)
        .send()
        .await;
    let picked = TestApp::read(picked.expect("answered")).await;
    assert_eq!(picked.assert_ok()["currentTenant"]["slug"], "acme");

    // Registered once with its text (automatic persisted queries), then named by id.
    let document = "query Me { me { email } }";
    let hash = tessera_api::http::sha256_hex(document);
    let registered = app
        .client
        .post(&url)
        .bearer_auth(&ada.token)
        .json(&json!({ "query": document, "documentId": format!("sha256:{hash}") }))
        .send()
        .await;
    let registered = TestApp::read(registered.expect("answered")).await;
    assert_eq!(registered.assert_ok()["me"]["email"], "ada@example.com");
    let by_post = app
        .client
        .post(&url)
        .bearer_auth(&ada.token)
        .json(&json!({ "documentId": format!("sha256:{hash}") }))
        .send()
        .await;
    let by_post = TestApp::read(by_post.expect("answered")).await;
    assert_eq!(by_post.assert_ok()["me"]["email"], "ada@example.com");
    let by_get = app
        .client
        .get(&url)
        .query(&[("documentId", hash.as_str())])
        .bearer_auth(&ada.token)
        .send()
        .await;
    let by_get = TestApp::read(by_get.expect("answered")).await;
    assert_eq!(by_get.assert_ok()["me"]["email"], "ada@example.com");

    let unknown = app
        .client
        .post(&url)
        .bearer_auth(&ada.token)
        .json(&json!({ "documentId": format!("sha256:{}", "0".repeat(64)) }))
        .send()
        .await;
    let unknown = TestApp::read(unknown.expect("answered")).await;
    assert_eq!(
        unknown.body["errors"][0]["message"], "PersistedQueryNotFound",
        "{}",
        unknown.body
    );
    let malformed = app
        .client
        .post(&url)
        .json(&json!({ "documentId": "sha1:abc" }))
        .send()
        .await;
    let malformed = TestApp::read(malformed.expect("answered")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);
    app.stop().await;
}

#[tokio::test]
async fn a_query_over_get_runs_and_a_mutation_over_get_is_refused() {
    let app = app().await;
    let ada = app.sign_up("ada@example.com", "acme").await;
    let url = format!("{}/graphql", app.base_url);

    let query = app
        .client
        .get(&url)
        .query(&[("query", "{ me { email } }")])
        .bearer_auth(&ada.token)
        .send()
        .await;
    let query = TestApp::read(query.expect("answered")).await;
    assert_eq!(query.status, StatusCode::OK);
    assert_eq!(query.assert_ok()["me"]["email"], "ada@example.com");
    assert!(
        query.content_type.starts_with("application/graphql-response+json"),
        "{}",
        query.content_type
    );

    let mutation = app
        .client
        .get(&url)
        .query(&[(
            "query",
            "mutation { deleteWorkspace(id: \"0190a3c4-6a7b-7cde-8f01-23456789abcd\") }",
        )])
        .bearer_auth(&ada.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        mutation.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    assert_eq!(app.db.count("workspaces").await, 1, "nothing was deleted");
    app.stop().await;
}

/// A document without variables is validated in full until it has once run; after
/// that it skips validation. One that validation refuses never runs, so it is refused
/// again however often it is sent: an unknown argument would be ignored by a run that
/// skipped validation. The document that runs keeps answering the same.
#[tokio::test]
async fn a_document_refused_by_validation_is_refused_every_time() {
    let app = app().await;
    let owner = app.sign_up("owner@validated.example", "validated").await;
    let fine = "{ members(first: 5) { nodes { status } } }";
    let bogus = "{ members(first: 5, bogus: 1) { nodes { status } } }";
    for attempt in 0..3 {
        let ran = app.graphql(fine, json!({}), Some(&owner.token)).await;
        assert_eq!(ran.status, StatusCode::OK, "attempt {attempt}: {}", ran.body);
        assert_eq!(
            ran.data()["members"]["nodes"],
            json!([{ "status": "ACTIVE" }]),
            "attempt {attempt}: {}",
            ran.body
        );
        let refused = app.graphql(bogus, json!({}), Some(&owner.token)).await;
        assert_eq!(
            refused.error_code(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "attempt {attempt}: {}",
            refused.body
        );
        assert!(refused.body.get("data").is_none(), "{}", refused.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn requests_that_cannot_execute_get_4xx_without_data() {
    let app = app().await;
    let url = format!("{}/graphql", app.base_url);

    let syntax = app.graphql("{ me { ", json!({}), None).await;
    assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
    assert!(syntax.body.get("data").is_none(), "{}", syntax.body);

    let unknown_field = app.graphql("{ secrets }", json!({}), None).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_field.error_code(), Some("GRAPHQL_VALIDATION_FAILED"));

    let not_json = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{ me { email } }")
        .send()
        .await;
    assert_eq!(not_json.expect("answered").status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let broken_json = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await;
    assert_eq!(broken_json.expect("answered").status(), StatusCode::BAD_REQUEST);
    // JSON nested 10,000 deep is refused with a plain answer, not the parser's words.
    let nested = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"x\": {}{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let nested = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await;
    let nested = TestApp::read(nested.expect("answered")).await;
    assert_eq!(nested.status, StatusCode::BAD_REQUEST);
    assert_eq!(nested.error_code(), Some("BAD_REQUEST"));
    let message = nested.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("recursion") && !message.contains("line") && !message.contains("column"),
        "{message}"
    );

    let batch = app
        .client
        .post(&url)
        .json(&json!([{ "query": "{ me { email } }" }]))
        .send()
        .await;
    let batch = TestApp::read(batch.expect("answered")).await;
    assert_eq!(batch.status, StatusCode::BAD_REQUEST);
    assert_eq!(batch.error_code(), Some("BAD_REQUEST"));

    let huge = "a".repeat(2 * 1024 * 1024);
    let too_large = app.client.post(&url).json(&json!({ "query": huge })).send().await;
    assert_eq!(too_large.expect("answered").status(), StatusCode::PAYLOAD_TOO_LARGE);

    let deep = format!("{{ me {} }}", "{ a ".repeat(12) + &"}".repeat(12));
    let deep = app.graphql(&deep, json!({}), None).await;
    assert_eq!(deep.status, StatusCode::BAD_REQUEST, "{}", deep.body);
    assert!(
        deep.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested too deep")),
        "{}",
        deep.body
    );
    app.stop().await;
}

#[tokio::test]
async fn field_errors_are_200_with_codes_and_legacy_json_clients_are_served() {
    let app = app().await;
    let url = format!("{}/graphql", app.base_url);

    let anonymous = app.graphql("{ me { email } }", json!({}), None).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.error_code(), Some("UNAUTHENTICATED"));

    // The engine's own input errors carry a code too.
    let wrong_type = app
        .graphql(
            "query($n: Int) { workspaces(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
            None,
        )
        .await;
    assert!(wrong_type.error_code().is_some(), "{}", wrong_type.body);

    for header in ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "] {
        let response = app
            .client
            .post(&url)
            .header("authorization", header)
            .json(&json!({ "query": "{ me { email } }" }))
            .send()
            .await;
        let response = TestApp::read(response.expect("answered")).await;
        assert_eq!(
            response.error_code(),
            Some("UNAUTHENTICATED"),
            "{header}: {}",
            response.body
        );
    }

    let legacy = app
        .client
        .post(&url)
        .header("accept", "application/json")
        .json(&json!({ "query": "{ secrets }" }))
        .send()
        .await;
    let legacy = TestApp::read(legacy.expect("answered")).await;
    assert!(
        legacy.content_type.starts_with("application/json"),
        "{}",
        legacy.content_type
    );
    assert_eq!(
        legacy.status,
        StatusCode::OK,
        "legacy clients get 200 for request errors"
    );

    let unacceptable = app
        .client
        .post(&url)
        .header("accept", "text/html")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await;
    assert_eq!(unacceptable.expect("answered").status(), StatusCode::NOT_ACCEPTABLE);
    app.stop().await;
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary_with_security_headers() {
    let app = app().await;
    let page = app.get("/graphiql").await;
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "GraphiQL must not load anything remote"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "init.js",
    ] {
        assert!(
            html.contains(&format!("/graphiql/assets/{asset}")),
            "page references {asset}"
        );
        let response = app.get(&format!("/graphiql/assets/{asset}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.expect("body").len() > 100, "{asset} has content");
    }
    let missing = app.get("/graphiql/assets/nope.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        headers.get("x-content-type-options").and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        headers.get("x-frame-options").and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert!(
        headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|csp| csp.contains("script-src 'self'"))
    );
    assert!(headers.get("x-request-id").is_some());
    app.stop().await;
}

#[tokio::test]
async fn health_endpoints_report_the_process_and_the_database() {
    let app = app().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["database"]["status"], "healthy");
    assert_eq!(body["checks"]["migrations"]["status"], "healthy", "{body}");
    assert_eq!(body["status"], "healthy");

    let request_id = app
        .client
        .get(format!("{}/health/live", app.base_url))
        .header("x-request-id", "req-from-client-123")
        .send()
        .await
        .expect("answered");
    assert_eq!(
        request_id.headers().get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("req-from-client-123")
    );
    app.stop().await;
}

#[tokio::test]
async fn cors_allows_listed_origins_only_and_hsts_and_header_limits_apply() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.http.cors_allowed_origins = Some("https://app.example.com, https://admin.example.com/".into());
        config.http.hsts_max_age_seconds = Some(31_536_000);
    })
    .await
    .expect("SQLite is always available");
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base_url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.expect("answered");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let listed_with_slash = preflight("https://admin.example.com").await.expect("answered");
    assert!(listed_with_slash.headers().get("access-control-allow-origin").is_some());
    let refused = preflight("https://evil.example.net").await.expect("answered");
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    let plain = app.get("/health/live").await;
    assert_eq!(
        plain
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );

    let huge = app
        .client
        .get(format!("{}/health/live", app.base_url))
        .header("x-padding", "a".repeat(20 * 1024))
        .send()
        .await
        .expect("answered");
    assert_eq!(huge.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn without_an_allowlist_no_cors_headers_are_sent() {
    let app = app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base_url))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("answered");
    assert!(response.headers().get("access-control-allow-origin").is_none());
    assert!(
        app.get("/health/live")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    app.stop().await;
}

/// With `MAX_BATCH_OPERATIONS` set, a small batch runs: each operation on its own,
/// answered in order, a failing one beside the others; a larger batch is refused whole.
#[tokio::test]
async fn small_batches_run_when_allowed_and_larger_ones_are_refused() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.limits.max_batch_operations = 3;
        // Refills one request every 6 s: the test sees exactly what each request spends.
        config.limits.rate_limit_principal_per_minute = 10;
    })
    .await
    .expect("SQLite is always available");
    let ada = app.sign_up("ada@example.com", "acme").await;
    let url = format!("{}/graphql", app.base_url);
    let send = |body: serde_json::Value| app.client.post(&url).bearer_auth(&ada.token).json(&body).send();

    let remaining = |response: &reqwest::Response| -> u64 {
        response.headers()["ratelimit-remaining"]
            .to_str()
            .expect("text")
            .parse()
            .expect("a number")
    };
    let single = send(json!({ "query": "{ me { email } }" })).await.expect("answered");
    let left_before = remaining(&single);
    let before = app.statements();
    let answer = send(json!([
        { "query": "{ me { email } }" },
        { "query": "{ nothing }" },
        { "query": "query($n: Int!) { workspaces(first: $n) { totalCount } }", "variables": { "n": 5 } },
    ]))
    .await
    .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        left_before - remaining(&answer),
        3,
        "each operation spends from the rate limit"
    );
    let answers: serde_json::Value = answer.json().await.expect("JSON");
    let answers = answers.as_array().expect("an array of answers");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["data"]["me"]["email"], "ada@example.com");
    assert_eq!(
        answers[1]["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert_eq!(answers[2]["data"]["workspaces"]["totalCount"], 1);
    assert!(app.statements() > before, "the operations ran");

    let before = app.statements();
    let four: Vec<_> = (0..4).map(|_| json!({ "query": "{ me { email } }" })).collect();
    let refused = TestApp::read(send(json!(four)).await.expect("answered")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error_code(), Some("BATCH_TOO_LARGE"));
    let empty = TestApp::read(send(json!([])).await.expect("answered")).await;
    assert_eq!(empty.error_code(), Some("BATCH_TOO_LARGE"));
    assert_eq!(app.statements(), before, "a refused batch runs nothing");
    app.stop().await;
}
