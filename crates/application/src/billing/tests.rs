use std::collections::HashMap;

use chrono::Duration;
use tessera_domain::{PlanKey, TenantStatus};

use super::*;
use crate::testing;

async fn tenant(app: &Application) -> TenantId {
    testing::sign_up_owner(app, "owner@acme.example", "acme")
        .await
        .0
        .tenant_id()
}

fn billed() -> (Application, testing::FakeStore) {
    let (app, store) = testing::application();
    let prices = HashMap::from([
        ("price_team".to_owned(), PlanKey::parse("team").expect("key")),
        (
            "price_enterprise".to_owned(),
            PlanKey::parse("enterprise").expect("key"),
        ),
    ]);
    let app = app
        .with_plans(tessera_domain::PlanCatalogue::built_in())
        .with_billing(BillingSettings { price_plans: prices });
    (app, store)
}

fn event(id: &str, tenant_id: TenantId, minutes: i64, change: BillingChange) -> BillingEvent {
    BillingEvent {
        id: id.into(),
        event_type: "customer.subscription.updated".into(),
        occurred_at: testing::fixed_now() + Duration::minutes(minutes),
        tenant_id,
        change,
    }
}

fn on(price: &str, status: &str) -> BillingChange {
    BillingChange::Subscription {
        price_id: price.into(),
        status: status.into(),
    }
}

fn plan_of(store: &testing::FakeStore) -> String {
    store.snapshot().tenants[0].plan.to_string()
}

#[tokio::test]
async fn a_subscription_moves_the_plan_once_however_often_it_is_delivered() {
    let (app, store) = billed();
    let tenant_id = tenant(&app).await;
    let first = app
        .apply_billing_event(event("evt_1", tenant_id, 1, on("price_team", "active")))
        .await;
    assert_eq!(first.expect("applied"), BillingOutcome::Applied);
    assert_eq!(plan_of(&store), "team");
    let changes = store.snapshot().audit.len();
    let again = app
        .apply_billing_event(event("evt_1", tenant_id, 1, on("price_team", "active")))
        .await;
    assert_eq!(again.expect("replayed"), BillingOutcome::Duplicate);
    assert_eq!(store.snapshot().audit.len(), changes, "nothing recorded twice");
}

#[tokio::test]
async fn an_unknown_price_changes_nothing_and_is_not_remembered() {
    let (app, store) = billed();
    let tenant_id = tenant(&app).await;
    let refused = app
        .apply_billing_event(event("evt_1", tenant_id, 1, on("price_gold", "active")))
        .await
        .expect_err("unknown price");
    assert!(matches!(refused, AppError::Validation(_)), "{refused:?}");
    assert_eq!(plan_of(&store), "free");
    assert!(store.snapshot().billing_events.is_empty(), "a retry may apply it later");
}

#[tokio::test]
async fn a_failed_payment_makes_the_tenant_past_due_until_one_goes_through() {
    let (app, store) = billed();
    let tenant_id = tenant(&app).await;
    let failed = event("evt_1", tenant_id, 1, BillingChange::PaymentFailed);
    app.apply_billing_event(failed).await.expect("applied");
    assert_eq!(store.snapshot().tenants[0].status, TenantStatus::PastDue);
    let paid = event("evt_2", tenant_id, 2, BillingChange::PaymentSucceeded);
    app.apply_billing_event(paid).await.expect("applied");
    assert_eq!(store.snapshot().tenants[0].status, TenantStatus::Active);
    let actions: Vec<String> = store.snapshot().audit.iter().map(|e| e.action.clone()).collect();
    assert!(actions.contains(&"tenant.past_due".to_owned()) && actions.contains(&"tenant.reactivated".to_owned()));
}

#[tokio::test]
async fn an_older_event_arriving_late_does_not_undo_a_newer_one() {
    let (app, store) = billed();
    let tenant_id = tenant(&app).await;
    let newer = event("evt_2", tenant_id, 10, on("price_team", "active"));
    app.apply_billing_event(newer).await.expect("applied");
    let older = event("evt_1", tenant_id, 5, on("price_enterprise", "active"));
    assert_eq!(
        app.apply_billing_event(older).await.expect("stale"),
        BillingOutcome::Stale
    );
    assert_eq!(plan_of(&store), "team");
    let ended = BillingEvent {
        event_type: "customer.subscription.deleted".into(),
        ..event("evt_3", tenant_id, 20, BillingChange::SubscriptionEnded)
    };
    app.apply_billing_event(ended).await.expect("applied");
    assert_eq!(plan_of(&store), "free", "back to the default plan");
    let other = event("evt_4", tenant_id, 30, BillingChange::Other);
    assert_eq!(
        app.apply_billing_event(other).await.expect("ignored"),
        BillingOutcome::Ignored
    );
}
