//! Onboarding end to end: drafts survive closing the tab, stale saves are refused,
//! invalid steps change nothing, steps cannot be skipped, and tenant work is gated
//! until the person finishes. Tenant setup (settings, checklist, funnel) stays within
//! each tenant.

use serde_json::{Value, json};
use tessera_domain::SystemRole;
use tessera_tests::{Backend, GqlResponse, Member, PASSWORD, RoleChoice, TestApp, on_both_backends};

on_both_backends!(
    drafts_survive_a_new_session_stale_saves_conflict_and_work_is_gated_until_completion,
    tenant_setup_and_funnels_stay_within_each_tenant,
);

const ONBOARDING: &str = "{ onboarding { stage version personalInfo { displayName timeZone locale jobTitle } \
    organization { joinedByInvitation name slug size industry } terms { version accepted } \
    draft { stage personalInfo { displayName timeZone } } completedAt } }";
const DRAFT: &str = "mutation($i: SaveOnboardingDraftInput!) { saveOnboardingDraft(input: $i) { stage version } }";
const ADVANCE: &str = "mutation($i: AdvanceOnboardingInput!) { advanceOnboarding(input: $i) { stage version } }";
const BACK: &str = "mutation($i: ReturnToOnboardingStageInput!) { returnToOnboardingStage(input: $i) { stage version personalInfo { displayName } } }";
const COMPLETE: &str = "mutation($i: CompleteOnboardingInput!) { completeOnboarding(input: $i) { stage completedAt } }";
const WORKSPACES: &str = "{ workspaces(first: 5) { totalCount } }";

fn personal() -> Value {
    json!({ "displayName": "Ada Lovelace", "jobTitle": "Analyst", "timeZone": "Europe/London", "locale": "en-gb" })
}

async fn gated(app: &TestApp, member: &Member) -> GqlResponse {
    app.query(WORKSPACES, &member.token).await
}

fn assert_gated(response: &GqlResponse) {
    assert_eq!(response.error_code(), Some("FORBIDDEN"), "{}", response.body);
    response.assert_reason("ONBOARDING_INCOMPLETE");
}

/// Walks a person through every step with valid data.
async fn finish_onboarding(app: &TestApp, member: &Member, organization: Value) {
    for (stage, part) in [
        ("STARTED", json!({})),
        ("PERSONAL_INFO", json!({ "personalInfo": personal() })),
        ("ORGANIZATION", json!({ "organization": organization })),
    ] {
        let mut input = part;
        input["stage"] = json!(stage);
        app.graphql(ADVANCE, json!({ "i": input }), Some(&member.token))
            .await
            .assert_ok();
    }
    let done = app
        .graphql(
            COMPLETE,
            json!({ "i": { "terms": { "version": "2026-01", "accepted": true } } }),
            Some(&member.token),
        )
        .await;
    assert_eq!(done.assert_ok()["completeOnboarding"]["stage"], "COMPLETED");
}

async fn drafts_survive_a_new_session_stale_saves_conflict_and_work_is_gated_until_completion(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.auth.onboarding_gate = true).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    assert_gated(&gated(&app, &ada).await);
    // Who and where I am stays readable, and so does onboarding itself.
    let me = app
        .query(
            "{ me { email membership { status } } currentTenant { slug } }",
            &ada.token,
        )
        .await;
    assert!(
        me.assert_ok()["me"]["membership"].is_null(),
        "no membership to show before onboarding: {}",
        me.body
    );
    let start = app.query(ONBOARDING, &ada.token).await;
    assert_eq!(start.assert_ok()["onboarding"]["stage"], "STARTED");
    assert_eq!(start.assert_ok()["onboarding"]["version"], 1);

    let step = app
        .graphql(ADVANCE, json!({ "i": { "stage": "STARTED" } }), Some(&ada.token))
        .await;
    assert_eq!(step.assert_ok()["advanceOnboarding"]["stage"], "PERSONAL_INFO");
    let version = step.assert_ok()["advanceOnboarding"]["version"]
        .as_i64()
        .expect("version");

    // Skipping ahead is refused, and nothing moves.
    let skip = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "ORGANIZATION", "organization": { "name": "Acme", "slug": "acme", "size": "1" } } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(skip.error_code(), Some("CONFLICT"), "{}", skip.body);
    let complete_early = app
        .graphql(
            COMPLETE,
            json!({ "i": { "terms": { "version": "2026-01", "accepted": true } } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(complete_early.error_code(), Some("CONFLICT"), "{}", complete_early.body);

    // Auto-save a half-typed step.
    let draft = json!({ "i": { "stage": "PERSONAL_INFO", "expectedVersion": version,
        "personalInfo": { "displayName": "Ada L", "timeZone": "Europe/Lon" } } });
    let saved = app.graphql(DRAFT, draft.clone(), Some(&ada.token)).await;
    let saved_version = saved.assert_ok()["saveOnboardingDraft"]["version"]
        .as_i64()
        .expect("version");
    assert_eq!(saved_version, version + 1);

    // "Close the tab": log in again, with a new session and token; the draft is intact.
    let login = app
        .graphql(
            "mutation($e: String!, $p: String!) { logIn(input: { email: $e, password: $p }) { accessToken } }",
            json!({ "e": "ada@example.com", "p": PASSWORD }),
            None,
        )
        .await;
    let ada = Member {
        token: login.assert_ok()["logIn"]["accessToken"]
            .as_str()
            .expect("token")
            .to_owned(),
        ..ada
    };
    let resumed = app.query(ONBOARDING, &ada.token).await;
    let resumed = &resumed.assert_ok()["onboarding"];
    assert_eq!(resumed["stage"], "PERSONAL_INFO");
    assert_eq!(resumed["version"], saved_version);
    assert_eq!(
        resumed["draft"],
        json!({ "stage": "PERSONAL_INFO", "personalInfo": { "displayName": "Ada L", "timeZone": "Europe/Lon" } })
    );

    // A second tab still holding the old version cannot overwrite the newer draft.
    let stale = json!({ "i": { "stage": "PERSONAL_INFO", "expectedVersion": version,
        "personalInfo": { "displayName": "Overwritten" } } });
    let refused = app.graphql(DRAFT, stale, Some(&ada.token)).await;
    assert_eq!(refused.error_code(), Some("CONFLICT"), "{}", refused.body);
    let kept = app.query(ONBOARDING, &ada.token).await;
    assert_eq!(
        kept.assert_ok()["onboarding"]["draft"]["personalInfo"]["displayName"],
        "Ada L"
    );
    // Without expectedVersion, the last write wins (what an auto-saving form sends).
    let again = app.graphql(DRAFT, draft.clone(), Some(&ada.token)).await;
    assert_eq!(
        again.error_code(),
        Some("CONFLICT"),
        "an explicitly stale version is still refused"
    );
    let mut last = draft;
    last["i"].as_object_mut().expect("object").remove("expectedVersion");
    app.graphql(DRAFT, last, Some(&ada.token)).await.assert_ok();

    // Invalid data: every field error at once, and the step does not change.
    let invalid = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "PERSONAL_INFO",
                "personalInfo": { "displayName": " ", "timeZone": "Mars/Base", "locale": "english" } } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(invalid.error_code(), Some("BAD_USER_INPUT"), "{}", invalid.body);
    for field in ["displayName", "timeZone", "locale"] {
        assert!(invalid.field_error(field).is_some(), "{field}: {}", invalid.body);
    }
    let unchanged = app.query(ONBOARDING, &ada.token).await;
    assert_eq!(unchanged.assert_ok()["onboarding"]["stage"], "PERSONAL_INFO");
    assert!(
        unchanged.assert_ok()["onboarding"]["draft"].is_object(),
        "the draft survives a failed step"
    );

    // Valid: the step applies (my display name) and moves on; the draft is spent.
    let personal_step = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "PERSONAL_INFO", "personalInfo": personal() } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(personal_step.assert_ok()["advanceOnboarding"]["stage"], "ORGANIZATION");
    let me = app.query("{ me { displayName } }", &ada.token).await;
    assert_eq!(me.assert_ok()["me"]["displayName"], "Ada Lovelace");

    let organization =
        json!({ "name": "Acme Corporation", "slug": "acme-corp", "size": "11-50", "industry": "Software" });
    let org_step = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "ORGANIZATION", "organization": organization } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(org_step.assert_ok()["advanceOnboarding"]["stage"], "TERMS");
    let tenant = app.query("{ currentTenant { name slug } }", &ada.token).await;
    assert_eq!(
        tenant.assert_ok()["currentTenant"],
        json!({ "name": "Acme Corporation", "slug": "acme-corp" })
    );

    // Back to edit an earlier step: what was submitted is kept; then forward again.
    let back = app
        .graphql(BACK, json!({ "i": { "stage": "PERSONAL_INFO" } }), Some(&ada.token))
        .await;
    let back = &back.assert_ok()["returnToOnboardingStage"];
    assert_eq!(back["stage"], "PERSONAL_INFO");
    assert_eq!(back["personalInfo"]["displayName"], "Ada Lovelace");
    app.graphql(
        ADVANCE,
        json!({ "i": { "stage": "PERSONAL_INFO", "personalInfo": personal() } }),
        Some(&ada.token),
    )
    .await
    .assert_ok();
    app.graphql(
        ADVANCE,
        json!({ "i": { "stage": "ORGANIZATION", "organization": organization } }),
        Some(&ada.token),
    )
    .await
    .assert_ok();

    // Terms not accepted: refused per field, still gated, no event.
    let declined = app
        .graphql(
            COMPLETE,
            json!({ "i": { "terms": { "version": "2026-01", "accepted": false } } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(declined.error_code(), Some("BAD_USER_INPUT"), "{}", declined.body);
    assert!(declined.field_error("accepted").is_some(), "{}", declined.body);
    assert_gated(&gated(&app, &ada).await);
    assert_eq!(app.db.count("outbox_events").await, 0);

    let done = app
        .graphql(
            COMPLETE,
            json!({ "i": { "terms": { "version": "2026-01", "accepted": true } } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(done.assert_ok()["completeOnboarding"]["stage"], "COMPLETED");
    assert_eq!(
        app.db.count("outbox_events").await,
        1,
        "onboarding.completed is recorded"
    );
    // The gate lifts on the very next request (the cached "not onboarded" is dropped).
    assert!(gated(&app, &ada).await.assert_ok()["workspaces"]["totalCount"].is_number());
    let final_state = app.query(ONBOARDING, &ada.token).await;
    let final_state = &final_state.assert_ok()["onboarding"];
    assert_eq!(final_state["terms"], json!({ "version": "2026-01", "accepted": true }));
    assert_eq!(final_state["organization"]["slug"], "acme-corp");
    assert!(final_state["completedAt"].is_string());

    // Completed is final.
    let after = app
        .graphql(BACK, json!({ "i": { "stage": "TERMS" } }), Some(&ada.token))
        .await;
    assert_eq!(after.error_code(), Some("CONFLICT"), "{}", after.body);
    app.stop().await;
}

/// The keys of the checklist items that are done.
async fn done_items(app: &TestApp, token: &str) -> Vec<String> {
    let list = app.query("{ setupChecklist { items { key done } } }", token).await;
    list.assert_ok()["setupChecklist"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["done"] == true)
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect()
}

async fn tenant_setup_and_funnels_stay_within_each_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| config.auth.onboarding_gate = true).await else {
        return;
    };
    let ada = app.sign_up("ada@example.com", "acme").await;
    finish_onboarding(&app, &ada, json!({ "name": "Acme", "slug": "acme", "size": "2-10" })).await;
    // Bob joins Acme (not onboarded yet); Ada also owns a second tenant.
    let bob = app
        .join(&ada, "bob@example.com", RoleChoice::System(SystemRole::Member))
        .await;
    assert_gated(&gated(&app, &bob).await);
    let second = app
        .query(
            "mutation { createTenant(input: { name: \"Beta\", slug: \"beta\" }) { accessToken } }",
            &ada.token,
        )
        .await;
    let beta_token = second.assert_ok()["createTenant"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    const CHECKLIST: &str = "{ setupChecklist { done total complete } }";
    // Sign-up made a first workspace, and Bob already belongs.
    assert_eq!(
        done_items(&app, &ada.token).await,
        ["WORKSPACE_CREATED", "MEMBER_INVITED"]
    );

    // Settings are validated per field, all at once.
    const UPDATE: &str = "mutation($i: UpdateTenantSettingsInput!) { updateTenantSettings(input: $i) \
        { name logoUrl primaryColor locale timeZone companySize } }";
    let bad = app
        .graphql(
            UPDATE,
            json!({ "i": { "logoUrl": "http://x.test/l.png", "primaryColor": "red", "timeZone": "Nowhere" } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);
    for field in ["logoUrl", "primaryColor", "timeZone"] {
        assert!(bad.field_error(field).is_some(), "{field}: {}", bad.body);
    }
    let set = app
        .graphql(
            UPDATE,
            json!({ "i": { "name": "Acme Inc", "primaryColor": "#FA0", "locale": "en-us", "timeZone": "America/New_York" } }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(
        set.assert_ok()["updateTenantSettings"],
        json!({ "name": "Acme Inc", "logoUrl": null, "primaryColor": "#ffaa00", "locale": "en-US",
                "timeZone": "America/New_York", "companySize": "2-10" })
    );

    // Acme's checklist reflects Acme's state; Beta's (same person) does not.
    assert_eq!(
        done_items(&app, &ada.token).await,
        [
            "BRANDING_SET",
            "REGIONAL_DEFAULTS_SET",
            "WORKSPACE_CREATED",
            "MEMBER_INVITED"
        ]
    );
    let full = app.query(CHECKLIST, &ada.token).await;
    assert_eq!(full.assert_ok()["setupChecklist"]["total"], 5);
    assert_eq!(full.assert_ok()["setupChecklist"]["complete"], false);
    assert_eq!(done_items(&app, &beta_token).await, ["WORKSPACE_CREATED"]);

    // Funnels: Acme counts Ada (done) and Bob (not started); Beta counts Ada only.
    const FUNNEL: &str =
        "{ onboardingFunnel { members completed completionRate medianSecondsToComplete stages { stage members } } }";
    let acme_funnel = app.query(FUNNEL, &ada.token).await;
    let acme_funnel = &acme_funnel.assert_ok()["onboardingFunnel"];
    assert_eq!(acme_funnel["members"], 2);
    assert_eq!(acme_funnel["completed"], 1);
    assert_eq!(acme_funnel["completionRate"], 0.5);
    assert!(
        acme_funnel["medianSecondsToComplete"]
            .as_f64()
            .is_some_and(|s| s >= 0.0),
        "{acme_funnel}"
    );
    assert_eq!(acme_funnel["stages"][0], json!({ "stage": "STARTED", "members": 1 }));
    assert_eq!(acme_funnel["stages"][4], json!({ "stage": "COMPLETED", "members": 1 }));
    let beta_funnel = app.query(FUNNEL, &beta_token).await;
    assert_eq!(beta_funnel.assert_ok()["onboardingFunnel"]["members"], 1);
    // Bob cannot read any funnel: not an admin, and not onboarded.
    let bobs = app.query(FUNNEL, &bob.token).await;
    assert_eq!(bobs.error_code(), Some("FORBIDDEN"), "{}", bobs.body);

    // An admin who is not the owner cannot rename the tenant through onboarding.
    let carol = app
        .join(&ada, "carol@example.com", RoleChoice::System(SystemRole::Admin))
        .await;
    for (stage, part) in [
        ("STARTED", json!({})),
        ("PERSONAL_INFO", json!({ "personalInfo": personal() })),
    ] {
        let mut input = part;
        input["stage"] = json!(stage);
        app.graphql(ADVANCE, json!({ "i": input }), Some(&carol.token))
            .await
            .assert_ok();
    }
    let takeover = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "ORGANIZATION", "organization": { "name": "Carol Co", "slug": "carol-co", "size": "1" } } }),
            Some(&carol.token),
        )
        .await;
    assert_eq!(takeover.error_code(), Some("FORBIDDEN"), "{}", takeover.body);
    takeover.assert_reason("OWNER_ONLY");
    let still = app.query("{ currentTenant { slug } }", &ada.token).await;
    assert_eq!(still.assert_ok()["currentTenant"]["slug"], "acme");

    // Bob's organization step joins Beta through an invitation (an unknown token is a
    // field error; the step does not move).
    let roles = app
        .query("{ roles(first: 10) { nodes { id systemKey } } }", &beta_token)
        .await;
    let member_role = roles.assert_ok()["roles"]["nodes"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["systemKey"] == "member")
        .expect("a member role")["id"]
        .clone();
    app.graphql(
        "mutation($r: ID!) { inviteMember(input: { email: \"bob@example.com\", roleId: $r }) { id } }",
        json!({ "r": member_role }),
        Some(&beta_token),
    )
    .await
    .assert_ok();
    let token = app
        .invitation_token_for("bob@example.com")
        .expect("Bob was mailed a token");
    for (stage, part) in [
        ("STARTED", json!({})),
        ("PERSONAL_INFO", json!({ "personalInfo": personal() })),
    ] {
        let mut input = part;
        input["stage"] = json!(stage);
        app.graphql(ADVANCE, json!({ "i": input }), Some(&bob.token))
            .await
            .assert_ok();
    }
    let forged = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "ORGANIZATION", "organization": { "invitationToken": "inv_forged" } } }),
            Some(&bob.token),
        )
        .await;
    assert_eq!(forged.error_code(), Some("BAD_USER_INPUT"), "{}", forged.body);
    assert!(forged.field_error("invitationToken").is_some(), "{}", forged.body);
    let joined = app
        .graphql(
            ADVANCE,
            json!({ "i": { "stage": "ORGANIZATION", "organization": { "invitationToken": token } } }),
            Some(&bob.token),
        )
        .await;
    assert_eq!(joined.assert_ok()["advanceOnboarding"]["stage"], "TERMS");
    let tenants = app
        .query("{ myTenants { nodes { tenant { slug } } } }", &bob.token)
        .await;
    let slugs: Vec<String> = tenants.assert_ok()["myTenants"]["nodes"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| t["tenant"]["slug"].as_str().expect("slug").to_owned())
        .collect();
    assert!(
        slugs.contains(&"beta".to_owned()) && slugs.contains(&"acme".to_owned()),
        "{slugs:?}"
    );
    let info = app.query(ONBOARDING, &bob.token).await;
    assert_eq!(
        info.assert_ok()["onboarding"]["organization"],
        json!({ "joinedByInvitation": true, "name": null, "slug": null, "size": null, "industry": null })
    );

    app.stop().await;
}
