//! The audit trail as the use cases write it: one event per committed change, in the
//! same transaction, naming action, target, actor and what changed; refused requests
//! write nothing; refused credentials are recorded as security events of their own.

use tessera_domain::{
    AuditActor, AuditOrigin, FieldChange, MembershipId, NewAuditEvent, OnboardingStage, OrganizationInput,
    PersonalInfoInput, RoleId, SystemRole, TenantId, TenantStatus, UserId,
};

use super::{accept_terms, acme_ltd, sign_up_input, signed_up};
use crate::ForbiddenReason;
use crate::api_keys::CreateApiKey;
use crate::identity::{AuthSession, ClientInfo, LogIn, SignUp};
use crate::invitations::InviteMember;
use crate::onboarding::{StageSubmission, TenantSettingsChange};
use crate::roles::{CreateRole, DeleteRole, UpdateRole};
use crate::testing::{self, FakeStore};
use crate::workspaces::{CreateWorkspace, RenameWorkspace, WorkspaceMemberChange};
use crate::{AppError, Application, RequestContext};
use tessera_domain::{StageDraft, TokenPurpose};

fn events(store: &FakeStore) -> Vec<NewAuditEvent> {
    store.snapshot().audit
}

fn last_event(store: &FakeStore) -> NewAuditEvent {
    events(store).pop().expect("an audit event")
}

/// What every event names: its action, its target, its tenant and who acted.
#[track_caller]
fn assert_names(
    event: &NewAuditEvent,
    action: &str,
    (target_type, target_id): (&str, Option<String>),
    tenant_id: Option<TenantId>,
    actor: AuditActor,
) {
    assert_eq!(event.action, action);
    assert_eq!(event.target_type, target_type, "{action}");
    assert_eq!(event.target_id, target_id, "{action}");
    assert_eq!(event.tenant_id, tenant_id, "{action}");
    assert_eq!(event.actor, actor, "{action}");
}

fn actions(events: &[NewAuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

fn change(field: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        before: before.map(str::to_owned),
        after: after.map(str::to_owned),
    }
}

fn client(request_id: &str) -> ClientInfo {
    ClientInfo {
        user_agent: Some("audit-tests/1.0".into()),
        ip: Some("203.0.113.7".into()),
        request_id: Some(request_id.into()),
    }
}

fn system_role(store: &FakeStore, tenant_id: TenantId, system: SystemRole) -> RoleId {
    store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.tenant_id == tenant_id && r.system == Some(system))
        .map(|r| r.id)
        .expect("a seeded system role")
}

/// Makes `user_id` an active member of `tenant_id` with `role_id`, behind the use cases' back.
fn add_member(store: &FakeStore, tenant_id: TenantId, user_id: UserId, role_id: RoleId) {
    let mut state = store.state.lock().expect("lock");
    let mut membership = state
        .memberships
        .iter()
        .find(|m| m.tenant_id == tenant_id)
        .expect("the tenant has a member")
        .clone();
    membership.id = MembershipId::from_uuid(uuid::Uuid::from_u128(0xabc0 + state.memberships.len() as u128));
    membership.user_id = user_id;
    membership.role_id = role_id;
    state.memberships.push(membership);
}

/// The plain token behind a stored digest (the fake digest is `digest:<plain>`).
fn plain_token(digest: &str) -> String {
    digest.strip_prefix("digest:").expect("a fake digest").to_owned()
}

fn mailed_token(store: &FakeStore, purpose: TokenPurpose) -> String {
    let state = store.snapshot();
    let token = state
        .user_tokens
        .iter()
        .rev()
        .find(|t| t.purpose == purpose && t.used_at.is_none())
        .expect("a mailed token");
    plain_token(&token.digest)
}

/// The session id the fake access token names (`user|tenant|session`).
fn session_id_of(session: &AuthSession) -> String {
    session
        .access_token
        .rsplit('|')
        .next()
        .expect("the fake token names its session")
        .to_owned()
}

async fn log_in(app: &Application, email: &str, password: &str, client: ClientInfo) -> Result<AuthSession, AppError> {
    app.log_in(
        LogIn {
            email: email.into(),
            password: password.into(),
            tenant_slug: None,
        },
        client,
    )
    .await
}

#[tokio::test]
async fn sign_up_records_the_new_user_in_the_new_tenants_trail() {
    let (app, store) = testing::application();
    let session = app
        .sign_up(sign_up_input("ada@example.com", Some("acme")), client("req-sign-up"))
        .await
        .expect("sign up");

    let events = events(&store);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_names(
        event,
        "user.signed_up",
        ("user", Some(session.user.id.to_string())),
        Some(session.tenant.id),
        AuditActor::User(session.user.id),
    );
    assert_eq!(event.changes, vec![change("email", None, Some("ada@example.com"))]);
    assert_eq!(
        event.origin,
        AuditOrigin {
            ip: Some("203.0.113.7".into()),
            user_agent: Some("audit-tests/1.0".into()),
            request_id: Some("req-sign-up".into()),
        }
    );
}

#[tokio::test]
async fn renaming_a_workspace_records_its_old_and_new_name() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let owner = owner.with_origin(AuditOrigin {
        request_id: Some("req-rename".into()),
        ..AuditOrigin::default()
    });
    let workspace = app
        .create_workspace(
            &owner,
            CreateWorkspace {
                name: "Design".into(),
                slug: "design".into(),
            },
        )
        .await
        .expect("create");
    let created = last_event(&store);
    assert_eq!(created.action, "workspace.created");
    assert_eq!(
        created.changes,
        vec![
            change("name", None, Some("Design")),
            change("slug", None, Some("design"))
        ]
    );

    let before = events(&store).len();
    app.rename_workspace(
        &owner,
        RenameWorkspace {
            id: workspace.id,
            name: "Studio".into(),
        },
    )
    .await
    .expect("rename");

    assert_eq!(events(&store).len(), before + 1);
    let event = last_event(&store);
    assert_names(
        &event,
        "workspace.renamed",
        ("workspace", Some(workspace.id.to_string())),
        Some(owner.tenant_id()),
        AuditActor::User(owner.person().expect("a person")),
    );
    assert_eq!(event.changes, vec![change("name", Some("Design"), Some("Studio"))]);
    assert_eq!(event.origin.request_id.as_deref(), Some("req-rename"));
}

#[tokio::test]
async fn changing_a_members_role_records_the_role_before_and_after() {
    let (app, store) = testing::application();
    let (acme, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let (grace, _) = signed_up(&app, "grace@example.com", "globex").await;
    let viewer = system_role(&store, acme.tenant.id, SystemRole::Viewer);
    let admin = system_role(&store, acme.tenant.id, SystemRole::Admin);
    add_member(&store, acme.tenant.id, grace.user.id, viewer);

    app.update_member_role(&owner, grace.user.id, admin)
        .await
        .expect("owner may promote");
    let event = last_event(&store);
    assert_names(
        &event,
        "member.role_changed",
        ("user", Some(grace.user.id.to_string())),
        Some(acme.tenant.id),
        AuditActor::User(owner.person().expect("a person")),
    );
    assert_eq!(
        event.changes,
        vec![
            change("role_id", Some(&viewer.to_string()), Some(&admin.to_string())),
            change("role", Some("Viewer"), Some("Admin")),
        ]
    );

    // Giving the role the member already holds changes nothing and records nothing.
    let before = events(&store).len();
    app.update_member_role(&owner, grace.user.id, admin)
        .await
        .expect("a no-op");
    assert_eq!(events(&store).len(), before);
}

#[tokio::test]
async fn failed_log_ins_are_recorded_as_platform_security_events() {
    let (app, store) = testing::application();
    let (ada, _) = signed_up(&app, "ada@example.com", "acme").await;
    let before = events(&store).len();

    let wrong = log_in(&app, "ada@example.com", "not the password", client("req-wrong")).await;
    assert!(matches!(wrong, Err(AppError::Unauthenticated(_))), "{wrong:?}");
    let event = last_event(&store);
    assert_names(
        &event,
        "session.login_failed",
        ("user", Some(ada.user.id.to_string())),
        None, // a platform event
        AuditActor::Anonymous,
    );
    assert_eq!(event.origin.ip.as_deref(), Some("203.0.113.7"));
    assert!(
        event.changes.iter().all(|c| c.field != "password"),
        "{:?}",
        event.changes
    );

    let unknown = log_in(
        &app,
        "nobody@example.com",
        "a long enough password",
        client("req-unknown"),
    )
    .await;
    assert!(matches!(unknown, Err(AppError::Unauthenticated(_))));
    let event = last_event(&store);
    assert_eq!(event.action, "session.login_failed");
    assert_eq!(event.target_id, None, "no account to name");
    assert_eq!(event.actor, AuditActor::Anonymous);
    assert_eq!(events(&store).len(), before + 2);

    // Four more failures use up the account's attempts; the next one is throttled.
    for _ in 0..4 {
        assert!(
            log_in(&app, "ada@example.com", "not the password", ClientInfo::default())
                .await
                .is_err()
        );
    }
    let throttled = log_in(&app, "ada@example.com", "a long enough password", ClientInfo::default()).await;
    assert!(matches!(throttled, Err(AppError::RateLimited { .. })), "{throttled:?}");
    let event = last_event(&store);
    assert_eq!(event.action, "session.login_failed");
    assert!(event.changes.contains(&change("reason", None, Some("throttled"))));
    assert_eq!(events(&store).len(), before + 7);

    // Knocking on while throttled is noted once a minute, not once per attempt.
    let again = log_in(&app, "ada@example.com", "a long enough password", ClientInfo::default()).await;
    assert!(matches!(again, Err(AppError::RateLimited { .. })), "{again:?}");
    assert_eq!(events(&store).len(), before + 7);
}

#[tokio::test]
async fn a_log_in_records_the_session_it_opens_in_its_tenant() {
    let (app, store) = testing::application();
    let (ada, _) = signed_up(&app, "ada@example.com", "acme").await;
    let session = log_in(&app, "ada@example.com", "a long enough password", client("req-log-in"))
        .await
        .expect("log in");
    let event = last_event(&store);
    assert_eq!(event.action, "session.logged_in");
    assert_eq!(event.target_type, "session");
    assert_eq!(event.target_id, Some(session_id_of(&session)));
    assert_ne!(session_id_of(&session), session_id_of(&ada), "a new session");
    assert_eq!(event.tenant_id, Some(ada.tenant.id));
    assert_eq!(event.actor, AuditActor::User(ada.user.id));
    assert_eq!(event.origin.request_id.as_deref(), Some("req-log-in"));
}

#[tokio::test]
async fn revoking_an_api_key_is_recorded_once_and_its_later_use_is_a_security_event() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let created = app
        .create_api_key(
            &owner,
            CreateApiKey {
                name: "CI".into(),
                permissions: vec!["members:read".into(), "workspaces:create".into()],
                expires_at: None,
            },
        )
        .await
        .expect("create");
    let event = last_event(&store);
    assert_eq!(event.action, "api_key.created");
    assert_eq!(event.target_id, Some(created.key.id.to_string()));
    assert_eq!(
        event.changes,
        vec![
            change("name", None, Some("CI")),
            change("permissions", None, Some("members:read,workspaces:create")),
        ]
    );
    assert!(
        event
            .changes
            .iter()
            .all(|c| c.after.as_deref() != Some(created.secret.as_str())),
        "the secret stays out of the trail"
    );

    let before = events(&store).len();
    app.revoke_api_key(&owner, created.key.id).await.expect("revoke");
    assert_eq!(events(&store).len(), before + 1);
    let event = last_event(&store);
    assert_names(
        &event,
        "api_key.revoked",
        ("api_key", Some(created.key.id.to_string())),
        Some(owner.tenant_id()),
        AuditActor::User(owner.person().expect("a person")),
    );
    assert_eq!(event.changes.len(), 1);
    assert_eq!(event.changes[0].field, "revoked_at");

    // Revoking it again changes nothing and records nothing.
    app.revoke_api_key(&owner, created.key.id).await.expect("idempotent");
    assert_eq!(events(&store).len(), before + 1);

    // Presenting the revoked key is refused and recorded, in the key's tenant.
    let refused = app.authenticate_api_key(&created.secret).await;
    assert!(matches!(refused, Err(AppError::Unauthenticated(_))), "{refused:?}");
    assert_eq!(events(&store).len(), before + 2);
    let event = last_event(&store);
    assert_names(
        &event,
        "api_key.used_after_revocation",
        ("api_key", Some(created.key.id.to_string())),
        Some(created.key.tenant_id),
        AuditActor::ApiKey(created.key.id),
    );
}

#[tokio::test]
async fn refused_mutations_append_nothing() {
    let (app, store) = testing::application();
    let (session, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let before = events(&store);

    let invalid = app
        .create_workspace(
            &owner,
            CreateWorkspace {
                name: "Design".into(),
                slug: "Not A Slug".into(),
            },
        )
        .await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");
    let invalid = app
        .create_role(
            &owner,
            CreateRole {
                name: "Auditor".into(),
                permissions: vec!["no:such-permission".into()],
            },
        )
        .await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");
    let invalid = app
        .update_tenant_settings(
            &owner,
            TenantSettingsChange {
                primary_colour: Some(Some("blue".into())),
                ..TenantSettingsChange::default()
            },
        )
        .await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");
    let invalid = app
        .sign_up(sign_up_input("not-an-email", Some("globex")), ClientInfo::default())
        .await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");
    let invalid = app.reset_password("pr_unknown", "a long enough password").await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");

    // A refusal (here: no permission) appends nothing. Rollback after a write is shown
    // end to end, with a failure injected into the audit insert (tests/e2e/audit.rs).
    let viewer = RequestContext::new(
        UserId::from_uuid(uuid::Uuid::from_u128(999_999)),
        owner.member_scope().expect("onboarded").clone(),
        system_role(&store, session.tenant.id, SystemRole::Viewer),
        SystemRole::Viewer.default_permissions(),
    );
    let forbidden = app
        .create_workspace(
            &viewer,
            CreateWorkspace {
                name: "Nope".into(),
                slug: "nope".into(),
            },
        )
        .await;
    assert!(matches!(forbidden, Err(AppError::Forbidden { .. })), "{forbidden:?}");
    let last_owner = app.leave_tenant(&owner).await;
    assert!(
        matches!(
            last_owner,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::LastOwner,
                ..
            })
        ),
        "{last_owner:?}"
    );

    assert_eq!(events(&store), before);
}

#[tokio::test]
async fn each_tenant_mutation_appends_exactly_one_event_in_the_callers_tenant() {
    let (app, store) = testing::application();
    let (acme, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let (grace, _) = signed_up(&app, "grace@example.com", "globex").await;
    let viewer = system_role(&store, acme.tenant.id, SystemRole::Viewer);
    let admin = system_role(&store, acme.tenant.id, SystemRole::Admin);
    add_member(&store, acme.tenant.id, grace.user.id, viewer);
    let (linus, _) = signed_up(&app, "linus@example.com", "initech").await;
    add_member(&store, acme.tenant.id, linus.user.id, viewer);
    let start = events(&store).len();

    let role = app
        .create_role(
            &owner,
            CreateRole {
                name: "Auditor".into(),
                permissions: vec!["members:read".into()],
            },
        )
        .await
        .expect("create role");
    app.update_role(
        &owner,
        UpdateRole {
            id: role.id,
            name: Some("Reviewer".into()),
            permissions: None,
        },
    )
    .await
    .expect("update role");
    app.delete_role(
        &owner,
        DeleteRole {
            id: role.id,
            replacement_role_id: None,
        },
    )
    .await
    .expect("delete role");
    let workspace = app
        .create_workspace(
            &owner,
            CreateWorkspace {
                name: "Design".into(),
                slug: "design".into(),
            },
        )
        .await
        .expect("create workspace");
    let membership = |role_id| WorkspaceMemberChange {
        workspace_id: workspace.id,
        user_id: grace.user.id,
        role_id,
    };
    app.add_workspace_member(&owner, membership(viewer))
        .await
        .expect("add member");
    app.update_workspace_member(&owner, membership(admin))
        .await
        .expect("update member");
    app.remove_workspace_member(&owner, workspace.id, grace.user.id)
        .await
        .expect("remove member");
    app.delete_workspace(&owner, workspace.id)
        .await
        .expect("delete workspace");
    let invitation = app
        .invite_member(
            &owner,
            InviteMember {
                email: "margaret@example.com".into(),
                role_id: viewer,
            },
        )
        .await
        .expect("invite");
    app.revoke_invitation(&owner, invitation.id)
        .await
        .expect("revoke invitation");
    app.add_custom_domain(&owner, "ok.acme-corp.com")
        .await
        .expect("add domain");
    app.verify_custom_domain(&owner, "ok.acme-corp.com")
        .await
        .expect("verify domain");
    app.remove_custom_domain(&owner, "ok.acme-corp.com")
        .await
        .expect("remove domain");
    app.update_tenant_settings(
        &owner,
        TenantSettingsChange {
            name: Some("Acme Ltd".into()),
            primary_colour: Some(Some("#ABC".into())),
            ..TenantSettingsChange::default()
        },
    )
    .await
    .expect("settings");
    app.update_member_role(&owner, grace.user.id, admin)
        .await
        .expect("member role");
    app.request_email_verification(&owner).await.expect("verification mail");
    let second = log_in(&app, "ada@example.com", "a long enough password", ClientInfo::default())
        .await
        .expect("log in");
    let second_id = tessera_domain::SessionId::parse(&session_id_of(&second)).expect("a session id");
    app.revoke_session(&owner, second_id).await.expect("revoke session");
    app.remove_member(&owner, linus.user.id).await.expect("remove member");
    app.transfer_ownership(&owner, grace.user.id).await.expect("transfer");
    app.remove_member(&owner, grace.user.id)
        .await
        .expect_err("the last owner stays");
    app.log_out(&owner).await.expect("log out");
    app.log_out_everywhere(&owner).await.expect("log out everywhere");
    app.leave_tenant(&owner).await.expect("an admin may leave");

    let events = events(&store).split_off(start);
    assert_eq!(
        actions(&events),
        [
            "role.created",
            "role.updated",
            "role.deleted",
            "workspace.created",
            "workspace.member_added",
            "workspace.member_updated",
            "workspace.member_removed",
            "workspace.deleted",
            "invitation.created",
            "invitation.revoked",
            "domain.added",
            "domain.verified",
            "domain.removed",
            "tenant.settings_updated",
            "member.role_changed",
            "user.email_verification_requested",
            "session.logged_in",
            "session.revoked",
            "member.removed",
            "tenant.ownership_transferred",
            "session.logged_out",
            "session.logged_out_everywhere",
            "member.left",
        ]
    );
    for event in &events {
        assert_eq!(event.tenant_id, Some(acme.tenant.id), "{event:?}");
        assert_eq!(event.actor, AuditActor::User(acme.user.id), "{event:?}");
    }
    let by_action = |action: &str| events.iter().find(|e| e.action == action).expect(action);
    assert_eq!(
        by_action("role.updated").changes,
        vec![change("name", Some("Auditor"), Some("Reviewer"))]
    );
    assert_eq!(
        by_action("workspace.member_updated").changes,
        vec![change(
            &format!("member.{}.role_id", grace.user.id),
            Some(&viewer.to_string()),
            Some(&admin.to_string()),
        )]
    );
    assert_eq!(
        by_action("tenant.settings_updated").changes,
        vec![
            change("name", Some("Acme Corp"), Some("Acme Ltd")),
            change("primary_colour", None, Some("#aabbcc")),
        ]
    );
    assert_eq!(by_action("domain.added").target_id.as_deref(), Some("ok.acme-corp.com"));
    assert_eq!(by_action("session.revoked").target_id, Some(second_id.to_string()));
    assert_eq!(
        by_action("member.removed").changes,
        vec![change("status", Some("active"), Some("removed"))]
    );
    assert_eq!(by_action("member.left").target_id, Some(acme.user.id.to_string()));
    assert_eq!(
        by_action("tenant.ownership_transferred").changes,
        vec![change(
            "owner_user_id",
            Some(&acme.user.id.to_string()),
            Some(&grace.user.id.to_string()),
        )]
    );
}

#[tokio::test]
async fn tenant_creation_and_switching_are_recorded_in_the_tenant_concerned() {
    let (app, store) = testing::application();
    let (acme, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let created = app
        .create_tenant(&owner, "Second Co", Some("second"), ClientInfo::default())
        .await
        .expect("create tenant");
    let event = last_event(&store);
    assert_names(
        &event,
        "tenant.created",
        ("tenant", Some(created.tenant.id.to_string())),
        Some(created.tenant.id),
        AuditActor::User(acme.user.id),
    );
    assert_eq!(
        event.changes,
        vec![
            change("name", None, Some("Second Co")),
            change("slug", None, Some("second"))
        ]
    );

    app.switch_tenant(&owner, created.tenant.id, ClientInfo::default())
        .await
        .expect("switch");
    let event = last_event(&store);
    assert_eq!(event.action, "session.tenant_switched");
    assert_eq!(event.target_id, Some(created.tenant.id.to_string()));
    assert_eq!(event.tenant_id, Some(created.tenant.id));
    assert_eq!(
        event.changes,
        vec![change(
            "tenant_id",
            Some(&acme.tenant.id.to_string()),
            Some(&created.tenant.id.to_string()),
        )]
    );
}

#[tokio::test]
async fn refreshing_records_the_session_and_a_replayed_token_is_a_security_event() {
    let (app, store) = testing::application();
    let (ada, _) = signed_up(&app, "ada@example.com", "acme").await;
    let refreshed = app
        .refresh_session(&ada.refresh_token, client("req-refresh"))
        .await
        .expect("refresh");
    let event = last_event(&store);
    assert_names(
        &event,
        "session.refreshed",
        ("session", Some(session_id_of(&ada))),
        Some(ada.tenant.id),
        AuditActor::User(ada.user.id),
    );
    assert_ne!(refreshed.refresh_token, ada.refresh_token);

    let before = events(&store).len();
    let replayed = app.refresh_session(&ada.refresh_token, client("req-replay")).await;
    assert!(matches!(replayed, Err(AppError::Unauthenticated(_))), "{replayed:?}");
    assert_eq!(events(&store).len(), before + 1);
    let event = last_event(&store);
    assert_names(
        &event,
        "session.refresh_reuse_detected",
        ("session", Some(session_id_of(&ada))),
        Some(ada.tenant.id),
        AuditActor::User(ada.user.id),
    );
    assert_eq!(event.origin.request_id.as_deref(), Some("req-replay"));
}

#[tokio::test]
async fn mailed_token_flows_are_platform_events_and_a_reset_request_is_recorded_either_way() {
    let (app, store) = testing::application();
    let (ada, owner) = signed_up(&app, "ada@example.com", "acme").await;

    app.request_email_verification(&owner).await.expect("request");
    app.verify_email(&mailed_token(&store, TokenPurpose::VerifyEmail))
        .await
        .expect("verify");
    let event = last_event(&store);
    assert_eq!(event.action, "user.email_verified");
    assert_eq!(event.target_id, Some(ada.user.id.to_string()));
    assert_eq!(event.tenant_id, None);
    assert_eq!(event.actor, AuditActor::User(ada.user.id));

    let before = events(&store).len();
    app.request_password_reset("ada@example.com").await.expect("known");
    app.request_password_reset("nobody@example.com").await.expect("unknown");
    app.request_password_reset("not an email").await.expect("garbage");
    let requests = events(&store).split_off(before);
    assert_eq!(actions(&requests), ["user.password_reset_requested"; 3]);
    let targets: Vec<_> = requests.iter().map(|e| e.target_id.clone()).collect();
    assert_eq!(targets, [Some(ada.user.id.to_string()), None, None]);
    assert!(
        requests
            .iter()
            .all(|e| e.tenant_id.is_none() && e.actor == AuditActor::Anonymous && e.changes.is_empty())
    );

    app.reset_password(
        &mailed_token(&store, TokenPurpose::ResetPassword),
        "another long password",
    )
    .await
    .expect("reset");
    let event = last_event(&store);
    assert_eq!(event.action, "user.password_reset");
    assert_eq!(event.target_id, Some(ada.user.id.to_string()));
    assert_eq!(event.tenant_id, None);
    assert_eq!(event.actor, AuditActor::User(ada.user.id));
    assert!(event.changes.is_empty(), "a password is a secret");
}

#[tokio::test]
async fn accepting_an_invitation_is_recorded_in_the_inviting_tenant() {
    let (app, store) = testing::application();
    let (acme, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let viewer = system_role(&store, acme.tenant.id, SystemRole::Viewer);
    let invite = |email: &str| InviteMember {
        email: email.into(),
        role_id: viewer,
    };
    let token_of = |id| {
        let state = store.snapshot();
        let invitation = state.invitations.iter().find(|i| i.id == id).expect("stored");
        plain_token(&invitation.token_digest)
    };

    // An existing user accepts.
    let (grace, _) = signed_up(&app, "grace@example.com", "globex").await;
    let invitation = app
        .invite_member(&owner, invite("grace@example.com"))
        .await
        .expect("invite");
    let created = last_event(&store);
    assert_eq!(created.action, "invitation.created");
    assert_eq!(
        created.changes,
        vec![
            change("email", None, Some("grace@example.com")),
            change("role_id", None, Some(&viewer.to_string())),
        ]
    );
    let before = events(&store).len();
    app.accept_invitation(grace.user.id, false, &token_of(invitation.id), client("req-accept"))
        .await
        .expect("accept");
    assert_eq!(events(&store).len(), before + 1);
    let event = last_event(&store);
    assert_names(
        &event,
        "invitation.accepted",
        ("invitation", Some(invitation.id.to_string())),
        Some(acme.tenant.id),
        AuditActor::User(grace.user.id),
    );
    assert_eq!(event.origin.request_id.as_deref(), Some("req-accept"));

    // A new user signs up with one: one event, in the inviting tenant.
    let invitation = app
        .invite_member(&owner, invite("linus@example.com"))
        .await
        .expect("invite");
    let before = events(&store).len();
    let linus = app
        .sign_up(
            SignUp {
                tenant_name: None,
                invitation_token: Some(token_of(invitation.id)),
                ..sign_up_input("linus@example.com", None)
            },
            ClientInfo::default(),
        )
        .await
        .expect("sign up with the invitation");
    assert_eq!(events(&store).len(), before + 1);
    let event = last_event(&store);
    assert_eq!(event.action, "user.signed_up");
    assert_eq!(event.tenant_id, Some(acme.tenant.id));
    assert_eq!(event.actor, AuditActor::User(linus.user.id));
    assert!(
        event
            .changes
            .contains(&change("invitation_id", None, Some(&invitation.id.to_string())))
    );
}

#[tokio::test]
async fn onboarding_steps_are_recorded_with_the_stage_they_move_between() {
    let (app, store) = testing::application();
    let (_, ctx) = signed_up(&app, "ada@example.com", "acme").await;
    let start = events(&store).len();
    let personal = PersonalInfoInput {
        display_name: Some("Ada".into()),
        time_zone: Some("UTC".into()),
        locale: Some("en".into()),
        ..PersonalInfoInput::default()
    };

    app.advance_onboarding(&ctx, StageSubmission::Started, None)
        .await
        .expect("welcome");
    app.save_onboarding_draft(&ctx, StageDraft::PersonalInfo(personal.clone()), None)
        .await
        .expect("draft");
    app.advance_onboarding(&ctx, StageSubmission::PersonalInfo(personal.clone()), None)
        .await
        .expect("personal");
    app.return_to_onboarding_stage(&ctx, OnboardingStage::PersonalInfo, None)
        .await
        .expect("back");
    app.advance_onboarding(&ctx, StageSubmission::PersonalInfo(personal), None)
        .await
        .expect("personal again");
    let invalid = app
        .advance_onboarding(&ctx, StageSubmission::Organization(OrganizationInput::default()), None)
        .await;
    assert!(matches!(invalid, Err(AppError::Validation(_))), "{invalid:?}");
    let record = app
        .advance_onboarding(&ctx, acme_ltd(), None)
        .await
        .expect("organization");
    accept_terms(&app, &ctx, record.progress.version).await;

    let events = events(&store).split_off(start);
    assert_eq!(
        actions(&events),
        [
            "onboarding.advanced",
            "onboarding.draft_saved",
            "onboarding.advanced",
            "onboarding.returned",
            "onboarding.advanced",
            "onboarding.advanced",
            "onboarding.completed",
        ]
    );
    assert!(events.iter().all(|e| e.target_type == "user"
        && e.target_id == Some(ctx.person().expect("a person").to_string())
        && e.tenant_id == Some(ctx.tenant_id())));
    assert_eq!(
        events[3].changes,
        vec![change("stage", Some("organization"), Some("personal_info"))]
    );
    assert_eq!(
        events[5].changes,
        vec![
            change("stage", Some("organization"), Some("terms")),
            change("tenant_name", Some("Acme Corp"), Some("Acme Ltd")),
        ]
    );
    assert_eq!(
        events[6].changes,
        vec![
            change("stage", Some("terms"), Some("completed")),
            change("terms_version", None, Some("2026-01")),
        ]
    );
}

#[tokio::test]
async fn suspending_and_reactivating_a_tenant_are_recorded_in_its_trail_by_the_administrator() {
    let (app, store) = testing::application();
    let (ada, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let (grace, _) = signed_up(&app, "grace@example.com", "globex").await;
    app.set_platform_admin("ada@example.com", true).await.expect("grant");
    let owner = owner.with_origin(AuditOrigin {
        request_id: Some("req-suspend".into()),
        ..AuditOrigin::default()
    });
    let scope = app.platform_scope(&owner).await.expect("an administrator");

    let suspended = app
        .set_tenant_status(
            &scope,
            grace.tenant.id,
            TenantStatus::Suspended,
            tessera_domain::StatusReason::Abuse,
        )
        .await
        .expect("suspend");
    assert_eq!(suspended.status, TenantStatus::Suspended);
    let event = last_event(&store);
    assert_names(
        &event,
        "tenant.suspended",
        ("tenant", Some(grace.tenant.id.to_string())),
        Some(grace.tenant.id),
        AuditActor::PlatformAdmin(ada.user.id),
    );
    assert_eq!(
        event.changes,
        vec![
            change("status", Some("active"), Some("suspended")),
            change("reason", None, Some("abuse")),
        ]
    );
    assert_eq!(event.origin.request_id.as_deref(), Some("req-suspend"));

    app.set_tenant_status(
        &scope,
        grace.tenant.id,
        TenantStatus::Active,
        tessera_domain::StatusReason::Requested,
    )
    .await
    .expect("reactivate");
    let event = last_event(&store);
    assert_eq!(event.action, "tenant.reactivated");
    assert_eq!(event.actor, AuditActor::PlatformAdmin(ada.user.id));
    assert_eq!(
        event.changes,
        vec![
            change("status", Some("suspended"), Some("active")),
            change("reason", Some("abuse"), None),
        ]
    );
}
