//! The list contract: every paged list of the ports walks forward and backward by
//! keyset over `(created_at, id)` the same way, ties broken by id, and the member and
//! audit filters select the same rows and count them alike — on SQLite, on Postgres
//! and on the in-memory fakes the unit tests use.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use tessera_application::ports::{AuditFilter, MemberFilter, NewSession, Store, Transaction};
use tessera_application::{Cursor, Page, PageRequest, TenantScope};
use tessera_domain::{
    ApiKey, ApiKeyId, AuditActor, DisplayName, Email, EventSelection, Invitation, InvitationId, InvitationStatus,
    Membership, MembershipId, MembershipStatus, Name, NewAuditEvent, PasswordHash, Permission, Role, RoleId, SessionId,
    SigningSecrets, Slug, SystemRole, Tenant, TenantId, User, UserId, WebhookDelivery, WebhookDeliveryId,
    WebhookEndpoint, WebhookEndpointId, WebhookUrl,
};
use tessera_tests::{ContractStore, StoreKind, on_every_store};
use uuid::Uuid;

on_every_store!(
    every_list_pages_forward_and_backward_by_keyset,
    member_filters_select_and_count_alike,
    audit_filters_select_and_count_alike,
);

/// Rows per list: three pages of three, the last one short.
const ROWS: usize = 8;
const PAGE: u32 = 3;

struct Fixture {
    _store: ContractStore,
    store: Arc<dyn Store>,
    scope: TenantScope,
    tenant: TenantId,
    role: RoleId,
    base: DateTime<Utc>,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The i-th row's time: rows come in pairs sharing a time, so ids must break ties.
fn at(f: &Fixture, i: usize) -> DateTime<Utc> {
    f.base + Duration::milliseconds((i / 2) as i64)
}

async fn fixture(kind: StoreKind) -> Option<Fixture> {
    let opened = ContractStore::open(kind, 2).await?;
    let store = opened.store.clone();
    let base = now();
    let tenant = Tenant::new(
        TenantId::from_uuid(Uuid::now_v7()),
        Slug::parse("lists").expect("slug"),
        Name::parse("Lists").expect("name"),
        tessera_domain::PlanKey::parse("free").expect("plan"),
        base,
    );
    let scope = TenantScope::for_tests(tenant.id);
    let owner = Role::seed(RoleId::from_uuid(Uuid::now_v7()), tenant.id, SystemRole::Owner, base);
    let tx = store.begin().await.expect("begin");
    tx.tenants().insert(&tenant).await.expect("tenant");
    tx.enter_tenant(&scope).await.expect("enter");
    tx.roles().insert(&scope, &owner).await.expect("role");
    tx.commit().await.expect("commit");
    Some(Fixture {
        _store: opened,
        store,
        scope,
        tenant: tenant.id,
        role: owner.id,
        base,
    })
}

async fn in_tenant(f: &Fixture) -> Box<dyn Transaction> {
    let tx = f.store.begin().await.expect("begin");
    tx.enter_tenant(&f.scope).await.expect("enter");
    tx
}

fn person(email: &str, name: &str, at: DateTime<Utc>) -> User {
    User::register(
        UserId::from_uuid(Uuid::now_v7()),
        Email::parse(email).expect("email"),
        DisplayName::parse(name).expect("name"),
        PasswordHash::new("$argon2id$placeholder".into()),
        at,
    )
}

/// A member of the fixture's tenant, with the given status, joined at `at`.
async fn member(f: &Fixture, user: &User, status: MembershipStatus, at: DateTime<Utc>) -> Membership {
    let membership = Membership {
        id: MembershipId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        user_id: user.id,
        role_id: f.role,
        status,
        created_at: at,
        updated_at: at,
    };
    let tx = f.store.begin().await.expect("begin");
    tx.users().insert(user).await.expect("user");
    tx.enter_tenant(&f.scope).await.expect("enter");
    tx.memberships().insert(&f.scope, &membership).await.expect("member");
    tx.commit().await.expect("commit");
    membership
}

type Key = (DateTime<Utc>, Uuid);

#[derive(Debug, Clone, Copy)]
enum List {
    Members,
    Invitations,
    ApiKeys,
    Roles,
    Endpoints,
    Deliveries(WebhookEndpointId),
    Audit,
    Sessions(UserId),
}

/// One page of a list, as the keys of its rows.
async fn page(f: &Fixture, list: List, request: &PageRequest) -> Page<Key> {
    let tx = in_tenant(f).await;
    let scope = &f.scope;
    let page = match list {
        List::Members => tx
            .memberships()
            .list(scope, &MemberFilter::default(), request)
            .await
            .map(|p| p.map(|m| (m.created_at, m.id.as_uuid()))),
        List::Invitations => tx
            .invitations()
            .list(scope, request)
            .await
            .map(|p| p.map(|i| (i.created_at, i.id.as_uuid()))),
        List::ApiKeys => tx
            .api_keys()
            .list(scope, request)
            .await
            .map(|p| p.map(|k| (k.created_at, k.id.as_uuid()))),
        List::Roles => tx
            .roles()
            .list(scope, request)
            .await
            .map(|p| p.map(|r| (r.created_at, r.id.as_uuid()))),
        List::Endpoints => tx
            .webhooks()
            .list_endpoints(scope, request)
            .await
            .map(|p| p.map(|e| (e.created_at, e.id.as_uuid()))),
        List::Deliveries(endpoint) => tx
            .webhooks()
            .list_deliveries(scope, endpoint, request)
            .await
            .map(|p| p.map(|d| (d.created_at, d.id.as_uuid()))),
        List::Audit => tx
            .audit()
            .list(scope, &AuditFilter::default(), request)
            .await
            .map(|p| p.map(|e| (e.event.occurred_at, e.id))),
        List::Sessions(user) => {
            tx.enter_user(user).await.expect("enter user");
            tx.sessions()
                .list_live_for_user(user, f.base, request)
                .await
                .map(|p| p.map(|s| (s.created_at, s.id.as_uuid())))
        }
    };
    page.unwrap_or_else(|e| panic!("{list:?}: {e}"))
}

fn cursor(key: &Key) -> String {
    Cursor::new(key.0, key.1).encode()
}

/// Walks `list` forward and backward in pages of three and checks it holds exactly
/// `rows` rows in `(created_at, id)` order, with the right page flags.
async fn walks_by_keyset(f: &Fixture, list: List, rows: usize) {
    let mut forward: Vec<Key> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let request = PageRequest::parse(Some(PAGE as i32), after.as_deref(), None, None).expect("valid");
        let page = page(f, list, &request).await;
        assert_eq!(page.has_previous_page, after.is_some(), "{list:?}");
        assert!(page.items.len() <= PAGE as usize, "{list:?}");
        forward.extend(page.items.iter().copied());
        if !page.has_next_page {
            break;
        }
        after = Some(cursor(page.items.last().expect("a full page")));
        assert!(forward.len() <= rows, "{list:?} does not follow its cursor");
    }
    let mut sorted = forward.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(forward, sorted, "{list:?}: in key order, each row once");
    assert_eq!(forward.len(), rows, "{list:?}: every row");

    // Backward: the last three, then the three before them.
    let request = PageRequest::parse(None, None, Some(PAGE as i32), None).expect("valid");
    let tail = page(f, list, &request).await;
    assert_eq!(tail.items, forward[rows - 3..], "{list:?}: the last page");
    assert!(tail.has_previous_page && !tail.has_next_page, "{list:?}");
    let before = cursor(tail.items.first().expect("a row"));
    let request = PageRequest::parse(None, None, Some(PAGE as i32), Some(&before)).expect("valid");
    let middle = page(f, list, &request).await;
    assert_eq!(middle.items, forward[rows - 6..rows - 3], "{list:?}: the page before");
    assert!(middle.has_previous_page && middle.has_next_page, "{list:?}");
}

async fn every_list_pages_forward_and_backward_by_keyset(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let inviter = person("inviter@lists.example", "Inviter", f.base);
    member(&f, &inviter, MembershipStatus::Active, f.base - Duration::seconds(1)).await;
    for i in 0..ROWS - 1 {
        let user = person(&format!("m{i}@lists.example"), "Member", at(&f, i));
        member(&f, &user, MembershipStatus::Active, at(&f, i)).await;
    }
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        url: WebhookUrl::parse("https://hooks.lists.example/0", false).expect("url"),
        description: String::new(),
        events: EventSelection::parse(&["*"]).expect("events"),
        enabled: true,
        disabled_reason: None,
        failed_deliveries_in_a_row: 0,
        created_at: f.base - Duration::seconds(1),
        updated_at: f.base,
    };
    let secrets = SigningSecrets {
        current: "whsec_list".into(),
        previous: None,
    };
    let tx = in_tenant(&f).await;
    tx.webhooks()
        .insert_endpoint(&f.scope, &endpoint, &secrets)
        .await
        .expect("endpoint");
    for i in 0..ROWS {
        let time = at(&f, i);
        tx.invitations()
            .insert(
                &f.scope,
                &Invitation {
                    id: InvitationId::from_uuid(Uuid::now_v7()),
                    tenant_id: f.tenant,
                    email: Email::parse(&format!("i{i}@elsewhere.example")).expect("email"),
                    role_id: f.role,
                    invited_by: inviter.id,
                    token_digest: format!("digest-{i}-{}", Uuid::now_v7()),
                    status: InvitationStatus::Pending,
                    created_at: time,
                    expires_at: time + Duration::days(7),
                    accepted_at: None,
                },
            )
            .await
            .expect("invitation");
        tx.api_keys()
            .insert(
                &f.scope,
                &ApiKey {
                    id: ApiKeyId::from_uuid(Uuid::now_v7()),
                    tenant_id: f.tenant,
                    name: Name::parse(&format!("key {i}")).expect("name"),
                    permissions: [Permission::MembersRead].into_iter().collect(),
                    secret_digest: format!("key-digest-{i}-{}", Uuid::now_v7()),
                    created_by: inviter.id,
                    created_at: time,
                    expires_at: None,
                    revoked_at: None,
                    last_used_at: None,
                },
            )
            .await
            .expect("key");
        if i < ROWS - 1 {
            // With the owner role seeded first, the tenant holds ROWS roles.
            tx.roles()
                .insert(
                    &f.scope,
                    &Role {
                        id: RoleId::from_uuid(Uuid::now_v7()),
                        tenant_id: f.tenant,
                        name: Name::parse(&format!("Role {i}")).expect("name"),
                        system: None,
                        permissions: [Permission::MembersRead].into_iter().collect(),
                        created_at: time,
                    },
                )
                .await
                .expect("role");
            let endpoint = WebhookEndpoint {
                id: WebhookEndpointId::from_uuid(Uuid::now_v7()),
                url: WebhookUrl::parse(&format!("https://hooks.lists.example/{}", i + 1), false).expect("url"),
                created_at: time,
                ..endpoint.clone()
            };
            tx.webhooks()
                .insert_endpoint(&f.scope, &endpoint, &secrets)
                .await
                .expect("endpoint");
        }
        let delivery = WebhookDelivery::new(
            WebhookDeliveryId::from_uuid(Uuid::now_v7()),
            &endpoint,
            Uuid::now_v7(),
            "workspace.created",
            "{}",
            time,
        );
        tx.webhooks()
            .insert_deliveries(&f.scope, &[delivery])
            .await
            .expect("delivery");
        let event = NewAuditEvent::new(
            Some(f.tenant),
            AuditActor::User(inviter.id),
            "workspace.created",
            "workspace",
            Some(format!("w{i}")),
            time,
        );
        tx.audit().append(&event).await.expect("audit");
    }
    tx.commit().await.expect("commit");

    // Sessions are a person's, across tenants.
    let tx = f.store.begin().await.expect("begin");
    tx.enter_user(inviter.id).await.expect("enter user");
    for i in 0..ROWS {
        tx.sessions()
            .insert(&NewSession {
                id: SessionId::from_uuid(Uuid::now_v7()),
                user_id: inviter.id,
                current_tenant_id: f.tenant,
                refresh_token_hash: format!("refresh-{i}-{}", Uuid::now_v7()),
                user_agent: None,
                ip: None,
                created_at: at(&f, i),
                expires_at: f.base + Duration::days(30),
                second_factor_at: None,
            })
            .await
            .expect("session");
    }
    tx.commit().await.expect("commit");

    for list in [
        List::Members,
        List::Invitations,
        List::ApiKeys,
        List::Roles,
        List::Endpoints,
        List::Deliveries(endpoint.id),
        List::Audit,
        List::Sessions(inviter.id),
    ] {
        walks_by_keyset(&f, list, ROWS).await;
    }
}

async fn member_filters_select_and_count_alike(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let people = [
        ("ada@lists.example", "Ada Lovelace", MembershipStatus::Active),
        ("grace@lists.example", "Grace Hopper", MembershipStatus::Active),
        ("alan@elsewhere.example", "Alan Turing", MembershipStatus::Removed),
        ("edsger@lists.example", "Edsger Adams", MembershipStatus::Active),
    ];
    let mut members = Vec::new();
    for (i, (email, name, status)) in people.into_iter().enumerate() {
        members.push(member(&f, &person(email, name, at(&f, i)), status, at(&f, i)).await);
    }
    let select = |filter: MemberFilter| {
        let f = &f;
        async move {
            let tx = in_tenant(f).await;
            let page = tx
                .memberships()
                .list(&f.scope, &filter, &PageRequest::first(50))
                .await
                .expect("list");
            let count = tx.memberships().count(&f.scope, &filter).await.expect("count");
            let ids: Vec<MembershipId> = page.items.iter().map(|m| m.id).collect();
            assert_eq!(count, ids.len() as u64, "{filter:?}: the count agrees with the list");
            ids
        }
    };
    let ids = |which: &[usize]| -> Vec<MembershipId> { which.iter().map(|&i| members[i].id).collect() };
    assert_eq!(select(MemberFilter::default()).await, ids(&[0, 1, 2, 3]));
    let search = |text: &str| MemberFilter {
        search: Some(text.into()),
        ..MemberFilter::default()
    };
    // A substring of the email, or of the display name lower-cased.
    assert_eq!(select(search("lists.example")).await, ids(&[0, 1, 3]));
    assert_eq!(select(search("ada")).await, ids(&[0, 3]), "email ada@…, name …Adams");
    assert_eq!(select(search("hopper")).await, ids(&[1]));
    assert_eq!(select(search("nobody")).await, ids(&[]));
    let active = MemberFilter {
        status: Some(MembershipStatus::Active),
        ..search("a")
    };
    assert_eq!(select(active).await, ids(&[0, 1, 3]));
    let other_role = MemberFilter {
        role_id: Some(RoleId::from_uuid(Uuid::now_v7())),
        ..MemberFilter::default()
    };
    assert_eq!(select(other_role).await, ids(&[]));
}

async fn audit_filters_select_and_count_alike(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let ada = UserId::from_uuid(Uuid::now_v7());
    let key = ApiKeyId::from_uuid(Uuid::now_v7());
    let events = [
        (AuditActor::User(ada), "workspace.created", "workspace", "w1"),
        (AuditActor::User(ada), "workspace.renamed", "workspace", "w1"),
        (AuditActor::ApiKey(key), "workspace.created", "workspace", "w2"),
        (AuditActor::User(ada), "member.removed", "member", "m1"),
        (AuditActor::System, "webhook.disabled", "webhook_endpoint", "e1"),
    ];
    let tx = in_tenant(&f).await;
    for (i, (actor, action, target_type, target_id)) in events.into_iter().enumerate() {
        let event = NewAuditEvent::new(
            Some(f.tenant),
            actor,
            action,
            target_type,
            Some(target_id.into()),
            f.base + Duration::seconds(i as i64),
        );
        tx.audit().append(&event).await.expect("append");
    }
    tx.commit().await.expect("commit");

    let select = |filter: AuditFilter| {
        let f = &f;
        async move {
            let tx = in_tenant(f).await;
            let page = tx
                .audit()
                .list(&f.scope, &filter, &PageRequest::first(50))
                .await
                .expect("list");
            let count = tx.audit().count(&f.scope, &filter).await.expect("count");
            let seen: Vec<String> = page
                .items
                .iter()
                .map(|e| format!("{} {}", e.event.action, e.event.target_id.clone().unwrap_or_default()))
                .collect();
            assert_eq!(count, seen.len() as u64, "{filter:?}: the count agrees with the list");
            seen
        }
    };
    let all = select(AuditFilter::default()).await;
    assert_eq!(
        all,
        [
            "workspace.created w1",
            "workspace.renamed w1",
            "workspace.created w2",
            "member.removed m1",
            "webhook.disabled e1"
        ]
    );
    let by_actor = AuditFilter {
        actor_id: Some(ada.as_uuid()),
        ..AuditFilter::default()
    };
    assert_eq!(
        select(by_actor).await,
        ["workspace.created w1", "workspace.renamed w1", "member.removed m1"]
    );
    let by_key = AuditFilter {
        actor_id: Some(key.as_uuid()),
        ..AuditFilter::default()
    };
    assert_eq!(select(by_key).await, ["workspace.created w2"]);
    let by_action = AuditFilter {
        action: Some("workspace.created".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        select(by_action).await,
        ["workspace.created w1", "workspace.created w2"]
    );
    let by_target = AuditFilter {
        target_type: Some("workspace".into()),
        target_id: Some("w1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        select(by_target).await,
        ["workspace.created w1", "workspace.renamed w1"]
    );
    // `from` is inclusive, `to` exclusive.
    let window = AuditFilter {
        from: Some(f.base + Duration::seconds(1)),
        to: Some(f.base + Duration::seconds(3)),
        ..AuditFilter::default()
    };
    assert_eq!(select(window).await, ["workspace.renamed w1", "workspace.created w2"]);
}
