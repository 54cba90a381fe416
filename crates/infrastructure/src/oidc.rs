//! The OpenID Connect relying party: a provider's discovery document and keys, fetched
//! over HTTPS and cached as long as the provider's `Cache-Control` allows (keys are
//! fetched again when a token names a key id not seen yet); the authorization code flow
//! with PKCE (S256); and ID token verification: a signature by the provider's published
//! key with an asymmetric algorithm the provider advertises (never `none`, never a
//! shared secret), then issuer, audience, expiry and nonce.
//!
//! In production every URL the provider names must be `https` and resolve to public
//! addresses only (a tenant's provider cannot point the server inside its network).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tessera_application::ports::{OidcClient, OidcClientRef, OidcError, OidcIdentity};

use crate::domains::PublicAddressesOnly;

/// Kept when the provider says nothing about caching; never longer than a day.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Keys are fetched again for an unknown key id at most this often per provider (a
/// token reaches verification only after the provider redeemed its code).
const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Providers (issuers, key set URLs) remembered at most; past it the caches start over.
const MAX_CACHED: usize = 1024;
/// Larger answers from a provider are refused.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Clock drift allowed on the ID token's times.
const LEEWAY_SECONDS: u64 = 60;
/// The algorithms an ID token may be signed with, when the provider advertises them.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

struct Cached<T> {
    value: T,
    fetched: Instant,
    max_age: Duration,
}

impl<T> Cached<T> {
    fn fresh(&self) -> bool {
        self.fetched.elapsed() < self.max_age
    }
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
}

/// Talks to providers over HTTP, caching their discovery documents and keys.
pub struct HttpOidcClient {
    http: reqwest::Client,
    local: bool,
    discovery: Mutex<HashMap<String, Arc<Cached<Discovery>>>>,
    keys: Mutex<HashMap<String, Arc<Cached<JwkSet>>>>,
}

impl HttpOidcClient {
    /// `allow_local_addresses` (development and tests only) lets providers live on
    /// loopback or private addresses over `http`.
    pub fn new(timeout: Duration, allow_local_addresses: bool) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A few calls per sign-in: a fresh connection each, never one the provider
            // may have closed while it sat idle in a pool.
            .pool_max_idle_per_host(0)
            .no_proxy()
            .user_agent(concat!("tessera-sso/", env!("CARGO_PKG_VERSION")));
        if !allow_local_addresses {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        Ok(Self {
            http: builder.build().map_err(|e| format!("no HTTP client: {e}"))?,
            local: allow_local_addresses,
            discovery: Mutex::default(),
            keys: Mutex::default(),
        })
    }

    /// A URL the provider named, if the server may call it.
    fn checked(&self, raw: &str) -> Result<url::Url, OidcError> {
        let url = url::Url::parse(raw).map_err(|_| unavailable(format!("not a URL: {raw}")))?;
        if self.local {
            return match url.scheme() {
                "https" | "http" => Ok(url),
                _ => Err(unavailable(format!("not an http(s) URL: {raw}"))),
            };
        }
        if url.scheme() != "https" {
            return Err(unavailable(format!("not an https URL: {raw}")));
        }
        // Literal addresses never reach the resolver's public-address check.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !tessera_domain::is_public_ip(ip)) {
            return Err(unavailable(format!("not a public address: {raw}")));
        }
        Ok(url)
    }

    /// GETs a JSON document, with how long it may be kept.
    async fn fetch<T: serde::de::DeserializeOwned>(&self, raw: &str) -> Result<(T, Duration), OidcError> {
        let url = self.checked(raw)?;
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("{raw} answered {}", response.status())));
        }
        let max_age = max_age(response.headers().get(reqwest::header::CACHE_CONTROL));
        let bytes = limited(response).await?;
        let value = serde_json::from_slice(&bytes).map_err(|e| unavailable(format!("{raw}: {e}")))?;
        Ok((value, max_age))
    }

    async fn discover(&self, issuer: &str) -> Result<Arc<Cached<Discovery>>, OidcError> {
        if let Some(cached) = lock(&self.discovery).get(issuer).filter(|c| c.fresh()).cloned() {
            return Ok(cached);
        }
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let (document, max_age): (Discovery, Duration) = self.fetch(&url).await?;
        // OpenID Connect Discovery 4.3: the document must name the issuer asked for.
        if document.issuer != issuer {
            return Err(OidcError::InvalidToken(format!(
                "the discovery document names issuer {} instead of {issuer}",
                document.issuer
            )));
        }
        let cached = Arc::new(Cached {
            value: document,
            fetched: Instant::now(),
            max_age,
        });
        let mut discovery = lock(&self.discovery);
        if discovery.len() >= MAX_CACHED {
            discovery.clear();
        }
        discovery.insert(issuer.to_owned(), cached.clone());
        Ok(cached)
    }

    /// The provider's keys; fetched again when `kid` is not among them (at most every
    /// few seconds), so a rotation at the provider is picked up at once.
    async fn key(&self, discovery: &Discovery, kid: Option<&str>) -> Result<DecodingKey, OidcError> {
        let cached = lock(&self.keys).get(&discovery.jwks_uri).cloned();
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let usable = cached.as_ref().filter(|c| c.fresh());
        if let Some(jwk) = usable.and_then(|c| find(&c.value)) {
            return DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::InvalidToken(e.to_string()));
        }
        if let Some(cached) = &cached
            && cached.fresh()
            && cached.fetched.elapsed() < KEY_REFETCH_INTERVAL
        {
            return Err(OidcError::InvalidToken(
                "signed with a key the provider does not publish".into(),
            ));
        }
        let (set, max_age): (JwkSet, Duration) = self.fetch(&discovery.jwks_uri).await?;
        let jwk = find(&set);
        let mut keys = lock(&self.keys);
        if keys.len() >= MAX_CACHED {
            keys.clear();
        }
        keys.insert(
            discovery.jwks_uri.clone(),
            Arc::new(Cached {
                value: set,
                fetched: Instant::now(),
                max_age,
            }),
        );
        drop(keys);
        let jwk =
            jwk.ok_or_else(|| OidcError::InvalidToken("signed with a key the provider does not publish".into()))?;
        DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::InvalidToken(e.to_string()))
    }

    /// Verifies an ID token as this client's, for this sign-in's nonce.
    async fn verify(
        &self,
        discovery: &Discovery,
        client: OidcClientRef<'_>,
        token: &str,
        nonce: &str,
    ) -> Result<OidcIdentity, OidcError> {
        let invalid = |reason: String| OidcError::InvalidToken(reason);
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(e.to_string()))?;
        let advertised = |alg: Algorithm| {
            let name = format!("{alg:?}");
            if discovery.id_token_signing_alg_values_supported.is_empty() {
                alg == Algorithm::RS256
            } else {
                discovery.id_token_signing_alg_values_supported.contains(&name)
            }
        };
        if !ASYMMETRIC.contains(&header.alg) || !advertised(header.alg) {
            return Err(invalid(format!("signed with {:?}, which is not allowed", header.alg)));
        }
        let key = self.key(discovery, header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[client.issuer]);
        validation.set_audience(&[client.client_id]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
            .map_err(|e| invalid(e.to_string()))?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(invalid("the nonce is not this sign-in's".into()));
        }
        let email_verified = match claims.email_verified {
            Some(serde_json::Value::Bool(verified)) => verified,
            Some(serde_json::Value::String(text)) => text == "true",
            _ => false,
        };
        Ok(OidcIdentity {
            issuer: claims.iss,
            subject: claims.sub,
            email: claims.email,
            email_verified,
            name: claims.name,
        })
    }
}

impl HttpOidcClient {
    /// Verifies an ID token obtained elsewhere as `client`'s, for `nonce` (tools and
    /// tests; sign-ins verify the token their code redeems).
    pub async fn verify_id_token(
        &self,
        client: OidcClientRef<'_>,
        token: &str,
        nonce: &str,
    ) -> Result<OidcIdentity, OidcError> {
        let discovery = self.discover(client.issuer).await?;
        self.verify(&discovery.value, client, token, nonce).await
    }
}

#[async_trait]
impl OidcClient for HttpOidcClient {
    async fn authorization_url(
        &self,
        client: OidcClientRef<'_>,
        state: &str,
        nonce: &str,
        code_verifier: &str,
    ) -> Result<String, OidcError> {
        let discovery = self.discover(client.issuer).await?;
        let mut url = self.checked(&discovery.value.authorization_endpoint)?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client.client_id)
            .append_pair("redirect_uri", client.redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn redeem(
        &self,
        client: OidcClientRef<'_>,
        client_secret: &str,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<OidcIdentity, OidcError> {
        let discovery = self.discover(client.issuer).await?;
        let endpoint = self.checked(&discovery.value.token_endpoint)?;
        // RFC 6749 2.3.1: the id and secret are form-encoded before Basic encoding.
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(endpoint)
            .basic_auth(encode(client.client_id), Some(encode(client_secret)))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", client.redirect_uri),
                ("code_verifier", code_verifier),
            ])
            .send()
            .await
            .map_err(|e| unavailable(chain(&e)))?;
        let status = response.status();
        let bytes = limited(response).await?;
        if status.is_client_error() {
            let error = serde_json::from_slice::<ErrorAnswer>(&bytes)
                .ok()
                .and_then(|answer| answer.error)
                .unwrap_or_else(|| status.to_string());
            return Err(OidcError::Refused(error));
        }
        if !status.is_success() {
            return Err(unavailable(format!("the token endpoint answered {status}")));
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|e| unavailable(e.to_string()))?;
        let token = answer
            .id_token
            .ok_or_else(|| OidcError::InvalidToken("the provider returned no ID token".into()))?;
        self.verify(&discovery.value, client, &token, nonce).await
    }
}

/// An error with its causes (a connection error's reason is in its source).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn unavailable(reason: String) -> OidcError {
    OidcError::Unavailable(reason)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a response may be kept: its `max-age` (none for `no-store`/`no-cache`),
/// an hour when it says nothing, never more than a day.
fn max_age(header: Option<&reqwest::header::HeaderValue>) -> Duration {
    let Some(value) = header.and_then(|h| h.to_str().ok()) else {
        return DEFAULT_MAX_AGE;
    };
    let directives: Vec<String> = value.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
    if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
        return Duration::ZERO;
    }
    directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age=").and_then(|n| n.parse::<u64>().ok()))
        .map_or(DEFAULT_MAX_AGE, |seconds| {
            Duration::from_secs(seconds).min(LONGEST_MAX_AGE)
        })
}

/// The body, refused past [`MAX_RESPONSE_BYTES`].
async fn limited(mut response: reqwest::Response) -> Result<Vec<u8>, OidcError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(e.to_string()))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(unavailable("the provider's answer is too large".into()));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes_follow_cache_control() {
        let header = |text: &'static str| reqwest::header::HeaderValue::from_static(text);
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
        assert_eq!(max_age(Some(&header("public, max-age=300"))), Duration::from_secs(300));
        assert_eq!(max_age(Some(&header("no-store"))), Duration::ZERO);
        assert_eq!(max_age(Some(&header("max-age=0, must-revalidate"))), Duration::ZERO);
        assert_eq!(max_age(Some(&header("max-age=99999999"))), LONGEST_MAX_AGE);
    }

    #[test]
    fn production_calls_public_https_urls_only() {
        let client = HttpOidcClient::new(Duration::from_secs(1), false).expect("client");
        assert!(client.checked("https://idp.example.com/token").is_ok());
        for refused in [
            "http://idp.example.com/token",
            "https://127.0.0.1/token",
            "https://10.1.2.3/token",
            "https://[::1]/token",
            "https://169.254.169.254/latest",
            "file:///etc/passwd",
        ] {
            assert!(client.checked(refused).is_err(), "{refused}");
        }
        let local = HttpOidcClient::new(Duration::from_secs(1), true).expect("client");
        assert!(local.checked("http://127.0.0.1:9000/token").is_ok());
    }
}
