//! Provisioning by a tenant's directory (SCIM) over the in-memory fakes: which role a
//! person's groups give them, owners kept out of the directory's reach, and
//! deactivation taking the membership (and the person's keys) away in one go.

use tessera_domain::{MembershipStatus, ScimUserId, SystemRole};

use super::signed_up;
use crate::roles::CreateRole;
use crate::scim::{ScimCaller, ScimGroupInput, ScimUserInput};
use crate::testing::{self, FakeStore};
use crate::{AppError, Application, ForbiddenReason, RequestContext};

/// Records `domain` as verified by the owner's tenant.
fn verified(store: &FakeStore, owner: &RequestContext, domain: &str) {
    store
        .state
        .lock()
        .expect("store")
        .custom_domains
        .push(tessera_domain::CustomDomain {
            tenant_id: owner.tenant_id(),
            domain: tessera_domain::DomainName::parse(domain).expect("domain"),
            verification_token: "token".into(),
            created_at: testing::fixed_now(),
            verified_at: Some(testing::fixed_now()),
        });
}

/// The owner's tenant's directory, speaking for `dir-co.net` (a verified domain).
async fn directory(app: &Application, store: &FakeStore, owner: &RequestContext) -> ScimCaller {
    verified(store, owner, "dir-co.net");
    let created = app.create_scim_token(owner, "directory").await.expect("token");
    assert!(created.secret.starts_with("tscim_"));
    app.authenticate_scim(&created.secret, Default::default())
        .await
        .expect("the token is the directory")
}

fn person(name: &str, active: bool) -> ScimUserInput {
    ScimUserInput {
        user_name: name.into(),
        external_id: None,
        active: Some(active),
        display_name: Some("Someone".into()),
        emails: vec![format!("{name}@dir-co.net")],
        attributes: "{}".into(),
    }
}

/// The tenant's standing refused the change: `FORBIDDEN` for a read-only tenant.
fn assert_read_only<T: std::fmt::Debug>(result: &Result<T, AppError>) {
    assert!(
        matches!(
            result,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::TenantReadOnly,
                ..
            })
        ),
        "{result:?}"
    );
}

fn role_of(store: &FakeStore, email: &str) -> (String, MembershipStatus) {
    let state = store.snapshot();
    let user = state
        .users
        .iter()
        .find(|u| u.email.as_str() == email)
        .expect("the user");
    let membership = state
        .memberships
        .iter()
        .find(|m| m.user_id == user.id)
        .expect("a membership");
    let role = state
        .roles
        .iter()
        .find(|r| r.id == membership.role_id)
        .expect("its role");
    (role.name.as_str().to_owned(), membership.status)
}

#[tokio::test]
async fn the_strongest_mapped_group_decides_the_role_and_unmapping_takes_it_back() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "owner@dir-co.net", "acme").await;
    let caller = directory(&app, &store, &owner).await;
    let engineer = app
        .create_role(
            &owner,
            CreateRole {
                name: "Engineer".into(),
                permissions: vec!["members:read".into()],
            },
        )
        .await
        .expect("role");
    let lead = app
        .create_role(
            &owner,
            CreateRole {
                name: "Lead".into(),
                permissions: vec!["members:read".into(), "members:invite".into()],
            },
        )
        .await
        .expect("role");
    let ada = app.scim_create_user(&caller, person("ada", true)).await.expect("ada");
    assert_eq!(
        role_of(&store, "ada@dir-co.net"),
        ("Member".into(), MembershipStatus::Active)
    );
    let group = |name: &str, members: &[ScimUserId]| ScimGroupInput {
        display_name: name.into(),
        external_id: None,
        members: members.iter().map(ToString::to_string).collect(),
    };
    let engineers = app
        .scim_create_group(&caller, group("Engineers", &[ada.user.id]))
        .await
        .expect("group");
    let leads = app
        .scim_create_group(&caller, group("Leads", &[ada.user.id]))
        .await
        .expect("group");
    // Unmapped groups change nothing.
    assert_eq!(role_of(&store, "ada@dir-co.net").0, "Member");
    app.map_scim_group(&owner, engineers.group.id, Some(engineer.id))
        .await
        .expect("map");
    assert_eq!(role_of(&store, "ada@dir-co.net").0, "Engineer");
    app.map_scim_group(&owner, leads.group.id, Some(lead.id))
        .await
        .expect("map");
    assert_eq!(
        role_of(&store, "ada@dir-co.net").0,
        "Lead",
        "the role with more permissions"
    );
    app.map_scim_group(&owner, leads.group.id, None).await.expect("unmap");
    assert_eq!(role_of(&store, "ada@dir-co.net").0, "Engineer");
    app.scim_delete_group(&caller, engineers.group.id)
        .await
        .expect("delete");
    assert_eq!(role_of(&store, "ada@dir-co.net").0, "Member");

    // The owner role is not the directory's to give, and mapping is the owner's.
    let owner_role = store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.system == Some(SystemRole::Owner))
        .expect("owner role")
        .id;
    let refused = app.map_scim_group(&owner, leads.group.id, Some(owner_role)).await;
    assert!(
        matches!(
            refused,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::OwnerRoleFixed,
                ..
            })
        ),
        "{refused:?}"
    );
    // Another tenant's group is not found through this tenant's directory.
    let (_, stranger) = signed_up(&app, "owner@other-co.net", "other").await;
    let theirs = directory(&app, &store, &stranger).await;
    assert!(matches!(
        app.scim_group(&theirs, leads.group.id, true).await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        app.scim_user(&theirs, ada.user.id).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn deactivating_removes_the_membership_and_the_last_owner_stays() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "owner@dir-co.net", "acme").await;
    let caller = directory(&app, &store, &owner).await;
    let ada = app.scim_create_user(&caller, person("ada", true)).await.expect("ada");
    let mut off = person("ada", false);
    off.attributes = r#"{"active":false}"#.into();
    let changed = app
        .scim_replace_user(&caller, ada.user.id, off, Some(1))
        .await
        .expect("off");
    assert!(!changed.user.active);
    assert_eq!(role_of(&store, "ada@dir-co.net").1, MembershipStatus::Removed);
    let deprovisioned = store
        .snapshot()
        .audit
        .iter()
        .filter(|e| e.action == "member.removed" && e.changes.iter().any(|c| c.after.as_deref() == Some("directory")))
        .count();
    assert_eq!(deprovisioned, 1);
    // A write based on an old version is refused.
    let stale = app
        .scim_replace_user(&caller, ada.user.id, person("ada", true), Some(1))
        .await;
    assert!(
        matches!(stale, Err(AppError::Conflict { ref field, .. }) if field == "version"),
        "{stale:?}"
    );
    app.scim_replace_user(&caller, ada.user.id, person("ada", true), Some(2))
        .await
        .expect("on again");
    assert_eq!(
        role_of(&store, "ada@dir-co.net"),
        ("Member".into(), MembershipStatus::Active)
    );

    // Outside the verified domains a record stays pending: no account, no access;
    // linked on a later write once the tenant verified the domain.
    let accounts = store.snapshot().users.len();
    let mut eve = person("eve", true);
    eve.emails = vec!["eve@elsewhere-co.net".into()];
    let pending = app.scim_create_user(&caller, eve.clone()).await.expect("pending");
    assert_eq!((pending.user.user_id, store.snapshot().users.len()), (None, accounts));
    verified(&store, &owner, "elsewhere-co.net");
    let linked = app
        .scim_replace_user(&caller, pending.user.id, eve, None)
        .await
        .expect("linked now");
    assert!(linked.user.user_id.is_some());
    assert_eq!(
        role_of(&store, "eve@elsewhere-co.net"),
        ("Member".into(), MembershipStatus::Active)
    );

    // The owner, linked as a member of the tenant, cannot be deprovisioned while alone.
    let linked = app
        .scim_create_user(&caller, person("owner", true))
        .await
        .expect("linked");
    let refused = app.scim_delete_user(&caller, linked.user.id).await;
    assert!(
        matches!(
            refused,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::LastOwner,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(role_of(&store, "owner@dir-co.net").1, MembershipStatus::Active);
}

#[tokio::test]
async fn a_past_due_tenants_directory_may_offboard_but_not_grant() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "owner@dir-co.net", "acme").await;
    let caller = directory(&app, &store, &owner).await;
    let ada = app.scim_create_user(&caller, person("ada", true)).await.expect("ada");
    let secret = app.create_scim_token(&owner, "second").await.expect("token").secret;
    store.state.lock().expect("store").tenants[0].status = tessera_domain::TenantStatus::PastDue;
    // The standing is read with the token, on every request.
    let caller = app
        .authenticate_scim(&secret, Default::default())
        .await
        .expect("still the directory");
    let refused = app.scim_create_user(&caller, person("bob", true)).await;
    assert_read_only(&refused);
    let group = ScimGroupInput {
        display_name: "Engineers".into(),
        ..ScimGroupInput::default()
    };
    let refused = app.scim_create_group(&caller, group).await;
    assert_read_only(&refused);
    // Offboarding goes on: deactivating and deleting work, reactivating does not.
    let off = app
        .scim_replace_user(&caller, ada.user.id, person("ada", false), None)
        .await
        .expect("deactivated");
    assert!(!off.user.active);
    assert_eq!(role_of(&store, "ada@dir-co.net").1, MembershipStatus::Removed);
    let back = app
        .scim_replace_user(&caller, ada.user.id, person("ada", true), None)
        .await;
    assert_read_only(&back);
    app.scim_delete_user(&caller, ada.user.id).await.expect("deleted");
}
