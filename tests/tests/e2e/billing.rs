//! The billing provider's signed events at `POST /billing/stripe`: taken only with a
//! fresh, matching signature; a replay, an older event arriving late, and an unknown
//! price change nothing.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_tests::{Backend, Member, TestApp, on_both_backends, test_plans};

on_both_backends!(
    signed_events_change_the_plan_and_status_once_and_in_order,
    unsigned_stale_and_unknown_events_change_nothing,
);

const SECRET: &str = "whsec_test_secret_for_tessera";

async fn billed(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_configured(backend, |config, options| {
        options.plans = Some(test_plans("free", 100_000));
        config.billing.billing_webhook_secret = Some(SECRET.into());
        config.billing.billing_price_plans = Some("price_team=team, price_enterprise=enterprise".into());
    })
    .await
}

/// Stripe's scheme: `t=<time>,v1=<hex HMAC-SHA256 of "<time>.<body>">`.
fn signature(secret: &str, at: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    mac.update(format!("{at}.{body}").as_bytes());
    let digest: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={at},v1={digest}")
}

fn subscription(id: &str, tenant: &str, created: i64, price: &str, status: &str) -> Value {
    json!({
        "id": id, "object": "event", "type": "customer.subscription.updated", "created": created,
        "data": { "object": {
            "object": "subscription", "status": status, "metadata": { "tenant_id": tenant },
            "items": { "data": [ { "price": { "id": price } } ] }
        } }
    })
}

fn invoice(id: &str, tenant: &str, created: i64, kind: &str) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "data": { "object": { "object": "invoice",
            "parent": { "subscription_details": { "metadata": { "tenant_id": tenant } } } } }
    })
}

async fn deliver(app: &TestApp, event: &Value, signed: Option<String>) -> (u16, Value) {
    let body = event.to_string();
    let signed = signed.unwrap_or_else(|| signature(SECRET, chrono::Utc::now().timestamp(), &body));
    let response = app
        .client
        .post(format!("{}/billing/stripe", app.base_url))
        .header("content-type", "application/json")
        .header("stripe-signature", signed)
        .body(body)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn standing(app: &TestApp, owner: &Member) -> Value {
    app.query("{ currentTenant { status statusReason plan { key } } }", &owner.token)
        .await
        .assert_ok()["currentTenant"]
        .clone()
}

async fn signed_events_change_the_plan_and_status_once_and_in_order(backend: Backend) {
    let Some(app) = billed(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let now = chrono::Utc::now().timestamp();
    let tenant = owner.tenant_id.as_str();

    let upgrade = subscription("evt_1", tenant, now - 50, "price_team", "active");
    assert_eq!(
        deliver(&app, &upgrade, None).await,
        (200, json!({ "received": true, "outcome": "applied" }))
    );
    assert_eq!(standing(&app, &owner).await["plan"]["key"], "team");
    // The same event again (the provider retries): nothing changes twice.
    assert_eq!(deliver(&app, &upgrade, None).await.1["outcome"], "duplicate");
    assert_eq!(app.audit_count("tenant.plan_changed").await, 1);

    // A payment fails: read-only until one goes through.
    deliver(
        &app,
        &invoice("evt_2", tenant, now - 40, "invoice.payment_failed"),
        None,
    )
    .await;
    assert_eq!(
        standing(&app, &owner).await,
        json!({ "status": "PAST_DUE", "statusReason": "BILLING", "plan": { "key": "team" } })
    );
    app.graphql(
        "mutation { createWorkspace(input: { name: \"Later\", slug: \"later\" }) { id } }",
        json!({}),
        Some(&owner.token),
    )
    .await
    .assert_reason("TENANT_READ_ONLY");
    deliver(&app, &invoice("evt_3", tenant, now - 30, "invoice.paid"), None).await;
    assert_eq!(standing(&app, &owner).await["status"], "ACTIVE");

    // An older event arriving late does not undo the newer one.
    let late = subscription("evt_0", tenant, now - 60, "price_enterprise", "active");
    assert_eq!(deliver(&app, &late, None).await.1["outcome"], "stale");
    assert_eq!(standing(&app, &owner).await["plan"]["key"], "team");

    // The subscription ends: back to the default plan.
    let mut ended = subscription("evt_4", tenant, now - 20, "price_team", "canceled");
    ended["type"] = json!("customer.subscription.deleted");
    assert_eq!(deliver(&app, &ended, None).await.1["outcome"], "applied");
    assert_eq!(standing(&app, &owner).await["plan"]["key"], "free");
    app.stop().await;
}

async fn unsigned_stale_and_unknown_events_change_nothing(backend: Backend) {
    let Some(app) = billed(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let now = chrono::Utc::now().timestamp();
    let event = subscription("evt_1", &owner.tenant_id, now, "price_team", "active");
    let body = event.to_string();

    let forged = signature("whsec_someone_else", now, &body);
    let (status, answer) = deliver(&app, &event, Some(forged)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("no signature matches the body"))
    );
    let old = signature(SECRET, now - 600, &body);
    let (status, answer) = deliver(&app, &event, Some(old)).await;
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().expect("error").contains("tolerance"));
    let (status, _) = deliver(&app, &event, Some("t=1".into())).await;
    assert_eq!(status, 400, "no v1 signature");

    let unknown = subscription("evt_2", &owner.tenant_id, now, "price_gold", "active");
    let (status, answer) = deliver(&app, &unknown, None).await;
    assert_eq!(status, 422);
    assert!(
        answer["error"].as_str().expect("error").contains("price_gold"),
        "{answer}"
    );
    assert_eq!(standing(&app, &owner).await["plan"]["key"], "free");
    assert_eq!(app.audit_count("tenant.plan_changed").await, 0, "nothing changed");
    app.stop().await;
}
