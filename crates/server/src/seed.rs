//! `tessera seed --demo`: a demo tenant on an empty development database, with the
//! log-in and a first query printed for GraphiQL.

use anyhow::{Context as _, bail};
use tessera_application::identity::{ClientInfo, SignUp};
use tessera_application::onboarding::StageSubmission;
use tessera_application::workspaces::CreateWorkspace;
use tessera_application::{Application, RequestContext};
use tessera_domain::{OrganizationInput, PersonalInfoInput, TermsInput};

pub const DEMO_EMAIL: &str = "demo@tessera.dev";
pub const DEMO_PASSWORD: &str = "tessera-demo-password";

/// What the seed created, for printing.
pub struct DemoSeed {
    pub email: &'static str,
    pub password: &'static str,
    pub tenant_slug: String,
    pub access_token: String,
}

pub async fn seed_demo(app: &Application) -> anyhow::Result<DemoSeed> {
    if app
        .has_any_user()
        .await
        .context("checking whether the database is empty")?
    {
        bail!("the database already has users; the demo seed only runs on an empty database");
    }
    let session = app
        .sign_up(
            SignUp {
                email: DEMO_EMAIL.into(),
                password: DEMO_PASSWORD.into(),
                display_name: "Demo Owner".into(),
                tenant_name: Some("Demo Company".into()),
                tenant_slug: Some("demo".into()),
                invitation_token: None,
            },
            ClientInfo::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo sign-up failed: {e}"))?;
    let ctx = signed_in(app, &session.access_token).await?;
    // The demo owner has walked through onboarding, as a real owner would have.
    let steps = [
        StageSubmission::Started,
        StageSubmission::PersonalInfo(PersonalInfoInput {
            display_name: Some("Demo Owner".into()),
            job_title: Some("Founder".into()),
            time_zone: Some("UTC".into()),
            locale: Some("en".into()),
        }),
        StageSubmission::Organization(OrganizationInput {
            name: Some("Demo Company".into()),
            slug: Some("demo".into()),
            size: Some("2-10".into()),
            industry: Some("Software".into()),
            invitation_token: None,
        }),
    ];
    for step in steps {
        app.advance_onboarding(&ctx, step, None)
            .await
            .map_err(|e| anyhow::anyhow!("demo onboarding failed: {e}"))?;
    }
    let terms = TermsInput {
        version: Some("demo".into()),
        accepted: Some(true),
    };
    app.complete_onboarding(&ctx, terms, None)
        .await
        .map_err(|e| anyhow::anyhow!("demo onboarding failed: {e}"))?;
    let ctx = signed_in(app, &session.access_token).await?;
    for (name, slug) in [("Marketing", "marketing"), ("Engineering", "engineering")] {
        app.create_workspace(
            &ctx,
            CreateWorkspace {
                name: name.into(),
                slug: slug.into(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating demo workspace {slug} failed: {e}"))?;
    }
    Ok(DemoSeed {
        email: DEMO_EMAIL,
        password: DEMO_PASSWORD,
        tenant_slug: session.tenant.slug.as_str().to_owned(),
        access_token: session.access_token,
    })
}

/// The demo owner's request context for `access_token` (read again after onboarding,
/// which changes what the owner may do).
async fn signed_in(app: &Application, access_token: &str) -> anyhow::Result<RequestContext> {
    app.authenticate(access_token)
        .await
        .map_err(|e| anyhow::anyhow!("demo authentication failed: {e}"))
}
