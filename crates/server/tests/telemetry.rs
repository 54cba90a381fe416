//! OpenTelemetry as a collector sees it: the real `tessera` binary exports its traces
//! over OTLP/HTTP (JSON) to a receiver started here. A request that carries a W3C
//! `traceparent` continues that trace: its server span, the GraphQL operation, each SQL
//! statement and (with Redis) each Redis call, the operation's spans carrying the
//! tenant's id; a webhook delivery sends a `traceparent` of its own span; and every
//! request is one INFO access line in the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

mod support;

use support::Server;

#[derive(Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<Value>>>,
    hooks: Arc<Mutex<Vec<HeaderMap>>>,
}

async fn receiver() -> (Received, String) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(received): State<Received>, body: Bytes| async move {
                if let Ok(document) = serde_json::from_slice::<Value>(&body) {
                    received.traces.lock().expect("traces").push(document);
                }
                ([("content-type", "application/json")], "{}")
            }),
        )
        .route(
            "/hook",
            post(|State(received): State<Received>, headers: HeaderMap| async move {
                received.hooks.lock().expect("hooks").push(headers);
                ""
            }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (received, base)
}

/// Every span received: (trace id, span id, parent span id, name, attributes by key).
fn spans(received: &Received) -> Vec<(String, String, String, String, Value)> {
    let mut found = Vec::new();
    for document in received.traces.lock().expect("traces").iter() {
        for resource in document["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let mut attributes = serde_json::Map::new();
                    for attribute in span["attributes"].as_array().into_iter().flatten() {
                        let value = &attribute["value"];
                        let value = value
                            .get("stringValue")
                            .or_else(|| value.get("intValue"))
                            .or_else(|| value.get("boolValue"))
                            .cloned()
                            .unwrap_or_else(|| value.clone());
                        attributes.insert(attribute["key"].as_str().unwrap_or_default().to_owned(), value);
                    }
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_ascii_lowercase();
                    found.push((
                        text("traceId"),
                        text("spanId"),
                        text("parentSpanId"),
                        span["name"].as_str().unwrap_or_default().to_owned(),
                        Value::Object(attributes),
                    ));
                }
            }
        }
    }
    found
}

async fn graphql(base: &str, query: &str, variables: Value, headers: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer: Value = request.send().await.expect("answered").json().await.expect("JSON");
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_continue_the_callers_trace_down_to_sql_redis_and_webhooks() {
    let (received, collector) = receiver().await;
    let redis = std::env::var("TEST_REDIS_URL").ok();
    let mut settings = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_SERVICE_NAME", "tessera-under-test"),
    ];
    if let Some(redis) = &redis {
        settings.push(("REDIS_URL", redis.as_str()));
    }
    let server = tokio::task::block_in_place(|| Server::start_with("telemetry", &settings));

    let signed_up = graphql(
        &server.base,
        "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { id } } }",
        json!({ "input": { "email": "otel@telemetry.example", "password": "a telemetry password", "displayName": "Otel", "tenantName": "Traced" } }),
        &[],
    )
    .await;
    let token = signed_up["signUp"]["accessToken"].as_str().expect("token").to_owned();
    let tenant = signed_up["signUp"]["tenant"]["id"].as_str().expect("tenant").to_owned();
    let bearer = format!("Bearer {token}");
    // Webhooks are in the team plan: the operator's command moves the tenant there.
    let database = format!(
        "sqlite://{}?mode=rwc",
        Server::dir_of("telemetry").join("tessera.db").display()
    );
    let mut set_plan = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    set_plan
        .args(["tenant", "set-plan", "traced", "team"])
        .env_clear()
        .env("DATABASE_URL", database)
        .env("RUST_LOG", "error");
    if let Some(redis) = &redis {
        set_plan.env("REDIS_URL", redis);
    }
    let (moved, ok) = support::output_of(&mut set_plan);
    assert!(ok, "{moved}");

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let hook = format!("{collector}/hook");
    graphql(
        &server.base,
        "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }",
        json!({ "input": { "url": hook, "events": ["workspace.created"] } }),
        &[("authorization", &bearer)],
    )
    .await;
    graphql(
        &server.base,
        "mutation { createWorkspace(input: { name: \"Traced\", slug: \"traced\" }) { id } }",
        json!({}),
        &[("authorization", &bearer), ("traceparent", &traceparent)],
    )
    .await;

    // The spans arrive in batches; the webhook in its own time.
    let mut all = Vec::new();
    for _ in 0..100 {
        all = spans(&received);
        let in_trace = all.iter().filter(|span| span.0 == trace_id).count();
        let hooked = !received.hooks.lock().expect("hooks").is_empty();
        let delivery_exported = all.iter().any(|span| span.3 == "POST webhook");
        if in_trace >= 3 && hooked && delivery_exported {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_trace: Vec<_> = all.iter().filter(|span| span.0 == trace_id).collect();
    let names: Vec<&str> = in_trace.iter().map(|span| span.3.as_str()).collect();

    let request = in_trace
        .iter()
        .find(|span| span.3 == "POST /graphql")
        .unwrap_or_else(|| panic!("no server span in the caller's trace: {names:?}"));
    assert_eq!(request.2, caller_span, "the server span's parent is the caller's span");
    assert_eq!(request.4["http.response.status_code"], json!("200"), "{:?}", request.4);
    let operation = in_trace
        .iter()
        .find(|span| span.4.get("graphql.operation.type").is_some())
        .unwrap_or_else(|| panic!("no GraphQL operation span: {names:?}"));
    assert_eq!(operation.2, request.1, "the operation runs inside the request");
    assert_eq!(operation.4["graphql.operation.type"], "mutation");
    // The owner may run every field of it: its rules were checked before it ran, and it
    // ran without the per-field hook.
    assert_eq!(
        operation.4["tessera.fields_checked_before"],
        json!(true),
        "{:?}",
        operation.4
    );
    assert_eq!(operation.4["tenant.id"], json!(tenant));
    let statements: Vec<_> = in_trace
        .iter()
        .filter(|span| span.4["db.system.name"] == "sqlite")
        .collect();
    assert!(!statements.is_empty(), "no SQL statement spans: {names:?}");
    assert!(
        statements.iter().any(|span| span.4["tenant.id"] == json!(tenant)
            && span.4["db.query.text"]
                .as_str()
                .is_some_and(|sql| sql.contains("INSERT"))),
        "no INSERT span of the tenant: {statements:?}"
    );
    if redis.is_some() {
        let calls: Vec<_> = in_trace
            .iter()
            .filter(|span| span.4["db.system.name"] == "redis")
            .collect();
        assert!(!calls.is_empty(), "no Redis call spans: {names:?}");
        // The rate limits are spent with the session's check when the access is kept on
        // this server (one script), else after it; either call names the tenant.
        assert!(
            calls.iter().any(|span| {
                ["EVALSHA rate limit", "EVALSHA session access rate limit"].contains(&span.3.as_str())
                    && span.4["tenant.id"] == json!(tenant)
            }),
            "{calls:?}"
        );
    }

    // The delivery carries the trace context of its own span, which was exported.
    let hooks = received.hooks.lock().expect("hooks").clone();
    let sent = hooks
        .first()
        .and_then(|headers| headers.get("traceparent"))
        .and_then(|value| value.to_str().ok())
        .expect("the delivery carries a traceparent")
        .to_owned();
    let parts: Vec<&str> = sent.split('-').collect();
    assert!(
        parts.len() == 4 && parts[1].len() == 32 && parts[2].len() == 16,
        "{sent}"
    );
    assert!(
        all.iter()
            .any(|span| span.3 == "POST webhook" && span.0 == parts[1] && span.1 == parts[2]),
        "the delivery's span was not exported"
    );

    // One access line per request, with what an operator filters on.
    let logs = server.logs.lock().expect("logs").clone();
    let line = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|log| {
            log["fields"]["message"] == "request served"
                && log["span"]["operation"]
                    .as_str()
                    .is_some_and(|op| op.contains("createWorkspace"))
        })
        .unwrap_or_else(|| panic!("no access line for createWorkspace in:\n{}", logs.join("\n")));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["duration_ms"].as_f64().is_some(), "{line}");
    assert_eq!(line["span"]["method"], "POST");
    assert_eq!(line["span"]["tenant_id"], json!(tenant));
    assert!(
        line["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_false_leaves_the_access_lines_out() {
    let server = tokio::task::block_in_place(|| Server::start_with("quiet", &[("ACCESS_LOG", "false")]));
    graphql(&server.base, "{ __typename }", json!({}), &[]).await;
    let noisy = tokio::task::block_in_place(|| Server::start("noisy"));
    graphql(&noisy.base, "{ __typename }", json!({}), &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = |server: &Server| {
        server
            .logs
            .lock()
            .expect("logs")
            .iter()
            .filter(|line| line.contains("request served"))
            .count()
    };
    assert_eq!(served(&server), 0);
    assert_eq!(served(&noisy), 1, "the default writes one line per request");
}
