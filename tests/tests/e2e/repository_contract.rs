//! The repository contract: one suite, written against the ports, run on SQLite, on
//! Postgres (as the application role, so RLS is in force there) and on the in-memory
//! fakes the application's unit tests use.

use chrono::{Duration, SubsecRound, Utc};
use std::sync::Arc;
use tessera_application::ports::{Store, StoreError, Transaction};
use tessera_application::{PageRequest, TenantScope};
use tessera_domain::{
    DisplayName, Email, Membership, MembershipId, MembershipStatus, Name, PasswordHash, Permission, Role, RoleId, Slug,
    SystemRole, Tenant, TenantId, TenantStatus, User, UserId, Workspace, WorkspaceId, WorkspaceMembership,
    WorkspaceMembershipId,
};
use tessera_tests::{ContractStore, StoreKind, on_every_store};
use uuid::Uuid;

on_every_store!(
    users_are_found_by_normalised_email_and_emails_are_unique,
    tenant_rows_are_visible_and_writable_only_in_their_own_scope,
    workspaces_page_forward_and_backward_by_keyset,
    roles_keep_their_permissions_and_own_memberships_span_tenants,
    an_uncommitted_transaction_leaves_nothing_behind,
    the_onboarding_funnel_counts_only_the_tenants_active_members_with_the_exact_median,
    a_workspace_is_inserted_within_the_tenants_limit_only,
    status_changes_and_export_saves_apply_only_to_what_they_were_based_on,
    a_members_page_with_its_users_is_the_page_itself_in_both_directions,
    a_single_read_sees_committed_global_rows_and_enters_no_tenant_or_user,
    a_workspace_is_read_with_one_persons_membership_and_its_permissions,
);

async fn fixture(kind: StoreKind) -> Option<ContractStore> {
    ContractStore::open(kind, 2).await
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn user(email: &str) -> User {
    User::register(
        UserId::from_uuid(Uuid::now_v7()),
        Email::parse(email).expect("email"),
        DisplayName::parse("Someone").expect("name"),
        PasswordHash::new("$argon2id$placeholder".into()),
        now(),
    )
}

fn tenant(slug: &str) -> Tenant {
    Tenant::new(
        TenantId::from_uuid(Uuid::now_v7()),
        Slug::parse(slug).expect("slug"),
        Name::parse(slug).expect("name"),
        tessera_domain::PlanKey::parse("free").expect("plan"),
        now(),
    )
}

fn workspace(tenant: TenantId, slug: &str, created_at: chrono::DateTime<Utc>) -> Workspace {
    Workspace::new(
        WorkspaceId::from_uuid(Uuid::now_v7()),
        tenant,
        Slug::parse(slug).expect("slug"),
        Name::parse(slug).expect("name"),
        created_at,
    )
}

async fn begin(store: &Arc<dyn Store>) -> Box<dyn Transaction> {
    store.begin().await.expect("begin")
}

/// Creates a tenant in its own transaction and returns its scope.
async fn new_tenant(store: &Arc<dyn Store>, slug: &str) -> (Tenant, TenantScope) {
    let t = tenant(slug);
    let tx = begin(store).await;
    tx.tenants().insert(&t).await.expect("insert tenant");
    tx.commit().await.expect("commit");
    let scope = TenantScope::for_tests(t.id);
    (t, scope)
}

async fn users_are_found_by_normalised_email_and_emails_are_unique(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let ada = user("ada@example.com");
    let tx = begin(&f.store).await;
    tx.users().insert(&ada).await.expect("insert");
    tx.commit().await.expect("commit");

    let tx = begin(&f.store).await;
    let found = tx
        .users()
        .find_by_email(&Email::parse("ADA@example.com").expect("email"))
        .await
        .expect("query");
    assert_eq!(found.as_ref().map(|u| u.id), Some(ada.id));
    assert_eq!(tx.users().find_by_id(ada.id).await.expect("query"), Some(ada.clone()));
    assert!(tx.users().exists_any().await.expect("query"));
    let duplicate = tx.users().insert(&user("ada@example.com")).await;
    assert!(
        matches!(duplicate, Err(StoreError::Duplicate("email"))),
        "{duplicate:?}"
    );
}

async fn tenant_rows_are_visible_and_writable_only_in_their_own_scope(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let (a, scope_a) = new_tenant(&f.store, "tenant-a").await;
    let (b, scope_b) = new_tenant(&f.store, "tenant-b").await;
    let b_workspace = workspace(b.id, "plans", now());

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_b).await.expect("enter b");
    tx.workspaces().insert(&scope_b, &b_workspace).await.expect("insert");
    tx.commit().await.expect("commit");

    // A failed statement ends the transaction's usefulness (Postgres aborts it), so
    // the duplicate is tried in a transaction of its own.
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_b).await.expect("enter b");
    let duplicate = tx.workspaces().insert(&scope_b, &workspace(b.id, "plans", now())).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate("slug"))), "{duplicate:?}");
    drop(tx);

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_a).await.expect("enter a");
    assert_eq!(
        tx.workspaces()
            .find_by_id(&scope_a, b_workspace.id)
            .await
            .expect("query"),
        None
    );
    let mut renamed = b_workspace.clone();
    renamed.rename(Name::parse("pwned").expect("name"), now());
    // Writing B's row while scoped to A: refused before SQL (the row names tenant B)…
    assert!(tx.workspaces().update(&scope_a, &renamed).await.is_err());
    // …and a row claiming tenant A but carrying B's id simply is not found.
    let mut disguised = renamed.clone();
    disguised.tenant_id = a.id;
    assert!(matches!(
        tx.workspaces().update(&scope_a, &disguised).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        tx.workspaces().delete(&scope_a, b_workspace.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        tx.workspaces()
            .insert(&scope_a, &workspace(b.id, "foreign", now()))
            .await
            .is_err()
    );
    assert_eq!(tx.workspaces().count(&scope_a, None).await.expect("count"), 0);
    tx.commit().await.expect("commit");

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_b).await.expect("enter b");
    assert_eq!(
        tx.workspaces()
            .find_by_id(&scope_b, b_workspace.id)
            .await
            .expect("query"),
        Some(b_workspace.clone())
    );
    tx.workspaces()
        .delete(&scope_b, b_workspace.id)
        .await
        .expect("own delete works");
    assert_eq!(tx.workspaces().count(&scope_b, None).await.expect("count"), 0);
}

async fn workspaces_page_forward_and_backward_by_keyset(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let (t, scope) = new_tenant(&f.store, "pager").await;
    let base = now();
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let mut expected = Vec::new();
    for i in 0..25 {
        // Pairs share a timestamp, so the id must break ties.
        let ws = workspace(t.id, &format!("ws-{i:02}"), base + Duration::milliseconds(i / 2));
        tx.workspaces().insert(&scope, &ws).await.expect("insert");
        expected.push(ws);
    }
    tx.commit().await.expect("commit");
    expected.sort_by_key(|w| (w.created_at, w.id.as_uuid()));
    let expected_slugs: Vec<String> = expected.iter().map(|w| w.slug.to_string()).collect();

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let request = PageRequest::parse(Some(10), after.as_deref(), None, None).expect("valid");
        let page = tx.workspaces().list(&scope, None, &request).await.expect("page");
        pages += 1;
        assert_eq!(page.has_previous_page, after.is_some());
        forward.extend(page.items.iter().map(|w| w.slug.to_string()));
        let last = page.items.last().expect("non-empty page");
        after = Some(tessera_application::Cursor::new(last.created_at, last.id.as_uuid()).encode());
        if !page.has_next_page {
            break;
        }
        assert!(pages < 3, "the pager does not follow its cursor");
    }
    assert_eq!(pages, 3);
    assert_eq!(forward, expected_slugs);

    // Backward from the end: last 10, then the 10 before them.
    let request = PageRequest::parse(None, None, Some(10), None).expect("valid");
    let tail = tx.workspaces().list(&scope, None, &request).await.expect("page");
    let tail_slugs: Vec<String> = tail.items.iter().map(|w| w.slug.to_string()).collect();
    assert_eq!(tail_slugs, expected_slugs[15..]);
    assert!(tail.has_previous_page);
    let first = tail.items.first().expect("item");
    let before = tessera_application::Cursor::new(first.created_at, first.id.as_uuid()).encode();
    let request = PageRequest::parse(None, None, Some(10), Some(&before)).expect("valid");
    let middle = tx.workspaces().list(&scope, None, &request).await.expect("page");
    let middle_slugs: Vec<String> = middle.items.iter().map(|w| w.slug.to_string()).collect();
    assert_eq!(middle_slugs, expected_slugs[5..15]);
    assert!(middle.has_next_page && middle.has_previous_page);
    assert_eq!(tx.workspaces().count(&scope, None).await.expect("count"), 25);
}

async fn roles_keep_their_permissions_and_own_memberships_span_tenants(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let ada = user("ada@example.com");
    let tx = begin(&f.store).await;
    tx.users().insert(&ada).await.expect("insert user");
    tx.commit().await.expect("commit");

    let mut memberships = Vec::new();
    let mut tenants = Vec::new();
    for slug in ["first-co", "second-co"] {
        let (t, scope) = new_tenant(&f.store, slug).await;
        tenants.push((t.clone(), scope.clone()));
        let tx = begin(&f.store).await;
        tx.enter_tenant(&scope).await.expect("enter");
        let viewer = Role::seed(RoleId::from_uuid(Uuid::now_v7()), t.id, SystemRole::Viewer, now());
        tx.roles().insert(&scope, &viewer).await.expect("insert role");
        let stored = tx
            .roles()
            .find_by_id(&scope, viewer.id)
            .await
            .expect("query")
            .expect("role");
        assert_eq!(stored.permissions, SystemRole::Viewer.default_permissions());
        assert_eq!(stored.system, Some(SystemRole::Viewer));
        assert!(
            tx.roles()
                .permissions_of(&scope, viewer.id)
                .await
                .expect("query")
                .contains(Permission::MembersRead)
        );
        let membership = Membership {
            id: MembershipId::from_uuid(Uuid::now_v7()),
            tenant_id: t.id,
            user_id: ada.id,
            role_id: viewer.id,
            status: MembershipStatus::Active,
            created_at: now(),
            updated_at: now(),
        };
        tx.memberships()
            .insert(&scope, &membership)
            .await
            .expect("insert membership");
        assert_eq!(
            tx.memberships().find_by_user(&scope, ada.id).await.expect("query"),
            Some(membership.clone())
        );
        tx.commit().await.expect("commit");
        memberships.push(membership);
    }

    // Before any tenant is chosen, the user's own memberships in every tenant.
    let tx = begin(&f.store).await;
    tx.enter_user(ada.id).await.expect("enter user");
    let own = tx.memberships().list_own(ada.id).await.expect("query");
    assert_eq!(own, memberships);
    // Someone else's memberships are not listed.
    assert!(
        tx.memberships()
            .list_own(UserId::from_uuid(Uuid::now_v7()))
            .await
            .expect("query")
            .is_empty()
    );
    // The tenants of those memberships (the batch behind myTenants), of an unknown id none.
    let ids = [tenants[0].0.id, tenants[1].0.id, TenantId::from_uuid(Uuid::now_v7())];
    let mut joined: Vec<TenantId> = tx
        .tenants()
        .find_joined_by(ada.id, &ids)
        .await
        .expect("query")
        .into_iter()
        .map(|t| t.id)
        .collect();
    joined.sort();
    let mut expected = vec![tenants[0].0.id, tenants[1].0.id];
    expected.sort();
    assert_eq!(joined, expected);
    drop(tx);

    // A membership no longer active, or a deleted tenant, no longer counts.
    let (first, first_scope) = &tenants[0];
    let tx = begin(&f.store).await;
    tx.enter_tenant(first_scope).await.expect("enter");
    let removed = Membership {
        status: MembershipStatus::Removed,
        ..memberships[0].clone()
    };
    tx.memberships()
        .update(first_scope, &memberships[0], &removed)
        .await
        .expect("remove");
    tx.commit().await.expect("commit");
    let (second, second_scope) = &tenants[1];
    let tx = begin(&f.store).await;
    tx.enter_tenant(second_scope).await.expect("enter");
    let deleted = Tenant {
        status: TenantStatus::Deleted,
        ..second.clone()
    };
    tx.tenants()
        .update_status(&deleted, TenantStatus::Active)
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    tx.enter_user(ada.id).await.expect("enter user");
    let joined = tx.tenants().find_joined_by(ada.id, &ids).await.expect("query");
    assert!(joined.is_empty(), "{first:?} and {second:?} still found: {joined:?}");
}

async fn an_uncommitted_transaction_leaves_nothing_behind(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    {
        let tx = begin(&f.store).await;
        tx.users().insert(&user("ghost@example.com")).await.expect("insert");
        // dropped without commit
    }
    let tx = begin(&f.store).await;
    assert!(!tx.users().exists_any().await.expect("query"));
}

/// A member of the tenant (viewer role) with onboarding that started at `at` and, if
/// `seconds` is given, completed that many seconds later; `stage` without a record
/// when `None`.
async fn onboarded_member(
    store: &Arc<dyn Store>,
    scope: &TenantScope,
    role: RoleId,
    email: &str,
    status: MembershipStatus,
    progress: Option<(tessera_domain::OnboardingStage, Option<i64>)>,
) {
    let person = user(email);
    let tx = begin(store).await;
    tx.users().insert(&person).await.expect("insert user");
    tx.enter_tenant(scope).await.expect("enter");
    let membership = Membership {
        id: MembershipId::from_uuid(Uuid::now_v7()),
        tenant_id: scope.tenant_id(),
        user_id: person.id,
        role_id: role,
        status,
        created_at: now(),
        updated_at: now(),
    };
    tx.memberships()
        .insert(scope, &membership)
        .await
        .expect("insert membership");
    if let Some((stage, seconds)) = progress {
        let started = now() - Duration::hours(1);
        let mut onboarding = tessera_domain::Onboarding::start(person.id, started);
        onboarding.stage = stage;
        onboarding.completed_at = seconds.map(|s| started + Duration::seconds(s));
        let record = tessera_domain::OnboardingRecord {
            progress: onboarding,
            draft: None,
        };
        tx.onboarding().insert(&record).await.expect("insert progress");
    }
    tx.commit().await.expect("commit");
}

async fn the_onboarding_funnel_counts_only_the_tenants_active_members_with_the_exact_median(kind: StoreKind) {
    use tessera_domain::OnboardingStage::{Completed, Terms};
    let Some(f) = fixture(kind).await else {
        return;
    };
    let mut scopes = Vec::new();
    for slug in ["acme", "globex"] {
        let (t, scope) = new_tenant(&f.store, slug).await;
        let tx = begin(&f.store).await;
        tx.enter_tenant(&scope).await.expect("enter");
        let viewer = Role::seed(RoleId::from_uuid(Uuid::now_v7()), t.id, SystemRole::Viewer, now());
        tx.roles().insert(&scope, &viewer).await.expect("insert role");
        tx.commit().await.expect("commit");
        scopes.push((scope, viewer.id));
    }
    let (acme, acme_role) = scopes[0].clone();
    let (globex, globex_role) = scopes[1].clone();
    let active = MembershipStatus::Active;
    for (email, seconds) in [("a@x.example", 10), ("b@x.example", 20), ("c@x.example", 40)] {
        onboarded_member(
            &f.store,
            &acme,
            acme_role,
            email,
            active,
            Some((Completed, Some(seconds))),
        )
        .await;
    }
    onboarded_member(&f.store, &acme, acme_role, "d@x.example", active, Some((Terms, None))).await;
    onboarded_member(&f.store, &acme, acme_role, "e@x.example", active, None).await;
    // Neither a removed member nor another tenant's member counts.
    let removed = MembershipStatus::Removed;
    onboarded_member(
        &f.store,
        &acme,
        acme_role,
        "f@x.example",
        removed,
        Some((Completed, Some(5))),
    )
    .await;
    onboarded_member(
        &f.store,
        &globex,
        globex_role,
        "g@x.example",
        active,
        Some((Completed, Some(1000))),
    )
    .await;

    let funnel = |scope: TenantScope| {
        let store = f.store.clone();
        async move {
            let tx = begin(&store).await;
            tx.enter_tenant(&scope).await.expect("enter");
            tx.onboarding().funnel(&scope).await.expect("funnel")
        }
    };
    let counts = funnel(acme.clone()).await;
    assert_eq!(counts.members, 5);
    assert_eq!(counts.completed, 3);
    let per_stage: Vec<u64> = counts.by_stage.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        per_stage,
        [1, 0, 0, 1, 3],
        "started (never began), personal, organization, terms, completed"
    );
    // SQLite's julianday arithmetic is exact to about a millisecond.
    let close = |median: Option<f64>, expected: f64| median.is_some_and(|m| (m - expected).abs() < 0.01);
    assert!(
        close(counts.median_seconds_to_complete, 20.0),
        "the middle of 10, 20 and 40: {counts:?}"
    );

    onboarded_member(
        &f.store,
        &acme,
        acme_role,
        "h@x.example",
        active,
        Some((Completed, Some(100))),
    )
    .await;
    let even = funnel(acme.clone()).await;
    assert!(
        close(even.median_seconds_to_complete, 30.0),
        "the mean of the middle two of 10, 20, 40, 100: {even:?}"
    );

    let other = funnel(globex).await;
    assert_eq!((other.members, other.completed), (1, 1));
    assert!(close(other.median_seconds_to_complete, 1000.0), "{other:?}");
}

/// The quota's insert: the tenant's row read with its quota lock, then a workspace
/// inserted only while the tenant holds fewer than the limit (and a taken slug is still
/// a duplicate); another tenant's workspaces do not count.
async fn a_workspace_is_inserted_within_the_tenants_limit_only(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let (acme, scope) = new_tenant(&f.store, "acme").await;
    let (_, other) = new_tenant(&f.store, "globex").await;
    let tx = begin(&f.store).await;
    tx.enter_tenant(&other).await.expect("enter");
    for slug in ["ws-g1", "ws-g2", "ws-g3"] {
        tx.workspaces()
            .insert(&other, &workspace(other.tenant_id(), slug, now()))
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");

    let tx = begin(&f.store).await;
    let read = tx.enter_tenant_for_quota(&scope).await.expect("enter for the quota");
    assert_eq!(read.id, acme.id);
    assert_eq!(read.plan, acme.plan);
    let limit = Some(2);
    for slug in ["ws-a1", "ws-a2"] {
        let inserted = tx
            .workspaces()
            .insert_within(&scope, &workspace(acme.id, slug, now()), limit)
            .await
            .expect("insert");
        assert!(inserted, "{slug} fits under the limit");
    }
    let third = tx
        .workspaces()
        .insert_within(&scope, &workspace(acme.id, "ws-a3", now()), limit)
        .await
        .expect("no error at the limit");
    assert!(!third, "the limit holds");
    let taken = tx
        .workspaces()
        .insert_within(&scope, &workspace(acme.id, "ws-a1", now()), Some(10))
        .await;
    assert!(matches!(taken, Err(StoreError::Duplicate("slug"))), "{taken:?}");
    drop(tx);
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let unlimited = tx
        .workspaces()
        .insert_within(&scope, &workspace(acme.id, "ws-b1", now()), None)
        .await
        .expect("insert");
    assert!(unlimited);
    tx.commit().await.expect("commit");
    let missing = begin(&f.store)
        .await
        .enter_tenant_for_quota(&TenantScope::for_tests(TenantId::from_uuid(Uuid::now_v7())))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

/// A status change is written only while the stored status is the one it was based on
/// (a cancelled deletion is never purged), and an export's save only by the attempt that
/// holds it (a writer taken over changes nothing).
async fn status_changes_and_export_saves_apply_only_to_what_they_were_based_on(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let (mut acme, scope) = new_tenant(&f.store, "acme").await;
    let due = now();
    acme.schedule_deletion(due, now()).expect("scheduled");
    let tx = begin(&f.store).await;
    tx.tenants()
        .update_status(&acme, TenantStatus::Active)
        .await
        .expect("from active");
    tx.commit().await.expect("commit");
    // A purge based on "pending deletion" and a cancellation: whichever comes second loses.
    let mut cancelled = acme.clone();
    cancelled.cancel_deletion(now());
    let mut purging = acme.clone();
    purging.status = TenantStatus::Deleted;
    let tx = begin(&f.store).await;
    tx.tenants()
        .update_status(&cancelled, TenantStatus::PendingDeletion)
        .await
        .expect("the cancellation");
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    let late = tx
        .tenants()
        .update_status(&purging, TenantStatus::PendingDeletion)
        .await;
    assert!(matches!(late, Err(StoreError::Stale)), "{late:?}");
    drop(tx);
    let tx = begin(&f.store).await;
    let stored = tx
        .tenants()
        .find_by_id(acme.id)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!((stored.status, stored.deletion), (TenantStatus::Active, None));
    let missing = tx
        .tenants()
        .update_status(&tenant("nobody"), TenantStatus::Active)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    drop(tx);

    // Exports: a writer whose lease ran out is taken over; its saves then change nothing.
    let export = tessera_domain::TenantExport::queued(
        tessera_domain::TenantExportId::from_uuid(Uuid::now_v7()),
        acme.id,
        None,
        now(),
    );
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    tx.exports().insert(&scope, &export).await.expect("insert");
    let first = tx
        .exports()
        .claim(&scope, export.id, now(), now() + Duration::minutes(30))
        .await
        .expect("claim")
        .expect("a queued export is taken");
    let again = tx
        .exports()
        .claim(&scope, export.id, now(), now())
        .await
        .expect("claim");
    assert!(
        again.is_none(),
        "a held export is not taken again before its lease runs out"
    );
    tx.commit().await.expect("commit");
    // An hour later the first writer's lease has run out (it stopped): another takes over.
    let later = now() + Duration::hours(1);
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let second = tx
        .exports()
        .claim(&scope, export.id, later, later + Duration::minutes(30))
        .await
        .expect("claim")
        .expect("taken over once the lease ran out");
    assert_ne!(first.started_at, second.started_at);
    let mut stale = first.clone();
    stale.rows_written = 1;
    let refused = tx.exports().save(&scope, &stale, None).await;
    assert!(matches!(refused, Err(StoreError::Stale)), "{refused:?}");
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let mut done = second.clone();
    done.status = tessera_domain::ExportStatus::Completed;
    done.rows_written = 7;
    tx.exports().save(&scope, &done, None).await.expect("the holder saves");
    let stored = tx
        .exports()
        .find(&scope, export.id)
        .await
        .expect("find")
        .expect("there");
    assert_eq!(
        (stored.status, stored.rows_written),
        (tessera_domain::ExportStatus::Completed, 7)
    );
    tx.commit().await.expect("commit");
}

/// The page of members read with their users holds exactly the memberships the plain
/// page holds (filters, keyset cursors both ways, page flags), each beside its own
/// user, and nothing of another tenant.
async fn a_members_page_with_its_users_is_the_page_itself_in_both_directions(kind: StoreKind) {
    use tessera_application::ports::MemberFilter;
    let Some(f) = fixture(kind).await else {
        return;
    };
    let (ours, scope) = new_tenant(&f.store, "joined-co").await;
    let (theirs, their_scope) = new_tenant(&f.store, "other-co").await;
    let people: Vec<User> = (0..5).map(|i| user(&format!("member{i}@example.com"))).collect();
    let tx = begin(&f.store).await;
    for person in &people {
        tx.users().insert(person).await.expect("insert user");
    }
    tx.commit().await.expect("commit");
    let start = now();
    for (tenant, scope, members) in [(&ours, &scope, &people[..4]), (&theirs, &their_scope, &people[3..])] {
        let tx = begin(&f.store).await;
        tx.enter_tenant(scope).await.expect("enter");
        let viewer = Role::seed(RoleId::from_uuid(Uuid::now_v7()), tenant.id, SystemRole::Viewer, now());
        tx.roles().insert(scope, &viewer).await.expect("insert role");
        for (i, person) in members.iter().enumerate() {
            let at = start + Duration::seconds(i as i64);
            let membership = Membership {
                id: MembershipId::from_uuid(Uuid::now_v7()),
                tenant_id: tenant.id,
                user_id: person.id,
                role_id: viewer.id,
                status: if i == 1 {
                    MembershipStatus::Invited
                } else {
                    MembershipStatus::Active
                },
                created_at: at,
                updated_at: at,
            };
            tx.memberships()
                .insert(scope, &membership)
                .await
                .expect("insert membership");
        }
        tx.commit().await.expect("commit");
    }

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let everyone = MemberFilter::default();
    let active = MemberFilter {
        status: Some(MembershipStatus::Active),
        ..MemberFilter::default()
    };
    let first_two = PageRequest::first(2);
    for (filter, page) in [
        (&everyone, &first_two),
        (&active, &first_two),
        (&everyone, &PageRequest::first(10)),
    ] {
        let plain = tx.memberships().list(&scope, filter, page).await.expect("page");
        let joined = tx
            .memberships()
            .list_with_users(&scope, filter, page)
            .await
            .expect("joined page");
        assert_eq!(joined.has_next_page, plain.has_next_page);
        assert_eq!(joined.has_previous_page, plain.has_previous_page);
        let memberships: Vec<Membership> = joined.items.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(memberships, plain.items);
        for (membership, person) in &joined.items {
            assert_eq!(membership.user_id, person.id);
            assert_eq!(Some(person), people.iter().find(|p| p.id == person.id));
        }
    }
    let all = tx
        .memberships()
        .list_with_users(&scope, &everyone, &PageRequest::first(10))
        .await
        .expect("page");
    assert_eq!(all.items.len(), 4, "only this tenant's members");
    assert!(all.items.iter().all(|(m, _)| m.tenant_id == ours.id));

    // Past the second member, and back before the last one, by keyset.
    let cursor = |at: usize| tessera_application::Cursor::new(all.items[at].0.created_at, all.items[at].0.id.as_uuid());
    let next = PageRequest::parse(Some(2), Some(&cursor(1).encode()), None, None).expect("next page");
    let back = PageRequest::parse(None, None, Some(2), Some(&cursor(3).encode())).expect("previous page");
    for page in [next, back] {
        let plain = tx.memberships().list(&scope, &everyone, &page).await.expect("page");
        let joined = tx
            .memberships()
            .list_with_users(&scope, &everyone, &page)
            .await
            .expect("joined");
        assert_eq!(
            joined.items.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
            plain.items
        );
        assert_eq!(
            (joined.has_next_page, joined.has_previous_page),
            (plain.has_next_page, plain.has_previous_page)
        );
        assert_eq!(plain.items.len(), 2);
    }
}

async fn a_single_read_sees_committed_global_rows_and_enters_no_tenant_or_user(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let ada = user("ada@example.com");
    let (acme, scope) = new_tenant(&f.store, "acme").await;
    let tx = begin(&f.store).await;
    tx.users().insert(&ada).await.expect("insert");
    tx.commit().await.expect("commit");

    let read = f.store.begin_single_read().await.expect("single read");
    assert_eq!(read.users().find_by_id(ada.id).await.expect("read"), Some(ada.clone()));
    assert_eq!(
        read.tenants().find_by_id(acme.id).await.expect("read").map(|t| t.id),
        Some(acme.id)
    );
    // A setting would not outlive its own statement there: entering is refused, so a
    // tenant's rows are never read unscoped through it.
    assert!(
        read.enter_tenant(&scope).await.is_err(),
        "a single read entered a tenant"
    );
    assert!(read.enter_user(ada.id).await.is_err(), "a single read entered a user");
    assert!(read.enter_tenant_exclusively(&scope).await.is_err());
    assert!(read.enter_tenant_for_quota(&scope).await.is_err());
    read.commit().await.expect("a single read ends like a transaction");
}

async fn a_workspace_is_read_with_one_persons_membership_and_its_permissions(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let ada = user("ada@example.com");
    let bob = user("bob@example.com");
    let tx = begin(&f.store).await;
    tx.users().insert(&ada).await.expect("insert user");
    tx.users().insert(&bob).await.expect("insert user");
    tx.commit().await.expect("commit");
    let (a, scope_a) = new_tenant(&f.store, "tenant-a").await;
    let (b, scope_b) = new_tenant(&f.store, "tenant-b").await;

    let lead = Role::seed(RoleId::from_uuid(Uuid::now_v7()), a.id, SystemRole::Admin, now());
    let plans = workspace(a.id, "plans", now());
    let membership = WorkspaceMembership {
        id: WorkspaceMembershipId::from_uuid(Uuid::now_v7()),
        tenant_id: a.id,
        workspace_id: plans.id,
        user_id: ada.id,
        role_id: lead.id,
        created_at: now(),
    };
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_a).await.expect("enter");
    tx.roles().insert(&scope_a, &lead).await.expect("insert role");
    let member_of_a = Membership {
        id: MembershipId::from_uuid(Uuid::now_v7()),
        tenant_id: a.id,
        user_id: ada.id,
        role_id: lead.id,
        status: MembershipStatus::Active,
        created_at: now(),
        updated_at: now(),
    };
    tx.memberships()
        .insert(&scope_a, &member_of_a)
        .await
        .expect("insert membership");
    tx.workspaces()
        .insert(&scope_a, &plans)
        .await
        .expect("insert workspace");
    tx.workspaces()
        .add_member(&scope_a, &membership)
        .await
        .expect("add member");
    tx.commit().await.expect("commit");
    let elsewhere = workspace(b.id, "elsewhere", now());
    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_b).await.expect("enter");
    tx.workspaces()
        .insert(&scope_b, &elsewhere)
        .await
        .expect("insert workspace");
    tx.commit().await.expect("commit");

    let tx = begin(&f.store).await;
    tx.enter_tenant(&scope_a).await.expect("enter");
    let found = tx
        .workspaces()
        .find_with_member(&scope_a, plans.id, Some(ada.id))
        .await
        .expect("query")
        .expect("the workspace");
    assert_eq!(found.workspace, plans);
    let (member, permissions) = found.member.expect("ada's membership");
    assert_eq!(member, membership);
    assert_eq!(permissions, SystemRole::Admin.default_permissions());
    // Someone without a membership, and no one: the workspace alone.
    for nobody in [Some(bob.id), None] {
        let found = tx
            .workspaces()
            .find_with_member(&scope_a, plans.id, nobody)
            .await
            .expect("query")
            .expect("the workspace");
        assert_eq!((found.workspace.id, found.member), (plans.id, None));
    }
    // Another tenant's workspace, and an unknown one, are not found.
    for id in [elsewhere.id, WorkspaceId::from_uuid(Uuid::now_v7())] {
        let found = tx.workspaces().find_with_member(&scope_a, id, Some(ada.id)).await;
        assert_eq!(found.expect("query"), None);
    }
}
