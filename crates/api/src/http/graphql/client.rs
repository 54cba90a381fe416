//! Who is calling, from the request alone (no lookup): the client's address (behind
//! trusted proxies, the right-most untrusted `X-Forwarded-For` entry), the credential
//! presented, and the tenant the request names.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, header};
use tessera_application::identity::ClientInfo;
use tessera_application::tenants::TenantSelector;
use tessera_domain::{DomainName, Slug};

/// The client: its user agent and address. Behind trusted proxies the address is the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy; otherwise
/// the header is ignored (anyone can send it).
pub fn client_of(request: &Request, trusted_proxies: &[ipnet::IpNet]) -> ClientInfo {
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = match peer {
        Some(peer) if trusted(&peer) => request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<std::net::IpAddr>().ok())
            .rev()
            .find(|ip| !trusted(ip))
            .or(Some(peer)),
        other => other,
    };
    ClientInfo {
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: ip.map(|ip| ip.to_string()),
        request_id: request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// A tenant named by the request: `X-Tenant-Id`, else `X-Tenant-Slug`, else the
/// subdomain of the configured base domain (`acme.example.com` → `acme`), else the
/// host itself, which names a tenant only if it is one's verified custom domain.
pub fn requested_tenant(headers: &HeaderMap, base_domain: Option<&str>) -> Option<TenantSelector> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    text("x-tenant-id")
        .map(|id| TenantSelector::Id(id.to_owned()))
        .or_else(|| text("x-tenant-slug").map(|slug| TenantSelector::Slug(slug.to_owned())))
        .or_else(|| {
            let host = text("host")?.to_ascii_lowercase();
            let name = match host.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => host.as_str(),
            };
            let name = name.trim_end_matches('.');
            if let Some(base) = base_domain.map(|b| b.trim_matches('.').to_ascii_lowercase()) {
                if name == base {
                    return None;
                }
                if let Some(under) = name.strip_suffix(base.as_str()).and_then(|r| r.strip_suffix('.')) {
                    // One label that could be a tenant's slug; `www`, `api` and the like name no tenant.
                    return (!under.contains('.') && Slug::parse_tenant(under).is_ok())
                        .then(|| TenantSelector::Slug(under.to_owned()));
                }
            }
            // Any other host name may be a tenant's verified custom domain (the application
            // decides); an IP address or a reserved name such as `localhost` never is one.
            DomainName::parse(name)
                .is_ok()
                .then(|| TenantSelector::Host(name.to_owned()))
        })
}

/// What the caller presented.
pub enum Credential<'a> {
    AccessToken(&'a str),
    ApiKey(&'a str),
}

const API_KEY_PREFIX: &str = "tsk_";

/// An `X-Api-Key` header, or a bearer token (an API key when it starts with `tsk_`).
pub fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, &'static str> {
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| "the X-Api-Key header is not valid text")?
            .trim();
        if key.is_empty() {
            return Err("the X-Api-Key header is empty");
        }
        return Ok(Some(Credential::ApiKey(key)));
    }
    Ok(bearer_token(headers)?.map(|token| {
        if token.starts_with(API_KEY_PREFIX) {
            Credential::ApiKey(token)
        } else {
            Credential::AccessToken(token)
        }
    }))
}

/// `Ok(None)` without an Authorization header; an error for a malformed one.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not valid text")?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err("the Authorization header must be `Bearer <access token>`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn selected(pairs: &[(&'static str, &str)], base: Option<&str>) -> Option<String> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        requested_tenant(&headers, base).map(|selector| match selector {
            TenantSelector::Id(id) => format!("id:{id}"),
            TenantSelector::Slug(slug) => format!("slug:{slug}"),
            TenantSelector::Host(host) => format!("host:{host}"),
        })
    }

    fn client_ip(peer: &str, forwarded: &str, trusted: &[&str]) -> Option<String> {
        let mut request = Request::new(axum::body::Body::empty());
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().expect("an IP"), 4000)));
        request.headers_mut().insert(
            "x-forwarded-for",
            HeaderValue::from_str(forwarded).expect("header value"),
        );
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|net| net.parse().expect("a network")).collect();
        client_of(&request, &trusted).ip
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies_and_networks() {
        // A proxy inside a trusted network: the right-most entry outside the networks.
        assert_eq!(
            client_ip("10.42.3.4", "198.51.100.7, 10.42.9.9", &["10.42.0.0/16"]),
            Some("198.51.100.7".into())
        );
        // A single trusted address (a /32) still works.
        assert_eq!(
            client_ip("10.0.0.10", "203.0.113.5", &["10.0.0.10/32"]),
            Some("203.0.113.5".into())
        );
        // A peer outside every trusted network is the client, whatever it forwards.
        assert_eq!(
            client_ip("10.43.0.1", "198.51.100.7", &["10.42.0.0/16"]),
            Some("10.43.0.1".into())
        );
    }

    #[test]
    fn the_tenant_comes_from_headers_first_then_from_the_subdomain() {
        let base = Some("example.com");
        assert_eq!(
            selected(&[("host", "acme.example.com")], base),
            Some("slug:acme".into())
        );
        assert_eq!(
            selected(&[("host", "ACME.example.com:8443")], base),
            Some("slug:acme".into())
        );
        assert_eq!(
            selected(&[("host", "example.com")], base),
            None,
            "the bare domain names no tenant"
        );
        assert_eq!(selected(&[("host", "a.b.example.com")], base), None, "one label only");
        assert_eq!(selected(&[("host", "www.example.com")], base), None, "reserved labels");
        assert_eq!(selected(&[("host", "api.example.com")], base), None, "reserved labels");
        assert_eq!(
            selected(&[("host", "acme.evil.com")], base),
            Some("host:acme.evil.com".into()),
            "another host may be a custom domain"
        );
        assert_eq!(
            selected(&[("host", "acmeexample.com:443")], base),
            Some("host:acmeexample.com".into())
        );
        assert_eq!(
            selected(&[("host", "acme.example.com")], None),
            Some("host:acme.example.com".into()),
            "no base domain, no subdomains"
        );
        assert_eq!(selected(&[], base), None);
        // An address or a reserved name is never a custom domain: such a request names no
        // tenant (and so may spend its rate-limit buckets with its access lookup).
        for host in [
            "127.0.0.1:8080",
            "10.1.2.3",
            "[::1]:8080",
            "localhost:3000",
            "tessera.internal",
        ] {
            assert_eq!(selected(&[("host", host)], None), None, "{host}");
            assert_eq!(selected(&[("host", host)], base), None, "{host}");
        }
        assert_eq!(
            selected(&[("host", "acme.example.com"), ("x-tenant-slug", "globex")], base),
            Some("slug:globex".into()),
            "a header wins over the subdomain"
        );
        assert_eq!(
            selected(&[("x-tenant-id", "42"), ("x-tenant-slug", "globex")], base),
            Some("id:42".into())
        );
    }

    #[test]
    fn a_key_comes_from_x_api_key_or_a_bearer_token_that_looks_like_one() {
        let with = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(value).expect("header"));
            headers
        };
        assert!(matches!(credential(&HeaderMap::new()), Ok(None)));
        assert!(matches!(
            credential(&with("x-api-key", " tsk_abc ")),
            Ok(Some(Credential::ApiKey("tsk_abc")))
        ));
        assert!(matches!(
            credential(&with("authorization", "Bearer tsk_abc")),
            Ok(Some(Credential::ApiKey("tsk_abc")))
        ));
        assert!(matches!(
            credential(&with("authorization", "bearer eyJ.x.y")),
            Ok(Some(Credential::AccessToken("eyJ.x.y")))
        ));
        assert!(credential(&with("authorization", "Basic dXNlcg==")).is_err());
        assert!(credential(&with("x-api-key", "  ")).is_err());
    }
}
