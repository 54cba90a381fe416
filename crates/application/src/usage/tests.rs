use chrono::NaiveDate;
use tessera_domain::{Allowance, Granularity, Limit, OverrideTarget, Refusal};

use super::Metered;
use crate::testing;
use crate::{AppError, Application, RequestContext};

async fn owner(app: &Application, email: &str, slug: &str) -> (RequestContext, String) {
    testing::sign_up_owner(app, email, slug).await
}

fn today() -> NaiveDate {
    testing::fixed_now().date_naive()
}

#[tokio::test]
async fn counts_reach_the_rollups_at_a_flush_and_only_once() {
    let (app, store) = testing::application();
    let (ctx, _) = owner(&app, "owner@acme.example", "acme").await;
    let (other, _) = owner(&app, "owner@globex.example", "globex").await;
    for outcome in [
        Metered::Ran { failed: false },
        Metered::Ran { failed: true },
        Metered::Ran { failed: false },
        Metered::Refused,
    ] {
        app.meter(&ctx, outcome);
    }
    app.meter(&other, Metered::Ran { failed: false });
    assert!(store.snapshot().usage.is_empty(), "nothing is written before a flush");

    assert_eq!(
        app.flush_usage().await.expect("flush"),
        2,
        "one rollup row per tenant and person"
    );
    assert_eq!(
        app.flush_usage().await.expect("flush"),
        0,
        "a second flush has nothing to add"
    );
    let report = app
        .usage_report(&ctx, today(), today(), Granularity::Day)
        .await
        .expect("report");
    assert_eq!(report.len(), 1);
    let day = report[0];
    assert_eq!(
        (
            day.api_calls,
            day.errors,
            day.refused,
            day.active_users,
            day.api_key_calls
        ),
        (3, 1, 1, 1, 0)
    );

    // More counts add to the same row.
    app.meter(&ctx, Metered::Ran { failed: false });
    app.flush_usage().await.expect("flush");
    let report = app
        .usage_report(&ctx, today(), today(), Granularity::Day)
        .await
        .expect("report");
    assert_eq!(report[0].api_calls, 4);
    let globex = app
        .usage_report(&other, today(), today(), Granularity::Month)
        .await
        .expect("report");
    assert_eq!(globex[0].api_calls, 1, "each tenant sees its own");
}

#[tokio::test]
async fn the_monthly_quota_counts_flushed_and_unflushed_calls() {
    let (app, _store) = testing::application();
    let (ctx, token) = owner(&app, "owner@acme.example", "acme").await;
    app.set_platform_admin("owner@acme.example", true).await.expect("admin");
    let admin = app.platform_scope(&ctx).await.expect("platform scope");
    app.set_tenant_override(
        &admin,
        ctx.tenant_id(),
        OverrideTarget::Limit(Limit::ApiCallsPerMonth, Allowance::AtMost(3)),
        None,
    )
    .await
    .expect("override");
    let ctx = app.authenticate(&token).await.expect("authenticate again");
    assert_eq!(ctx.limits().api_calls_per_month, Allowance::AtMost(3));

    app.meter(&ctx, Metered::Ran { failed: false });
    app.meter(&ctx, Metered::Ran { failed: true });
    app.flush_usage().await.expect("flush");
    assert_eq!(app.monthly_calls_refusal(&ctx), None, "two of three");
    app.meter(&ctx, Metered::Ran { failed: false });
    assert_eq!(
        app.monthly_calls_refusal(&ctx),
        Some(Refusal::QuotaExceeded {
            quota: Limit::ApiCallsPerMonth,
            limit: 3,
            used: 3
        }),
        "the unflushed call counts too"
    );
    app.meter(&ctx, Metered::Refused);
    app.flush_usage().await.expect("flush");
    assert!(app.monthly_calls_refusal(&ctx).is_some(), "and still after the flush");
    // A person goes on, held to what lets them change the plan.
    let held = app.hold_to_monthly_calls(ctx).expect("a person is not refused");
    assert_eq!(held.standing(), crate::Standing::CallsSpent { limit: 3, used: 3 });
}

#[tokio::test]
async fn a_report_needs_analytics_read_and_a_sensible_range() {
    let (app, _store) = testing::application();
    let (ctx, _) = owner(&app, "owner@acme.example", "acme").await;
    let reversed = app
        .usage_report(&ctx, today(), today().pred_opt().expect("a day"), Granularity::Day)
        .await
        .expect_err("reversed");
    assert!(
        matches!(reversed, AppError::Validation(ref e) if e.iter().any(|(f, _)| f == "to")),
        "{reversed:?}"
    );
    let long = app
        .usage_report(&ctx, today() - chrono::Days::new(500), today(), Granularity::Month)
        .await
        .expect_err("too long");
    assert!(matches!(long, AppError::Validation(_)), "{long:?}");
    let weeks = app
        .usage_report(&ctx, today() - chrono::Days::new(27), today(), Granularity::Week)
        .await
        .expect("weeks");
    assert!(weeks.len() >= 4 && weeks.len() <= 5, "{}", weeks.len());
    assert!(weeks.iter().all(|w| w.api_calls == 0), "no usage yet");

    let person = ctx.person().expect("a person");
    let role = ctx.role_id().expect("a role");
    let members_only = [tessera_domain::Permission::MembersRead].into_iter().collect();
    let viewer = RequestContext::for_tests(person, ctx.tenant_id(), role, members_only);
    let denied = app
        .usage_report(&viewer, today(), today(), Granularity::Day)
        .await
        .expect_err("no analytics:read");
    assert!(matches!(denied, AppError::Forbidden { .. }), "{denied:?}");
}

#[tokio::test]
async fn the_platform_sees_every_tenant_ranked_and_those_near_their_quota() {
    let (app, _store) = testing::application();
    let (acme, _) = owner(&app, "owner@acme.example", "acme").await;
    let (globex, _) = owner(&app, "owner@globex.example", "globex").await;
    app.set_platform_admin("owner@acme.example", true).await.expect("admin");
    let admin = app.platform_scope(&acme).await.expect("platform scope");
    app.set_tenant_override(
        &admin,
        globex.tenant_id(),
        OverrideTarget::Limit(Limit::ApiCallsPerMonth, Allowance::AtMost(5)),
        None,
    )
    .await
    .expect("override");
    for _ in 0..3 {
        app.meter(&acme, Metered::Ran { failed: false });
    }
    for _ in 0..4 {
        app.meter(&globex, Metered::Ran { failed: true });
    }
    app.flush_usage().await.expect("flush");

    let week_ago = today() - chrono::Days::new(6);
    let seen = app
        .platform_analytics(&admin, week_ago, today())
        .await
        .expect("analytics");
    assert_eq!(seen.tenants_by_plan, vec![("enterprise".to_owned(), 2)]);
    assert_eq!(seen.tenants_by_status, vec![("active".to_owned(), 2)]);
    assert_eq!(seen.sign_ups.len(), 7);
    assert_eq!(
        seen.sign_ups.last().map(|(_, people, _)| *people),
        Some(2),
        "both owners signed up today"
    );
    assert_eq!((seen.active_last_7_days, seen.active_last_30_days), (2, 2));
    let busiest: Vec<_> = seen.busiest.iter().map(|t| (t.slug.as_str(), t.calls)).collect();
    assert_eq!(busiest, vec![("globex", 4), ("acme", 3)]);
    let failing: Vec<_> = seen.most_errors.iter().map(|t| (t.slug.as_str(), t.errors)).collect();
    assert_eq!(failing, vec![("globex", 4)], "acme had no errors");
    assert_eq!(seen.near_quota.len(), 1, "4 of 5 is near; acme is unlimited");
    let near = &seen.near_quota[0];
    assert_eq!(
        (near.tenant.id, near.used, near.limit, near.over()),
        (globex.tenant_id(), 4, 5, false)
    );

    let refused = app
        .platform_analytics(&admin, today(), week_ago)
        .await
        .expect_err("a reversed range");
    assert!(matches!(refused, AppError::Validation(_)), "{refused:?}");
}
