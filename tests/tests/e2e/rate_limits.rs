//! Rate limits over real HTTP: a tenant past its quota gets 429 with the headers
//! while another tenant carries on; replicas sharing Redis share the count; log-in
//! attempts have their own strict per-address bucket.

use serde_json::json;
use tessera_tests::{Backend, PASSWORD, TestApp, redis_url};

async fn me(app: &TestApp, base: &str, token: &str) -> reqwest::Response {
    app.client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .expect("answered")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .expect("text")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_past_its_quota_is_refused_while_others_carry_on_and_replicas_share_the_count() {
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, options| {
        config.redis.url = Some(redis.into());
        options.plans = Some(tessera_tests::test_plans("free", 5));
    })
    .await
    else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let bob = app.sign_up("bob@example.com", "globex").await;

    for remaining in (0..5).rev() {
        let response = me(&app, &app.base_url, &ada.token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), "5");
        assert_eq!(header(&response, "ratelimit-remaining"), remaining.to_string());
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining.to_string());
        assert!(
            header(&response, "ratelimit-reset")
                .parse::<u64>()
                .is_ok_and(|s| s <= 60)
        );
    }
    let refused = me(&app, &app.base_url, &ada.token).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = header(&refused, "retry-after").parse().expect("seconds");
    assert!((1..=12).contains(&retry), "one request every 12 s: {retry}");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    let body = TestApp::read(refused).await;
    assert_eq!(body.error_code(), Some("RATE_LIMITED"), "{}", body.body);
    assert_eq!(body.body["errors"][0]["extensions"]["retryAfterSeconds"], retry);

    // Another tenant is not affected.
    let other = me(&app, &app.base_url, &bob.token).await;
    assert_eq!(other.status(), 200);
    assert_eq!(header(&other, "ratelimit-remaining"), "4");
    // A request naming a tenant its token is not for is refused before any of its own
    // budget is spent (the buckets may be spent with the cached access's lookup only
    // once the named tenant is checked).
    let misdirected = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&bob.token)
        .header("x-tenant-slug", "acme")
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .expect("answered");
    let misdirected = TestApp::read(misdirected).await;
    assert!(misdirected.error_code().is_some(), "{}", misdirected.body);
    let next = me(&app, &app.base_url, &bob.token).await;
    assert_eq!(
        header(&next, "ratelimit-remaining"),
        "3",
        "the misdirected request spent nothing of its tenant's budget"
    );

    // A second server on the same Redis sees the same exhausted bucket.
    let replica = app.replica().await;
    let elsewhere = me(&app, &format!("http://{}", replica.addr), &ada.token).await;
    assert_eq!(elsewhere.status(), 429, "replicas share one limit");
    replica.stop().await;
    app.stop().await;
}

/// An API key's requests draw from its tenant's budget once each, whether the kept
/// key's buckets were spent with its cache lookup (one Redis round trip) or by the
/// rate limiter (the first request, which reads the key from the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_keys_requests_spend_its_tenants_budget_once_each() {
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, options| {
        config.redis.url = Some(redis.into());
        options.plans = Some(tessera_tests::test_plans("free", 6));
    })
    .await
    else {
        return;
    };
    let cleo = app.sign_up("cleo@example.com", "initech").await;
    let (_, secret) = app.create_api_key(&cleo, "partner", &["members:read"]).await;
    let with_key = || async {
        app.client
            .post(format!("{}/graphql", app.base_url))
            .bearer_auth(&secret)
            .json(&json!({ "query": "{ members(first: 1) { nodes { status } } }" }))
            .send()
            .await
            .expect("answered")
    };
    // Creating the key spent one of the six; each request with it spends one more.
    for remaining in (0..5).rev() {
        let response = with_key().await;
        assert_eq!(response.status(), 200, "{:?}", response.headers());
        assert_eq!(header(&response, "ratelimit-limit"), "6");
        assert_eq!(header(&response, "ratelimit-remaining"), remaining.to_string());
        let body = TestApp::read(response).await;
        assert!(body.error_code().is_none(), "{}", body.body);
    }
    let refused = with_key().await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    app.stop().await;
}

/// A key's request its plan refuses before admission (an untrusted document where the
/// plan requires trusted ones) spends nothing of its tenant's budget, though the key is
/// kept and its buckets could be spent with its lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_request_refused_for_its_document_spends_nothing() {
    let Some(redis) = redis_url() else {
        return;
    };
    let trusted = "{ currentTenant { slug } }";
    let manifest = std::env::temp_dir().join(format!("tessera-rl-trusted-{}.json", uuid::Uuid::new_v4().simple()));
    tessera_server::trusted::add(&manifest, trusted).expect("manifest written");
    let path = manifest.clone();
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, move |config, options| {
        config.redis.url = Some(redis.into());
        config.trusted_documents.file = path;
        let mut plans = tessera_tests::test_plans("free", 8).plans().to_vec();
        plans[0].trusted_documents_required = true;
        options.plans = Some(
            tessera_domain::PlanCatalogue::new(plans, tessera_domain::PlanKey::parse("free").expect("key"))
                .expect("valid"),
        );
    })
    .await
    else {
        return;
    };
    let dana = app.sign_up("dana@example.com", "umbrella").await;
    let (_, secret) = app.create_api_key(&dana, "partner", &[]).await;
    let with_key = |body: serde_json::Value| {
        let (app, secret) = (&app, secret.clone());
        async move {
            app.client
                .post(format!("{}/graphql", app.base_url))
                .bearer_auth(secret)
                .json(&body)
                .send()
                .await
                .expect("answered")
        }
    };
    // Trusted, by hash: admitted (and the key is kept from now on).
    let hash = tessera_api::http::sha256_hex(trusted);
    let by_hash = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let admitted = with_key(by_hash.clone()).await;
    assert_eq!(
        header(&admitted, "ratelimit-remaining"),
        "6",
        "creating the key spent one"
    );
    for _ in 0..3 {
        let refused = TestApp::read(with_key(json!({ "query": trusted })).await).await;
        assert_eq!(
            refused.error_code(),
            Some("PERSISTED_QUERY_REQUIRED"),
            "{}",
            refused.body
        );
    }
    let next = with_key(by_hash).await;
    assert_eq!(next.status(), 200);
    assert_eq!(
        header(&next, "ratelimit-remaining"),
        "5",
        "the refused requests spent nothing of the tenant's budget"
    );
    app.stop().await;
    let _ = std::fs::remove_file(manifest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_attempts_have_a_strict_bucket_per_address() {
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.limits.rate_limit_authentication_per_minute = 3;
    })
    .await
    else {
        return;
    };
    app.sign_up("ada@example.com", "acme").await; // one
    const LOG_IN: &str =
        "mutation($p: String!) { logIn(input: { email: \"ada@example.com\", password: $p }) { accessToken } }";
    let ok = app.graphql(LOG_IN, json!({ "p": PASSWORD }), None).await; // two
    ok.assert_ok();
    let wrong = app.graphql(LOG_IN, json!({ "p": "not the password" }), None).await; // three
    assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"));
    let refused = app.graphql(LOG_IN, json!({ "p": PASSWORD }), None).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.error_code(), Some("RATE_LIMITED"));
    // Other anonymous requests are not in that bucket.
    let open = app.graphql("{ permissions { name } }", json!({}), None).await;
    open.assert_ok();
    app.stop().await;
}

async fn log_in_from(app: &TestApp, forwarded_for: &str) -> u16 {
    app.client
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": "mutation { logIn(input: { email: \"ada@example.com\", password: \"wrong password!\" }) { accessToken } }" }))
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket_and_otherwise_the_header_is_ignored() {
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.limits.rate_limit_authentication_per_minute = 2;
        config.http.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    assert_eq!(log_in_from(&app, "203.0.113.5").await, 200);
    assert_eq!(
        log_in_from(&app, "198.51.100.1, 203.0.113.5").await,
        200,
        "the right-most entry counts"
    );
    assert_eq!(log_in_from(&app, "203.0.113.5").await, 429);
    assert_eq!(
        log_in_from(&app, "203.0.113.6").await,
        200,
        "another client behind the proxy"
    );
    // An IPv6 client is counted by its /64: every address of it shares one budget.
    assert_eq!(log_in_from(&app, "2001:db8:5:6::1").await, 200);
    assert_eq!(log_in_from(&app, "2001:db8:5:6:ffff::2").await, 200);
    assert_eq!(
        log_in_from(&app, "2001:db8:5:6:1234:5678:9abc:def0").await,
        429,
        "a new address in the same /64 buys no new bucket"
    );
    assert_eq!(log_in_from(&app, "2001:db8:5:7::1").await, 200, "another /64");
    app.stop().await;

    let Some(direct) = TestApp::spawn_configured(Backend::Sqlite, |config, _| {
        config.limits.rate_limit_authentication_per_minute = 2;
    })
    .await
    else {
        return;
    };
    assert_eq!(log_in_from(&direct, "203.0.113.5").await, 200);
    assert_eq!(log_in_from(&direct, "203.0.113.6").await, 200);
    assert_eq!(
        log_in_from(&direct, "203.0.113.7").await,
        429,
        "a forged header does not buy a new bucket"
    );
    direct.stop().await;
}

tessera_tests::on_both_backends!(bogus_api_keys_from_one_address_cost_no_database_work_once_its_budget_is_spent);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bogus_api_keys_are_refused_by_address_first_with_redis_too() {
    let Some(redis) = redis_url() else {
        return;
    };
    flood_of_bogus_keys(Backend::Sqlite, Some(redis)).await;
}

async fn bogus_api_keys_from_one_address_cost_no_database_work_once_its_budget_is_spent(backend: Backend) {
    flood_of_bogus_keys(backend, None).await;
}

/// Well-formed keys of a real tenant with random ids: each would cost a database
/// lookup. Failed authentications spend the address's budget, and once it is spent the
/// address is refused before any credential is looked up.
async fn flood_of_bogus_keys(backend: Backend, redis: Option<String>) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.redis.url = redis.map(Into::into);
        config.limits.rate_limit_anonymous_per_minute = 10;
        // Each run comes from an address of its own (through a trusted proxy): a
        // Redis bucket outlives the test, and other tests share 127.0.0.1.
        config.http.trusted_proxies = Some("127.0.0.1".into());
    })
    .await
    else {
        return;
    };
    let client = random_ipv6();
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let tenant = owner.tenant_id.replace('-', "");
    let before = app.statements();
    let (mut unauthenticated, mut limited) = (0, 0);
    for _ in 0..60 {
        let key = format!(
            "tsk_{tenant}_{}_{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let answer = app.query("{ members(first: 1) { totalCount } }", &key).await;
        match answer.error_code() {
            Some("UNAUTHENTICATED") => unauthenticated += 1,
            Some("RATE_LIMITED") => {
                assert_eq!(answer.status, 429);
                limited += 1;
            }
            other => panic!("unexpected answer {other:?}: {}", answer.body),
        }
    }
    let statements = app.statements() - before;
    assert!(unauthenticated <= 10, "{unauthenticated} keys were looked up");
    assert!(limited >= 50, "{limited} refused by address");
    assert!(
        statements <= 12,
        "{statements} statements for 60 bogus keys: each refused one must cost none"
    );
    // The owner's own requests, from the same address, still go through: a person's
    // access token is checked without a lookup and draws from their own buckets.
    let own = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", &client)
        .bearer_auth(&owner.token)
        .json(&json!({ "query": "{ members(first: 1) { totalCount } }" }))
        .send()
        .await
        .expect("answered");
    TestApp::read(own).await.assert_ok();
    app.stop().await;
}

/// An address of a /64 of its own (documentation range), for a test that spends a
/// per-address budget.
fn random_ipv6() -> String {
    let id = uuid::Uuid::new_v4().as_u128();
    format!("2001:db8:{:x}:{:x}::1", (id >> 16) as u16, id as u16)
}
