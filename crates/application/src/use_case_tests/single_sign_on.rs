//! Single sign-on's callback over the in-memory fakes (the stand-in provider answers
//! what a test queues, or refuses): a provider answer that fails verification creates
//! nothing and is recorded; an address outside the connection's domains is refused;
//! a verified answer provisions the person and hands over a one-time code.

use tessera_domain::{CustomDomain, DomainName};

use crate::identity::ClientInfo;
use crate::ports::OidcIdentity;
use crate::sso::{SsoConnectionInput, SsoSettings, SsoStartBy};
use crate::testing::{self, FakeStore, fixed_now};
use crate::{AppError, Application, AuthSettings};

const ISSUER: &str = "https://idp.acme-sso.net";

/// A tenant `acme` whose connection speaks for `acme-sso.net`.
async fn connected() -> (Application, FakeStore, std::sync::Arc<testing::FakeOidc>) {
    let (app, store, oidc) = testing::application_with_oidc(AuthSettings {
        onboarding_gate: false,
        ..AuthSettings::default()
    });
    let app = app.with_sso(SsoSettings {
        redirect_uri: Some("https://tessera.test/sso/callback".into()),
        allow_loopback_http: false,
    });
    let (owner, _) = testing::sign_up_owner(&app, "owner@acme-sso.net", "acme").await;
    store.state.lock().expect("store").custom_domains.push(CustomDomain {
        tenant_id: owner.tenant_id(),
        domain: DomainName::parse("acme-sso.net").expect("domain"),
        verification_token: "token".into(),
        created_at: fixed_now(),
        verified_at: Some(fixed_now()),
    });
    let member_role = store
        .snapshot()
        .roles
        .iter()
        .find(|r| r.tenant_id == owner.tenant_id() && r.system == Some(tessera_domain::SystemRole::Member))
        .expect("member role")
        .id;
    app.configure_sso_connection(
        &owner,
        SsoConnectionInput {
            issuer: ISSUER.into(),
            client_id: "tessera".into(),
            client_secret: Some("a client secret".into()),
            provisioned_role_id: member_role.to_string(),
            domains: vec!["acme-sso.net".into()],
            required: false,
        },
    )
    .await
    .expect("configured");
    (app, store, oidc)
}

/// Starts a sign-in: its state and the browser's secret.
async fn started(app: &Application) -> (String, String) {
    let start = app
        .start_sso(SsoStartBy::Tenant("acme"), None, &ClientInfo::default())
        .await
        .expect("started");
    let state = start
        .authorization_url
        .split("state=")
        .nth(1)
        .expect("the state in the URL")
        .to_owned();
    (state, start.browser_secret)
}

fn identity(email: &str) -> OidcIdentity {
    OidcIdentity {
        issuer: ISSUER.into(),
        subject: format!("sub-{email}"),
        email: Some(email.into()),
        email_verified: true,
        name: Some("Grace Hopper".into()),
    }
}

fn failures(store: &FakeStore) -> Vec<String> {
    store
        .snapshot()
        .audit
        .iter()
        .filter(|e| e.action == "sso.sign_in_failed")
        .flat_map(|e| {
            e.changes
                .iter()
                .filter(|c| c.field == "reason")
                .filter_map(|c| c.after.clone())
        })
        .collect()
}

#[tokio::test]
async fn an_answer_that_fails_verification_or_covers_another_domain_creates_nothing() {
    let (app, store, oidc) = connected().await;
    let people = store.snapshot().users.len();

    // Nothing queued: the stand-in refuses the code, as a provider refusing it would.
    let (state, browser) = started(&app).await;
    let refused = app
        .finish_sso(&state, "code", Some(&browser), &ClientInfo::default())
        .await;
    assert!(matches!(refused, Err(AppError::Unauthenticated(_))), "{refused:?}");
    // A verified answer for an address the connection does not speak for.
    let (state, browser) = started(&app).await;
    oidc.answer(identity("grace@elsewhere-sso.net"));
    let outside = app
        .finish_sso(&state, "code", Some(&browser), &ClientInfo::default())
        .await;
    assert!(matches!(outside, Err(AppError::Unauthenticated(_))), "{outside:?}");
    assert_eq!(store.snapshot().users.len(), people, "nothing created");
    assert_eq!(failures(&store), ["code_refused", "email_not_covered"]);

    // The right answer, in another browser, is refused; in the browser that started it,
    // provisions the person and hands over a code that works once.
    let (state, _) = started(&app).await;
    oidc.answer(identity("grace@acme-sso.net"));
    let elsewhere = app
        .finish_sso(&state, "code", Some("another browser"), &ClientInfo::default())
        .await;
    assert!(matches!(elsewhere, Err(AppError::Unauthenticated(_))), "{elsewhere:?}");
    let (state, browser) = started(&app).await;
    oidc.answer(identity("grace@acme-sso.net"));
    let handover = app
        .finish_sso(&state, "code", Some(&browser), &ClientInfo::default())
        .await
        .expect("signed in");
    let session = app
        .complete_sso_sign_in(&handover.code, ClientInfo::default())
        .await
        .expect("a token pair");
    let ctx = app.authenticate(&session.access_token).await.expect("the token");
    assert_eq!(store.snapshot().users.len(), people + 1, "provisioned just in time");
    let grace = store
        .snapshot()
        .users
        .iter()
        .find(|u| u.email.as_str() == "grace@acme-sso.net")
        .map(|u| u.id);
    assert_eq!(ctx.person(), grace, "signed in as the person the provider vouched for");
    let again = app.complete_sso_sign_in(&handover.code, ClientInfo::default()).await;
    assert!(matches!(again, Err(AppError::Unauthenticated(_))), "{again:?}");
}
