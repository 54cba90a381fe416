//! Single sign-on per tenant with an OpenID Connect provider: the tenant's connection
//! (its provider, the client Tessera is registered as, the role people provisioned just
//! in time get) and the short-lived record of one browser's sign-in between the start
//! and the provider's callback, then between the callback and the token pair.

use chrono::{DateTime, Duration, Utc};

use crate::{DomainName, Email, InvalidValue, RoleId, TenantId, UserId};

/// A provider's issuer: an `https://` URL (or `http://` on a loopback address where
/// the deployment allows it), without query or fragment, as the provider names itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    pub const MAX_LEN: usize = 512;

    pub fn parse(raw: &str, allow_loopback_http: bool) -> Result<Self, InvalidValue> {
        let url = raw.trim();
        if url.len() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidValue("must be a URL without query, fragment or spaces".into()));
        }
        let rest = if let Some(rest) = url.strip_prefix("https://") {
            rest
        } else if let Some(rest) = url.strip_prefix("http://") {
            let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| {
                rest.strip_prefix(host)
                    .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
            });
            if !(allow_loopback_http && loopback) {
                return Err(InvalidValue("must be an https:// URL".into()));
            }
            rest
        } else {
            return Err(InvalidValue("must be an https:// URL".into()));
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(InvalidValue("must name a host (and no credentials)".into()));
        }
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant's OpenID Connect connection. The client secret is kept sealed and never
/// shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConnection {
    pub tenant_id: TenantId,
    pub issuer: IssuerUrl,
    pub client_id: String,
    pub sealed_client_secret: String,
    /// The role of people the connection provisions just in time.
    pub provisioned_role_id: RoleId,
    /// The email domains the provider speaks for: domains the tenant proved it
    /// controls (verified custom domains). Only people of these domains sign in.
    pub domains: Vec<DomainName>,
    /// People of these domains must sign in through the provider: their password
    /// log-ins are refused (`SSO_REQUIRED`), the tenant's owners excepted (the way back
    /// in when the provider fails).
    pub required: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SsoConnection {
    pub const MAX_CLIENT_ID_LEN: usize = 255;
    pub const MAX_CLIENT_SECRET_LEN: usize = 1024;
    pub const MAX_DOMAINS: usize = 20;

    /// Whether the address is in one of the connection's domains (exactly, not a
    /// subdomain).
    pub fn covers(&self, email: &Email) -> bool {
        email.domain().is_some_and(|domain| self.domains.contains(&domain))
    }
}

/// One browser's sign-in: from the start (state, nonce and PKCE verifier, bound to a
/// cookie of that browser) to the callback, and from there (a one-time hand-over code)
/// to the token pair. Each step works once, within its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSignIn {
    pub state_digest: String,
    pub tenant_id: TenantId,
    pub nonce: String,
    pub sealed_code_verifier: String,
    /// Digest of the cookie set on the browser that started it.
    pub browser_digest: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when the provider's callback was taken (used once).
    pub callback_at: Option<DateTime<Utc>>,
    /// Set by a successful callback: who signed in, and the hand-over code's digest.
    pub user_id: Option<UserId>,
    pub handover_digest: Option<String>,
    pub handed_over_at: Option<DateTime<Utc>>,
    /// The app's own value, given at the start and handed back with the code, so the
    /// app knows the code answers a sign-in it started (not one an attacker finished).
    pub app_state: Option<String>,
}

impl SsoSignIn {
    pub const MAX_APP_STATE_LEN: usize = 256;

    /// An app state: 1 to 256 URL-safe characters (`A-Z a-z 0-9 - _ . ~`).
    pub fn valid_app_state(raw: &str) -> bool {
        !raw.is_empty()
            && raw.len() <= Self::MAX_APP_STATE_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    }

    /// From the start to the provider's callback.
    pub const LIFETIME: Duration = Duration::minutes(10);
    /// From the callback to exchanging the hand-over code.
    pub const HANDOVER_LIFETIME: Duration = Duration::minutes(2);

    pub fn awaits_callback(&self, now: DateTime<Utc>) -> bool {
        self.callback_at.is_none() && now < self.expires_at
    }

    pub fn awaits_handover(&self, now: DateTime<Utc>) -> bool {
        self.handed_over_at.is_none()
            && self.user_id.is_some()
            && self.callback_at.is_some_and(|at| now < at + Self::HANDOVER_LIFETIME)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn issuers_are_https_urls_or_loopback_http_where_allowed() {
        for good in ["https://idp.example.com", "https://login.example.com/realms/acme"] {
            assert_eq!(IssuerUrl::parse(good, false).map(|i| i.0), Ok(good.to_owned()));
        }
        assert!(IssuerUrl::parse("http://127.0.0.1:9000", true).is_ok());
        assert!(IssuerUrl::parse("http://localhost:9000/x", true).is_ok());
        for bad in [
            "http://127.0.0.1:9000",
            "http://idp.example.com",
            "ftp://idp.example.com",
            "https://",
            "https://user@idp.example.com",
            "https://idp.example.com/?a=b",
            "https://idp.example.com/#x",
            "https://idp example.com",
        ] {
            assert!(IssuerUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(
            IssuerUrl::parse("http://idp.example.com", true).is_err(),
            "only loopback"
        );
        assert!(IssuerUrl::parse(&format!("https://{}", "a".repeat(600)), false).is_err());
    }

    #[test]
    fn each_step_of_a_sign_in_works_once_within_its_time() {
        let now = Utc::now();
        let mut sign_in = SsoSignIn {
            state_digest: "s".into(),
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            nonce: "n".into(),
            sealed_code_verifier: "v".into(),
            browser_digest: "b".into(),
            created_at: now,
            expires_at: now + SsoSignIn::LIFETIME,
            callback_at: None,
            user_id: None,
            handover_digest: None,
            handed_over_at: None,
            app_state: None,
        };
        assert!(sign_in.awaits_callback(now) && !sign_in.awaits_handover(now));
        assert!(!sign_in.awaits_callback(now + SsoSignIn::LIFETIME), "expired");
        sign_in.callback_at = Some(now);
        sign_in.user_id = Some(UserId::from_uuid(Uuid::nil()));
        assert!(!sign_in.awaits_callback(now), "the callback is taken once");
        assert!(sign_in.awaits_handover(now));
        assert!(!sign_in.awaits_handover(now + SsoSignIn::HANDOVER_LIFETIME), "expired");
        sign_in.handed_over_at = Some(now);
        assert!(!sign_in.awaits_handover(now), "handed over once");
    }
}
