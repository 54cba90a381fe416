//! Plans: quotas refused at their edge (also under concurrent creation), features a
//! plan lacks, overrides granted and expired, downgrades that delete nothing, and who
//! may change a plan.

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::{Backend, GqlResponse, Member, RoleChoice, TestApp, on_both_backends, test_plans};

on_both_backends!(
    a_quota_refuses_the_creation_past_its_limit_and_usage_shows_it,
    concurrent_creations_at_the_limit_create_exactly_the_limit,
    a_feature_outside_the_plan_is_refused_until_an_override_grants_it_on_every_replica,
    a_downgrade_deletes_nothing_and_an_expired_override_stops_counting,
    only_platform_administrators_change_plans_and_the_catalogue_is_public,
);

const CREATE_WORKSPACE: &str = "mutation($s: String!) { createWorkspace(input: { name: $s, slug: $s }) { id } }";
/// Statements a `createWorkspace` ran before plans existed (measured with the quota
/// check removed: see the closing note of the plans work).
const CREATE_WORKSPACE_STATEMENTS: u64 = 6;
const USAGE: &str = "{ currentTenant { plan { key limits { workspaces seats } features } \
                     usage { workspaces { used limit over } seats { used limit over } } } }";

async fn on_free_plan(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_configured(backend, |_, options| {
        options.plans = Some(test_plans("free", 100_000));
    })
    .await
}

async fn create_workspace(app: &TestApp, member: &Member, slug: &str) -> GqlResponse {
    app.graphql(CREATE_WORKSPACE, json!({ "s": slug }), Some(&member.token))
        .await
}

/// Makes `member` a platform administrator (their token stays valid: the flag is read per request).
async fn platform_admin(app: &TestApp, member: &Member) {
    tessera_server::set_platform_admin(app.config(), &member.email, true)
        .await
        .expect("granted");
}

async fn usage(app: &TestApp, member: &Member) -> Value {
    app.query(USAGE, &member.token).await.assert_ok()["currentTenant"].clone()
}

async fn a_quota_refuses_the_creation_past_its_limit_and_usage_shows_it(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    // Sign-up made the first workspace; the free plan allows three.
    create_workspace(&app, &owner, "second").await.assert_ok();
    create_workspace(&app, &owner, "third").await.assert_ok();
    let refused = create_workspace(&app, &owner, "fourth").await;
    refused.assert_reason("QUOTA_EXCEEDED");
    let extensions = &refused.body["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "FORBIDDEN");
    assert_eq!(extensions["quota"], "workspaces");
    assert_eq!(extensions["limit"], 3);
    assert_eq!(extensions["used"], 3);

    let tenant = usage(&app, &owner).await;
    assert_eq!(tenant["plan"]["key"], "free");
    assert_eq!(tenant["plan"]["limits"]["workspaces"], 3);
    assert_eq!(
        tenant["usage"]["workspaces"],
        json!({ "used": 3, "limit": 3, "over": false })
    );

    // Seats: the owner and pending invitations, five on the free plan.
    let invite = "mutation($e: String!, $r: ID!) { inviteMember(input: { email: $e, roleId: $r }) { id } }";
    let role = app.role_id(&owner.token, "member").await;
    for n in 1..=4 {
        let email = format!("guest{n}@acme.example");
        app.graphql(invite, json!({ "e": email, "r": role }), Some(&owner.token))
            .await
            .assert_ok();
    }
    // Inviting a pending address again replaces its invitation: no second seat.
    app.graphql(
        invite,
        json!({ "e": "guest1@acme.example", "r": role }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let sixth = app
        .graphql(
            invite,
            json!({ "e": "guest5@acme.example", "r": role }),
            Some(&owner.token),
        )
        .await;
    sixth.assert_reason("QUOTA_EXCEEDED");
    assert_eq!(sixth.body["errors"][0]["extensions"]["quota"], "seats");
    assert_eq!(
        usage(&app, &owner).await["usage"]["seats"],
        json!({ "used": 5, "limit": 5, "over": false })
    );

    // Usage is billing information: a plain member may not read it.
    let member = app
        .join(&owner, "member@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    let refused = app
        .query("{ currentTenant { usage { seats { used } } } }", &member.token)
        .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"), "{}", refused.body);
    app.stop().await;
}

async fn concurrent_creations_at_the_limit_create_exactly_the_limit(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let attempts = (0..20).map(|n| {
        let (app, owner) = (&app, &owner);
        async move { create_workspace(app, owner, &format!("race-{n}")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let created = answers.iter().filter(|a| a.body.get("errors").is_none()).count();
    let refused: Vec<&GqlResponse> = answers.iter().filter(|a| a.body.get("errors").is_some()).collect();
    assert_eq!(created, 2, "two more fit next to the first workspace");
    assert_eq!(refused.len(), 18);
    for answer in refused {
        answer.assert_reason("QUOTA_EXCEEDED");
    }
    assert_eq!(usage(&app, &owner).await["usage"]["workspaces"]["used"], 3);
    app.stop().await;
}

async fn a_feature_outside_the_plan_is_refused_until_an_override_grants_it_on_every_replica(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let create_role = "mutation($n: String!) { createRole(input: { name: $n, permissions: [] }) { id } }";
    let refused = app
        .graphql(create_role, json!({ "n": "Auditors" }), Some(&owner.token))
        .await;
    refused.assert_reason("FEATURE_NOT_IN_PLAN");
    assert_eq!(refused.body["errors"][0]["extensions"]["feature"], "custom_roles");

    platform_admin(&app, &owner).await;
    let set = "mutation($t: ID!) { setTenantOverride(input: { tenantId: $t, feature: CUSTOM_ROLES, enabled: true }) \
               { plan { features } } }";
    let granted = app
        .graphql(set, json!({ "t": owner.tenant_id }), Some(&owner.token))
        .await;
    assert!(
        granted.assert_ok()["setTenantOverride"]["plan"]["features"]
            .as_array()
            .expect("features")
            .contains(&json!("CUSTOM_ROLES"))
    );
    // The other instance reads the tenant's plan where it creates: no stale copy.
    let replica = app.replica().await;
    let on_replica = app
        .graphql_at(&replica, create_role, json!({ "n": "Auditors" }), &owner.token)
        .await;
    on_replica.assert_ok();
    assert_eq!(app.audit_count("tenant.plan_changed").await, 1);

    let clear = "mutation($t: ID!) { clearTenantOverride(input: { tenantId: $t, feature: CUSTOM_ROLES }) { id } }";
    app.graphql(clear, json!({ "t": owner.tenant_id }), Some(&owner.token))
        .await
        .assert_ok();
    let again = app
        .graphql(create_role, json!({ "n": "Others" }), Some(&owner.token))
        .await;
    again.assert_reason("FEATURE_NOT_IN_PLAN");
    app.stop().await;
}

async fn a_downgrade_deletes_nothing_and_an_expired_override_stops_counting(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    platform_admin(&app, &owner).await;
    let change = "mutation($t: ID!, $p: String!) { changePlan(input: { tenantId: $t, plan: $p }) { plan { key } } }";
    let upgraded = app
        .graphql(change, json!({ "t": owner.tenant_id, "p": "team" }), Some(&owner.token))
        .await;
    assert_eq!(upgraded.assert_ok()["changePlan"]["plan"]["key"], "team");
    for slug in ["bbb", "ccc", "ddd"] {
        create_workspace(&app, &owner, slug).await.assert_ok();
    }
    app.graphql(change, json!({ "t": owner.tenant_id, "p": "free" }), Some(&owner.token))
        .await
        .assert_ok();
    assert_eq!(
        usage(&app, &owner).await["usage"]["workspaces"],
        json!({ "used": 4, "limit": 3, "over": true }),
        "over quota, nothing removed"
    );
    create_workspace(&app, &owner, "eee")
        .await
        .assert_reason("QUOTA_EXCEEDED");

    // An override with an expiry lifts the limit until then.
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let set = "mutation($t: ID!, $x: DateTime!) { setTenantOverride(input: { tenantId: $t, limit: WORKSPACES, \
               value: 5, expiresAt: $x }) { plan { limits { workspaces } } } }";
    let granted = app
        .graphql(set, json!({ "t": owner.tenant_id, "x": expires }), Some(&owner.token))
        .await;
    assert_eq!(
        granted.assert_ok()["setTenantOverride"]["plan"]["limits"]["workspaces"],
        5
    );
    create_workspace(&app, &owner, "eee").await.assert_ok();
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    create_workspace(&app, &owner, "fff")
        .await
        .assert_reason("QUOTA_EXCEEDED");
    assert_eq!(usage(&app, &owner).await["plan"]["limits"]["workspaces"], 3);
    // Two plan changes and one override, each recorded and announced.
    assert_eq!(app.audit_count("tenant.plan_changed").await, 3);
    app.stop().await;
}

async fn only_platform_administrators_change_plans_and_the_catalogue_is_public(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let catalogue = app
        .graphql(
            "{ plans { key name price { amount currency } limits { seats } features } }",
            json!({}),
            None,
        )
        .await;
    let plans = catalogue.assert_ok()["plans"].as_array().expect("plans").clone();
    let keys: Vec<&str> = plans.iter().map(|p| p["key"].as_str().expect("key")).collect();
    assert_eq!(keys, ["free", "team", "enterprise"]);
    assert_eq!(plans[2]["limits"]["seats"], Value::Null, "unlimited");
    assert_eq!(plans[2]["price"], Value::Null, "no list price");

    let owner = app.sign_up("owner@acme.example", "acme").await;
    let change = "mutation($t: ID!, $p: String!) { changePlan(input: { tenantId: $t, plan: $p }) { id } }";
    let refused = app
        .graphql(
            change,
            json!({ "t": owner.tenant_id, "p": "enterprise" }),
            Some(&owner.token),
        )
        .await;
    refused.assert_reason("NOT_PLATFORM_ADMIN");
    platform_admin(&app, &owner).await;
    let unknown = app
        .graphql(change, json!({ "t": owner.tenant_id, "p": "gold" }), Some(&owner.token))
        .await;
    assert_eq!(unknown.error_code(), Some("BAD_USER_INPUT"));
    assert!(unknown.field_error("plan").is_some(), "{}", unknown.body);
    let both = app
        .graphql(
            "mutation($t: ID!) { setTenantOverride(input: { tenantId: $t, limit: SEATS, feature: SSO }) { id } }",
            json!({ "t": owner.tenant_id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(both.error_code(), Some("BAD_USER_INPUT"), "{}", both.body);
    assert_eq!(app.audit_count("tenant.plan_changed").await, 0, "nothing changed");
    app.stop().await;
}

on_both_backends!(
    the_quota_check_costs_one_statement_per_creation,
    the_counts_the_database_keeps_follow_every_creation_and_deletion,
);

/// What a `createWorkspace` costs, statement by statement, for the plan test above and
/// for the README. The quota check adds no statement: the quota comes with the caller's
/// cached access, the tenant's quota lock goes with the statement that enters the tenant
/// on Postgres (the setting's round trip, not counted as a statement here), and the
/// count the database keeps is read by the insert.
async fn the_quota_check_costs_one_statement_per_creation(backend: Backend) {
    let Some(app) = on_free_plan(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    // Warm the access cache, so only the creation itself is counted.
    app.query("{ me { email } }", &owner.token).await.assert_ok();
    let before = app.statements();
    create_workspace(&app, &owner, "counted").await.assert_ok();
    let spent = app.statements() - before;
    eprintln!("createWorkspace: {spent} statements on {backend:?}");
    // The workspace (with the quota's check), its first member, the audit event with its
    // chain head, the outbox event. On PostgreSQL the event, the outbox event and the
    // head's move are one statement (data-modifying WITHs), so two fewer than before
    // plans existed there.
    let expected = match backend {
        Backend::Postgres => CREATE_WORKSPACE_STATEMENTS - 2,
        Backend::Sqlite => CREATE_WORKSPACE_STATEMENTS,
    };
    assert_eq!(spent, expected, "on {backend:?}");
    app.stop().await;
}

on_both_backends!(a_plans_request_limits_apply_at_once_and_follow_its_overrides);

/// The free plan with tight request limits: queries at most 3 deep and 40 complex, and
/// API keys held to trusted documents.
/// Makes `owner` a platform administrator and lifts its tenant's depth limit to 10.
async fn allow_depth_ten(app: &TestApp, owner: &Member) {
    platform_admin(app, owner).await;
    let set =
        "mutation($t: ID!) { setTenantOverride(input: { tenantId: $t, limit: MAX_QUERY_DEPTH, value: 10 }) { id } }";
    app.graphql(set, json!({ "t": owner.tenant_id }), Some(&owner.token))
        .await
        .assert_ok();
}

fn strict_free_plan() -> tessera_domain::PlanCatalogue {
    use tessera_domain::{Allowance, Limit, PlanCatalogue, PlanKey};
    let mut plans = test_plans("free", 100_000).plans().to_vec();
    plans[0].limits.insert(Limit::MaxQueryDepth, Allowance::AtMost(3));
    plans[0].limits.insert(Limit::MaxQueryComplexity, Allowance::AtMost(40));
    plans[0].trusted_documents_required = true;
    PlanCatalogue::new(plans, PlanKey::parse("free").expect("key")).expect("valid")
}

async fn a_plans_request_limits_apply_at_once_and_follow_its_overrides(backend: Backend) {
    let trusted = "{ currentTenant { slug } }";
    let manifest = std::env::temp_dir().join(format!("tessera-plan-trusted-{}.json", uuid::Uuid::new_v4().simple()));
    tessera_server::trusted::add(&manifest, trusted).expect("manifest written");
    let path = manifest.clone();
    let Some(app) = TestApp::spawn_configured(backend, move |config, options| {
        config.trusted_documents.file = path;
        options.plans = Some(strict_free_plan());
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let deep = "{ currentTenant { plan { limits { seats } } } }";
    let refused = app.query(deep, &owner.token).await;
    assert_eq!(
        refused.error_code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        refused.body
    );
    assert!(refused.body.to_string().contains("max_query_depth"), "{}", refused.body);
    let wide = "{ workspaces(first: 50) { nodes { id name } } }";
    let refused = app.query(wide, &owner.token).await;
    assert!(
        refused.body.to_string().contains("max_query_complexity"),
        "{}",
        refused.body
    );

    // The tenant's API keys run trusted documents only; its people are not held to it.
    let (_, secret) = app.create_api_key(&owner, "ci", &[]).await;
    let with_key = |body: Value| {
        let (app, secret) = (&app, secret.clone());
        async move {
            let response = app
                .client
                .post(format!("{}/graphql", app.base_url))
                .header("x-api-key", secret)
                .json(&body)
                .send()
                .await
                .expect("answered");
            TestApp::read(response).await
        }
    };
    let plain = with_key(json!({ "query": trusted })).await;
    assert_eq!(plain.error_code(), Some("PERSISTED_QUERY_REQUIRED"), "{}", plain.body);
    let hash = tessera_api::http::sha256_hex(trusted);
    let by_hash = with_key(json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } })).await;
    assert_eq!(by_hash.assert_ok()["currentTenant"]["slug"], "acme");
    app.query(trusted, &owner.token).await.assert_ok();

    // An override lifts the depth limit from the next request on.
    allow_depth_ten(&app, &owner).await;
    app.query(deep, &owner.token).await.assert_ok();
    app.stop().await;
    let _ = std::fs::remove_file(manifest);
}

/// Two instances sharing one Redis: a plan change made through one reaches the other's
/// cached request limits on its next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_override_reaches_every_replica_through_redis() {
    let Some(redis) = tessera_tests::redis_url() else {
        return;
    };
    let Some(app) = TestApp::spawn_configured(Backend::Sqlite, |config, options| {
        config.redis.url = Some(redis.into());
        options.plans = Some(strict_free_plan());
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let replica = app.replica().await;
    let deep = "{ currentTenant { plan { limits { seats } } } }";
    // The replica has read (and cached) the owner's limits: the deep query is refused.
    let before = app.graphql_at(&replica, deep, json!({}), &owner.token).await;
    assert_eq!(
        before.error_code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        before.body
    );
    allow_depth_ten(&app, &owner).await;
    app.graphql_at(&replica, deep, json!({}), &owner.token)
        .await
        .assert_ok();
    app.stop().await;
}

/// Workspaces, custom roles, webhook endpoints and custom domains are counted by the
/// database (`tenant_counts`, kept by triggers), so a quota check reads one row however
/// many the tenant holds. The counts follow the use cases, and rows removed another way
/// (here, by hand as the schema owner) just the same.
async fn the_counts_the_database_keeps_follow_every_creation_and_deletion(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |_, options| {
        options.plans = Some(test_plans("team", 100_000));
    })
    .await
    else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let kept = |resource: &'static str| {
        let app = &app;
        async move {
            app.db
                .sum("tenant_counts", "held", &format!("resource = '{resource}'"))
                .await[0]
        }
    };
    let used = |app_usage: &Value, quota: &str| app_usage["usage"][quota]["used"].as_i64().expect("used");
    const USED: &str = "{ currentTenant { usage { workspaces { used } customRoles { used } } } }";

    // Sign-up made one workspace; two more, one deleted.
    create_workspace(&app, &owner, "second").await.assert_ok();
    let third = app.create_workspace(&owner, "third", "third").await;
    app.graphql(
        "mutation($id: ID!) { deleteWorkspace(id: $id) }",
        json!({ "id": third }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    assert_eq!(kept("workspaces").await, 2);
    assert_eq!(app.db.count("workspaces").await, 2);

    // Two custom roles, one deleted; the seeded roles do not count.
    let editors = app.create_role(&owner, "Editors", &["members:read"]).await;
    app.create_role(&owner, "Auditors", &["audit:read"]).await;
    app.graphql(
        "mutation($id: ID!) { deleteRole(input: { id: $id }) }",
        json!({ "id": editors }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    assert_eq!(kept("custom_roles").await, 1);
    let shown = app.query(USED, &owner.token).await.assert_ok()["currentTenant"].clone();
    assert_eq!((used(&shown, "workspaces"), used(&shown, "customRoles")), (2, 1));

    // A row removed behind the use cases' back is counted out all the same.
    app.db
        .execute_as_owner("DELETE FROM workspaces WHERE slug = 'second'")
        .await;
    assert_eq!(app.db.count("workspaces").await, 1);
    assert_eq!(kept("workspaces").await, 1);
    let shown = app.query(USED, &owner.token).await.assert_ok()["currentTenant"].clone();
    assert_eq!(used(&shown, "workspaces"), 1);
    app.stop().await;
}
