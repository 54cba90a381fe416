//! `/metrics`: Prometheus text that a Prometheus parser accepts, with the request,
//! error, rate-limit and cache series, labels bounded; optionally behind a token.

use serde_json::json;
use tessera_tests::{Backend, TestApp};

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("valid Prometheus text")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_requests_errors_and_cache_lookups() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let before = parse(&app.get("/metrics").await.text().await.expect("text"));
    let ada = app.sign_up("ada@example.com", "acme").await;
    for _ in 0..3 {
        app.query("{ me { email } }", &ada.token).await.assert_ok();
    }
    let refused = app.query("{ me { email } }", "not-a-token").await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"));
    app.graphql("{ noSuchField }", json!({}), None).await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
    );
    let after = parse(&response.text().await.expect("text"));
    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    // Other tests share the process-wide recorder, so compare by at least.
    assert!(
        delta(
            "tessera_graphql_requests_total",
            &[("operation", "me"), ("outcome", "ok")]
        ) >= 3.0
    );
    assert!(delta("tessera_graphql_errors_total", &[("code", "UNAUTHENTICATED")]) >= 1.0);
    assert!(
        delta("tessera_graphql_requests_total", &[("operation", "unknown")]) >= 1.0,
        "unknown fields fold"
    );
    assert!(
        delta(
            "tessera_cache_requests_total",
            &[("kind", "member_access"), ("result", "hit")]
        ) >= 1.0
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "tessera_graphql_request_duration_seconds"
                && matches!(s.value, prometheus_parse::Value::Histogram(_))),
        "latency histogram"
    );
    assert!(
        after
            .samples
            .iter()
            .all(|s| s.labels.get("operation").is_none_or(|op| op != "noSuchField")),
        "labels never carry what the client typed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_bearer_token() {
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.http.metrics_token = Some("scrape-secret".into());
    })
    .await
    else {
        return;
    };
    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth("guess")
        .send()
        .await
        .expect("answered");
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .expect("answered");
    assert_eq!(right.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_serves_metrics_only_with_a_token_or_on_a_separate_address() {
    let production = |config: &mut tessera_server::Config| {
        config.runtime.environment = tessera_server::Environment::Production;
        config.auth.jwt_secret = Some("a-production-secret-of-at-least-32-bytes".into());
    };
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| production(config)).await else {
        return;
    };
    let refused = app.get("/metrics").await;
    assert_eq!(refused.status(), 404, "no token, no separate address: not served");
    app.stop().await;

    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        production(config);
        config.http.metrics_bind_addr = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await
    else {
        return;
    };
    assert_eq!(app.get("/metrics").await.status(), 404, "not on the API's address");
    let admin = app.metrics_addr().expect("a metrics address");
    let scraped = app
        .client
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("answered");
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.expect("text");
    assert!(prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).is_ok());
    app.stop().await;
}
