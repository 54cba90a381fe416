//! Single sign-on per tenant with an OpenID Connect provider. An owner configures the
//! tenant's connection (feature `sso`); a browser starts a sign-in by the tenant's
//! slug, goes to the provider, comes back to the callback, and the app exchanges the
//! one-time hand-over code the callback answered for Tessera's usual token pair.
//!
//! The state, nonce and PKCE verifier of a sign-in live server-side, bound to a cookie
//! of the browser that started it: a callback from another browser, a replayed
//! callback, an expired sign-in or a token the provider did not sign for this client
//! and this sign-in is refused, and nothing is created. A person is provisioned just
//! in time (user and membership with the connection's role), or an existing user is
//! linked by the email address the provider verified.

mod connection;
mod provision;

pub use connection::SsoConnectionInput;

use tessera_domain::{AuditActor, Email, Feature, NewAuditEvent, Slug, SsoConnection, SsoSignIn, SystemRole, Tenant};

use crate::identity::{AuthSession, ClientInfo};
use crate::ports::{OidcClientRef, OidcError, Transaction};
use crate::{AppError, Application, TenantScope};

/// Where single sign-on sends browsers back, and which issuers it accepts.
#[derive(Debug, Clone, Default)]
pub struct SsoSettings {
    /// The callback URL providers redirect to (`<PUBLIC_URL>/sso/callback`); `None`
    /// when the server does not know its public address (sign-ins are then refused).
    pub redirect_uri: Option<String>,
    /// `http://` issuers on a loopback address (development and tests).
    pub allow_loopback_http: bool,
}

/// A started sign-in: where to send the browser, and the secret of the cookie that
/// binds the sign-in to it.
#[derive(Debug, Clone)]
pub struct SsoStart {
    pub authorization_url: String,
    pub browser_secret: String,
}

pub(super) const UNKNOWN_SIGN_IN: &str = "this sign-in is unknown, has expired or was already completed: start again";
const UNAVAILABLE: &str = "single sign-on is not available for this tenant";

/// The context a connection's client secret is sealed for.
pub(super) fn secret_context(tenant: tessera_domain::TenantId) -> String {
    format!("sso-client-secret:{tenant}")
}

fn verifier_context(state_digest: &str) -> String {
    format!("sso-verifier:{state_digest}")
}

impl Application {
    /// Starts a browser's sign-in: to the tenant named by its slug, or to the tenant
    /// whose connection covers the email address's domain.
    #[tracing::instrument(level = "debug", name = "start_sso", skip_all)]
    pub async fn start_sso(
        &self,
        by: SsoStartBy<'_>,
        app_state: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SsoStart, AppError> {
        if app_state.is_some_and(|state| !SsoSignIn::valid_app_state(state)) {
            return Err(AppError::validation(
                "state",
                "must be 1 to 256 characters among A-Z a-z 0-9 - _ . ~",
            ));
        }
        self.throttle_sso(client).await?;
        let redirect_uri = self.sso.redirect_uri.as_deref().ok_or_else(unavailable)?;
        let tx = self.global_tx().await?;
        let tenant = match by {
            SsoStartBy::Tenant(raw) => {
                let slug = Slug::parse(raw).map_err(|e| AppError::validation("tenant", e.to_string()))?;
                tx.tenants().find_by_slug(&slug).await?.ok_or_else(unavailable)?
            }
            SsoStartBy::Email(raw) => {
                let email = Email::parse(raw).map_err(|e| AppError::validation("email", e.to_string()))?;
                let domain = email.domain().ok_or_else(unavailable)?;
                let owner = tx
                    .custom_domains()
                    .find_verified_owner(&domain)
                    .await?
                    .ok_or_else(unavailable)?;
                let tenant = tx.tenants().find_by_id(owner).await?.ok_or_else(unavailable)?;
                let connection = self.usable_connection(tx.as_ref(), &tenant).await?;
                if !connection.covers(&email) {
                    return Err(unavailable());
                }
                tenant
            }
        };
        let connection = self.usable_connection(tx.as_ref(), &tenant).await?;
        let now = self.ports.clock.now();
        let state = self.ports.secrets.generate("");
        let nonce = self.ports.secrets.generate("").plain;
        let verifier = self.ports.secrets.generate("").plain;
        let browser = self.ports.secrets.generate("");
        let authorization_url = self
            .ports
            .oidc
            .authorization_url(
                OidcClientRef {
                    issuer: connection.issuer.as_str(),
                    client_id: &connection.client_id,
                    redirect_uri,
                },
                &state.plain,
                &nonce,
                &verifier,
            )
            .await
            .map_err(provider_error)?;
        let sign_in = SsoSignIn {
            sealed_code_verifier: self
                .ports
                .secret_box
                .seal(&verifier, &verifier_context(&state.digest))
                .map_err(AppError::Internal)?,
            state_digest: state.digest,
            tenant_id: tenant.id,
            nonce,
            browser_digest: browser.digest,
            created_at: now,
            expires_at: now + SsoSignIn::LIFETIME,
            callback_at: None,
            user_id: None,
            handover_digest: None,
            handed_over_at: None,
            app_state: app_state.map(str::to_owned),
        };
        tx.sso().insert_sign_in(&sign_in, now).await?;
        tx.commit().await?;
        Ok(SsoStart {
            authorization_url,
            browser_secret: browser.plain,
        })
    }

    /// The provider's callback: checks the sign-in and the browser, redeems the code,
    /// provisions or links the person, and answers a one-time hand-over code.
    #[tracing::instrument(level = "debug", name = "finish_sso", skip_all)]
    pub async fn finish_sso(
        &self,
        state: &str,
        code: &str,
        browser_secret: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SsoHandover, AppError> {
        self.throttle_sso(client).await?;
        let now = self.ports.clock.now();
        let state_digest = self.ports.secrets.digest(state.trim());
        let tx = self.global_tx().await?;
        let sign_in = tx.sso().find_sign_in(&state_digest).await?;
        let Some(sign_in) = sign_in.filter(|s| s.awaits_callback(now)) else {
            drop(tx);
            return Err(self.sso_refused(None, None, "unknown_state", client).await);
        };
        let tenant_id = sign_in.tenant_id;
        let same_browser =
            browser_secret.is_some_and(|secret| self.ports.secrets.digest(secret) == sign_in.browser_digest);
        if !same_browser {
            drop(tx);
            return Err(self.sso_refused(Some(tenant_id), None, "other_browser", client).await);
        }
        // The callback is taken once, whatever happens next.
        if !tx.sso().take_callback(&state_digest, now).await? {
            return Err(AppError::Unauthenticated(UNKNOWN_SIGN_IN.into()));
        }
        tx.commit().await?;

        let tx = self.global_tx().await?;
        let tenant = tx.tenants().find_by_id(tenant_id).await?.ok_or_else(unavailable)?;
        let connection = self.usable_connection(tx.as_ref(), &tenant).await?;
        drop(tx);
        let client_secret = self
            .ports
            .secret_box
            .open(&connection.sealed_client_secret, &secret_context(tenant.id))
            .map_err(AppError::Internal)?;
        let verifier = self
            .ports
            .secret_box
            .open(&sign_in.sealed_code_verifier, &verifier_context(&state_digest))
            .map_err(AppError::Internal)?;
        let redirect_uri = self.sso.redirect_uri.as_deref().ok_or_else(unavailable)?;
        let reference = OidcClientRef {
            issuer: connection.issuer.as_str(),
            client_id: &connection.client_id,
            redirect_uri,
        };
        let identity = match self
            .ports
            .oidc
            .redeem(reference, &client_secret, code, &verifier, &sign_in.nonce)
            .await
        {
            Ok(identity) => identity,
            Err(error) => {
                let reason = match &error {
                    OidcError::Unavailable(_) => "provider_unavailable",
                    OidcError::Refused(_) => "code_refused",
                    OidcError::InvalidToken(_) => "invalid_token",
                };
                tracing::info!(%error, tenant_id = %tenant.id, "single sign-on refused");
                self.sso_refused(Some(tenant.id), None, reason, client).await;
                return Err(provider_error(error));
            }
        };
        // The provider speaks only for the domains the tenant proved it controls: an
        // address elsewhere (verified by the provider or not) is not its to vouch for.
        let email = match identity.email.as_deref().map(Email::parse) {
            Some(Ok(email)) if connection.covers(&email) => email,
            _ => {
                return Err(self
                    .sso_refused(Some(tenant.id), Some(&identity), "email_not_covered", client)
                    .await);
            }
        };
        let (user_id, provisioned) = self.provision(&tenant, &connection, &email, &identity, client).await?;
        let handover = self.ports.secrets.generate("ssoh_");
        let tx = self.global_tx().await?;
        tx.sso()
            .record_handover(&state_digest, user_id, &handover.digest)
            .await?;
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        let event = NewAuditEvent::new(
            Some(tenant.id),
            AuditActor::User(user_id),
            "sso.signed_in",
            "user",
            Some(user_id.to_string()),
            now,
        )
        .change("issuer", None::<&str>, Some(identity.issuer.as_str()))
        .change("subject", None::<&str>, Some(identity.subject.as_str()))
        .change("provisioned", None::<&str>, Some(provisioned))
        .with_origin(client.clone());
        self.commit_with(tx, &event).await?;
        Ok(SsoHandover {
            code: handover.plain,
            app_state: sign_in.app_state,
        })
    }

    /// Exchanges the callback's one-time hand-over code for a token pair.
    #[tracing::instrument(level = "debug", name = "complete_sso_sign_in", skip_all)]
    pub async fn complete_sso_sign_in(&self, code: &str, client: ClientInfo) -> Result<AuthSession, AppError> {
        let now = self.ports.clock.now();
        let digest = self.ports.secrets.digest(code.trim());
        let tx = self.global_tx().await?;
        let sign_in = tx
            .sso()
            .find_handover(&digest)
            .await?
            .filter(|s| s.awaits_handover(now));
        let (Some(sign_in), true) = (sign_in.clone(), tx.sso().take_handover(&digest, now).await?) else {
            return Err(AppError::Unauthenticated(UNKNOWN_SIGN_IN.into()));
        };
        let user_id = sign_in
            .user_id
            .ok_or_else(|| AppError::Unauthenticated(UNKNOWN_SIGN_IN.into()))?;
        let user = tx
            .users()
            .find_by_id(user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        tx.enter_user(user_id).await?;
        let active = tx
            .memberships()
            .list_own(user_id)
            .await?
            .into_iter()
            .any(|m| m.tenant_id == sign_in.tenant_id && m.is_active());
        let tenant = tx.tenants().find_by_id(sign_in.tenant_id).await?;
        let Some(tenant) = tenant.filter(|t| active && t.is_active()) else {
            return Err(AppError::Unauthenticated(UNAVAILABLE.into()));
        };
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        // The tenant's provider is trusted for how strongly the person signed in (its own
        // second factor): the session meets a second-factor requirement of the tenant.
        let session = self.open_session(tx.as_ref(), user, tenant, &client, true).await?;
        let event = NewAuditEvent::new(
            Some(session.tenant.id),
            AuditActor::User(user_id),
            "session.logged_in",
            "session",
            Some(session.session_id.to_string()),
            now,
        )
        .change("method", None::<&str>, Some("sso"))
        .with_origin(client);
        self.commit_with(tx, &event).await?;
        Ok(session)
    }

    /// The tenant's connection, if the tenant is active and its plan includes `sso`.
    async fn usable_connection(&self, tx: &dyn Transaction, tenant: &Tenant) -> Result<SsoConnection, AppError> {
        if !tenant.is_active() || !self.current_entitlements(tenant).has(Feature::Sso) {
            return Err(unavailable());
        }
        tx.enter_tenant(&TenantScope::new(tenant.id)).await?;
        tx.sso()
            .find_connection(&TenantScope::new(tenant.id))
            .await?
            .ok_or_else(unavailable)
    }
}

/// What a good callback hands over: the one-time code, and the app's own state given
/// at the start (for the app to check it started this sign-in).
#[derive(Debug, Clone)]
pub struct SsoHandover {
    pub code: String,
    pub app_state: Option<String>,
}

/// How a sign-in names its tenant.
#[derive(Debug, Clone, Copy)]
pub enum SsoStartBy<'a> {
    Tenant(&'a str),
    Email(&'a str),
}

impl Application {
    /// When `email`'s domain must sign in through its tenant's provider and the person
    /// is not one of that tenant's owners: the refusal a password log-in gets. Decided
    /// before any password work, the same whether or not the account exists.
    pub(crate) async fn password_refusal(&self, email: &Email) -> Result<Option<AppError>, AppError> {
        let Some(domain) = email.domain() else {
            return Ok(None);
        };
        let tx = self.global_tx().await?;
        let Some(tenant_id) = tx.custom_domains().find_verified_owner(&domain).await? else {
            return Ok(None);
        };
        let Some(tenant) = tx.tenants().find_by_id(tenant_id).await? else {
            return Ok(None);
        };
        // A connection that cannot be used (plan, status) locks nobody out.
        let Ok(connection) = self.usable_connection(tx.as_ref(), &tenant).await else {
            return Ok(None);
        };
        if !connection.required || !connection.covers(email) {
            return Ok(None);
        }
        // The tenant's owners keep their password: the way back in when the provider fails.
        let scope = TenantScope::new(tenant.id);
        if let Some(user) = tx.users().find_by_email(email).await?
            && let Some(membership) = tx.memberships().find_by_user(&scope, user.id).await?
            && membership.is_active()
            && let Some(role) = tx.roles().find_by_id(&scope, membership.role_id).await?
            && role.system == Some(SystemRole::Owner)
        {
            return Ok(None);
        }
        let path = format!("/sso/start?tenant={}", tenant.slug.as_str());
        let start_url = match self
            .sso
            .redirect_uri
            .as_deref()
            .and_then(|uri| uri.strip_suffix("/sso/callback"))
        {
            Some(base) => format!("{base}{path}"),
            None => path,
        };
        Ok(Some(AppError::SsoRequired { start_url }))
    }
}

pub(super) fn unavailable() -> AppError {
    AppError::NotFound("single sign-on connection")
}

/// What a caller learns of a provider's failure: that it failed (details are logged and
/// audited, never shown to an anonymous caller).
fn provider_error(error: OidcError) -> AppError {
    match error {
        OidcError::Unavailable(_) => AppError::internal(error.to_string()),
        OidcError::Refused(_) | OidcError::InvalidToken(_) => {
            AppError::Unauthenticated("the identity provider's answer could not be verified".into())
        }
    }
}
