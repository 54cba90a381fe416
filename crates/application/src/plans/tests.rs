use tessera_domain::{Allowance, Feature, Limit, OverrideTarget, Refusal, TenantId};

use crate::testing;
use crate::workspaces::CreateWorkspace;
use crate::{AppError, Application, RequestContext};

/// An application whose new tenants start on the built-in `free` plan.
fn on_free_plan() -> (Application, testing::FakeStore) {
    let (app, store) = testing::application();
    (app.with_plans(tessera_domain::PlanCatalogue::built_in()), store)
}

async fn owner(app: &Application, email: &str, slug: &str) -> RequestContext {
    testing::sign_up_owner(app, email, slug).await.0
}

async fn create(app: &Application, ctx: &RequestContext, slug: &str) -> Result<(), AppError> {
    let input = CreateWorkspace {
        name: slug.into(),
        slug: slug.into(),
    };
    app.create_workspace(ctx, input).await.map(|_| ())
}

#[tokio::test]
async fn creation_stops_at_the_plans_quota_and_an_override_moves_it() {
    let (app, _store) = on_free_plan();
    let (ctx, token) = testing::sign_up_owner(&app, "owner@acme.example", "acme").await;
    // Sign-up made the first workspace; the free plan allows three.
    create(&app, &ctx, "second").await.expect("second");
    create(&app, &ctx, "third").await.expect("third");
    let refused = create(&app, &ctx, "fourth").await.expect_err("over quota");
    assert!(
        matches!(
            refused,
            AppError::OverPlan(Refusal::QuotaExceeded {
                quota: Limit::Workspaces,
                limit: 3,
                used: 3
            })
        ),
        "{refused:?}"
    );

    app.set_platform_admin("owner@acme.example", true).await.expect("admin");
    let admin = app.platform_scope(&ctx).await.expect("platform scope");
    let tenant: TenantId = ctx.tenant_id();
    app.set_tenant_override(
        &admin,
        tenant,
        OverrideTarget::Limit(Limit::Workspaces, Allowance::AtMost(4)),
        None,
    )
    .await
    .expect("override");
    // The next request's context carries the override (each request authenticates anew).
    let ctx = app.authenticate(&token).await.expect("authenticate");
    create(&app, &ctx, "fourth").await.expect("allowed by the override");
    let usage = app.tenant_usage(&ctx).await.expect("usage");
    assert_eq!(usage.held[&Limit::Workspaces], 4);
    assert_eq!(usage.entitlements.allowance(Limit::Workspaces), Allowance::AtMost(4));

    // Back to the plan's own limit: nothing is deleted, creation is refused.
    app.clear_tenant_override(&admin, tenant, "limit:workspaces")
        .await
        .expect("cleared");
    assert!(create(&app, &ctx, "fifth").await.is_err());
    assert_eq!(app.tenant_usage(&ctx).await.expect("usage").held[&Limit::Workspaces], 4);
}

#[tokio::test]
async fn a_plan_change_is_checked_against_the_catalogue_and_recorded() {
    let (app, store) = on_free_plan();
    let ctx = owner(&app, "owner@acme.example", "acme").await;
    app.set_platform_admin("owner@acme.example", true).await.expect("admin");
    let admin = app.platform_scope(&ctx).await.expect("platform scope");

    let unknown = app
        .change_plan(&admin, ctx.tenant_id(), "gold")
        .await
        .expect_err("no such plan");
    assert!(matches!(unknown, AppError::Validation(_)), "{unknown:?}");

    let before = store.snapshot().audit.len();
    let tenant = app.change_plan(&admin, ctx.tenant_id(), "team").await.expect("team");
    assert_eq!(tenant.plan.as_str(), "team");
    let state = store.snapshot();
    let recorded = &state.audit[before..];
    assert!(recorded.iter().any(|e| e.action == "tenant.plan_changed"), "audited");
    assert!(
        state.outbox.iter().any(|e| e.event_type == "tenant.plan_changed"),
        "announced"
    );
    let entitled = app.tenant_usage(&ctx).await.expect("usage").entitlements;
    assert!(entitled.has(Feature::Webhooks));

    // The same plan again changes nothing and records nothing.
    let recorded_before = store.snapshot().audit.len();
    app.change_plan(&admin, ctx.tenant_id(), "team").await.expect("same");
    assert_eq!(store.snapshot().audit.len(), recorded_before);
}

#[tokio::test]
async fn an_override_in_the_past_is_refused() {
    let (app, _store) = on_free_plan();
    let ctx = owner(&app, "owner@acme.example", "acme").await;
    app.set_platform_admin("owner@acme.example", true).await.expect("admin");
    let admin = app.platform_scope(&ctx).await.expect("platform scope");
    let past = testing::fixed_now() - chrono::Duration::hours(1);
    let refused = app
        .set_tenant_override(
            &admin,
            ctx.tenant_id(),
            OverrideTarget::Feature(Feature::Webhooks, true),
            Some(past),
        )
        .await
        .expect_err("past");
    assert!(matches!(refused, AppError::Validation(_)));
}

#[test]
fn a_tenants_rate_limit_follows_its_plan() {
    let catalogue = tessera_domain::PlanCatalogue::built_in();
    let per_minute = |key: &str| {
        catalogue
            .get(&tessera_domain::PlanKey::parse(key).expect("key"))
            .expect("plan")
            .allowance(Limit::RequestsPerMinute)
            .as_number()
    };
    assert!(per_minute("free") < per_minute("team"));
    assert!(per_minute("team") < per_minute("enterprise"));
}
