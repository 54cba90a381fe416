//! Proof of control of a custom domain over HTTP: the domain must answer
//! `GET http://<domain>/.well-known/tessera-domain-verification` with the tenant's token
//! (like an ACME HTTP challenge). Redirects are not followed, the body is read up to
//! 1 KiB and the whole exchange has a timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tessera_application::ports::DomainVerifier;
use tessera_domain::{CustomDomain, DomainName};

const MAX_BODY: usize = 1024;

#[derive(Debug, Clone)]
pub struct HttpDomainVerifier {
    timeout: Duration,
    port: u16,
    /// Tests only: every domain resolves to this address.
    resolve_to: Option<IpAddr>,
}

impl HttpDomainVerifier {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            port: 80,
            resolve_to: None,
        }
    }

    /// For tests: ask `addr` whatever the domain, on its port.
    pub fn resolving_every_domain_to(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            timeout,
            port: addr.port(),
            resolve_to: Some(addr.ip()),
        }
    }
}

#[async_trait]
impl DomainVerifier for HttpDomainVerifier {
    async fn verify(&self, domain: &DomainName, token: &str) -> Result<(), String> {
        let mut client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the public-address check.
            .no_proxy()
            .user_agent("tessera-domain-verification");
        match self.resolve_to {
            Some(ip) => client = client.resolve(domain.as_str(), SocketAddr::new(ip, self.port)),
            // Never let a tenant make the server fetch from its own network.
            None => client = client.dns_resolver(Arc::new(PublicAddressesOnly)),
        }
        let client = client.build().map_err(|e| format!("no HTTP client: {e}"))?;
        let url = format!("http://{domain}:{}{}", self.port, CustomDomain::VERIFICATION_PATH);
        let mut response = client.get(&url).send().await.map_err(|e| {
            if e.is_timeout() {
                "the domain did not answer in time".to_owned()
            } else {
                "the domain could not be reached".to_owned()
            }
        })?;
        if !response.status().is_success() {
            return Err(format!(
                "{} answered HTTP {} (expected 200 with the token)",
                CustomDomain::VERIFICATION_PATH,
                response.status().as_u16()
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| "the answer broke off".to_owned())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err("the answer is longer than a token".into());
            }
        }
        let served = String::from_utf8_lossy(&body);
        // The token is public by design (anyone may fetch it), so a plain comparison is fine.
        if served.trim() == token {
            Ok(())
        } else {
            Err(format!(
                "{} does not serve this tenant's token",
                CustomDomain::VERIFICATION_PATH
            ))
        }
    }
}

/// Resolves names to their public addresses only: loopback, private, link-local,
/// shared, documentation and multicast addresses are dropped.
pub(crate) struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| tessera_domain::is_public_ip(address.ip()))
                .collect();
            if addresses.is_empty() {
                return Err("the domain has no public address".into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers every connection with this status and body; hands back the request lines.
    async fn serve(status: &'static str, body: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("a client connects");
            let mut request = vec![0u8; 2048];
            let read = socket.read(&mut request).await.expect("reads");
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.expect("writes");
            String::from_utf8_lossy(&request[..read]).into_owned()
        });
        (addr, handle)
    }

    fn domain() -> DomainName {
        DomainName::parse("app.acme.com").expect("valid")
    }

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                !tessera_domain::is_public_ip(private.parse().expect("an address")),
                "{private}"
            );
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(
                tessera_domain::is_public_ip(public.parse().expect("an address")),
                "{public}"
            );
        }
    }

    #[tokio::test]
    async fn the_served_token_proves_control() {
        let (addr, request) = serve("200 OK", "tdv_token\n").await;
        let verifier = HttpDomainVerifier::resolving_every_domain_to(addr, Duration::from_secs(5));
        assert_eq!(verifier.verify(&domain(), "tdv_token").await, Ok(()));
        let request = request.await.expect("served");
        assert!(
            request.starts_with("GET /.well-known/tessera-domain-verification HTTP/1.1"),
            "{request}"
        );
        assert!(request.to_ascii_lowercase().contains("host: app.acme.com"), "{request}");
    }

    #[tokio::test]
    async fn another_token_a_missing_file_or_no_server_is_refused() {
        let (addr, _) = serve("200 OK", "tdv_other").await;
        let verifier = HttpDomainVerifier::resolving_every_domain_to(addr, Duration::from_secs(5));
        let refused = verifier.verify(&domain(), "tdv_token").await.expect_err("refused");
        assert!(refused.contains("does not serve"), "{refused}");

        let (addr, _) = serve("404 Not Found", "").await;
        let verifier = HttpDomainVerifier::resolving_every_domain_to(addr, Duration::from_secs(5));
        let refused = verifier.verify(&domain(), "tdv_token").await.expect_err("refused");
        assert!(refused.contains("HTTP 404"), "{refused}");

        let (addr, _) = serve("302 Found", "").await;
        let verifier = HttpDomainVerifier::resolving_every_domain_to(addr, Duration::from_secs(5));
        assert!(
            verifier.verify(&domain(), "tdv_token").await.is_err(),
            "redirects are not followed"
        );

        let closed = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = closed.local_addr().expect("has an address");
        drop(closed);
        let verifier = HttpDomainVerifier::resolving_every_domain_to(addr, Duration::from_secs(5));
        let refused = verifier.verify(&domain(), "tdv_token").await.expect_err("refused");
        assert!(refused.contains("could not be reached"), "{refused}");
    }
}
