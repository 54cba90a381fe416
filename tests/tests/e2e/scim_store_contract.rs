//! The directory's records (SCIM) under the repository contract, on SQLite, on
//! Postgres (as the application role, row level security in force) and on the
//! in-memory fakes: names unique per tenant without regard to case, writes based on a
//! version, every read and write confined to its tenant.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use tessera_application::TenantScope;
use tessera_application::ports::{ScimGroupFilter, ScimUserFilter, Store, StoreError, Transaction};
use tessera_domain::{
    DisplayName, Email, Membership, MembershipId, MembershipStatus, Name, PasswordHash, Role, RoleId, ScimGroup,
    ScimGroupId, ScimToken, ScimTokenId, ScimUser, ScimUserId, ScimUserName, Slug, SystemRole, Tenant, TenantId, User,
    UserId,
};
use tessera_tests::{ContractStore, StoreKind, on_every_store};
use uuid::Uuid;

on_every_store!(a_directorys_records_are_unique_versioned_and_confined_to_their_tenant);

fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

async fn begin(store: &Arc<dyn Store>) -> Box<dyn Transaction> {
    store.begin().await.expect("begin")
}

/// A tenant with a `member` role and `people` members; answers its scope, the role
/// and the people's (user, membership) ids.
async fn tenant_with_people(
    store: &Arc<dyn Store>,
    slug: &str,
    people: usize,
) -> (TenantScope, RoleId, Vec<(UserId, MembershipId)>) {
    let tenant = Tenant::new(
        TenantId::from_uuid(Uuid::now_v7()),
        Slug::parse(slug).expect("slug"),
        Name::parse(slug).expect("name"),
        tessera_domain::PlanKey::parse("free").expect("plan"),
        now(),
    );
    let scope = TenantScope::for_tests(tenant.id);
    let tx = begin(store).await;
    tx.tenants().insert(&tenant).await.expect("tenant");
    let mut linked = Vec::new();
    for n in 0..people {
        let user = User::register(
            UserId::from_uuid(Uuid::now_v7()),
            Email::parse(&format!("p{n}@{slug}.net")).expect("email"),
            DisplayName::parse("Someone").expect("name"),
            PasswordHash::new(String::new()),
            now(),
        );
        tx.users().insert(&user).await.expect("user");
        linked.push(user.id);
    }
    tx.commit().await.expect("commit");
    let tx = begin(store).await;
    tx.enter_tenant(&scope).await.expect("enter");
    let role = Role::seed(RoleId::from_uuid(Uuid::now_v7()), tenant.id, SystemRole::Member, now());
    tx.roles().insert(&scope, &role).await.expect("role");
    let mut out = Vec::new();
    for user_id in linked {
        let membership = Membership {
            id: MembershipId::from_uuid(Uuid::now_v7()),
            tenant_id: tenant.id,
            user_id,
            role_id: role.id,
            status: MembershipStatus::Active,
            created_at: now(),
            updated_at: now(),
        };
        tx.memberships().insert(&scope, &membership).await.expect("membership");
        out.push((user_id, membership.id));
    }
    tx.commit().await.expect("commit");
    (scope, role.id, out)
}

fn person(scope: &TenantScope, (user_id, membership_id): (UserId, MembershipId), name: &str) -> ScimUser {
    ScimUser {
        id: ScimUserId::from_uuid(Uuid::now_v7()),
        tenant_id: scope.tenant_id(),
        user_id: Some(user_id),
        membership_id: Some(membership_id),
        user_name: ScimUserName::parse(name).expect("name"),
        external_id: Some(format!("ext-{name}")),
        active: true,
        attributes: r#"{"displayName":"Someone"}"#.into(),
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

fn group(scope: &TenantScope, name: &str) -> ScimGroup {
    ScimGroup {
        id: ScimGroupId::from_uuid(Uuid::now_v7()),
        tenant_id: scope.tenant_id(),
        display_name: name.into(),
        external_id: None,
        role_id: None,
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

async fn a_directorys_records_are_unique_versioned_and_confined_to_their_tenant(kind: StoreKind) {
    let Some(f) = ContractStore::open(kind, 2).await else {
        return;
    };
    let (acme, member_role, people) = tenant_with_people(&f.store, "acme-dir", 3).await;
    let (other, _, others) = tenant_with_people(&f.store, "other-dir", 1).await;

    // People: unique names without regard to case, one record per user.
    let ada = person(&acme, people[0], "ada");
    let bob = person(&acme, people[1], "bob");
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    tx.scim().insert_user(&acme, &ada).await.expect("ada");
    tx.scim().insert_user(&acme, &bob).await.expect("bob");
    tx.commit().await.expect("commit");
    for (clash, expected) in [
        (person(&acme, people[2], "ADA"), "userName"),
        (person(&acme, people[0], "ada-again"), "user"),
    ] {
        let tx = begin(&f.store).await;
        tx.enter_tenant(&acme).await.expect("enter");
        let refused = tx.scim().insert_user(&acme, &clash).await;
        assert!(
            matches!(refused, Err(StoreError::Duplicate(field)) if field == expected),
            "{refused:?}"
        );
    }
    // The same name in another tenant is another person.
    let tx = begin(&f.store).await;
    tx.enter_tenant(&other).await.expect("enter");
    tx.scim()
        .insert_user(&other, &person(&other, others[0], "ada"))
        .await
        .expect("theirs");
    // Another tenant's scope neither sees nor writes this tenant's records.
    assert_eq!(tx.scim().find_user(&other, ada.id).await.expect("query"), None);
    assert!(tx.scim().update_user(&other, &ada, 1).await.is_err());
    // Even a row that claims the other tenant reaches nothing of this one (the query
    // lock, and row level security on Postgres).
    let mut moved = ada.clone();
    moved.tenant_id = other.tenant_id();
    moved.version = 9;
    assert!(matches!(
        tx.scim().update_user(&other, &moved, 1).await,
        Err(StoreError::Stale)
    ));
    assert!(!tx.scim().delete_user(&other, ada.id).await.expect("query"));
    tx.commit().await.expect("commit");

    // Records not linked to an account yet (pending) do not clash with each other.
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    for name in ["pending-1", "pending-2"] {
        let mut pending = person(&acme, people[2], name);
        pending.user_id = None;
        pending.membership_id = None;
        tx.scim().insert_user(&acme, &pending).await.expect("pending");
    }
    tx.commit().await.expect("commit");

    // Writes based on a version: the stale one is refused.
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    let mut changed = ada.clone();
    changed.active = false;
    changed.version = 2;
    assert!(matches!(
        tx.scim().update_user(&acme, &changed, 7).await,
        Err(StoreError::Stale)
    ));
    tx.scim().update_user(&acme, &changed, 1).await.expect("update");
    assert_eq!(
        tx.scim().find_user(&acme, ada.id).await.expect("query"),
        Some(changed.clone())
    );
    assert_eq!(
        tx.scim()
            .find_user_by_user(&acme, ada.user_id.expect("linked"))
            .await
            .expect("query")
            .map(|u| u.id),
        Some(ada.id)
    );
    // Lists: filters without regard to case, a window and the total.
    let by_name = tx
        .scim()
        .list_users(&acme, Some(&ScimUserFilter::UserName("BOB".into())), 0, 10)
        .await
        .expect("list");
    assert_eq!((by_name.total, by_name.items.len()), (1, 1));
    let by_external = tx
        .scim()
        .list_users(&acme, Some(&ScimUserFilter::ExternalId("ext-ada".into())), 0, 10)
        .await
        .expect("list");
    assert_eq!(by_external.items.first().map(|u| u.id), Some(ada.id));
    let window = tx.scim().list_users(&acme, None, 1, 1).await.expect("list");
    assert_eq!((window.total, window.items.len()), (4, 1));
    assert_eq!(window.items[0].id, bob.id, "in creation order");
    tx.commit().await.expect("commit");

    // Groups: unique names, members, the groups of people, mapped roles.
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    let mut engineers = group(&acme, "Engineers");
    tx.scim().insert_group(&acme, &engineers).await.expect("group");
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    let clash = tx.scim().insert_group(&acme, &group(&acme, "engineers")).await;
    assert!(matches!(clash, Err(StoreError::Duplicate("displayName"))), "{clash:?}");
    drop(tx);
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    tx.scim()
        .set_group_members(&acme, engineers.id, &[ada.id, bob.id])
        .await
        .expect("members");
    engineers.role_id = Some(member_role);
    engineers.version = 2;
    tx.scim().update_group(&acme, &engineers, 1).await.expect("map");
    assert!(tx.scim().role_is_mapped(&acme, member_role).await.expect("query"));
    let mut members = tx.scim().group_members(&acme, &[engineers.id]).await.expect("query");
    members.sort();
    let mut expected = vec![(engineers.id, ada.id), (engineers.id, bob.id)];
    expected.sort();
    assert_eq!(members, expected);
    let of_ada = tx.scim().groups_of(&acme, &[ada.id]).await.expect("query");
    assert_eq!(of_ada.len(), 1);
    assert_eq!(of_ada[0].1.role_id, Some(member_role));
    let found = tx
        .scim()
        .list_groups(&acme, Some(&ScimGroupFilter::DisplayName("ENGINEERS".into())), 0, 10)
        .await
        .expect("list");
    assert_eq!(found.items.first().map(|g| g.id), Some(engineers.id));
    // A deleted person leaves their groups.
    assert!(tx.scim().delete_user(&acme, bob.id).await.expect("delete"));
    assert_eq!(
        tx.scim().group_members(&acme, &[engineers.id]).await.expect("query"),
        vec![(engineers.id, ada.id)]
    );
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    tx.enter_tenant(&other).await.expect("enter");
    assert_eq!(tx.scim().find_group(&other, engineers.id).await.expect("query"), None);
    assert!(
        tx.scim()
            .group_members(&other, &[engineers.id])
            .await
            .expect("query")
            .is_empty()
    );
    assert!(!tx.scim().delete_group(&other, engineers.id).await.expect("query"));
    drop(tx);
    let tx = begin(&f.store).await;
    tx.enter_tenant(&acme).await.expect("enter");
    assert!(tx.scim().delete_group(&acme, engineers.id).await.expect("delete"));
    assert!(!tx.scim().role_is_mapped(&acme, member_role).await.expect("query"));

    // Tokens: listed newest first, revoked once.
    let token = |created_at| ScimToken {
        id: ScimTokenId::from_uuid(Uuid::now_v7()),
        tenant_id: acme.tenant_id(),
        name: Name::parse("directory").expect("name"),
        secret_digest: "digest".into(),
        created_by: ada.user_id.expect("linked"),
        created_at,
        last_used_at: None,
        revoked_at: None,
    };
    let older = token(now() - chrono::Duration::minutes(5));
    let newer = token(now());
    tx.scim().insert_token(&acme, &older).await.expect("token");
    tx.scim().insert_token(&acme, &newer).await.expect("token");
    assert_eq!(tx.scim().count_live_tokens(&acme).await.expect("count"), 2);
    assert!(tx.scim().revoke_token(&acme, older.id, now()).await.expect("revoke"));
    assert!(!tx.scim().revoke_token(&acme, older.id, now()).await.expect("again"));
    assert_eq!(tx.scim().count_live_tokens(&acme).await.expect("count"), 1);
    let listed: Vec<_> = tx
        .scim()
        .list_tokens(&acme, 10)
        .await
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![newer.id, older.id]);
    tx.commit().await.expect("commit");
    let tx = begin(&f.store).await;
    tx.enter_tenant(&other).await.expect("enter");
    assert_eq!(tx.scim().find_token(&other, newer.id).await.expect("query"), None);
    assert!(tx.scim().list_tokens(&other, 10).await.expect("list").is_empty());
}
