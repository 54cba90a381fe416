//! A second factor through the API, with real TOTP codes: enrolling and confirming an
//! authenticator, a log-in that answers `MFA_REQUIRED` and finishes with `verifyMfa`,
//! codes that work once, the secret sealed at rest, and a tenant that requires a second
//! factor of its members.

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_infrastructure::TotpAuthenticators;
use tessera_tests::{Backend, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    an_authenticator_guards_log_ins_and_each_code_works_once,
    a_tenant_that_requires_a_second_factor_admits_only_sessions_with_one,
);

const LOG_IN: &str =
    "mutation($e: String!) { logIn(input: { email: $e, password: \"a long enough password\" }) { accessToken } }";
const VERIFY: &str = "mutation($c: String!, $code: String!) { verifyMfa(input: { challenge: $c, code: $code }) { accessToken refreshToken user { email } tenant { slug } } }";
const ENROL: &str = "mutation($p: String!) { enrolTotp(input: { password: $p }) { secret otpauthUri } }";
const CONFIRM: &str =
    "mutation($code: String!) { confirmTotp(input: { code: $code }) { recoveryCodes accessToken expiresAt } }";

fn code(secret: &str, offset_seconds: i64) -> String {
    TotpAuthenticators::new("Tessera")
        .code_at(secret, Utc::now() + Duration::seconds(offset_seconds))
        .expect("a code")
}

/// Enrols and confirms an authenticator for the member: its secret, the recovery codes
/// and the access token that carries the second factor.
/// And the code that confirmed it.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>, String, String) {
    let wrong = app.graphql(ENROL, json!({ "p": "not my password" }), Some(token)).await;
    wrong.assert_reason("REAUTHENTICATION_FAILED");
    let enrolment = app.graphql(ENROL, json!({ "p": PASSWORD }), Some(token)).await;
    let secret = enrolment.assert_ok()["enrolTotp"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let uri = enrolment.assert_ok()["enrolTotp"]["otpauthUri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Tessera:") && uri.contains(&secret),
        "{uri}"
    );
    let bad = app.graphql(CONFIRM, json!({ "code": "000000" }), Some(token)).await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);
    assert!(bad.field_error("code").is_some(), "{}", bad.body);
    let first_code = code(&secret, 0);
    let confirmed = app.graphql(CONFIRM, json!({ "code": first_code }), Some(token)).await;
    let data = &confirmed.assert_ok()["confirmTotp"];
    let recovery: Vec<String> = serde_json::from_value(data["recoveryCodes"].clone()).expect("codes");
    assert_eq!(recovery.len(), 10);
    (
        secret,
        recovery,
        data["accessToken"].as_str().expect("token").to_owned(),
        first_code,
    )
}

/// Logs in with the password: the challenge of the `MFA_REQUIRED` answer.
async fn challenge(app: &TestApp, email: &str) -> String {
    let answer = app.graphql(LOG_IN, json!({ "e": email }), None).await;
    answer.assert_reason("MFA_REQUIRED");
    assert_eq!(answer.error_code(), Some("FORBIDDEN"));
    assert!(
        answer.body["data"].is_null() || answer.body["data"]["logIn"].is_null(),
        "{}",
        answer.body
    );
    let extensions = &answer.body["errors"][0]["extensions"];
    assert!(extensions["mfaChallengeExpiresAt"].is_string(), "{}", answer.body);
    extensions["mfaChallenge"].as_str().expect("a challenge").to_owned()
}

fn amr(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice::<Value>(&bytes).expect("json")["amr"].clone()
}

async fn an_authenticator_guards_log_ins_and_each_code_works_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let (secret, recovery, verified, first_code) = enrol(&app, &ada.token).await;
    assert_eq!(amr(&verified), json!(["pwd", "otp", "mfa"]));
    assert_eq!(amr(&ada.token), json!(["pwd"]));
    let status = app
        .query(
            "{ mfaStatus { totpEnabled recoveryCodesLeft sessionVerified } }",
            &verified,
        )
        .await;
    assert_eq!(
        status.assert_ok()["mfaStatus"],
        json!({ "totpEnabled": true, "recoveryCodesLeft": 10, "sessionVerified": true })
    );

    // At rest, the secret is sealed.
    let owner = app.db.owner().await;
    let row = owner
        .query_one_raw(Statement::from_string(
            owner.get_database_backend(),
            "SELECT sealed_secret FROM user_totp",
        ))
        .await
        .expect("query")
        .expect("a row");
    let sealed: String = row.try_get("", "sealed_secret").expect("text");
    assert!(sealed.starts_with("v1.") && !sealed.contains(&secret), "{sealed}");

    // A password alone no longer signs in; the challenge and a code do.
    let first = challenge(&app, "ada@example.com").await;
    let wrong = app.graphql(VERIFY, json!({ "c": first, "code": "123456" }), None).await;
    assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"), "{}", wrong.body);
    // The step confirming used is spent; the next step's code (one step of drift) works.
    let replay = app
        .graphql(VERIFY, json!({ "c": first, "code": first_code }), None)
        .await;
    assert_eq!(
        replay.error_code(),
        Some("UNAUTHENTICATED"),
        "a code works once: {}",
        replay.body
    );
    let next = code(&secret, 30);
    let signed_in = app.graphql(VERIFY, json!({ "c": first, "code": next }), None).await;
    let data = &signed_in.assert_ok()["verifyMfa"];
    assert_eq!(
        (data["user"]["email"].as_str(), data["tenant"]["slug"].as_str()),
        (Some("ada@example.com"), Some("acme"))
    );
    let token = data["accessToken"].as_str().expect("token");
    assert_eq!(amr(token), json!(["pwd", "otp", "mfa"]));
    app.query("{ workspaces(first: 1) { totalCount } }", token)
        .await
        .assert_ok();
    let again = app.graphql(VERIFY, json!({ "c": first, "code": next }), None).await;
    assert_eq!(again.error_code(), Some("UNAUTHENTICATED"), "a challenge works once");

    // A recovery code, however typed, works once.
    let second = challenge(&app, "ada@example.com").await;
    let typed = recovery[0].to_uppercase().replace('-', " ");
    app.graphql(VERIFY, json!({ "c": second, "code": typed }), None)
        .await
        .assert_ok();
    let third = challenge(&app, "ada@example.com").await;
    let spent = app
        .graphql(VERIFY, json!({ "c": third, "code": recovery[0] }), None)
        .await;
    assert_eq!(spent.error_code(), Some("UNAUTHENTICATED"));
    let refreshed = app
        .graphql(VERIFY, json!({ "c": third, "code": recovery[1] }), None)
        .await;
    let refresh = refreshed.assert_ok()["verifyMfa"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    // A refreshed pair keeps the session's second factor.
    let rotated = app
        .graphql(
            "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken } }",
            json!({ "t": refresh }),
            None,
        )
        .await;
    assert_eq!(
        amr(rotated.assert_ok()["refreshSession"]["accessToken"]
            .as_str()
            .expect("token")),
        json!(["pwd", "otp", "mfa"])
    );
    let left = app.query("{ mfaStatus { recoveryCodesLeft } }", &verified).await;
    assert_eq!(left.assert_ok()["mfaStatus"]["recoveryCodesLeft"], 8);

    // Disabling takes the password and a code; then the password alone signs in again.
    let disable =
        "mutation($code: String!) { disableTotp(input: { password: \"a long enough password\", code: $code }) }";
    let refused = app.graphql(disable, json!({ "code": "000000" }), Some(&verified)).await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"), "{}", refused.body);
    app.graphql(disable, json!({ "code": recovery[2] }), Some(&verified))
        .await
        .assert_ok();
    app.graphql(LOG_IN, json!({ "e": "ada@example.com" }), None)
        .await
        .assert_ok();
    assert_eq!(
        app.db.count("user_totp").await + app.db.count("mfa_recovery_codes").await,
        0
    );
}

async fn a_tenant_that_requires_a_second_factor_admits_only_sessions_with_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@example.com", "acme").await;
    let member = app
        .join(&owner, "bob@example.com", RoleChoice::System(SystemRole::Member))
        .await;
    const REQUIRE: &str = "mutation($r: Boolean!) { setMfaRequired(input: { required: $r }) { slug mfaRequired } }";
    let unverified = app.graphql(REQUIRE, json!({ "r": true }), Some(&owner.token)).await;
    unverified.assert_reason("MFA_REQUIRED");
    let (_, _, owner_verified, _) = enrol(&app, &owner.token).await;
    let not_owner = app.graphql(REQUIRE, json!({ "r": true }), Some(&member.token)).await;
    assert_eq!(not_owner.error_code(), Some("FORBIDDEN"), "{}", not_owner.body);
    let required = app.graphql(REQUIRE, json!({ "r": true }), Some(&owner_verified)).await;
    assert_eq!(required.assert_ok()["setMfaRequired"]["mfaRequired"], true);

    // The member's session has no second factor: tenant work is refused at once (the
    // access cache was dropped), reading oneself and enrolling stay open.
    let gated = app
        .query("{ workspaces(first: 1) { totalCount } }", &member.token)
        .await;
    gated.assert_reason("MFA_REQUIRED");
    let me = app
        .query("{ me { email } currentTenant { mfaRequired } }", &member.token)
        .await;
    assert_eq!(me.assert_ok()["currentTenant"]["mfaRequired"], true);
    let (_, _, member_verified, _) = enrol(&app, &member.token).await;
    app.query("{ workspaces(first: 1) { totalCount } }", &member_verified)
        .await
        .assert_ok();
    // The owner's password-only token of before is gated too; the verified one is not.
    app.query("{ workspaces(first: 1) { totalCount } }", &owner.token)
        .await
        .assert_reason("MFA_REQUIRED");
    app.query("{ workspaces(first: 1) { totalCount } }", &owner_verified)
        .await
        .assert_ok();
    // Nor do an owner's powers wait less: lifting the requirement, the tenant's export
    // or its single sign-on, from a session without the factor.
    let lift = app.graphql(REQUIRE, json!({ "r": false }), Some(&owner.token)).await;
    lift.assert_reason("MFA_REQUIRED");
    for owner_only in ["{ ssoConnection { issuer } }", "{ tenantExports(first: 1) { id } }"] {
        app.query(owner_only, &owner.token).await.assert_reason("MFA_REQUIRED");
    }
    // An audit trail of the change.
    assert_eq!(app.audit_count("tenant.mfa_requirement_changed").await, 1);
    assert_eq!(app.audit_count("user.totp_enabled").await, 2);
}
