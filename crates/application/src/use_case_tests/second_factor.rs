//! A second factor, with the fixed clock: enrolling and confirming an authenticator,
//! log-ins that then need a code, codes that work once (a TOTP step, a recovery code),
//! challenges that wear out, and a tenant that requires a second factor.

use tessera_domain::Permission;

use super::signed_up;
use crate::identity::{AuthSession, ClientInfo, LogIn};
use crate::testing::{self, FakeAuthenticators, FakeStore, fixed_now};
use crate::{AppError, Application, ForbiddenReason, RequestContext};

const PASSWORD: &str = "a long enough password";

fn code(store: &FakeStore, step_offset: i64) -> String {
    let secret = store.snapshot().totp[0]
        .sealed_secret
        .rsplit(':')
        .next()
        .expect("secret")
        .to_owned();
    FakeAuthenticators::code_for_step(&secret, fixed_now().timestamp().div_euclid(30) + step_offset)
}

/// Signs up, enrols and confirms: the confirmed context, its recovery codes.
async fn with_authenticator(app: &Application, store: &FakeStore) -> (RequestContext, Vec<String>) {
    let (_, ctx) = signed_up(app, "ada@example.com", "acme").await;
    let enrolment = app.enrol_totp(&ctx, PASSWORD).await.expect("enrol");
    assert!(enrolment.provisioning_uri.contains(&enrolment.secret));
    let confirmed = app.confirm_totp(&ctx, &code(store, 0)).await.expect("confirm");
    let verified = app.authenticate(&confirmed.access_token).await.expect("the new token");
    assert!(verified.has_second_factor() && !ctx.has_second_factor());
    (verified, confirmed.recovery_codes)
}

async fn challenge(app: &Application) -> String {
    let log_in = LogIn {
        email: "ada@example.com".into(),
        password: PASSWORD.into(),
        tenant_slug: None,
    };
    match app.log_in(log_in, ClientInfo::default()).await {
        Err(AppError::MfaChallenge { challenge, expires_at }) => {
            assert_eq!(expires_at, fixed_now() + tessera_domain::MfaChallenge::LIFETIME);
            challenge
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

async fn verify(app: &Application, challenge: &str, code: &str) -> Result<AuthSession, AppError> {
    app.verify_mfa(challenge, code, ClientInfo::default()).await
}

#[tokio::test]
async fn enrolling_needs_the_password_and_a_first_code_and_shows_recovery_codes_once() {
    let (app, store) = testing::application();
    let (_, ctx) = signed_up(&app, "ada@example.com", "acme").await;
    let refused = app.enrol_totp(&ctx, "not the password").await;
    assert!(matches!(
        refused,
        Err(AppError::Forbidden {
            reason: ForbiddenReason::ReauthenticationFailed,
            ..
        })
    ));
    app.enrol_totp(&ctx, PASSWORD).await.expect("enrol");
    let stored = store.snapshot().totp[0].clone();
    assert!(
        stored.sealed_secret.starts_with("sealed:totp:"),
        "kept sealed for its owner"
    );
    assert!(!stored.is_confirmed());
    let status = app.mfa_status(&ctx).await.expect("status");
    assert!(status.totp_pending && !status.totp_enabled);

    let wrong = app.confirm_totp(&ctx, "000000").await;
    assert!(
        matches!(wrong, Err(AppError::Validation(ref e)) if e.iter().any(|(f, _)| f == "code")),
        "{wrong:?}"
    );
    let confirmed = app.confirm_totp(&ctx, &code(&store, 0)).await.expect("confirm");
    assert_eq!(confirmed.recovery_codes.len(), tessera_domain::RECOVERY_CODES);
    let digests: Vec<String> = store
        .snapshot()
        .recovery_codes
        .iter()
        .map(|c| c.digest.clone())
        .collect();
    assert!(
        confirmed.recovery_codes.iter().all(|code| !digests.contains(code)),
        "only digests are kept"
    );
    let status = app.mfa_status(&ctx).await.expect("status");
    assert_eq!((status.totp_enabled, status.recovery_codes_left), (true, 10));
    let again = app.enrol_totp(&ctx, PASSWORD).await;
    assert!(
        matches!(again, Err(AppError::Conflict { .. })),
        "a confirmed one must be disabled first"
    );
    assert!(store.snapshot().audit.iter().any(|e| e.action == "user.totp_enabled"));
}

#[tokio::test]
async fn a_log_in_then_needs_a_code_and_each_code_works_once() {
    let (app, store) = testing::application();
    let (_, recovery) = with_authenticator(&app, &store).await;

    let first = challenge(&app).await;
    // The step confirming used is spent: the same code again is a replay.
    assert!(matches!(
        verify(&app, &first, &code(&store, 0)).await,
        Err(AppError::Unauthenticated(_))
    ));
    let session = verify(&app, &first, &code(&store, 1))
        .await
        .expect("the next step's code");
    assert!(
        app.authenticate(&session.access_token)
            .await
            .expect("signed in")
            .has_second_factor()
    );
    assert!(
        verify(&app, &first, &code(&store, 1)).await.is_err(),
        "a challenge is used once"
    );

    let second = challenge(&app).await;
    assert!(
        verify(&app, &second, &code(&store, 1)).await.is_err(),
        "a used step is refused"
    );
    let typed = recovery[0].to_uppercase().replace('-', " ");
    verify(&app, &second, &typed)
        .await
        .expect("a recovery code, however typed");
    let third = challenge(&app).await;
    assert!(
        verify(&app, &third, &recovery[0]).await.is_err(),
        "a recovery code works once"
    );
    verify(&app, &third, &recovery[1]).await.expect("another one");
    let last = store
        .snapshot()
        .audit
        .into_iter()
        .rev()
        .find(|e| e.action == "session.logged_in")
        .expect("event");
    assert!(
        last.changes.iter().any(|c| c.after.as_deref() == Some("recovery_code")),
        "{last:?}"
    );
}

#[tokio::test]
async fn wrong_codes_wear_a_challenge_out_and_nothing_else_opens_one() {
    let (app, store) = testing::application_with(crate::AuthSettings {
        onboarding_gate: false,
        max_failed_logins_per_account: 100,
        ..crate::AuthSettings::default()
    });
    with_authenticator(&app, &store).await;
    let challenge = challenge(&app).await;
    for _ in 0..tessera_domain::MfaChallenge::MAX_ATTEMPTS {
        assert!(matches!(
            verify(&app, &challenge, "123456").await,
            Err(AppError::Unauthenticated(_))
        ));
    }
    let worn = verify(&app, &challenge, &code(&store, 1)).await;
    assert!(
        matches!(worn, Err(AppError::Unauthenticated(ref m)) if m.contains("log in again")),
        "{worn:?}"
    );
    assert!(verify(&app, "mfa_not-a-challenge", &code(&store, 1)).await.is_err());
    assert_eq!(
        store
            .snapshot()
            .audit
            .iter()
            .filter(|e| e.action == "session.mfa_failed")
            .count(),
        tessera_domain::MfaChallenge::MAX_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn wrong_codes_count_against_the_account() {
    let (app, store) = testing::application();
    with_authenticator(&app, &store).await;
    let mut throttled = false;
    for _ in 0..10 {
        let challenge = challenge(&app).await;
        if let Err(AppError::RateLimited { .. }) = verify(&app, &challenge, "123456").await {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "wrong codes are throttled per account like wrong passwords");
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code_and_removes_everything() {
    let (app, store) = testing::application();
    let (ctx, recovery) = with_authenticator(&app, &store).await;
    assert!(app.disable_totp(&ctx, "wrong password", &recovery[0]).await.is_err());
    assert!(app.disable_totp(&ctx, PASSWORD, "999999").await.is_err());
    app.disable_totp(&ctx, PASSWORD, &recovery[0]).await.expect("disable");
    let state = store.snapshot();
    assert!(state.totp.is_empty() && state.recovery_codes.is_empty());
    let log_in = LogIn {
        email: "ada@example.com".into(),
        password: PASSWORD.into(),
        tenant_slug: None,
    };
    app.log_in(log_in, ClientInfo::default())
        .await
        .expect("a password alone again");
}

#[tokio::test]
async fn a_tenant_that_requires_a_second_factor_gates_sessions_without_one() {
    let (app, store) = testing::application();
    let (session, password_only) = signed_up(&app, "ada@example.com", "acme").await;
    let refused = app.set_mfa_required(&password_only, true).await;
    assert!(
        matches!(
            refused,
            Err(AppError::Forbidden {
                reason: ForbiddenReason::MfaRequired,
                ..
            })
        ),
        "an owner without a second factor cannot lock themselves out: {refused:?}"
    );
    app.enrol_totp(&password_only, PASSWORD).await.expect("enrol");
    let confirmed = app
        .confirm_totp(&password_only, &code(&store, 0))
        .await
        .expect("confirm");
    let verified = app.authenticate(&confirmed.access_token).await.expect("verified");
    assert!(
        app.set_mfa_required(&verified, true)
            .await
            .expect("required")
            .mfa_required
    );

    // A token of a session that proved no second factor: tenant work is refused.
    let other = app.authenticate(&session.access_token).await.expect("authenticates");
    assert!(
        matches!(
            other.ensure_onboarded(),
            Err(AppError::Forbidden {
                reason: ForbiddenReason::MfaRequired,
                ..
            })
        ),
        "gated"
    );
    assert!(other.authorize(Permission::MembersRead).is_err());
    let verified = app.authenticate(&confirmed.access_token).await.expect("verified");
    assert!(verified.authorize(Permission::MembersRead).is_ok());
    assert!(
        !app.set_mfa_required(&verified, false)
            .await
            .expect("lifted")
            .mfa_required
    );
    assert!(
        app.authenticate(&session.access_token)
            .await
            .expect("ok")
            .ensure_onboarded()
            .is_ok()
    );
}

#[tokio::test]
async fn joining_another_tenant_keeps_the_sessions_second_factor() {
    let (app, store) = testing::application();
    let (verified, _) = with_authenticator(&app, &store).await;
    let (_, globex_owner) = signed_up(&app, "grace@example.com", "globex").await;
    let viewer = store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.tenant_id == globex_owner.tenant_id() && r.system == Some(tessera_domain::SystemRole::Viewer))
        .map(|r| r.id)
        .expect("a viewer role");
    let invitation = app
        .invite_member(
            &globex_owner,
            crate::invitations::InviteMember {
                email: "ada@example.com".into(),
                role_id: viewer,
            },
        )
        .await
        .expect("invite");
    let digest = store
        .snapshot()
        .invitations
        .iter()
        .find(|i| i.id == invitation.id)
        .map(|i| i.token_digest.clone())
        .expect("stored");
    let token = digest.strip_prefix("digest:").expect("a fake digest").to_owned();
    let person = verified.person().expect("a person");
    let joined = app
        .accept_invitation(person, verified.has_second_factor(), &token, ClientInfo::default())
        .await
        .expect("accept");
    let there = app.authenticate(&joined.access_token).await.expect("signed in there");
    assert!(
        there.has_second_factor(),
        "the new session carries the second factor proved"
    );
}
