//! Metering: counts after a known sequence of requests (people, API keys, errors,
//! refusals) match exactly after a flush; a crash loses only what was counted since
//! the last flush; two replicas add to the same rollups without counting twice; and the
//! monthly API-call quota refuses on every replica once it is spent.

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::{Backend, Member, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    the_report_matches_a_known_sequence_of_requests_after_a_flush,
    refused_requests_are_counted_apart_from_calls,
    a_crash_loses_only_what_was_counted_since_the_last_flush,
    two_replicas_add_to_the_same_rollups_without_counting_twice,
    the_monthly_quota_refuses_on_every_replica_once_spent,
    platform_analytics_cost_the_same_statements_for_any_number_of_tenants,
    members_and_invitations_are_counted_for_the_tenant_only,
);

const ME: &str = "{ me { id } }";
const KEY_QUERY: &str = "{ members(first: 1) { nodes { status } } }";
const REPORT: &str = "query($from: Date!, $to: Date!) { usage(from: $from, to: $to) { from to apiCalls apiKeyCalls errors refused activeUsers } \
                      topApiKeys(from: $from, to: $to) { apiKeyId calls } }";

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// A server whose meter flushes only when the test says so.
async fn metered(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_configured(backend, |config, _| {
        config.limits.metering_flush_seconds = 300;
    })
    .await
}

/// Today's point of the tenant's usage report, and its busiest keys, read by `owner`.
async fn report(app: &TestApp, owner: &Member) -> (Value, Value) {
    let answer = app
        .graphql(REPORT, json!({ "from": today(), "to": today() }), Some(&owner.token))
        .await;
    let data = answer.assert_ok();
    (data["usage"][0].clone(), data["topApiKeys"].clone())
}

async fn the_report_matches_a_known_sequence_of_requests_after_a_flush(backend: Backend) {
    let Some(app) = metered(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let other = app.sign_up("owner@globex.example", "globex").await;
    // Owner: the key's creation, two reads and one that fails (4 calls, 1 error).
    let (key_id, secret) = app.create_api_key(&owner, "ci", &["members:read"]).await;
    app.query(ME, &owner.token).await.assert_ok();
    app.query(ME, &owner.token).await.assert_ok();
    let failed = app.query("{ noSuchField }", &owner.token).await;
    assert!(failed.error_code().is_some(), "{}", failed.body);
    // The key: three calls. Another tenant: one call.
    for _ in 0..3 {
        app.query("{ members(first: 5) { nodes { status } } }", &secret)
            .await
            .assert_ok();
    }
    app.query(ME, &other.token).await.assert_ok();

    assert!(
        app.flush_usage().await >= 3,
        "rows for the owner, the key and the other tenant"
    );
    let (day, keys) = report(&app, &owner).await;
    assert_eq!(day["from"], today());
    assert_eq!(day["apiCalls"], 7, "{day}");
    assert_eq!(day["apiKeyCalls"], 3, "{day}");
    assert_eq!(day["errors"], 1, "{day}");
    assert_eq!(day["refused"], 0, "{day}");
    assert_eq!(day["activeUsers"], 1, "{day}");
    assert_eq!(keys, json!([{ "apiKeyId": key_id, "calls": 3 }]));

    // The report itself is counted, at the next flush, and only once.
    app.flush_usage().await;
    app.flush_usage().await;
    let (day, _) = report(&app, &owner).await;
    assert_eq!(day["apiCalls"], 8, "{day}");
    let (globex, _) = report(&app, &other).await;
    assert_eq!(globex["apiCalls"], 1, "each tenant sees its own: {globex}");
    app.stop().await;
}

async fn refused_requests_are_counted_apart_from_calls(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.limits.metering_flush_seconds = 300;
        config.limits.rate_limit_principal_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let (mut ran, mut refused) = (0_i64, 0_i64);
    for _ in 0..6 {
        let answer = app.query(ME, &owner.token).await;
        match answer.error_code() {
            None => ran += 1,
            Some("RATE_LIMITED") => refused += 1,
            Some(other) => panic!("unexpected {other}: {}", answer.body),
        }
    }
    assert!(ran >= 1 && refused >= 1, "ran {ran}, refused {refused}");
    app.flush_usage().await;
    let totals = app
        .db
        .sum("usage_daily", "api_calls, refused", "principal_kind = 'person'")
        .await;
    assert_eq!(totals, vec![ran, refused]);
    app.stop().await;
}

async fn a_crash_loses_only_what_was_counted_since_the_last_flush(backend: Backend) {
    let Some(mut app) = metered(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    for _ in 0..3 {
        app.query(ME, &owner.token).await.assert_ok();
    }
    app.flush_usage().await;
    for _ in 0..2 {
        app.query(ME, &owner.token).await.assert_ok();
    }
    app.kill();
    app.restart().await;
    let (day, _) = report(&app, &owner).await;
    assert_eq!(
        day["apiCalls"], 3,
        "the two calls after the flush are lost, no more: {day}"
    );
    app.stop().await;
}

async fn two_replicas_add_to_the_same_rollups_without_counting_twice(backend: Backend) {
    let Some(app) = metered(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let replica = app.replica().await;
    for _ in 0..3 {
        app.query(ME, &owner.token).await.assert_ok();
    }
    for _ in 0..2 {
        app.graphql_at(&replica, ME, json!({}), &owner.token).await.assert_ok();
    }
    app.flush_usage().await;
    replica.app.flush_usage().await.expect("the replica's flush");
    app.flush_usage().await;
    replica.app.flush_usage().await.expect("again");
    let (day, _) = report(&app, &owner).await;
    assert_eq!(day["apiCalls"], 5, "{day}");
    assert_eq!(day["activeUsers"], 1, "{day}");
    replica.stop().await;
    app.stop().await;
}

async fn the_monthly_quota_refuses_on_every_replica_once_spent(backend: Backend) {
    let Some(app) = metered(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    tessera_server::set_platform_admin(app.config(), &owner.email, true)
        .await
        .expect("granted");
    // Call 1: the override itself (before it applies); call 2: the key's creation.
    app.graphql(
        "mutation($t: ID!) { setTenantOverride(input: { tenantId: $t, limit: API_CALLS_PER_MONTH, value: 4 }) { id } }",
        json!({ "t": owner.tenant_id }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let (_, key) = app.create_api_key(&owner, "ci", &["members:read"]).await;
    let replica = app.replica().await;
    // Call 3 here, call 4 on the replica.
    app.query(KEY_QUERY, &key).await.assert_ok();
    app.flush_usage().await;
    app.graphql_at(&replica, KEY_QUERY, json!({}), &key).await.assert_ok();
    replica.app.flush_usage().await.expect("the replica's flush");
    app.flush_usage().await;

    // The key is refused on both replicas before anything runs.
    for answer in [
        app.query(KEY_QUERY, &key).await,
        app.graphql_at(&replica, KEY_QUERY, json!({}), &key).await,
    ] {
        assert_eq!(answer.status, 403, "{}", answer.body);
        answer.assert_reason("QUOTA_EXCEEDED");
        let extensions = &answer.body["errors"][0]["extensions"];
        assert_eq!(extensions["code"], "FORBIDDEN");
        assert_eq!(extensions["quota"], "api_calls_per_month");
        assert_eq!(extensions["limit"], 4);
        assert_eq!(extensions["used"], 4);
    }
    // A person of the tenant still sees who they are and the tenant's plan and usage
    // (to change the plan), and nothing else.
    let person = app
        .query(
            "{ me { id } currentTenant { plan { key } } members(first: 1) { nodes { status } } }",
            &owner.token,
        )
        .await;
    assert_eq!(person.status, 200, "{}", person.body);
    assert!(person.body["data"]["me"]["id"].is_string(), "{}", person.body);
    assert!(
        person.body["data"]["currentTenant"]["plan"]["key"].is_string(),
        "{}",
        person.body
    );
    person.assert_reason("QUOTA_EXCEEDED");
    assert_eq!(person.body["errors"][0]["path"], json!(["members"]));
    assert_eq!(person.body["errors"].as_array().map(Vec::len), Some(1));

    // Refusals are counted, not as calls; the person's request ran.
    app.flush_usage().await;
    replica.app.flush_usage().await.expect("flush");
    assert_eq!(
        app.db.sum("usage_daily", "api_calls, refused", "true").await,
        vec![5, 2]
    );
    replica.stop().await;
    app.stop().await;
}

const PLATFORM: &str = "query($from: Date!, $to: Date!) { platformAnalytics(from: $from, to: $to) { \
                        tenantsByPlan { key tenants } tenantsByStatus { key tenants } \
                        signUps { day signUps activations } activeTenants { last7Days last30Days } \
                        busiestTenants { slug calls errors } mostErrors { slug errors } \
                        tenantsNearQuota { slug quota used limit over } } }";

async fn platform_analytics_cost_the_same_statements_for_any_number_of_tenants(backend: Backend) {
    let Some(app) = metered(backend).await else {
        return;
    };
    let admin = app.sign_up("admin@platform.example", "platform").await;
    tessera_server::set_platform_admin(app.config(), &admin.email, true)
        .await
        .expect("granted");
    let variables = json!({ "from": today(), "to": today() });
    // The administrator's access is cached before anything is measured.
    app.query(ME, &admin.token).await.assert_ok();
    let mut costs = Vec::new();
    for round in 0..2 {
        for n in 0..(1 + round * 4) {
            let owner = app
                .sign_up(&format!("owner{round}-{n}@example.com"), &format!("t{round}-{n}"))
                .await;
            for _ in 0..=n {
                app.query(ME, &owner.token).await.assert_ok();
            }
        }
        app.flush_usage().await;
        let before = app.statements();
        let answer = app.graphql(PLATFORM, variables.clone(), Some(&admin.token)).await;
        costs.push(app.statements() - before);
        let seen = answer.assert_ok()["platformAnalytics"].clone();
        let tenants = if round == 0 { 2 } else { 7 };
        assert_eq!(seen["activeTenants"]["last7Days"], tenants, "{seen}");
        assert_eq!(
            seen["tenantsByStatus"],
            json!([{ "key": "active", "tenants": tenants }]),
            "{seen}"
        );
        assert_eq!(seen["signUps"][0]["signUps"], tenants, "{seen}");
        if round == 1 {
            assert_eq!(seen["busiestTenants"][0]["slug"], "t1-4", "{seen}");
            assert_eq!(seen["busiestTenants"][0]["calls"], 5, "{seen}");
        }
    }
    assert_eq!(costs[0], costs[1], "statements with 2 and with 7 tenants: {costs:?}");
    assert!(costs[0] <= 8, "{costs:?}");

    // The most failing tenant, and a tenant near its monthly quota (5 calls of 6), as
    // the database ranks them.
    let near = app
        .graphql(
            "{ tenants(first: 1, search: \"t1-4\") { nodes { id } } }",
            json!({}),
            Some(&admin.token),
        )
        .await;
    let near_id = near.assert_ok()["tenants"]["nodes"][0]["id"].clone();
    app.graphql(
        "mutation($t: ID!) { setTenantOverride(input: { tenantId: $t, limit: API_CALLS_PER_MONTH, value: 6 }) { id } }",
        json!({ "t": near_id }),
        Some(&admin.token),
    )
    .await
    .assert_ok();
    let failed = app.query("{ noSuchField }", &admin.token).await;
    assert!(failed.error_code().is_some());
    app.flush_usage().await;
    let seen = app.graphql(PLATFORM, variables.clone(), Some(&admin.token)).await;
    let seen = &seen.assert_ok()["platformAnalytics"];
    assert_eq!(
        seen["mostErrors"],
        json!([{ "slug": "platform", "errors": 1 }]),
        "{seen}"
    );
    assert_eq!(
        seen["tenantsNearQuota"],
        json!([{ "slug": "t1-4", "quota": "API_CALLS_PER_MONTH", "used": 5, "limit": 6, "over": false }]),
        "{seen}"
    );

    // Only platform administrators.
    let owner = app.sign_up("someone@example.com", "someone").await;
    let refused = app.graphql(PLATFORM, variables, Some(&owner.token)).await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"), "{}", refused.body);
    app.stop().await;
}

async fn members_and_invitations_are_counted_for_the_tenant_only(backend: Backend) {
    let Some(app) = metered(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let other = app.sign_up("owner@globex.example", "globex").await;
    app.join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    app.join(&other, "member@globex.example", RoleChoice::System(SystemRole::Member))
        .await;
    let member_role = app.role_id(&owner.token, "member").await;
    for email in ["one@acme.example", "two@acme.example"] {
        app.graphql(
            "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }",
            json!({ "input": { "email": email, "roleId": member_role } }),
            Some(&owner.token),
        )
        .await
        .assert_ok();
    }
    let answer = app
        .graphql(
            "query($from: Date!, $to: Date!) { memberTallies { roleName status members } \
             invitationTallies(from: $from, to: $to) { sent accepted pending revoked } }",
            json!({ "from": today(), "to": today() }),
            Some(&owner.token),
        )
        .await;
    let data = answer.assert_ok();
    assert_eq!(
        data["memberTallies"],
        json!([
            { "roleName": "Admin", "status": "active", "members": 1 },
            { "roleName": "Owner", "status": "active", "members": 1 },
        ])
    );
    assert_eq!(
        data["invitationTallies"],
        json!({ "sent": 2, "accepted": 0, "pending": 2, "revoked": 0 })
    );
    app.stop().await;
}
