//! Domain events and webhooks as the use cases drive them: a change puts its event in
//! the outbox; the outbox worker turns it into one delivery per interested endpoint and
//! announces it; the delivery worker sends, retries, gives up and disables.

use tessera_domain::{DeliveryStatus, RetryPolicy, WebhookEndpointId};

use super::signed_up;
use crate::testing::{self, FakeEventBus, FakeStore, FakeWebhookSender};
use crate::webhooks::{WebhookEndpointChanges, WebhookEndpointInput, WebhookSettings};
use crate::workspaces::CreateWorkspace;
use crate::{AppError, Application, PageRequest, RequestContext};

fn settings(max_attempts: u32, disable_after: u32) -> WebhookSettings {
    WebhookSettings {
        allow_local_urls: false,
        retry: RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        },
        disable_after_failed_deliveries: disable_after,
        ..WebhookSettings::default()
    }
}

async fn owner_with_endpoint(
    settings: WebhookSettings,
    events: &[&str],
) -> (
    Application,
    FakeStore,
    FakeEventBus,
    FakeWebhookSender,
    RequestContext,
    WebhookEndpointId,
) {
    let (app, store, bus, sender) = testing::application_with_webhooks(settings);
    let (_, ctx) = signed_up(&app, "owner@example.com", "acme").await;
    let created = app
        .create_webhook_endpoint(
            &ctx,
            WebhookEndpointInput {
                url: "https://hooks.example.com/in".into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                description: Some("CRM sync".into()),
            },
        )
        .await
        .expect("endpoint created");
    assert!(created.secret.starts_with("whsec_"));
    (app, store, bus, sender, ctx, created.endpoint.id)
}

async fn create_workspace(app: &Application, ctx: &RequestContext, slug: &str) {
    app.create_workspace(
        ctx,
        CreateWorkspace {
            name: format!("Workspace {slug}"),
            slug: slug.into(),
        },
    )
    .await
    .expect("workspace created");
}

#[tokio::test]
async fn a_change_reaches_interested_endpoints_and_subscribers_once() {
    let (app, store, bus, _, ctx, endpoint) = owner_with_endpoint(settings(3, 5), &["workspace.created"]).await;
    let mut live = app
        .subscribe_tenant_events(&ctx, vec!["workspace.created".into()])
        .expect("may subscribe");
    // Published first: another tenant's event of the wanted type, and one of ours of
    // another type. The subscriber must hear neither.
    let (_, stranger) = signed_up(&app, "stranger@example.com", "elsewhere").await;
    create_workspace(&app, &stranger, "theirs").await;
    app.create_role(
        &ctx,
        crate::roles::CreateRole {
            name: "Auditor".into(),
            permissions: vec!["audit:read".into()],
        },
    )
    .await
    .expect("role created");
    app.run_outbox(0, 1).await.expect("outbox pass");
    create_workspace(&app, &ctx, "design").await;

    let pending = store.snapshot().outbox;
    let created: Vec<_> = pending
        .iter()
        .filter(|e| e.event_type == "workspace.created" && e.tenant_id == ctx.tenant_id())
        .collect();
    assert_eq!(created.len(), 1, "one domain event in the outbox");
    assert!(created[0].payload.contains("\"type\":\"workspace.created\""));
    assert!(created[0].payload.contains("\"design\""));
    let announced = bus.published.lock().expect("lock").len();
    assert_eq!(
        announced, 2,
        "the stranger's workspace and our role, handed over already"
    );
    assert!(
        !bus.published
            .lock()
            .expect("lock")
            .iter()
            .any(|e| e.id == created[0].id),
        "nothing announced before the worker runs"
    );

    let handed = app.run_outbox(0, 1).await.expect("outbox pass");
    assert!(handed >= 1);
    let state = store.snapshot();
    let deliveries: Vec<_> = state
        .webhook_deliveries
        .iter()
        .filter(|d| d.endpoint_id == endpoint)
        .collect();
    assert_eq!(deliveries.len(), 1, "the endpoint wants workspace.created only");
    assert_eq!(deliveries[0].event_id, created[0].id);
    assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    let event = live.next().await.expect("the subscriber sees it");
    assert_eq!(event.id, created[0].id, "the first event it hears is ours, of its type");

    assert_eq!(app.run_outbox(0, 1).await.expect("second pass"), 0, "handed over once");
    assert_eq!(
        store
            .snapshot()
            .webhook_deliveries
            .iter()
            .filter(|d| d.endpoint_id == endpoint)
            .count(),
        1
    );
}

#[tokio::test]
async fn outbox_workers_split_tenants_between_them() {
    let (app, store, _, _, ctx, _) = owner_with_endpoint(settings(3, 5), &["*"]).await;
    create_workspace(&app, &ctx, "design").await;
    let tenant = ctx.tenant_id().as_uuid().as_u128();
    let (mine, other) = ((tenant % 2) as usize, ((tenant + 1) % 2) as usize);
    assert_eq!(
        app.run_outbox(other, 2).await.expect("pass"),
        0,
        "not this worker's tenant"
    );
    assert!(app.run_outbox(mine, 2).await.expect("pass") > 0);
    assert!(!store.snapshot().webhook_deliveries.is_empty());
}

#[tokio::test]
async fn a_delivery_out_of_attempts_fails_and_its_endpoint_is_disabled() {
    let (app, store, _, sender, ctx, endpoint) = owner_with_endpoint(settings(1, 1), &["workspace.created"]).await;
    sender.script.lock().expect("lock").push_back(500);
    create_workspace(&app, &ctx, "design").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    assert_eq!(app.run_webhook_deliveries().await.expect("delivery pass"), 1);

    let sent = sender.sent.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event_type, "workspace.created");
    assert_eq!(sent[0].secrets.len(), 1);
    let state = store.snapshot();
    let delivery = &state.webhook_deliveries[0];
    assert_eq!(delivery.status, DeliveryStatus::Failed, "one attempt allowed");
    assert_eq!(delivery.response_status, Some(500));
    assert_eq!(delivery.attempts, 1);
    let (stored, _) = state
        .webhook_endpoints
        .iter()
        .find(|(e, _)| e.id == endpoint)
        .expect("endpoint");
    assert!(!stored.enabled, "disabled after one failed delivery");
    assert!(
        stored
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.contains("1 deliveries"))
    );
    let disabled: Vec<_> = state
        .outbox
        .iter()
        .filter(|e| e.event_type == "webhook_endpoint.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "the tenant is told through an event");
    assert!(state.audit.iter().any(|e| e.action == "webhook_endpoint.disabled"));

    // A disabled endpoint gets no new deliveries and cannot be redelivered to.
    let redelivery = app.redeliver_webhook(&ctx, delivery.id).await;
    assert!(matches!(redelivery, Err(AppError::Conflict { .. })), "{redelivery:?}");
    app.update_webhook_endpoint(
        &ctx,
        endpoint,
        WebhookEndpointChanges {
            enabled: Some(true),
            ..WebhookEndpointChanges::default()
        },
    )
    .await
    .expect("enabled again");
    let again = app.redeliver_webhook(&ctx, delivery.id).await.expect("redelivered");
    assert_eq!(again.event_id, delivery.event_id);
    assert_eq!(again.attempts, 0);
    assert_eq!(app.run_webhook_deliveries().await.expect("delivery pass"), 1);
    let state = store.snapshot();
    let again = state
        .webhook_deliveries
        .iter()
        .find(|d| d.id == again.id)
        .expect("the redelivery");
    assert_eq!(again.status, DeliveryStatus::Succeeded);
    let (stored, _) = state
        .webhook_endpoints
        .iter()
        .find(|(e, _)| e.id == endpoint)
        .expect("endpoint");
    assert_eq!(stored.failed_deliveries_in_a_row, 0, "a success resets the count");
}

#[tokio::test]
async fn a_retryable_failure_is_scheduled_with_backoff() {
    let (app, store, _, sender, ctx, _) = owner_with_endpoint(settings(5, 5), &["workspace.created"]).await;
    sender.script.lock().expect("lock").push_back(503);
    create_workspace(&app, &ctx, "design").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    app.run_webhook_deliveries().await.expect("delivery pass");
    let delivery = store.snapshot().webhook_deliveries[0].clone();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 1);
    let delay = delivery.next_attempt_at - delivery.last_attempt_at.expect("attempted");
    let base = RetryPolicy::default().base;
    assert!(
        delay <= base && delay >= base / 2,
        "first retry after base minus jitter: {delay}"
    );
    assert_eq!(app.run_webhook_deliveries().await.expect("pass"), 0, "not due yet");
}

#[tokio::test]
async fn endpoints_are_validated_and_need_the_permission() {
    let (app, _, _, sender, ctx, endpoint) = owner_with_endpoint(settings(3, 5), &["*"]).await;
    let refused = app
        .create_webhook_endpoint(
            &ctx,
            WebhookEndpointInput {
                url: "http://10.0.0.5/in".into(),
                events: vec!["session.logged_in".into()],
                description: None,
            },
        )
        .await;
    let Err(AppError::Validation(errors)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
    assert_eq!(fields, ["url", "events"]);

    let (_, member) = signed_up(&app, "someone@example.com", "elsewhere").await;
    assert_ne!(member.tenant_id(), ctx.tenant_id());
    let foreign = app.delete_webhook_endpoint(&member, endpoint).await;
    assert!(
        matches!(foreign, Err(AppError::NotFound(_))),
        "a caller of another tenant cannot touch it: {foreign:?}"
    );

    let viewer = RequestContext::new(
        ctx.person().expect("a person"),
        crate::TenantScope::new(ctx.tenant_id()),
        tessera_domain::RoleId::from_uuid(uuid::Uuid::nil()),
        tessera_domain::SystemRole::Viewer.default_permissions(),
    );
    let refused = app.list_webhook_endpoints(&viewer, &PageRequest::first(20)).await;
    assert!(matches!(refused, Err(AppError::Forbidden { .. })), "{refused:?}");

    let rotated = app.rotate_webhook_secret(&ctx, endpoint).await.expect("rotated");
    let page = app
        .list_webhook_endpoints(&ctx, &PageRequest::first(20))
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
    assert!(rotated.secret.starts_with("whsec_"));
    // The next delivery is signed by the new secret and, for the overlap, the old one.
    create_workspace(&app, &ctx, "after-rotation").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    app.run_webhook_deliveries().await.expect("delivery pass");
    let sent = sender.sent.lock().expect("lock").clone();
    let last = sent.last().expect("a delivery");
    assert_eq!(last.secrets.len(), 2, "{:?}", last.secrets);
    assert_eq!(last.secrets[0], rotated.secret);
    assert_ne!(last.secrets[1], rotated.secret);
}

#[tokio::test]
async fn an_access_changing_event_drops_cached_access_even_if_its_use_case_could_not() {
    let (app, store, _, _, ctx, _) = owner_with_endpoint(settings(3, 5), &["*"]).await;
    let cache = app.ports.access_cache.clone();
    assert!(
        cache
            .get(ctx.tenant_id(), ctx.person().expect("a person"))
            .await
            .is_some(),
        "authentication cached the owner's access"
    );
    // As if a role change committed and its process died before dropping the cache.
    store
        .state
        .lock()
        .expect("lock")
        .outbox
        .push(crate::ports::OutboxEvent {
            id: uuid::Uuid::now_v7(),
            tenant_id: ctx.tenant_id(),
            event_type: "member.role_changed".into(),
            payload: "{}".into(),
            created_at: chrono::Utc::now(),
            attempts: 0,
            next_attempt_at: None,
        });
    app.run_outbox(0, 1).await.expect("outbox pass");
    assert!(
        cache
            .get(ctx.tenant_id(), ctx.person().expect("a person"))
            .await
            .is_none(),
        "the outbox dropped it"
    );
}

#[tokio::test]
async fn a_hand_over_prunes_the_tenants_long_handed_over_events_and_ended_deliveries() {
    let (app, store, _, _, ctx, _) = owner_with_endpoint(settings(1, 5), &["workspace.created"]).await;
    create_workspace(&app, &ctx, "design").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    app.run_webhook_deliveries().await.expect("delivery pass");
    let long_ago = testing::fixed_now() - chrono::Duration::days(60);
    {
        // Age what was handed over and delivered, as if two months had passed.
        let mut state = store.state.lock().expect("lock");
        for (_, at) in &mut state.delivered {
            *at = long_ago;
        }
        for delivery in &mut state.webhook_deliveries {
            delivery.completed_at = Some(long_ago);
        }
    }
    let before = store.snapshot();
    assert!(!before.webhook_deliveries.is_empty());
    assert!(!before.delivered.is_empty());

    create_workspace(&app, &ctx, "ops").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    let after = store.snapshot();
    assert_eq!(after.outbox.len(), 1, "the old event is gone, the new one is kept");
    assert!(after.outbox[0].payload.contains("\"ops\""));
    assert_eq!(
        after.webhook_deliveries.len(),
        1,
        "the ended delivery is gone, the new one pending"
    );
    assert_eq!(after.webhook_deliveries[0].status, DeliveryStatus::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_whose_receiver_never_answers_holds_only_its_share_of_the_senders() {
    use crate::webhooks::DeliveryConcurrency;
    let concurrency = DeliveryConcurrency {
        total: 4,
        per_tenant: 2,
        per_endpoint: 1,
    };
    let (app, store, _, sender) = testing::application_with_webhooks(WebhookSettings {
        concurrency,
        ..settings(3, 5)
    });
    *sender.black_hole.lock().expect("lock") = Some("black-hole".into());
    // Tenant A: two endpoints that never answer, and a pile of events.
    let (_, slow) = signed_up(&app, "slow@example.com", "slow").await;
    for n in 0..2 {
        app.create_webhook_endpoint(
            &slow,
            WebhookEndpointInput {
                url: format!("https://black-hole-{n}.example.com/in"),
                events: vec!["workspace.created".into()],
                description: None,
            },
        )
        .await
        .expect("endpoint");
    }
    for n in 0..5 {
        create_workspace(&app, &slow, &format!("slow-{n}")).await;
    }
    // Tenant B: one endpoint that answers.
    let (_, fast) = signed_up(&app, "fast@example.com", "fast").await;
    app.create_webhook_endpoint(
        &fast,
        WebhookEndpointInput {
            url: "https://hooks.fast.example.com/in".into(),
            events: vec!["workspace.created".into()],
            description: None,
        },
    )
    .await
    .expect("endpoint");
    create_workspace(&app, &fast, "fast-1").await;
    create_workspace(&app, &fast, "fast-2").await;
    while app.run_outbox(0, 1).await.expect("outbox pass") > 0 {}

    let worker = app.clone();
    let running = tokio::spawn(async move {
        worker
            .run_webhook_sender(
                || tokio::time::sleep(std::time::Duration::from_millis(5)),
                |send| {
                    tokio::spawn(send);
                },
            )
            .await;
    });
    let fast_done = |store: &FakeStore| {
        store
            .snapshot()
            .webhook_deliveries
            .iter()
            .filter(|d| d.tenant_id == fast.tenant_id() && d.status == DeliveryStatus::Succeeded)
            .count()
    };
    for _ in 0..200 {
        if fast_done(&store) == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    running.abort();
    assert_eq!(fast_done(&store), 2, "B's deliveries went out while A's hang");
    let sent = sender.sent.lock().expect("lock").clone();
    let to_hole = sent.iter().filter(|w| w.url.contains("black-hole")).count();
    assert_eq!(to_hole, 2, "A holds its two slots (one per endpoint), no more");
}

#[tokio::test]
async fn each_tenant_has_an_hourly_budget_of_redeliveries() {
    let (app, store, _, _, ctx, _) = owner_with_endpoint(
        WebhookSettings {
            redeliveries_per_hour: 2,
            ..settings(3, 5)
        },
        &["workspace.created"],
    )
    .await;
    create_workspace(&app, &ctx, "design").await;
    app.run_outbox(0, 1).await.expect("outbox pass");
    let first = store.snapshot().webhook_deliveries[0].clone();
    app.run_webhook_deliveries().await.expect("delivery pass");
    let again = app.redeliver_webhook(&ctx, first.id).await.expect("redelivered");
    app.run_webhook_deliveries().await.expect("delivery pass");
    // The second redelivery of the budget, then the budget is spent.
    app.redeliver_webhook(&ctx, again.id).await.expect("redelivered");
    app.run_webhook_deliveries().await.expect("delivery pass");
    let spent = app.redeliver_webhook(&ctx, again.id).await;
    assert!(matches!(spent, Err(AppError::RateLimited { .. })), "{spent:?}");
    assert_eq!(
        store.snapshot().webhook_deliveries.len(),
        3,
        "the refused one made nothing"
    );
}
