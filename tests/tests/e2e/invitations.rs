//! Invitations: mailed, single use, expiring, addressed to one email; accepted by an
//! existing user or used to sign up; every misuse refused with nothing changed.

use serde_json::json;
use tessera_domain::SystemRole;
use tessera_tests::{Backend, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    a_new_person_signs_up_through_an_invitation,
    an_existing_user_accepts_and_switches_into_the_tenant,
    misused_invitations_are_refused_and_change_nothing,
);

const INVITE: &str = "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id email status } }";
const ACCEPT: &str = "mutation($t: String!) { acceptInvitation(input: { token: $t }) { accessToken tenant { slug } } }";

async fn a_new_person_signs_up_through_an_invitation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let role = app.role_id(&owner.token, "member").await;
    let invited = app
        .graphql(
            INVITE,
            json!({ "input": { "email": "New.Person@Example.com", "roleId": role } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(invited.assert_ok()["inviteMember"]["status"], "PENDING");
    let token = app
        .invitation_token_for("new.person@example.com")
        .expect("an invitation mail with a token");
    assert!(
        app.db.count("invitations").await == 1 && !format!("{:?}", app.mailer.sent()).contains("digest"),
        "one invitation, and the mail carries the token, not its digest"
    );

    let signed_up = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { slug } user { email } } }",
            json!({ "input": { "email": "new.person@example.com", "password": PASSWORD, "displayName": "New", "invitationToken": token } }),
            None,
        )
        .await;
    let data = signed_up.assert_ok();
    assert_eq!(
        data["signUp"]["tenant"]["slug"], "acme",
        "joined the inviting tenant, created none"
    );
    assert_eq!(app.db.count("tenants").await, 1);
    let new_token = data["signUp"]["accessToken"].as_str().expect("token");
    let create = app
        .query(
            "mutation { createWorkspace(input: { name: \"Mine\", slug: \"mine\" }) { id } }",
            new_token,
        )
        .await;
    create.assert_ok();
    let list = app
        .query("{ invitations { nodes { status acceptedAt } } }", &owner.token)
        .await;
    assert_eq!(list.assert_ok()["invitations"]["nodes"][0]["status"], "ACCEPTED");
    app.stop().await;
}

async fn an_existing_user_accepts_and_switches_into_the_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let grace = app.sign_up("grace@globex.example", "globex").await;
    let role = app.role_id(&owner.token, "member").await;
    app.graphql(
        INVITE,
        json!({ "input": { "email": grace.email, "roleId": role } }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let token = app.invitation_token_for(&grace.email).expect("mail");
    let accepted = app.graphql(ACCEPT, json!({ "t": token }), Some(&grace.token)).await;
    let data = accepted.assert_ok();
    assert_eq!(data["acceptInvitation"]["tenant"]["slug"], "acme");
    let in_acme = data["acceptInvitation"]["accessToken"].as_str().expect("token");
    let tenant = app.query("{ currentTenant { slug } }", in_acme).await;
    assert_eq!(tenant.assert_ok()["currentTenant"]["slug"], "acme");
    // Her own tenant is untouched and still hers.
    let home = app.query("{ currentTenant { slug } }", &grace.token).await;
    assert_eq!(home.assert_ok()["currentTenant"]["slug"], "globex");
    app.stop().await;
}

async fn misused_invitations_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let owner = app.sign_up("owner@acme.example", "acme").await;
    let grace = app.sign_up("grace@globex.example", "globex").await;
    let mallory = app.sign_up("mallory@evil.example", "evil").await;
    let role = app.role_id(&owner.token, "member").await;
    let reason = |response: &tessera_tests::GqlResponse| response.body["errors"][0]["extensions"]["reason"].clone();

    // Only holders of members:invite may invite, and not above their own rights.
    let viewer = app
        .join(&owner, "viewer@acme.example", RoleChoice::System(SystemRole::Viewer))
        .await;
    let by_viewer = app
        .graphql(
            INVITE,
            json!({ "input": { "email": "x@example.com", "roleId": role } }),
            Some(&viewer.token),
        )
        .await;
    assert_eq!(by_viewer.error_code(), Some("FORBIDDEN"));
    let admin = app
        .join(&owner, "admin@acme.example", RoleChoice::System(SystemRole::Admin))
        .await;
    let owner_role = {
        let roles = app.query("{ roles { nodes { id systemKey } } }", &owner.token).await;
        roles.assert_ok()["roles"]["nodes"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["systemKey"] == "owner")
            .and_then(|r| r["id"].as_str())
            .expect("owner")
            .to_owned()
    };
    let escalate = app
        .graphql(
            INVITE,
            json!({ "input": { "email": "x@example.com", "roleId": owner_role } }),
            Some(&admin.token),
        )
        .await;
    assert_eq!(reason(&escalate), "PERMISSION_ESCALATION");
    let member_already = app
        .graphql(
            INVITE,
            json!({ "input": { "email": "viewer@acme.example", "roleId": role } }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(member_already.error_code(), Some("CONFLICT"));

    // An invitation for Grace, used by Mallory: refused.
    app.graphql(
        INVITE,
        json!({ "input": { "email": grace.email, "roleId": role } }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let token = app.invitation_token_for(&grace.email).expect("mail");
    let memberships = app.db.count("memberships").await;
    let stolen = app.graphql(ACCEPT, json!({ "t": token }), Some(&mallory.token)).await;
    assert_eq!(reason(&stolen), "INVITATION_EMAIL_MISMATCH", "{}", stolen.body);
    let garbage = app
        .graphql(ACCEPT, json!({ "t": "inv_not_a_token" }), Some(&mallory.token))
        .await;
    assert_eq!(garbage.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(
        app.db.count("memberships").await,
        memberships,
        "no membership was created"
    );

    // Used once, then never again.
    app.graphql(ACCEPT, json!({ "t": token }), Some(&grace.token))
        .await
        .assert_ok();
    let twice = app.graphql(ACCEPT, json!({ "t": token }), Some(&grace.token)).await;
    assert_eq!(reason(&twice), "INVITATION_USED");

    // Expired and revoked invitations.
    app.graphql(
        INVITE,
        json!({ "input": { "email": mallory.email, "roleId": role } }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    let late = app.invitation_token_for(&mallory.email).expect("mail");
    app.db
        .execute_as_owner("UPDATE invitations SET expires_at = created_at WHERE status = 'pending'")
        .await;
    let expired = app.graphql(ACCEPT, json!({ "t": late }), Some(&mallory.token)).await;
    assert_eq!(reason(&expired), "INVITATION_EXPIRED");

    let revocable = app
        .graphql(
            INVITE,
            json!({ "input": { "email": "later@example.com", "roleId": role } }),
            Some(&owner.token),
        )
        .await;
    let id = revocable.assert_ok()["inviteMember"]["id"].clone();
    let revoke = app
        .graphql(
            "mutation($id: ID!) { revokeInvitation(id: $id) { status } }",
            json!({ "id": id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(revoke.assert_ok()["revokeInvitation"]["status"], "REVOKED");
    let again = app
        .graphql(
            "mutation($id: ID!) { revokeInvitation(id: $id) { status } }",
            json!({ "id": id }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(reason(&again), "INVITATION_REVOKED");
    let late_sign_up = app
        .graphql(
            "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
            json!({ "input": { "email": "later@example.com", "password": PASSWORD, "displayName": "Later",
                               "invitationToken": app.invitation_token_for("later@example.com").expect("mail") } }),
            None,
        )
        .await;
    assert_eq!(reason(&late_sign_up), "INVITATION_REVOKED", "{}", late_sign_up.body);
    assert_eq!(app.db.count("users").await, 5, "the refused sign-up created no user");
    app.stop().await;
}
