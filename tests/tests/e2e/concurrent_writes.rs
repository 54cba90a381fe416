//! Writes that race: a repository update writes only what its use case changed, over
//! the values the change was based on, so a revocation, a removal or a role edit that
//! commits in between is never undone; and the owner set is locked, so two owners
//! leaving or demoting each other at the same moment leave one owner behind.

use chrono::{SubsecRound, Utc};
use serde_json::json;
use std::sync::Arc;
use tessera_application::TenantScope;
use tessera_application::ports::{Store, StoreError, Transaction};
use tessera_domain::{
    ApiKey, ApiKeyId, DisplayName, Email, Membership, MembershipId, MembershipStatus, Name, PasswordHash, Permission,
    PermissionSet, Role, RoleId, Slug, SystemRole, Tenant, TenantId, User, UserId,
};
use tessera_tests::{Backend, ContractStore, RoleChoice, StoreKind, TestApp, on_both_backends, on_every_store};
use uuid::Uuid;

// Repository-level: the fakes keep this contract too.
on_every_store!(
    recording_a_keys_use_never_undoes_its_revocation,
    a_membership_change_based_on_an_old_read_is_refused_not_applied,
    a_role_edit_based_on_an_old_read_is_refused_not_applied,
    two_people_changing_different_settings_at_once_both_keep_their_change,
    an_endpoint_edit_based_on_an_old_read_does_not_undo_a_disable,
);

// Through the server, with requests that really run at once.
on_both_backends!(two_owners_leaving_or_demoting_each_other_at_once_leave_one_owner);

struct Fixture {
    _store: ContractStore,
    store: Arc<dyn Store>,
    scope: TenantScope,
    tenant: TenantId,
    owner_role: RoleId,
    member_role: RoleId,
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

async fn begin(store: &Arc<dyn Store>) -> Box<dyn Transaction> {
    store.begin().await.expect("begin")
}

async fn fixture(kind: StoreKind) -> Option<Fixture> {
    let opened = ContractStore::open(kind, 3).await?;
    let store = opened.store.clone();
    let tenant = Tenant::new(
        TenantId::from_uuid(Uuid::now_v7()),
        Slug::parse("acme").expect("slug"),
        Name::parse("Acme").expect("name"),
        tessera_domain::PlanKey::parse("free").expect("plan"),
        now(),
    );
    let scope = TenantScope::for_tests(tenant.id);
    let owner_role = Role::seed(RoleId::from_uuid(Uuid::now_v7()), tenant.id, SystemRole::Owner, now());
    let member_role = Role::seed(RoleId::from_uuid(Uuid::now_v7()), tenant.id, SystemRole::Member, now());
    let tx = begin(&store).await;
    tx.tenants().insert(&tenant).await.expect("tenant");
    tx.enter_tenant(&scope).await.expect("enter");
    tx.roles().insert(&scope, &owner_role).await.expect("owner role");
    tx.roles().insert(&scope, &member_role).await.expect("member role");
    tx.commit().await.expect("commit");
    Some(Fixture {
        _store: opened,
        store,
        scope,
        tenant: tenant.id,
        owner_role: owner_role.id,
        member_role: member_role.id,
    })
}

/// A new user holding `role` in the fixture's tenant.
async fn member(f: &Fixture, email: &str, role: RoleId) -> Membership {
    let user = User::register(
        UserId::from_uuid(Uuid::now_v7()),
        Email::parse(email).expect("email"),
        DisplayName::parse("Someone").expect("name"),
        PasswordHash::new("$argon2id$placeholder".into()),
        now(),
    );
    let membership = Membership {
        id: MembershipId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        user_id: user.id,
        role_id: role,
        status: MembershipStatus::Active,
        created_at: now(),
        updated_at: now(),
    };
    let tx = begin(&f.store).await;
    tx.users().insert(&user).await.expect("user");
    tx.enter_tenant(&f.scope).await.expect("enter");
    tx.memberships()
        .insert(&f.scope, &membership)
        .await
        .expect("membership");
    tx.commit().await.expect("commit");
    membership
}

/// A transaction entered in the fixture's tenant.
async fn in_tenant(f: &Fixture) -> Box<dyn Transaction> {
    let tx = begin(&f.store).await;
    tx.enter_tenant(&f.scope).await.expect("enter");
    tx
}

async fn stored_membership(f: &Fixture, user: UserId) -> Membership {
    let tx = in_tenant(f).await;
    tx.memberships()
        .find_by_user(&f.scope, user)
        .await
        .expect("query")
        .expect("membership")
}

async fn recording_a_keys_use_never_undoes_its_revocation(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let creator = member(&f, "creator@acme.example", f.owner_role).await;
    let key = ApiKey {
        id: ApiKeyId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        name: Name::parse("CI").expect("name"),
        permissions: [Permission::MembersRead, Permission::AuditRead].into_iter().collect(),
        secret_digest: "digest".into(),
        created_by: creator.user_id,
        created_at: now(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    let tx = in_tenant(&f).await;
    tx.api_keys().insert(&f.scope, &key).await.expect("insert");
    tx.commit().await.expect("commit");

    // The authentication path read the key (live) ...
    let read = {
        let tx = in_tenant(&f).await;
        tx.api_keys()
            .find_by_id(&f.scope, key.id)
            .await
            .expect("query")
            .expect("key")
    };
    assert!(read.revoked_at.is_none());
    // ... an owner revokes it ...
    let tx = in_tenant(&f).await;
    assert!(tx.api_keys().revoke(&f.scope, key.id, now()).await.expect("revoke"));
    assert!(
        !tx.api_keys().revoke(&f.scope, key.id, now()).await.expect("again"),
        "once"
    );
    tx.commit().await.expect("commit");
    // ... and then the use the authentication path saw is recorded.
    let tx = in_tenant(&f).await;
    tx.api_keys().record_use(&f.scope, key.id, now()).await.expect("record");
    // A cut based on the permissions it read no longer applies to a revoked key.
    let narrowed: PermissionSet = [Permission::MembersRead].into_iter().collect();
    let restricted = tx
        .api_keys()
        .restrict(&f.scope, key.id, &read.permissions, &narrowed)
        .await
        .expect("restrict");
    assert!(!restricted, "a revoked key is not narrowed");
    tx.commit().await.expect("commit");

    let tx = in_tenant(&f).await;
    let stored = tx
        .api_keys()
        .find_by_id(&f.scope, key.id)
        .await
        .expect("query")
        .expect("key");
    assert!(stored.revoked_at.is_some(), "the revocation stands");
    assert!(stored.last_used_at.is_some(), "the use is recorded");
    let live = tx
        .api_keys()
        .live_created_by(
            &f.scope,
            &tessera_application::ports::KeyCreators::Person(creator.user_id),
        )
        .await
        .expect("query");
    assert!(live.is_empty(), "a revoked key is not live");
}

async fn a_membership_change_based_on_an_old_read_is_refused_not_applied(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let target = member(&f, "target@acme.example", f.member_role).await;
    // One request reads the membership to change its role ...
    let read = stored_membership(&f, target.user_id).await;
    // ... another removes the member meanwhile ...
    let tx = in_tenant(&f).await;
    let mut removed = read.clone();
    removed.remove(now());
    tx.memberships()
        .update(&f.scope, &read, &removed)
        .await
        .expect("remove");
    tx.commit().await.expect("commit");
    // ... so the role change, based on the old read, is refused.
    let tx = in_tenant(&f).await;
    let mut promoted = read.clone();
    promoted.change_role(f.owner_role, now());
    let outcome = tx.memberships().update(&f.scope, &read, &promoted).await;
    assert!(matches!(outcome, Err(StoreError::Stale)), "{outcome:?}");
    drop(tx);
    let stored = stored_membership(&f, target.user_id).await;
    assert_eq!(stored.status, MembershipStatus::Removed, "the removal stands");
    assert_eq!(stored.role_id, f.member_role, "and no role was written");
}

async fn a_role_edit_based_on_an_old_read_is_refused_not_applied(kind: StoreKind) {
    let Some(f) = fixture(kind).await else {
        return;
    };
    let role = Role {
        id: RoleId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        name: Name::parse("Editors").expect("name"),
        system: None,
        permissions: [Permission::MembersRead, Permission::AuditRead].into_iter().collect(),
        created_at: now(),
    };
    let tx = in_tenant(&f).await;
    tx.roles().insert(&f.scope, &role).await.expect("insert");
    tx.commit().await.expect("commit");

    // Two people read the role; one renames it, the other then drops a permission.
    let mut renamed = role.clone();
    renamed.name = Name::parse("Reviewers").expect("name");
    let tx = in_tenant(&f).await;
    tx.roles().update(&f.scope, &role, &renamed).await.expect("rename");
    tx.commit().await.expect("commit");
    let mut narrowed = role.clone();
    narrowed.permissions = [Permission::MembersRead].into_iter().collect();
    let tx = in_tenant(&f).await;
    let outcome = tx.roles().update(&f.scope, &role, &narrowed).await;
    assert!(matches!(outcome, Err(StoreError::Stale)), "{outcome:?}");
    drop(tx);
    // Based on what is stored now, the same edit goes through and keeps the new name.
    let tx = in_tenant(&f).await;
    let current = tx
        .roles()
        .find_by_id(&f.scope, role.id)
        .await
        .expect("query")
        .expect("role");
    let mut narrowed = current.clone();
    narrowed.permissions = [Permission::MembersRead].into_iter().collect();
    tx.roles().update(&f.scope, &current, &narrowed).await.expect("edit");
    tx.commit().await.expect("commit");
    let tx = in_tenant(&f).await;
    let stored = tx
        .roles()
        .find_by_id(&f.scope, role.id)
        .await
        .expect("query")
        .expect("role");
    assert_eq!(stored.name.as_str(), "Reviewers");
    assert_eq!(stored.permissions, narrowed.permissions);
}

async fn two_people_changing_different_settings_at_once_both_keep_their_change(kind: StoreKind) {
    use tessera_domain::{Locale, LogoUrl, TenantSettings};
    let Some(f) = fixture(kind).await else {
        return;
    };
    let empty = TenantSettings::empty(f.tenant, now());
    let tx = in_tenant(&f).await;
    tx.tenant_settings()
        .upsert(&f.scope, &empty, &empty)
        .await
        .expect("first save");
    tx.commit().await.expect("commit");
    // Both read the same settings; one sets the logo, the other the locale.
    let read = {
        let tx = in_tenant(&f).await;
        tx.tenant_settings()
            .find(&f.scope)
            .await
            .expect("query")
            .expect("settings")
    };
    let mut with_logo = read.clone();
    with_logo.logo_url = Some(LogoUrl::parse("https://cdn.acme.example/logo.png").expect("url"));
    let mut with_locale = read.clone();
    with_locale.locale = Some(Locale::parse("fr-FR").expect("locale"));
    for changed in [&with_logo, &with_locale] {
        let tx = in_tenant(&f).await;
        tx.tenant_settings()
            .upsert(&f.scope, &read, changed)
            .await
            .expect("save");
        tx.commit().await.expect("commit");
    }
    let tx = in_tenant(&f).await;
    let stored = tx
        .tenant_settings()
        .find(&f.scope)
        .await
        .expect("query")
        .expect("settings");
    assert_eq!(stored.logo_url, with_logo.logo_url, "the first change stands");
    assert_eq!(stored.locale, with_locale.locale, "and so does the second");
}

async fn an_endpoint_edit_based_on_an_old_read_does_not_undo_a_disable(kind: StoreKind) {
    use tessera_domain::{EventSelection, SigningSecrets, WebhookEndpoint, WebhookEndpointId, WebhookUrl};
    let Some(f) = fixture(kind).await else {
        return;
    };
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(Uuid::now_v7()),
        tenant_id: f.tenant,
        url: WebhookUrl::parse("https://hooks.acme.example/in", false).expect("url"),
        description: String::new(),
        events: EventSelection::parse(&["*"]).expect("events"),
        enabled: true,
        disabled_reason: None,
        failed_deliveries_in_a_row: 0,
        created_at: now(),
        updated_at: now(),
    };
    let secrets = SigningSecrets {
        current: "whsec_test".into(),
        previous: None,
    };
    let tx = in_tenant(&f).await;
    tx.webhooks()
        .insert_endpoint(&f.scope, &endpoint, &secrets)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    let read = {
        let tx = in_tenant(&f).await;
        tx.webhooks()
            .find_endpoint(&f.scope, endpoint.id)
            .await
            .expect("query")
            .expect("endpoint")
    };
    // The delivery worker disables it ...
    let mut disabled = read.clone();
    disabled.disable(
        "5 deliveries in a row failed".into(),
        now() + chrono::Duration::seconds(1),
    );
    let tx = in_tenant(&f).await;
    tx.webhooks()
        .update_endpoint(&f.scope, &read, &disabled)
        .await
        .expect("disable");
    tx.commit().await.expect("commit");
    // ... and a person's edit of the description, based on the enabled endpoint, is refused.
    let mut described = read.clone();
    described.description = "orders".into();
    described.updated_at = now() + chrono::Duration::seconds(2);
    let tx = in_tenant(&f).await;
    let outcome = tx.webhooks().update_endpoint(&f.scope, &read, &described).await;
    assert!(matches!(outcome, Err(StoreError::Stale)), "{outcome:?}");
    drop(tx);
    let tx = in_tenant(&f).await;
    let stored = tx
        .webhooks()
        .find_endpoint(&f.scope, endpoint.id)
        .await
        .expect("query")
        .expect("endpoint");
    assert!(!stored.enabled, "the disable stands");
    assert_eq!(stored.description, "");
}

/// Owners of the tenant, by their email, as one of them reads the member list.
async fn owners(app: &TestApp, token: &str) -> usize {
    let listed = app
        .query(
            "{ members(first: 50, filter: { status: ACTIVE }) { nodes { role { systemKey } } } }",
            token,
        )
        .await;
    listed.assert_ok()["members"]["nodes"]
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["role"]["systemKey"] == "owner")
        .count()
}

async fn two_owners_leaving_or_demoting_each_other_at_once_leave_one_owner(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    const LEAVE: &str = "mutation { leaveTenant }";
    const DEMOTE: &str =
        "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { role { id } } }";
    for round in 0..8 {
        // A tenant of two owners, who then both leave, or each demote the other, at once.
        let first = app
            .sign_up(&format!("first-{round}@acme.example"), &format!("acme-{round}"))
            .await;
        let second = app
            .join(
                &first,
                &format!("second-{round}@acme.example"),
                RoleChoice::System(SystemRole::Owner),
            )
            .await;
        let admin_role = app.role_id(&first.token, "admin").await;
        let (left, right) = if round % 2 == 0 {
            tokio::join!(app.query(LEAVE, &first.token), app.query(LEAVE, &second.token),)
        } else {
            tokio::join!(
                app.graphql(
                    DEMOTE,
                    json!({ "u": second.user_id, "r": admin_role }),
                    Some(&first.token)
                ),
                app.graphql(
                    DEMOTE,
                    json!({ "u": first.user_id, "r": admin_role }),
                    Some(&second.token)
                ),
            )
        };
        let succeeded = [&left, &right]
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(succeeded, 1, "round {round}: {} / {}", left.body, right.body);
        let first_refused = left.body.get("errors").is_some();
        let refused = if first_refused { &left } else { &right };
        // Who is still an owner: the one refused when both leave, the one who got
        // through when each demotes the other.
        let leaving = round % 2 == 0;
        let survivor = if first_refused == leaving { &first } else { &second };
        assert!(
            matches!(refused.error_code(), Some("FORBIDDEN") | Some("CONFLICT")),
            "round {round}: {}",
            refused.body
        );
        assert_eq!(
            owners(&app, &survivor.token).await,
            1,
            "round {round}: one owner is left"
        );
    }
    app.stop().await;
}
