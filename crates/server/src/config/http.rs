//! HTTP settings: where the server listens, who may call it from a browser, which
//! proxies name the client, and who may read `/metrics`.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use ipnet::IpNet;
use tessera_api::http::prometheus::MetricsAccess;

use super::values::{Secret, list, within};
use super::{ConfigError, Environment};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpSection {
    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: SocketAddr,

    /// Serve GraphiQL at /graphiql.
    #[arg(long, env = "GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Allow schema introspection (on by default in development only).
    #[arg(long, env = "INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// Origins a browser may call the API from (`https://app.example.com,…`); none
    /// when unset (same origin only).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<String>,

    /// Addresses or networks (`10.0.0.10`, `10.42.0.0/16`) of the proxies in front of
    /// the server, comma-separated; their `X-Forwarded-For` names the client. Without
    /// it the header is ignored.
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,

    /// Send `Strict-Transport-Security` with this max-age (serve over HTTPS only).
    #[arg(long, env = "HSTS_MAX_AGE_SECONDS")]
    pub hsts_max_age_seconds: Option<u64>,

    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// One INFO line per request (`request served`); `false` leaves it to the proxy in
    /// front (it costs a few percent of throughput on the cheapest queries).
    #[arg(long, env = "ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub access_log: bool,

    /// Where browsers and identity providers reach this server (e.g.
    /// `https://api.example.com`); single sign-on's callback is `<PUBLIC_URL>/sso/callback`.
    /// Unset: `http://<BIND_ADDR>` in development, and single sign-on off in production.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// With `example.com`, requests to `<slug>.example.com` name that tenant (checked
    /// against the credential like the X-Tenant-* headers).
    #[arg(long, env = "BASE_DOMAIN")]
    pub base_domain: Option<String>,

    /// When set, `/metrics` wants `Authorization: Bearer <token>`. In production
    /// `/metrics` is refused on the main address unless this is set.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// Serve `/metrics` on this separate (admin) address instead of the main one.
    #[arg(long, env = "METRICS_BIND_ADDR")]
    pub metrics_bind_addr: Option<SocketAddr>,
}

impl HttpSection {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.trusted_proxy_addresses()?;
        if let Some(url) = &self.public_url {
            let url = url.trim();
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || url.contains(['?', '#', ' ']) || url.len() > 512 {
                return Err(ConfigError::PublicUrl);
            }
        }
        within("REQUEST_TIMEOUT_SECONDS", self.request_timeout_seconds, 1..=600)?;
        if let Some(max_age) = self.hsts_max_age_seconds {
            // Two years: the longest max-age browsers' preload lists ask for.
            within("HSTS_MAX_AGE_SECONDS", max_age, 0..=63_072_000)?;
        }
        Ok(())
    }

    /// The server's public address without a trailing `/`: `PUBLIC_URL`, else (outside
    /// production, when the port is known) `http://<BIND_ADDR>`.
    pub fn public_url(&self, production: bool) -> Option<String> {
        match &self.public_url {
            Some(url) => Some(url.trim().trim_end_matches('/').to_owned()),
            None if !production && self.bind_addr.port() != 0 => Some(format!("http://{}", self.bind_addr)),
            None => None,
        }
    }

    /// The trusted proxies: addresses (one host each) or networks in CIDR notation; an
    /// entry that is neither is an error.
    pub fn trusted_proxy_addresses(&self) -> Result<Vec<IpNet>, ConfigError> {
        list(self.trusted_proxies.as_deref())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::TrustedProxy(entry.to_owned()))
            })
            .collect()
    }

    /// The allowed CORS origins, trimmed, without empties.
    pub fn cors_origins(&self) -> Vec<String> {
        list(self.cors_allowed_origins.as_deref())
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect()
    }

    pub fn introspection_enabled(&self, environment: Environment) -> bool {
        self.introspection.unwrap_or(environment == Environment::Development)
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_seconds)
    }

    /// Who may read `/metrics` on the main address: with `METRICS_BIND_ADDR` nobody
    /// (it is served there); else the holders of `METRICS_TOKEN`; without one, anyone
    /// in development and nobody in production.
    pub fn metrics_on_main_address(&self, environment: Environment) -> MetricsAccess {
        match (self.metrics_bind_addr, self.metrics_token()) {
            (Some(_), _) => MetricsAccess::Refused,
            (None, Some(token)) => MetricsAccess::Bearer(token),
            (None, None) if environment == Environment::Production => MetricsAccess::Refused,
            (None, None) => MetricsAccess::Open,
        }
    }

    /// Who may read `/metrics` on `METRICS_BIND_ADDR`: the token's holders if one is
    /// set, else anyone who can reach that address.
    pub fn metrics_on_admin_address(&self) -> MetricsAccess {
        self.metrics_token().map_or(MetricsAccess::Open, MetricsAccess::Bearer)
    }

    fn metrics_token(&self) -> Option<String> {
        self.metrics_token
            .as_ref()
            .filter(|token| !token.is_blank())
            .map(|token| token.expose().to_owned())
    }
}
