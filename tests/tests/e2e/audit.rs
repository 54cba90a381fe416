//! The audit trail: every mutation in the schema records exactly one event of its own
//! action, in its own transaction; the chains detect an edited or removed event; the
//! runtime role cannot change history; holders of `audit:read` page through it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_infrastructure::HttpDomainVerifier;
use tessera_tests::{Backend, GqlResponse, Member, PASSWORD, RoleChoice, TestApp, domain_server, on_both_backends};

on_both_backends!(every_mutation_records_exactly_one_audit_event_of_its_action);
on_both_backends!(audit_verify_detects_an_edited_and_a_removed_event);
on_both_backends!(the_audit_trail_is_paged_filtered_and_confined_to_its_tenant);

/// The mutations the schema exposes, read from its SDL.
fn schema_mutations() -> BTreeSet<String> {
    let sdl = tessera_api::schema_sdl();
    let start = sdl.find("type Mutation {").expect("a Mutation type");
    let body = &sdl[start..];
    let body = &body[..body.find("\n}").expect("end of Mutation")];
    body.lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('"') && !line.starts_with('`'))
        .filter_map(|line| {
            let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            (!name.is_empty() && line[name.len()..].starts_with(['(', ':'])).then_some(name)
        })
        .collect()
}

/// Runs mutations one at a time and checks each one's audit events.
struct Walk<'a> {
    app: &'a TestApp,
    seen: usize,
    covered: BTreeSet<String>,
}

impl<'a> Walk<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let seen = app.db.audit_trail().await.len();
        Self {
            app,
            seen,
            covered: BTreeSet::new(),
        }
    }

    /// Sends the mutation and asserts it succeeded and recorded exactly one event, of `action`.
    async fn run(
        &mut self,
        mutation: &str,
        action: &str,
        document: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let response = self.app.graphql(document, variables, token).await;
        let data = response.assert_ok().clone();
        self.expect(mutation, action).await;
        data
    }

    /// Asserts that exactly one event was recorded since the last check, of `action`.
    async fn expect(&mut self, mutation: &str, action: &str) {
        self.expect_in_order(&[(mutation, action)]).await;
    }

    /// Asserts the events recorded since the last check: one per mutation, in order.
    async fn expect_in_order(&mut self, steps: &[(&str, &str)]) {
        let trail = self.app.db.audit_trail().await;
        let new: Vec<&str> = trail[self.seen..].iter().map(|(_, _, a)| a.as_str()).collect();
        let expected: Vec<&str> = steps.iter().map(|(_, action)| *action).collect();
        assert_eq!(new, expected, "{steps:?} must record exactly one event each");
        self.seen = trail.len();
        self.covered
            .extend(steps.iter().map(|(mutation, _)| (*mutation).to_owned()));
    }
}

async fn log_in(walk: &mut Walk<'_>, email: &str, password: &str, slug: &str) -> (String, String) {
    let data = walk
        .run(
            "logIn",
            "session.logged_in",
            "mutation($i: LogInInput!) { logIn(input: $i) { accessToken refreshToken } }",
            json!({ "i": { "email": email, "password": password, "tenantSlug": slug } }),
            None,
        )
        .await;
    (
        data["logIn"]["accessToken"].as_str().expect("access").to_owned(),
        data["logIn"]["refreshToken"].as_str().expect("refresh").to_owned(),
    )
}

/// The id of the endpoint's first delivery, once the outbox worker has made it.
async fn first_delivery(app: &TestApp, token: &str, endpoint: &str) -> String {
    for _ in 0..100 {
        let response = app
            .graphql(
                "query($id: ID!) { webhookDeliveries(endpointId: $id, first: 1) { nodes { id } } }",
                json!({ "id": endpoint }),
                Some(token),
            )
            .await;
        if let Some(id) = response.assert_ok()["webhookDeliveries"]["nodes"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox worker made no delivery within 10 s");
}

async fn every_mutation_records_exactly_one_audit_event_of_its_action(backend: Backend) {
    let (addr, served) = domain_server().await;
    let Some(app) = TestApp::spawn_configured(backend, |config, options| {
        options.domain_verifier = Some(Arc::new(HttpDomainVerifier::resolving_every_domain_to(
            addr,
            Duration::from_secs(5),
        )));
        // The export and purge worker stays idle: its events would come at any time.
        config.offboarding.offboarding_poll_ms = 3_600_000;
    })
    .await
    else {
        return;
    };
    let mut walk = Walk::new(&app).await;

    // Sign-up and the person's own flows.
    let owner = app.sign_up("owner@acme.example", "acme").await;
    walk.expect("signUp", "user.signed_up").await;
    let (access, refresh) = log_in(&mut walk, "owner@acme.example", PASSWORD, "acme").await;
    walk.run(
        "requestEmailVerification",
        "user.email_verification_requested",
        "mutation { requestEmailVerification }",
        json!({}),
        Some(&access),
    )
    .await;
    let token = app
        .mailed_token("owner@acme.example", "ev_")
        .expect("verification mail");
    walk.run(
        "verifyEmail",
        "user.email_verified",
        "mutation($t: String!) { verifyEmail(input: { token: $t }) }",
        json!({ "t": token }),
        None,
    )
    .await;
    let refreshed = walk
        .run(
            "refreshSession",
            "session.refreshed",
            "mutation($t: String!) { refreshSession(input: { refreshToken: $t }) { accessToken } }",
            json!({ "t": refresh }),
            None,
        )
        .await;
    let access = refreshed["refreshSession"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();

    // Roles, workspaces and members.
    let role = walk
        .run(
            "createRole",
            "role.created",
            "mutation { createRole(input: { name: \"Auditor\", permissions: [\"members:read\"] }) { id } }",
            json!({}),
            Some(&access),
        )
        .await["createRole"]["id"]
        .as_str()
        .expect("role")
        .to_owned();
    walk.run(
        "updateRole",
        "role.updated",
        "mutation($id: ID!) { updateRole(input: { id: $id, permissions: [\"members:read\", \"audit:read\"] }) { id } }",
        json!({ "id": role }),
        Some(&access),
    )
    .await;
    let workspace = walk
        .run(
            "createWorkspace",
            "workspace.created",
            "mutation { createWorkspace(input: { name: \"Research\", slug: \"research\" }) { id } }",
            json!({}),
            Some(&access),
        )
        .await["createWorkspace"]["id"]
        .as_str()
        .expect("workspace")
        .to_owned();
    walk.run(
        "renameWorkspace",
        "workspace.renamed",
        "mutation($id: ID!) { renameWorkspace(input: { id: $id, name: \"Labs\" }) { id } }",
        json!({ "id": workspace }),
        Some(&access),
    )
    .await;
    const INVITE: &str =
        "mutation($r: ID!) { inviteMember(input: { email: \"bob@acme.example\", roleId: $r }) { id } }";
    let invitation = walk
        .run(
            "inviteMember",
            "invitation.created",
            INVITE,
            json!({ "r": role }),
            Some(&access),
        )
        .await["inviteMember"]["id"]
        .as_str()
        .expect("invitation")
        .to_owned();
    walk.run(
        "revokeInvitation",
        "invitation.revoked",
        "mutation($id: ID!) { revokeInvitation(id: $id) { id } }",
        json!({ "id": invitation }),
        Some(&access),
    )
    .await;
    walk.run(
        "inviteMember",
        "invitation.created",
        INVITE,
        json!({ "r": role }),
        Some(&access),
    )
    .await;
    let bob = app.sign_up("bob@acme.example", "bobs-place").await;
    walk.expect("signUp", "user.signed_up").await;
    let token = app.invitation_token_for("bob@acme.example").expect("invitation mail");
    walk.run(
        "acceptInvitation",
        "invitation.accepted",
        "mutation($t: String!) { acceptInvitation(input: { token: $t }) { accessToken } }",
        json!({ "t": token }),
        Some(&bob.token),
    )
    .await;
    let member_role = app.role_id(&access, "member").await;
    walk.run(
        "updateMemberRole",
        "member.role_changed",
        "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { status } }",
        json!({ "u": bob.user_id, "r": member_role }),
        Some(&access),
    )
    .await;
    for (mutation, action, document) in [
        (
            "addWorkspaceMember",
            "workspace.member_added",
            "mutation($w: ID!, $u: ID!, $r: ID!) { addWorkspaceMember(input: { workspaceId: $w, userId: $u, roleId: $r }) { id } }",
        ),
        (
            "updateWorkspaceMember",
            "workspace.member_updated",
            "mutation($w: ID!, $u: ID!, $r: ID!) { updateWorkspaceMember(input: { workspaceId: $w, userId: $u, roleId: $r }) { id } }",
        ),
    ] {
        let role_here = if mutation == "addWorkspaceMember" {
            &member_role
        } else {
            &role
        };
        walk.run(
            mutation,
            action,
            document,
            json!({ "w": workspace, "u": bob.user_id, "r": role_here }),
            Some(&access),
        )
        .await;
    }
    walk.run(
        "removeWorkspaceMember",
        "workspace.member_removed",
        "mutation($w: ID!, $u: ID!) { removeWorkspaceMember(input: { workspaceId: $w, userId: $u }) }",
        json!({ "w": workspace, "u": bob.user_id }),
        Some(&access),
    )
    .await;
    walk.run(
        "deleteWorkspace",
        "workspace.deleted",
        "mutation($id: ID!) { deleteWorkspace(id: $id) }",
        json!({ "id": workspace }),
        Some(&access),
    )
    .await;
    walk.run(
        "deleteRole",
        "role.deleted",
        "mutation($id: ID!) { deleteRole(input: { id: $id }) }",
        json!({ "id": role }),
        Some(&access),
    )
    .await;
    let carol = app
        .join(&owner, "carol@acme.example", RoleChoice::System(SystemRole::Member))
        .await;
    walk.expect_in_order(&[("signUp", "user.signed_up"), ("logIn", "session.logged_in")])
        .await;
    walk.run(
        "removeMember",
        "member.removed",
        "mutation($u: ID!) { removeMember(userId: $u) }",
        json!({ "u": carol.user_id }),
        Some(&access),
    )
    .await;

    // Integrations and settings.
    // Webhooks: an endpoint that wants revoked keys gets a delivery of the revocation below.
    let endpoint = walk
        .run(
            "createWebhookEndpoint",
            "webhook_endpoint.created",
            "mutation { createWebhookEndpoint(input: { url: \"http://127.0.0.1:9/hooks\", events: [\"api_key.revoked\"] }) { endpoint { id } secret } }",
            json!({}),
            Some(&access),
        )
        .await["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    walk.run(
        "updateWebhookEndpoint",
        "webhook_endpoint.updated",
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { description: \"CRM sync\" }) { id } }",
        json!({ "id": endpoint }),
        Some(&access),
    )
    .await;
    walk.run(
        "rotateWebhookSecret",
        "webhook_endpoint.secret_rotated",
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        json!({ "id": endpoint }),
        Some(&access),
    )
    .await;
    let key = walk
        .run(
            "createApiKey",
            "api_key.created",
            "mutation { createApiKey(input: { name: \"CI\", permissions: [\"members:read\"] }) { apiKey { id } } }",
            json!({}),
            Some(&access),
        )
        .await["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("key")
        .to_owned();
    walk.run(
        "revokeApiKey",
        "api_key.revoked",
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": key }),
        Some(&access),
    )
    .await;
    let delivery = first_delivery(&app, &access, &endpoint).await;
    walk.run(
        "redeliverWebhook",
        "webhook.redelivery_requested",
        "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
        json!({ "id": delivery }),
        Some(&access),
    )
    .await;
    walk.run(
        "deleteWebhookEndpoint",
        "webhook_endpoint.deleted",
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        json!({ "id": endpoint }),
        Some(&access),
    )
    .await;

    let claim = walk
        .run(
            "addCustomDomain",
            "domain.added",
            "mutation { addCustomDomain(input: { domain: \"app.acme.com\" }) { verificationToken } }",
            json!({}),
            Some(&access),
        )
        .await;
    *served.lock().expect("lock") = claim["addCustomDomain"]["verificationToken"]
        .as_str()
        .expect("token")
        .to_owned();
    walk.run(
        "verifyCustomDomain",
        "domain.verified",
        "mutation { verifyCustomDomain(input: { domain: \"app.acme.com\" }) { verified } }",
        json!({}),
        Some(&access),
    )
    .await;
    walk.run(
        "removeCustomDomain",
        "domain.removed",
        "mutation { removeCustomDomain(input: { domain: \"app.acme.com\" }) }",
        json!({}),
        Some(&access),
    )
    .await;
    walk.run(
        "updateTenantSettings",
        "tenant.settings_updated",
        "mutation { updateTenantSettings(input: { primaryColor: \"#112233\" }) { primaryColor } }",
        json!({}),
        Some(&access),
    )
    .await;

    // Onboarding, as a newcomer walks it.
    let dana = app.sign_up("dana@example.com", "danas-place").await;
    walk.expect("signUp", "user.signed_up").await;
    const ADVANCE: &str = "mutation($i: AdvanceOnboardingInput!) { advanceOnboarding(input: $i) { stage } }";
    walk.run(
        "advanceOnboarding",
        "onboarding.advanced",
        ADVANCE,
        json!({ "i": { "stage": "STARTED" } }),
        Some(&dana.token),
    )
    .await;
    walk.run(
        "saveOnboardingDraft",
        "onboarding.draft_saved",
        "mutation($i: SaveOnboardingDraftInput!) { saveOnboardingDraft(input: $i) { stage } }",
        json!({ "i": { "stage": "PERSONAL_INFO", "personalInfo": { "displayName": "Dana" } } }),
        Some(&dana.token),
    )
    .await;
    walk.run(
        "returnToOnboardingStage",
        "onboarding.returned",
        "mutation { returnToOnboardingStage(input: { stage: STARTED }) { stage } }",
        json!({}),
        Some(&dana.token),
    )
    .await;
    let personal = json!({ "displayName": "Dana", "timeZone": "Europe/London", "locale": "en-gb" });
    for input in [
        json!({ "stage": "STARTED" }),
        json!({ "stage": "PERSONAL_INFO", "personalInfo": personal }),
        json!({ "stage": "ORGANIZATION", "organization": { "name": "Dana's", "slug": "danas-place", "size": "1" } }),
    ] {
        walk.run(
            "advanceOnboarding",
            "onboarding.advanced",
            ADVANCE,
            json!({ "i": input }),
            Some(&dana.token),
        )
        .await;
    }
    walk.run(
        "completeOnboarding",
        "onboarding.completed",
        "mutation { completeOnboarding(input: { terms: { version: \"2026-01\", accepted: true } }) { stage } }",
        json!({}),
        Some(&dana.token),
    )
    .await;

    // Tenants and sessions.
    let beta = walk
        .run(
            "createTenant",
            "tenant.created",
            "mutation { createTenant(input: { name: \"Beta\", slug: \"beta\" }) { tenant { id } } }",
            json!({}),
            Some(&access),
        )
        .await["createTenant"]["tenant"]["id"]
        .as_str()
        .expect("tenant")
        .to_owned();
    walk.run(
        "switchTenant",
        "session.tenant_switched",
        "mutation($id: ID!) { switchTenant(tenantId: $id) { accessToken } }",
        json!({ "id": beta }),
        Some(&access),
    )
    .await;
    // A second session, on another device, for revokeSession below.
    log_in(&mut walk, "owner@acme.example", PASSWORD, "acme").await;
    let sessions = app
        .query("{ sessions(first: 10) { nodes { id current } } }", &access)
        .await;
    let other = sessions.assert_ok()["sessions"]["nodes"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("another session")
        .to_owned();
    walk.run(
        "revokeSession",
        "session.revoked",
        "mutation($id: ID!) { revokeSession(id: $id) }",
        json!({ "id": other }),
        Some(&access),
    )
    .await;
    walk.run(
        "logOut",
        "session.logged_out",
        "mutation { logOut }",
        json!({}),
        Some(&access),
    )
    .await;
    let (access, _) = log_in(&mut walk, "owner@acme.example", PASSWORD, "acme").await;
    walk.run(
        "transferOwnership",
        "tenant.ownership_transferred",
        "mutation($u: ID!) { transferOwnership(userId: $u) { status } }",
        json!({ "u": bob.user_id }),
        Some(&access),
    )
    .await;
    walk.run(
        "leaveTenant",
        "member.left",
        "mutation { leaveTenant }",
        json!({}),
        Some(&access),
    )
    .await;

    // Platform administration.
    let admin = app.sign_up("admin@platform.example", "platform-ops").await;
    walk.expect("signUp", "user.signed_up").await;
    tessera_server::set_platform_admin(app.config(), "admin@platform.example", true)
        .await
        .expect("grant");
    for (mutation, action) in [
        ("suspendTenant", "tenant.suspended"),
        ("reactivateTenant", "tenant.reactivated"),
        ("markTenantPastDue", "tenant.past_due"),
        ("reactivateTenant", "tenant.reactivated"),
    ] {
        walk.run(
            mutation,
            action,
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ status }} }}"),
            json!({ "id": owner.tenant_id }),
            Some(&admin.token),
        )
        .await;
    }
    for (mutation, input) in [
        ("changePlan", "plan: \"team\""),
        ("setTenantOverride", "limit: SEATS, value: 80"),
        ("clearTenantOverride", "limit: SEATS"),
    ] {
        walk.run(
            mutation,
            "tenant.plan_changed",
            &format!("mutation($id: ID!) {{ {mutation}(input: {{ tenantId: $id, {input} }}) {{ id }} }}"),
            json!({ "id": owner.tenant_id }),
            Some(&admin.token),
        )
        .await;
    }

    // Offboarding: an export asked for (the worker, idle in this test, never writes it),
    // and deletions scheduled and cancelled, each recorded in the platform's chain and
    // in the tenant's, by its owner now (bob).
    let (owner_access, _) = log_in(&mut walk, "bob@acme.example", PASSWORD, "acme").await;
    walk.run(
        "requestTenantExport",
        "tenant.export_requested",
        "mutation { requestTenantExport { id } }",
        json!({}),
        Some(&owner_access),
    )
    .await;
    for (mutation, action, document, token) in [
        (
            "requestTenantDeletion",
            "tenant.deletion_requested",
            "mutation { requestTenantDeletion(confirmSlug: \"acme\", password: \"a long enough password\") { id } }",
            &owner_access,
        ),
        (
            "cancelTenantDeletion",
            "tenant.deletion_cancelled",
            "mutation { cancelTenantDeletion { id } }",
            &owner_access,
        ),
        (
            "scheduleTenantDeletion",
            "tenant.deletion_requested",
            "mutation($id: ID!) { scheduleTenantDeletion(tenantId: $id) { id } }",
            &admin.token,
        ),
        (
            "cancelScheduledTenantDeletion",
            "tenant.deletion_cancelled",
            "mutation($id: ID!) { cancelScheduledTenantDeletion(tenantId: $id) { id } }",
            &admin.token,
        ),
    ] {
        let answer = app
            .graphql(document, json!({ "id": owner.tenant_id }), Some(token))
            .await;
        answer.assert_ok();
        walk.expect_in_order(&[(mutation, action), (mutation, action)]).await;
    }

    // A person's own data: an export link, and the deletion of an account whose own
    // tenant is being deleted (recorded in the platform's chain and the tenant's).
    let erin = app.sign_up("erin@erin.example", "erin-co").await;
    walk.expect("signUp", "user.signed_up").await;
    walk.run(
        "exportMyData",
        "user.data_exported",
        "mutation { exportMyData { url } }",
        json!({}),
        Some(&erin.token),
    )
    .await;
    app.graphql(
        "mutation { requestTenantDeletion(confirmSlug: \"erin-co\", password: \"a long enough password\") { id } }",
        json!({}),
        Some(&erin.token),
    )
    .await
    .assert_ok();
    walk.expect_in_order(&[
        ("requestTenantDeletion", "tenant.deletion_requested"),
        ("requestTenantDeletion", "tenant.deletion_requested"),
    ])
    .await;
    app.graphql(
        "mutation { deleteMyAccount(password: \"a long enough password\") }",
        json!({}),
        Some(&erin.token),
    )
    .await
    .assert_ok();
    walk.expect_in_order(&[
        ("deleteMyAccount", "user.account_deleted"),
        ("deleteMyAccount", "member.account_deleted"),
    ])
    .await;

    // The password flows last: a reset ends every session.
    let (access, _) = log_in(&mut walk, "bob@acme.example", PASSWORD, "acme").await;
    walk.run(
        "logOutEverywhere",
        "session.logged_out_everywhere",
        "mutation { logOutEverywhere }",
        json!({}),
        Some(&access),
    )
    .await;
    walk.run(
        "requestPasswordReset",
        "user.password_reset_requested",
        "mutation { requestPasswordReset(input: { email: \"bob@acme.example\" }) }",
        json!({}),
        None,
    )
    .await;
    let token = app.mailed_token("bob@acme.example", "pr_").expect("reset mail");
    walk.run(
        "resetPassword",
        "user.password_reset",
        "mutation($t: String!) { resetPassword(input: { token: $t, newPassword: \"another long password\" }) }",
        json!({ "t": token }),
        None,
    )
    .await;

    // A second factor, from enrolling to disabling.
    let mfa = app.sign_up("mfa@acme.example", "mfa-co").await;
    walk.expect("signUp", "user.signed_up").await;
    let enrolled = walk
        .run(
            "enrolTotp",
            "user.totp_enrolment_started",
            "mutation { enrolTotp(input: { password: \"a long enough password\" }) { secret } }",
            json!({}),
            Some(&mfa.token),
        )
        .await;
    let secret = enrolled["enrolTotp"]["secret"].as_str().expect("secret").to_owned();
    let code = |offset: i64| {
        tessera_infrastructure::TotpAuthenticators::new("Tessera")
            .code_at(&secret, chrono::Utc::now() + chrono::Duration::seconds(offset))
            .expect("code")
    };
    let confirmed = walk
        .run(
            "confirmTotp",
            "user.totp_enabled",
            "mutation($c: String!) { confirmTotp(input: { code: $c }) { recoveryCodes accessToken } }",
            json!({ "c": code(0) }),
            Some(&mfa.token),
        )
        .await;
    let verified = confirmed["confirmTotp"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let codes = walk
        .run(
            "regenerateRecoveryCodes",
            "user.recovery_codes_regenerated",
            "mutation($c: String!) { regenerateRecoveryCodes(input: { code: $c }) { recoveryCodes } }",
            json!({ "c": code(30) }),
            Some(&verified),
        )
        .await;
    let recovery: Vec<String> =
        serde_json::from_value(codes["regenerateRecoveryCodes"]["recoveryCodes"].clone()).expect("codes");
    walk.run(
        "setMfaRequired",
        "tenant.mfa_requirement_changed",
        "mutation { setMfaRequired(input: { required: true }) { mfaRequired } }",
        json!({}),
        Some(&verified),
    )
    .await;
    let challenged = app
        .graphql(
            "mutation { logIn(input: { email: \"mfa@acme.example\", password: \"a long enough password\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    challenged.assert_reason("MFA_REQUIRED");
    walk.expect("logIn", "session.second_factor_requested").await;
    let challenge = challenged.body["errors"][0]["extensions"]["mfaChallenge"]
        .as_str()
        .expect("challenge")
        .to_owned();
    let wrong = app
        .graphql(
            "mutation($c: String!) { verifyMfa(input: { challenge: $c, code: \"000000\" }) { accessToken } }",
            json!({ "c": challenge }),
            None,
        )
        .await;
    assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"), "{}", wrong.body);
    walk.expect("verifyMfa", "session.mfa_failed").await;
    walk.run(
        "verifyMfa",
        "session.logged_in",
        "mutation($c: String!, $code: String!) { verifyMfa(input: { challenge: $c, code: $code }) { accessToken } }",
        json!({ "c": challenge, "code": recovery[0] }),
        None,
    )
    .await;
    walk.run(
        "disableTotp",
        "user.totp_disabled",
        "mutation($c: String!) { disableTotp(input: { password: \"a long enough password\", code: $c }) }",
        json!({ "c": recovery[1] }),
        Some(&verified),
    )
    .await;

    // Single sign-on's connection (the sign-in itself needs a provider: its events are
    // checked in single_sign_on.rs, with a real one).
    let member_role = app.role_id(&verified, "member").await;
    app.verified_domain(&mfa, "mfa-co.net").await;
    walk.run(
        "configureSsoConnection",
        "sso.connection_configured",
        "mutation($i: ConfigureSsoConnectionInput!) { configureSsoConnection(input: $i) { issuer } }",
        json!({ "i": { "issuer": "http://127.0.0.1:9/idp", "clientId": "c", "clientSecret": "s", "provisionedRoleId": member_role, "domains": ["mfa-co.net"] } }),
        Some(&verified),
    )
    .await;
    walk.run(
        "deleteSsoConnection",
        "sso.connection_deleted",
        "mutation { deleteSsoConnection }",
        json!({}),
        Some(&verified),
    )
    .await;
    walk.covered.insert("completeSsoSignIn".to_owned());

    // The directory's token, a group the directory made (an event of the directory's
    // own, by the SCIM endpoint), its mapping to a role, and the token's revocation.
    let created = walk
        .run(
            "createScimToken",
            "scim_token.created",
            "mutation { createScimToken(name: \"directory\") { secret token { id } } }",
            json!({}),
            Some(&verified),
        )
        .await;
    let secret = created["createScimToken"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let token_id = created["createScimToken"]["token"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let group: Value = app
        .client
        .post(format!("{}/scim/v2/Groups", app.base_url))
        .bearer_auth(&secret)
        .header("content-type", "application/scim+json")
        .body(
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Auditors" })
                .to_string(),
        )
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("a group");
    walk.expect_in_order(&[("(SCIM) POST /scim/v2/Groups", "scim.group_created")])
        .await;
    walk.run(
        "mapScimGroup",
        "scim.group_mapped",
        "mutation($g: ID!, $r: ID) { mapScimGroup(groupId: $g, roleId: $r) { roleId } }",
        json!({ "g": group["id"], "r": member_role }),
        Some(&verified),
    )
    .await;
    walk.run(
        "revokeScimToken",
        "scim_token.revoked",
        "mutation($id: ID!) { revokeScimToken(id: $id) { revokedAt } }",
        json!({ "id": token_id }),
        Some(&verified),
    )
    .await;

    // A refused log-in is a security event of its own.
    let refused = app
        .graphql(
            "mutation { logIn(input: { email: \"bob@acme.example\", password: \"wrong password!\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(refused.error_code(), Some("UNAUTHENTICATED"), "{}", refused.body);
    walk.expect("logIn", "session.login_failed").await;

    let missing: Vec<String> = schema_mutations().difference(&walk.covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "mutations without a checked audit event (add them to this walk): {missing:?}"
    );
    app.stop().await;
}

const EVENTS: &str = "query($f: AuditEventFilterInput, $first: Int, $after: String) { auditEvents(first: $first, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor } nodes { sequence action actorType actorId targetType targetId changes { field before after } hash } } }";

async fn events(app: &TestApp, member: &Member, variables: Value) -> GqlResponse {
    app.graphql(EVENTS, variables, Some(&member.token)).await
}

async fn the_audit_trail_is_paged_filtered_and_confined_to_its_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    let bob = app.sign_up("bob@example.com", "globex").await;
    let workspace = app.create_workspace(&ada, "Research", "research").await;
    app.graphql(
        "mutation($id: ID!) { renameWorkspace(input: { id: $id, name: \"Labs\" }) { id } }",
        json!({ "id": workspace }),
        Some(&ada.token),
    )
    .await
    .assert_ok();
    app.create_workspace(&bob, "Globex secret", "secret").await;

    let all = events(&app, &ada, json!({ "first": 100 })).await;
    let nodes = all.assert_ok()["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let actions: Vec<&str> = nodes.iter().map(|n| n["action"].as_str().expect("action")).collect();
    assert_eq!(actions, ["user.signed_up", "workspace.created", "workspace.renamed"]);
    let sequences: Vec<i64> = nodes.iter().map(|n| n["sequence"].as_i64().expect("seq")).collect();
    assert_eq!(sequences, [1, 2, 3], "the tenant's own chain, in order");
    let renamed = &nodes[2];
    assert_eq!(renamed["actorType"], "user");
    assert_eq!(renamed["actorId"], ada.user_id.as_str());
    assert_eq!(renamed["targetType"], "workspace");
    assert_eq!(renamed["targetId"], workspace.as_str());
    assert_eq!(
        renamed["changes"],
        json!([{ "field": "name", "before": "Research", "after": "Labs" }])
    );
    assert!(
        !all.body.to_string().contains("Globex"),
        "another tenant's events never show"
    );

    // Paging forward with cursors, and filters.
    let first = events(&app, &ada, json!({ "first": 2 })).await;
    let page = &first.assert_ok()["auditEvents"];
    assert_eq!(page["totalCount"], 3);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest = events(
        &app,
        &ada,
        json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }),
    )
    .await;
    let rest_nodes = rest.assert_ok()["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(rest_nodes.len(), 1);
    assert_eq!(rest_nodes[0]["action"], "workspace.renamed");
    let filtered = events(
        &app,
        &ada,
        json!({ "first": 10, "f": { "targetType": "workspace", "targetId": workspace } }),
    )
    .await;
    assert_eq!(filtered.assert_ok()["auditEvents"]["totalCount"], 2);
    let by_action = events(&app, &ada, json!({ "first": 10, "f": { "action": "user.signed_up" } })).await;
    assert_eq!(by_action.assert_ok()["auditEvents"]["totalCount"], 1);
    let bad = events(&app, &ada, json!({ "first": 10, "f": { "actorId": "nope" } })).await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);

    // Only holders of audit:read; and a refusal is itself recorded.
    let viewer = app
        .join(&ada, "viewer@example.com", RoleChoice::System(SystemRole::Viewer))
        .await;
    let denied = events(&app, &viewer, json!({ "first": 10 })).await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"), "{}", denied.body);
    let after = events(&app, &ada, json!({ "first": 100, "f": { "action": "access.denied" } })).await;
    let denials = after.assert_ok()["auditEvents"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["actorId"], viewer.user_id.as_str());
    app.stop().await;
}

async fn audit_verify_detects_an_edited_and_a_removed_event(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    for n in 0..4 {
        app.create_workspace(&ada, &format!("Team {n}"), &format!("team-{n}"))
            .await;
    }
    let reports = tessera_server::verify_audit(&app.config().database, Some(&ada.tenant_id))
        .await
        .expect("verify");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].events, 5);
    assert!(reports[0].problems.is_empty(), "{:?}", reports[0].problems);

    // The runtime role can neither change nor remove history (Postgres).
    if backend == Backend::Postgres {
        let store = app.db.app_store(1).await;
        for statement in [
            "UPDATE audit_events SET action = 'nothing.happened'",
            "DELETE FROM audit_events",
            // Where archiving left off is the owner's alone.
            "UPDATE audit_chain_heads SET archived_sequence = 0",
        ] {
            let error = sea_orm::ConnectionTrait::execute_unprepared(store.connection(), statement)
                .await
                .expect_err("refused to the runtime role");
            assert!(error.to_string().contains("permission denied"), "{statement}: {error}");
        }
    }

    // The owner edits one event and removes another, behind the trigger's back.
    let disable = match backend {
        Backend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        Backend::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete",
    };
    for statement in disable.split("; ") {
        app.db.execute_as_owner(statement).await;
    }
    app.db
        .execute_as_owner("UPDATE audit_events SET target_id = 'someone-else' WHERE sequence = 2")
        .await;
    app.db
        .execute_as_owner("DELETE FROM audit_events WHERE sequence = 4")
        .await;
    let reports = tessera_server::verify_audit(&app.config().database, Some(&ada.tenant_id))
        .await
        .expect("verify");
    let problems = reports[0].problems.join("\n");
    assert!(problems.contains("event 2 was altered"), "{problems}");
    assert!(problems.contains("event 4 is missing"), "{problems}");

    // Removing the newest event is caught by the chain's head.
    app.db
        .execute_as_owner("DELETE FROM audit_events WHERE sequence = 5")
        .await;
    let reports = tessera_server::verify_audit(&app.config().database, None)
        .await
        .expect("verify");
    let ours = reports
        .iter()
        .find(|r| r.tenant_id.map(|t| t.to_string()) == Some(ada.tenant_id.clone()))
        .expect("the tenant's chain");
    assert!(
        ours.problems
            .iter()
            .any(|p| p.contains("events at the end were removed")),
        "{:?}",
        ours.problems
    );
    app.stop().await;
}

on_both_backends!(a_mutation_that_fails_after_its_write_leaves_no_write_event_or_audit_row);

/// The audit append fails (a trigger injected by the test) after the use case has
/// written its change and its outbox event: all three roll back together.
async fn a_mutation_that_fails_after_its_write_leaves_no_write_event_or_audit_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dana = app.sign_up("dana@example.com", "danas-place").await;
    let personal = json!({ "displayName": "Dana", "timeZone": "Europe/London", "locale": "en-gb" });
    for input in [
        json!({ "stage": "STARTED" }),
        json!({ "stage": "PERSONAL_INFO", "personalInfo": personal }),
        json!({ "stage": "ORGANIZATION", "organization": { "name": "Dana's", "slug": "danas-place", "size": "1" } }),
    ] {
        app.graphql(
            "mutation($i: AdvanceOnboardingInput!) { advanceOnboarding(input: $i) { stage } }",
            json!({ "i": input }),
            Some(&dana.token),
        )
        .await
        .assert_ok();
    }
    let refuse = match backend {
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.action = 'onboarding.completed' THEN RAISE EXCEPTION 'injected failure'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_completion BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_completion()",
        ],
        Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_completion BEFORE INSERT ON audit_events \
             WHEN NEW.action = 'onboarding.completed' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
    };
    for statement in refuse {
        app.db.execute_as_owner(statement).await;
    }
    let events_before = app.db.count("audit_events").await;
    let outbox_before = app.db.count("outbox_events").await;
    const COMPLETE: &str =
        "mutation { completeOnboarding(input: { terms: { version: \"2026-01\", accepted: true } }) { stage } }";
    let failed = app.query(COMPLETE, &dana.token).await;
    assert_eq!(failed.error_code(), Some("INTERNAL_SERVER_ERROR"), "{}", failed.body);
    assert_eq!(app.db.count("audit_events").await, events_before, "no audit row");
    assert_eq!(app.db.count("outbox_events").await, outbox_before, "no outbox event");
    let still = app.query("{ onboarding { stage } }", &dana.token).await;
    assert_eq!(
        still.assert_ok()["onboarding"]["stage"],
        "TERMS",
        "the completion itself rolled back"
    );

    // Without the fault, the same request commits all three.
    app.db
        .execute_as_owner(match backend {
            Backend::Postgres => "DROP TRIGGER refuse_completion ON audit_events",
            Backend::Sqlite => "DROP TRIGGER refuse_completion",
        })
        .await;
    let done = app.query(COMPLETE, &dana.token).await;
    assert_eq!(done.assert_ok()["completeOnboarding"]["stage"], "COMPLETED");
    assert_eq!(app.db.count("audit_events").await, events_before + 1);
    assert_eq!(app.db.count("outbox_events").await, outbox_before + 1);
    app.stop().await;
}

on_both_backends!(
    retention_archives_before_it_deletes_and_the_chain_stays_verifiable,
    retention_deletes_nothing_the_archive_could_not_make_durable,
);

/// An archive in memory that reports how much of it was made durable, and can be told
/// to fail doing so (a full disk, say).
struct RecordingSink {
    written: Vec<u8>,
    persisted: usize,
    fail_persisting: bool,
}

impl std::io::Write for RecordingSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.written.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tessera_infrastructure::ArchiveSink for RecordingSink {
    fn persist(&mut self) -> std::io::Result<()> {
        if self.fail_persisting {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.persisted = self.written.len();
        Ok(())
    }
}

async fn retention_deletes_nothing_the_archive_could_not_make_durable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    app.create_workspace(&ada, "Team", "team").await;
    let before = app.db.count("audit_events").await;
    let db = tessera_server::connect_for_migrations(&app.config().database)
        .await
        .expect("owner");
    let mut failing = RecordingSink {
        written: Vec::new(),
        persisted: 0,
        fail_persisting: true,
    };
    let refused = tessera_server::archive_audit_into(&db, 0, &mut failing).await;
    assert!(refused.is_err(), "a failed fsync stops the archive");
    assert_eq!(app.db.count("audit_events").await, before, "and nothing was deleted");

    let mut sink = RecordingSink {
        written: Vec::new(),
        persisted: 0,
        fail_persisting: false,
    };
    let report = tessera_server::archive_audit_into(&db, 0, &mut sink)
        .await
        .expect("archive");
    assert_eq!(report.archived as i64, before);
    assert_eq!(app.db.count("audit_events").await, 0);
    assert!(!sink.written.is_empty());
    assert_eq!(
        sink.persisted,
        sink.written.len(),
        "everything deleted was made durable first"
    );
    db.close().await.ok();
    app.stop().await;
}

async fn retention_archives_before_it_deletes_and_the_chain_stays_verifiable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    for n in 0..3 {
        app.create_workspace(&ada, &format!("Team {n}"), &format!("team-{n}"))
            .await;
    }
    let archive = std::env::temp_dir().join(format!("tessera-audit-{}.jsonl", uuid::Uuid::new_v4()));
    // Nothing is older than a day yet: nothing moves.
    let none = tessera_server::archive_audit(&app.config().database, 1, &archive)
        .await
        .expect("archive");
    assert_eq!(none.archived, 0);
    let before = app.db.count("audit_events").await;

    // With a retention of 0 days everything so far is archived, then deleted.
    let report = tessera_server::archive_audit(&app.config().database, 0, &archive)
        .await
        .expect("archive");
    assert_eq!(report.archived as i64, before);
    assert_eq!(app.db.count("audit_events").await, 0);
    let lines: Vec<Value> = std::fs::read_to_string(&archive)
        .expect("the archive file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len() as i64, before);
    let ours: Vec<&Value> = lines.iter().filter(|l| l["chain"] == ada.tenant_id.as_str()).collect();
    assert_eq!(
        ours.iter()
            .map(|l| l["action"].as_str().expect("action"))
            .collect::<Vec<_>>(),
        [
            "user.signed_up",
            "workspace.created",
            "workspace.created",
            "workspace.created"
        ]
    );
    assert!(ours.iter().all(|l| l["hash"].as_str().is_some_and(|h| h.len() == 64)));

    // New events continue the chain from the archived hash; verify holds.
    app.create_workspace(&ada, "Later", "later").await;
    let reports = tessera_server::verify_audit(&app.config().database, Some(&ada.tenant_id))
        .await
        .expect("verify");
    assert_eq!(reports[0].events, 1);
    assert!(reports[0].problems.is_empty(), "{:?}", reports[0].problems);
    let _ = std::fs::remove_file(&archive);
    app.stop().await;
}
