//! Use-case tests over in-memory fakes: the rules the application layer owns.

mod audit_trail;
mod directory;
mod second_factor;
mod single_sign_on;
mod webhooks;

use tessera_domain::{
    MembershipStatus, OrganizationInput, Permission, SystemRole, TenantStatus, TermsInput, WorkspaceId,
};

use crate::ForbiddenReason;
use crate::identity::{AuthSession, ClientInfo, LogIn, SignUp};
use crate::onboarding::StageSubmission;
use crate::testing::{self, FakeStore};
use crate::workspaces::{CreateWorkspace, RenameWorkspace};
use crate::{AppError, Application, PageRequest, RequestContext};

fn sign_up_input(email: &str, slug: Option<&str>) -> SignUp {
    SignUp {
        email: email.into(),
        password: "a long enough password".into(),
        display_name: "Someone".into(),
        tenant_name: Some("Acme Corp".into()),
        tenant_slug: slug.map(str::to_owned),
        invitation_token: None,
    }
}

async fn signed_up(app: &Application, email: &str, slug: &str) -> (AuthSession, RequestContext) {
    let session = app
        .sign_up(sign_up_input(email, Some(slug)), ClientInfo::default())
        .await
        .expect("sign up");
    let ctx = app.authenticate(&session.access_token).await.expect("authenticate");
    (session, ctx)
}

/// The organization stage as the onboarding tests fill it in.
fn acme_ltd() -> StageSubmission {
    StageSubmission::Organization(OrganizationInput {
        name: Some("Acme Ltd".into()),
        slug: Some("acme".into()),
        size: Some("1".into()),
        ..OrganizationInput::default()
    })
}

/// Accepts the 2026-01 terms on the record at `version`, completing onboarding.
async fn accept_terms(app: &Application, ctx: &RequestContext, version: i64) {
    app.complete_onboarding(
        ctx,
        TermsInput {
            version: Some("2026-01".into()),
            accepted: Some(true),
        },
        Some(version),
    )
    .await
    .expect("completes");
}

fn set_membership_status(store: &FakeStore, status: MembershipStatus) {
    for membership in &mut store.state.lock().expect("lock").memberships {
        membership.status = status;
    }
}

#[tokio::test]
async fn sign_up_creates_tenant_roles_workspace_and_owner_membership() {
    let (app, store) = testing::application();
    let (session, ctx) = signed_up(&app, "ada@example.com", "acme").await;
    let state = store.snapshot();
    assert_eq!(state.users.len(), 1);
    assert_eq!(state.tenants.len(), 1);
    assert_eq!(state.roles.len(), 4, "the four system roles");
    let owner = state
        .roles
        .iter()
        .find(|r| r.system == Some(SystemRole::Owner))
        .expect("owner role");
    assert_eq!(state.memberships.len(), 1);
    assert_eq!(state.memberships[0].role_id, owner.id);
    assert_eq!(state.memberships[0].status, MembershipStatus::Active);
    assert_eq!(state.workspaces.len(), 1);
    assert_eq!(state.workspaces[0].slug.as_str(), "general");
    assert_eq!(state.workspace_members.len(), 1);
    assert_eq!(state.sessions.len(), 1);
    assert_ne!(
        state.sessions[0].refresh_token_hash, session.refresh_token,
        "only the digest is stored"
    );
    assert!(ctx.permissions().contains(Permission::WorkspacesManage));
    assert_eq!(ctx.tenant_id(), session.tenant.id);
}

#[tokio::test]
async fn sign_up_conflicts_write_nothing() {
    let (app, store) = testing::application();
    signed_up(&app, "ada@example.com", "acme").await;
    let before = store.snapshot();
    let same_email = app
        .sign_up(sign_up_input("Ada@Example.com", None), ClientInfo::default())
        .await;
    assert!(
        matches!(same_email, Err(AppError::Conflict { ref field, .. }) if field == "email"),
        "{same_email:?}"
    );
    let same_slug = app
        .sign_up(sign_up_input("grace@example.com", Some("acme")), ClientInfo::default())
        .await;
    assert!(matches!(same_slug, Err(AppError::Conflict { ref field, .. }) if field == "tenantSlug"));
    let after = store.snapshot();
    assert_eq!(
        (after.users.len(), after.tenants.len(), after.roles.len()),
        (before.users.len(), 1, 4)
    );
}

#[tokio::test]
async fn log_in_gives_the_same_answer_for_unknown_email_and_wrong_password() {
    let (app, _) = testing::application();
    signed_up(&app, "ada@example.com", "acme").await;
    let attempt = |email: &str, password: &str| LogIn {
        email: email.into(),
        password: password.into(),
        tenant_slug: None,
    };
    let unknown = app
        .log_in(
            attempt("nobody@example.com", "a long enough password"),
            ClientInfo::default(),
        )
        .await;
    let wrong = app
        .log_in(attempt("ada@example.com", "not the password"), ClientInfo::default())
        .await;
    match (unknown, wrong) {
        (Err(AppError::Unauthenticated(a)), Err(AppError::Unauthenticated(b))) => assert_eq!(a, b),
        other => panic!("expected two identical refusals, got {other:?}"),
    }
    let ok = app
        .log_in(
            attempt("ada@example.com", "a long enough password"),
            ClientInfo::default(),
        )
        .await;
    assert_eq!(ok.expect("log in").tenant.slug.as_str(), "acme");
}

#[tokio::test]
async fn authentication_fails_closed() {
    let (app, store) = testing::application();
    let (session, _) = signed_up(&app, "ada@example.com", "acme").await;

    assert!(matches!(
        app.authenticate("garbage").await,
        Err(AppError::Unauthenticated(_))
    ));
    assert!(matches!(
        app.authenticate("expired:token").await,
        Err(AppError::Unauthenticated(_))
    ));

    // Whatever changes a tenant's access (here: a suspension) drops its cached entries.
    // Ada owns the tenant: she keeps a way in, to its status and billing only.
    store.state.lock().expect("lock").tenants[0].status = TenantStatus::Suspended;
    app.access_changed(session.tenant.id).await;
    let suspended = app.authenticate(&session.access_token).await.expect("an owner");
    assert_eq!(suspended.standing(), crate::Standing::OwnerOnly);
    // Another role is locked out.
    let viewer = store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.system == Some(tessera_domain::SystemRole::Viewer))
        .map(|r| r.id)
        .expect("viewer role");
    store.state.lock().expect("lock").memberships[0].role_id = viewer;
    let locked = app.authenticate(&session.access_token).await;
    assert!(
        matches!(
            locked,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::TenantSuspended,
                ..
            })
        ),
        "{locked:?}"
    );
    store.state.lock().expect("lock").tenants[0].status = TenantStatus::PastDue;
    let past_due = app.authenticate(&session.access_token).await.expect("a member");
    assert_eq!(past_due.standing(), crate::Standing::ReadOnly);
    store.state.lock().expect("lock").tenants[0].status = TenantStatus::Active;

    set_membership_status(&store, MembershipStatus::Removed);
    app.access_changed(session.tenant.id).await;
    assert!(matches!(
        app.authenticate(&session.access_token).await,
        Err(AppError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn workspace_writes_need_permissions_and_stay_in_the_callers_tenant() {
    let (app, store) = testing::application();
    let (_, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let (_, other) = signed_up(&app, "grace@example.com", "globex").await;
    let created = app
        .create_workspace(
            &owner,
            CreateWorkspace {
                name: "Design".into(),
                slug: "design".into(),
            },
        )
        .await
        .expect("owner may create");

    // Grace's tenant cannot see, rename or delete Acme's workspace.
    assert_eq!(app.get_workspace(&other, created.id).await.expect("query"), None);
    let rename = app
        .rename_workspace(
            &other,
            RenameWorkspace {
                id: created.id,
                name: "Mine".into(),
            },
        )
        .await;
    assert!(matches!(rename, Err(AppError::NotFound("workspace"))), "{rename:?}");
    assert!(matches!(
        app.delete_workspace(&other, created.id).await,
        Err(AppError::NotFound("workspace"))
    ));
    assert!(matches!(
        app.delete_workspace(&owner, WorkspaceId::from_uuid(uuid::Uuid::nil()))
            .await,
        Err(AppError::NotFound(_))
    ));

    // A viewer may not create, and sees only the workspaces they belong to (none):
    // the others answer as if they did not exist.
    let viewer = RequestContext::new(
        tessera_domain::UserId::from_uuid(uuid::Uuid::from_u128(999_999)),
        owner.member_scope().expect("onboarded").clone(),
        owner.role_id().expect("a person holds a role"),
        SystemRole::Viewer.default_permissions(),
    );
    let refused = app
        .create_workspace(
            &viewer,
            CreateWorkspace {
                name: "Nope".into(),
                slug: "nope".into(),
            },
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::MissingPermission,
                ..
            })
        ),
        "{refused:?}"
    );
    let refused = app
        .rename_workspace(
            &viewer,
            RenameWorkspace {
                id: created.id,
                name: "Nope".into(),
            },
        )
        .await;
    assert!(matches!(refused, Err(AppError::NotFound("workspace"))), "{refused:?}");
    assert_eq!(app.get_workspace(&viewer, created.id).await.expect("query"), None);
    assert_eq!(
        store
            .snapshot()
            .workspaces
            .iter()
            .filter(|w| w.name.as_str() == "Design")
            .count(),
        1
    );
    assert_eq!(app.count_workspaces(&viewer).await.expect("viewer may read"), 0);
    assert_eq!(app.count_workspaces(&owner).await.expect("owner sees all"), 2);
}

#[tokio::test]
async fn a_changed_role_applies_on_the_next_authentication_despite_the_cache() {
    let (app, store) = testing::application();
    let (session, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let admin_role = store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.system == Some(SystemRole::Admin))
        .map(|r| r.id)
        .expect("admin");

    // Someone else holds the admin role and has been seen (their access is cached).
    let grace = app
        .sign_up(
            sign_up_input("grace@example.com", Some("globex")),
            ClientInfo::default(),
        )
        .await
        .expect("sign up");
    {
        let mut state = store.state.lock().expect("lock");
        let mut membership = state.memberships[0].clone();
        membership.id = tessera_domain::MembershipId::from_uuid(uuid::Uuid::from_u128(77));
        membership.user_id = grace.user.id;
        membership.role_id = admin_role;
        state.memberships.push(membership);
    }
    let grace_session = grace
        .access_token
        .rsplit('|')
        .next()
        .expect("the fake token names its session");
    let claims_token = format!("{}|{}|{}", grace.user.id, session.tenant.id, grace_session);
    let before = app.authenticate(&claims_token).await.expect("member");
    assert!(before.permissions().contains(Permission::WorkspacesCreate));

    app.update_role(
        &owner,
        crate::roles::UpdateRole {
            id: admin_role,
            name: None,
            permissions: Some(vec!["members:read".into()]),
        },
    )
    .await
    .expect("owner may edit the admin role");
    let after = app.authenticate(&claims_token).await.expect("still a member");
    assert!(
        !after.permissions().contains(Permission::WorkspacesCreate),
        "the cached rights were dropped"
    );
}

#[tokio::test]
async fn repeated_failed_log_ins_are_throttled_even_with_the_right_password() {
    let (app, _) = testing::application();
    signed_up(&app, "ada@example.com", "acme").await;
    let attempt = |password: &str| LogIn {
        email: "ada@example.com".into(),
        password: password.into(),
        tenant_slug: None,
    };
    for _ in 0..5 {
        let wrong = app.log_in(attempt("not the password"), ClientInfo::default()).await;
        assert!(matches!(wrong, Err(AppError::Unauthenticated(_))));
    }
    let throttled = app
        .log_in(attempt("a long enough password"), ClientInfo::default())
        .await;
    assert!(
        matches!(
            throttled,
            Err(AppError::RateLimited {
                retry_after_seconds: 60
            })
        ),
        "{throttled:?}"
    );
}

#[tokio::test]
async fn a_successful_log_in_clears_the_accounts_failures() {
    let (app, _) = testing::application();
    signed_up(&app, "ada@example.com", "acme").await;
    let attempt = |password: &str| LogIn {
        email: "ada@example.com".into(),
        password: password.into(),
        tenant_slug: None,
    };
    for round in 0..3 {
        for _ in 0..4 {
            assert!(
                app.log_in(attempt("not the password"), ClientInfo::default())
                    .await
                    .is_err()
            );
        }
        assert!(
            app.log_in(attempt("a long enough password"), ClientInfo::default())
                .await
                .is_ok(),
            "round {round}"
        );
    }
}

#[tokio::test]
async fn tenant_work_waits_for_onboarding_and_completion_records_one_event() {
    use tessera_domain::{OnboardingStage, PersonalInfoInput};

    let (app, store) = testing::application_with(crate::AuthSettings::default());
    let (session, ctx) = signed_up(&app, "ada@example.com", "acme").await;
    let gated = |result: Result<_, AppError>| {
        matches!(
            result,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::OnboardingIncomplete,
                ..
            })
        )
    };
    assert!(gated(
        app.list_workspaces(&ctx, &PageRequest::first(20)).await.map(|_| ())
    ));
    assert!(gated(ctx.authorize(Permission::MembersRead).map(|_| ())));

    app.advance_onboarding(&ctx, StageSubmission::Started, None)
        .await
        .expect("welcome");
    app.advance_onboarding(
        &ctx,
        StageSubmission::PersonalInfo(PersonalInfoInput {
            display_name: Some("Ada".into()),
            time_zone: Some("UTC".into()),
            locale: Some("en".into()),
            ..PersonalInfoInput::default()
        }),
        None,
    )
    .await
    .expect("personal");
    let stale = app
        .advance_onboarding(&ctx, StageSubmission::Started, Some(1))
        .await
        .expect_err("a stale version is refused");
    assert!(matches!(stale, AppError::Conflict { .. }));
    let record = app
        .advance_onboarding(&ctx, acme_ltd(), None)
        .await
        .expect("organization");
    assert_eq!(record.progress.stage, OnboardingStage::Terms);
    assert!(store.snapshot().outbox.is_empty());
    accept_terms(&app, &ctx, record.progress.version).await;
    let events = store.snapshot().outbox;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "onboarding.completed");
    assert_eq!(events[0].tenant_id, ctx.tenant_id());

    // The next authentication sees the finished onboarding (the cache was dropped).
    let fresh = app.authenticate(&session.access_token).await.expect("authenticates");
    assert!(app.list_workspaces(&fresh, &PageRequest::first(20)).await.is_ok());
}

#[tokio::test]
async fn batch_reads_behind_the_loaders_stay_in_the_callers_tenant_and_rules() {
    let (app, _store) = testing::application();
    let (_, owner) = signed_up(&app, "ada@example.com", "acme").await;
    let (_, other) = signed_up(&app, "grace@example.com", "globex").await;
    let (ada, grace) = (owner.person().expect("a person"), other.person().expect("a person"));

    // Users, memberships and roles of another tenant read as absent, not as found.
    let users = app.users_by_ids(&owner, &[ada, grace]).await.expect("users");
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [ada]);
    let memberships = app
        .memberships_of_users(&owner, &[ada, grace])
        .await
        .expect("memberships");
    assert_eq!(memberships.iter().map(|m| m.user_id).collect::<Vec<_>>(), [ada]);
    let their_role = other.role_id().expect("a person holds a role");
    assert!(app.roles_by_ids(&owner, &[their_role]).await.expect("roles").is_empty());
    let theirs = app
        .my_tenants_by_ids(&owner, &[other.tenant_id()])
        .await
        .expect("tenants");
    assert!(theirs.is_empty(), "a tenant I do not belong to: {theirs:?}");

    // A members page brings its people along only when asked, and only its own.
    let everyone = crate::WithPeople {
        users: true,
        roles: true,
    };
    let read = app
        .list_members_with(&owner, &Default::default(), &PageRequest::first(20), everyone)
        .await
        .expect("members");
    assert_eq!(read.page.items.len(), 1);
    assert_eq!(read.users.iter().map(|u| u.id).collect::<Vec<_>>(), [ada]);
    assert_eq!(
        read.roles.iter().map(|r| r.id).collect::<Vec<_>>(),
        [read.page.items[0].role_id]
    );
    let bare = app
        .list_members_with(&owner, &Default::default(), &PageRequest::first(20), Default::default())
        .await
        .expect("members");
    assert!(bare.users.is_empty() && bare.roles.is_empty());

    // Someone without `members:read` may read their own membership and workspaces, and
    // nobody else's.
    let outsider = RequestContext::new(
        tessera_domain::UserId::from_uuid(uuid::Uuid::from_u128(999_998)),
        owner.member_scope().expect("onboarded").clone(),
        owner.role_id().expect("a person holds a role"),
        [Permission::WorkspacesCreate].into_iter().collect(),
    );
    let own = app
        .memberships_of_users(&outsider, &[outsider.person().expect("a person")])
        .await;
    assert!(own.is_ok(), "{own:?}");
    let refused = app.memberships_of_users(&outsider, &[ada]).await;
    assert!(matches!(refused, Err(AppError::Forbidden { .. })), "{refused:?}");
    let refused = app.first_workspaces_of_members(&outsider, &[ada], 5).await;
    assert!(matches!(refused, Err(AppError::Forbidden { .. })), "{refused:?}");
    let refused = app.count_workspaces_of_members(&outsider, &[ada]).await;
    assert!(matches!(refused, Err(AppError::Forbidden { .. })), "{refused:?}");

    // The owner's first workspace (created at sign-up) is found for her; a caller who
    // belongs to no workspace and cannot manage them sees none of it.
    let firsts = app
        .first_workspaces_of_members(&owner, &[ada], 5)
        .await
        .expect("workspaces");
    let general = firsts[&ada].items[0].workspace_id;
    assert_eq!(
        app.count_workspaces_of_members(&owner, &[ada]).await.expect("count")[&ada],
        1
    );
    let found = app.workspaces_by_ids(&owner, &[general]).await.expect("workspaces");
    assert_eq!(found.len(), 1);
    assert!(
        app.workspaces_by_ids(&outsider, &[general])
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        app.workspaces_by_ids(&other, &[general])
            .await
            .expect("none")
            .is_empty()
    );
    let counts = app
        .count_members_of_workspaces(&outsider, &[general])
        .await
        .expect("counts");
    assert!(counts.is_empty(), "{counts:?}");
    assert_eq!(
        app.count_members_of_workspaces(&owner, &[general])
            .await
            .expect("counts")[&general],
        1
    );
}

/// A log-in shaped request (log-in, sign-up, reset) always spends through the rate
/// limiter, the address's strict bucket first, whatever its credential's lookup spent
/// ahead: those decisions cover only the member's own buckets.
#[tokio::test]
async fn a_log_in_shaped_request_never_uses_buckets_spent_ahead() {
    use std::time::Duration;

    use tessera_domain::rate_limit::RateDecision;

    use crate::rate_limits::{Admission, Quota, RateLimitSettings};
    let (app, _) = testing::application();
    let app = app.with_rate_limits(RateLimitSettings {
        authentication: Quota::per_minute(2),
        ..RateLimitSettings::default()
    });
    let (_, member) = signed_up(&app, "ada@example.com", "acme").await;
    let allowed = RateDecision {
        allowed: true,
        limit: 100,
        remaining: 99,
        reset_after: Duration::from_secs(1),
        retry_after: None,
    };
    let spent_ahead = member.with_spent_ahead(Some(vec![allowed; 3]));
    let logging_in = Admission {
        member: Some(&spent_ahead),
        client_ip: Some("192.0.2.7"),
        authentication: true,
    };
    assert!(app.admit(logging_in).await.allowed());
    assert!(app.admit(logging_in).await.allowed());
    let refused = app.admit(logging_in).await;
    assert!(!refused.allowed(), "the address's log-in bucket was spent each time");
    assert_eq!(refused.tightest.map(|(bucket, _)| bucket), Some("authentication"));
}

#[tokio::test]
async fn an_address_that_spent_its_budget_is_refused_before_authentication_and_members_do_not_spend_it() {
    use crate::rate_limits::{Admission, Quota, RateLimitSettings};
    let (app, _) = testing::application();
    let app = app.with_rate_limits(RateLimitSettings {
        anonymous: Quota::per_minute(3),
        ..RateLimitSettings::default()
    });
    let (_, member) = signed_up(&app, "ada@example.com", "acme").await;
    let anonymous = |ip: &'static str| Admission {
        member: None,
        client_ip: Some(ip),
        authentication: false,
    };
    // A member's requests draw from their own buckets, never from the address's.
    for _ in 0..5 {
        let admitted = app
            .admit(Admission {
                member: Some(&member),
                ..anonymous("2001:db8::1")
            })
            .await;
        assert!(admitted.allowed());
    }
    assert!(app.refuse_spent_address(Some("2001:db8::1")).await.is_none());
    // Requests without a credential (or with one that failed) spend it; the whole
    // /64 shares one budget.
    for ip in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
        assert!(app.admit(anonymous(ip)).await.allowed());
    }
    assert!(!app.admit(anonymous("2001:db8::4")).await.allowed());
    let refused = app
        .refuse_spent_address(Some("2001:db8::ffff"))
        .await
        .expect("refused before anything else runs");
    assert!(!refused.allowed());
    assert_eq!(refused.tightest.map(|(bucket, _)| bucket), Some("address"));
    assert!(
        app.refuse_spent_address(Some("2001:db8:0:1::1")).await.is_none(),
        "another /64"
    );
    assert!(
        app.refuse_spent_address(None).await.is_none(),
        "no address, nothing to count"
    );
}
