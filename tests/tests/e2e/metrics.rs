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
    // The same text four times: parsed once, then taken from the document cache.
    assert!(
        delta(
            "tessera_cache_requests_total",
            &[("kind", "document"), ("result", "hit")]
        ) >= 3.0
    );
    assert!(
        delta(
            "tessera_cache_requests_total",
            &[("kind", "document"), ("result", "miss")]
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
        config.auth.secrets_key = Some("ab".repeat(32).into());
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

/// The per-tenant series are bounded: only the busiest `METRICS_TOP_TENANTS` tenants of
/// the last metering window are named, the rest are summed as `other`; the build is
/// named too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_series_name_only_the_busiest_tenants() {
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.limits.metrics_top_tenants = 2;
        config.limits.metering_flush_seconds = 300;
    })
    .await
    else {
        return;
    };
    let mut tenants = Vec::new();
    for (n, calls) in [(1, 4), (2, 3), (3, 2), (4, 1)] {
        let owner = app
            .sign_up(&format!("owner{n}@example.com"), &format!("tenant-{n}"))
            .await;
        for _ in 0..calls {
            app.query("{ me { id } }", &owner.token).await.assert_ok();
        }
        tenants.push(owner);
    }
    app.flush_usage().await;
    let scrape = parse(&app.get("/metrics").await.text().await.expect("text"));
    let window: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "tessera_tenant_requests_window")
        .collect();
    assert_eq!(window.len(), 3, "two tenants and `other`");
    let series = |tenant: &str| value(&scrape, "tessera_tenant_requests_window", &[("tenant", tenant)]);
    assert_eq!(series(&tenants[0].tenant_id), 4.0);
    assert_eq!(series(&tenants[1].tenant_id), 3.0);
    assert_eq!(series("other"), 3.0, "the other two tenants together");
    assert_eq!(series(&tenants[2].tenant_id), 0.0, "not named");
    assert_eq!(
        value(&scrape, "tessera_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    app.stop().await;
}
