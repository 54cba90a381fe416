//! Sends webhook deliveries over HTTP, signed with HMAC-SHA256 as the Standard Webhooks
//! specification says, so a receiver can verify them with any of its libraries.
//!
//! Each request carries `webhook-id` (the event's id: the key to deduplicate on, the
//! same for every attempt, since delivery is at least once), `webhook-timestamp` (unix
//! seconds) and `webhook-signature: v1,<base64>`, where the base64 is
//! `HMAC-SHA256(key, "<id>.<timestamp>.<body>")` and the key is what the endpoint's
//! `whsec_<base64>` secret encodes; after a secret rotation a second `v1,` signature
//! (space-separated) signs with the previous secret until it expires. A receiver
//! recomputes the HMAC over the raw body, compares in constant time with any `v1`, and
//! rejects a timestamp outside its tolerance (five minutes is usual) to refuse replays.
//!
//! For receivers written against earlier releases, `Tessera-Signature: t=<unix
//! seconds>,v1=<hex>` (`HMAC-SHA256(secret, "<t>.<body>")`, the secret's text as the
//! key) is sent too unless `WEBHOOK_TESSERA_SIGNATURE` is off, with `Tessera-Event-Id`,
//! `Tessera-Event-Type` and `Tessera-Delivery-Id`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera_application::ports::{OutgoingWebhook, WebhookOutcome, WebhookSender};

use crate::domains::PublicAddressesOnly;

const SIGNATURE_HEADER: &str = "Tessera-Signature";

/// The key a `whsec_` secret stands for: the bytes its base64 encodes. Secrets issued
/// in standard base64 (every one since Standard Webhooks signing) and the URL-safe ones
/// issued before decode alike; text that is neither is its own key.
fn standard_key(secret: &str) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// `webhook-signature`: `v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`
/// for every secret given, space-separated.
fn standard_signatures(secrets: &[String], id: &str, timestamp: i64, body: &str) -> String {
    use base64::Engine as _;
    secrets
        .iter()
        .map(|secret| {
            let mac = hmac(&standard_key(secret), &[id, &timestamp.to_string(), body]);
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// HMAC-SHA256 under `key` of `parts` joined by dots.
fn hmac(key: &[u8], parts: &[&str]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            mac.update(b".");
        }
        mac.update(part.as_bytes());
    }
    mac
}

/// The earlier scheme's HMAC: the secret's text as the key, over `"<timestamp>.<body>"`.
fn mac(secret: &str, timestamp: i64, body: &str) -> Hmac<Sha256> {
    hmac(secret.as_bytes(), &[&timestamp.to_string(), body])
}

/// `HMAC-SHA256(secret, "<timestamp>.<body>")` as lowercase hex.
fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    format!("{:x}", mac(secret, timestamp, body).finalize().into_bytes())
}

/// What a receiver does: true when `header` holds a `v1` signature of `body` by
/// `secret` and its timestamp is within `tolerance_seconds` of `now`.
pub fn verify_signature(secret: &str, header: &str, body: &str, now: i64, tolerance_seconds: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(decode_hex(value)),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp.filter(|t| (now - t).abs() <= tolerance_seconds) else {
        return false;
    };
    // `verify_slice` compares in constant time.
    signatures
        .iter()
        .any(|candidate| mac(secret, timestamp, body).verify_slice(candidate).is_ok())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The header value for a delivery signed at `timestamp` by every secret given.
fn signature_header(secrets: &[String], timestamp: i64, body: &str) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&signature(secret, timestamp, body));
    }
    header
}

pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
    local: bool,
    /// Also send the `Tessera-*` headers of earlier releases.
    tessera_signature: bool,
}

impl HttpWebhookSender {
    /// `allow_local_addresses` (development only) lets deliveries reach loopback and
    /// private addresses; otherwise names resolve to public addresses only, checked at
    /// every delivery (a name that later points inside the network is refused).
    /// `https` receivers are verified against the built-in roots (Mozilla's, carried
    /// in the binary) plus the CA certificates in `extra_roots_pem`, if given.
    /// With `tessera_signature`, the `Tessera-Signature` header of earlier releases goes
    /// with the Standard Webhooks ones.
    pub fn new(
        timeout: Duration,
        allow_local_addresses: bool,
        extra_roots_pem: Option<&[u8]>,
        tessera_signature: bool,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the public-address check.
            .no_proxy()
            .user_agent(concat!("tessera-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_local_addresses {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        if let Some(pem) = extra_roots_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the webhook CA file is not PEM certificates: {e}"))?;
            if roots.is_empty() {
                return Err("the webhook CA file holds no certificate".into());
            }
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        Ok(Self {
            client: builder.build().map_err(|e| format!("no HTTP client: {e}"))?,
            timeout,
            local: allow_local_addresses,
            tessera_signature,
        })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    /// Sends one delivery, counted in `tessera_webhook_deliveries_total` by outcome and
    /// timed in `tessera_webhook_delivery_duration_seconds`.
    async fn send(&self, webhook: &OutgoingWebhook) -> WebhookOutcome {
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            "webhook.delivery",
            otel.name = "POST webhook",
            otel.kind = "client",
            webhook.event_type = %webhook.event_type,
            webhook.event_id = %webhook.event_id,
            http.response.status_code = tracing::field::Empty,
        );
        let outcome = tracing::Instrument::instrument(self.post(webhook), span.clone()).await;
        if let Some(status) = outcome.status {
            span.record("http.response.status_code", status);
        }
        let label = match outcome.status {
            Some(status) if (200..300).contains(&status) => "delivered",
            Some(_) => "refused_by_endpoint",
            None => "unreachable",
        };
        metrics::counter!("tessera_webhook_deliveries_total", "outcome" => label).increment(1);
        metrics::histogram!("tessera_webhook_delivery_duration_seconds").record(started.elapsed().as_secs_f64());
        outcome
    }
}

impl HttpWebhookSender {
    async fn post(&self, webhook: &OutgoingWebhook) -> WebhookOutcome {
        // The rules the URL met when it was saved, checked again (literal addresses
        // never reach the resolver's public-address check).
        if let Err(reason) = tessera_domain::WebhookUrl::parse(&webhook.url, self.local) {
            return WebhookOutcome {
                status: None,
                error: Some(format!("the URL is refused: it {reason}")),
            };
        }
        let timestamp = webhook.sent_at.timestamp();
        let id = webhook.event_id.to_string();
        let mut request = self
            .client
            .post(&webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                standard_signatures(&webhook.secrets, &id, timestamp, &webhook.body),
            );
        // The receiver may continue the delivery's trace (W3C trace context).
        for (name, value) in crate::telemetry::trace_headers() {
            request = request.header(name, value);
        }
        if self.tessera_signature {
            request = request
                .header(
                    SIGNATURE_HEADER,
                    signature_header(&webhook.secrets, timestamp, &webhook.body),
                )
                .header("Tessera-Event-Id", &id)
                .header("Tessera-Event-Type", webhook.event_type.as_str())
                .header("Tessera-Delivery-Id", webhook.delivery_id.to_string());
        }
        let sent = request.body(webhook.body.clone()).send().await;
        match sent {
            Ok(response) => {
                // Only the status counts; the body is never read (a receiver could send
                // any amount of it).
                let status = response.status().as_u16();
                WebhookOutcome {
                    status: Some(status),
                    error: (!(200..300).contains(&status)).then(|| format!("the endpoint answered HTTP {status}")),
                }
            }
            Err(error) => WebhookOutcome {
                status: None,
                error: Some(if error.is_timeout() {
                    format!("no answer within {} s", self.timeout.as_secs_f32())
                } else if error.is_connect() {
                    "could not connect to the endpoint".to_owned()
                } else {
                    "the request failed".to_owned()
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_change_or_an_old_timestamp_does_not() {
        let body = r#"{"type":"workspace.renamed"}"#;
        let header = signature_header(&["whsec_new".into(), "whsec_old".into()], 1_700_000_000, body);
        assert!(verify_signature("whsec_new", &header, body, 1_700_000_100, 300));
        assert!(
            verify_signature("whsec_old", &header, body, 1_700_000_100, 300),
            "rotation overlap"
        );
        assert!(!verify_signature("whsec_other", &header, body, 1_700_000_100, 300));
        assert!(
            !verify_signature("whsec_new", &header, "{}", 1_700_000_100, 300),
            "body changed"
        );
        assert!(
            !verify_signature("whsec_new", &header, body, 1_700_001_000, 300),
            "replayed late"
        );
        assert!(
            !verify_signature("whsec_new", "v1=00", body, 1_700_000_000, 300),
            "no timestamp"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Worked out apart from this code (any HMAC-SHA256 tool) over "0.what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", 0, "what do ya want for nothing?"),
            "37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn the_standard_signature_is_hmac_sha256_of_id_dot_timestamp_dot_body_under_the_decoded_key() {
        // Worked out apart from this code (Python's hmac and base64) for a key given in
        // standard base64, as the Standard Webhooks specification writes secrets.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        assert_eq!(
            standard_signatures(
                std::slice::from_ref(&secret),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // Two secrets (a rotation's overlap): two signatures, space-separated.
        let both = standard_signatures(&[secret.clone(), "whsec_AAAA".into()], "m", 1, "{}");
        assert_eq!(both.split(' ').count(), 2, "{both}");
        // A secret issued before (URL-safe base64 without padding) is decoded the same way.
        assert_eq!(standard_key("whsec_-_8"), vec![0xfb, 0xff]);
    }

    #[tokio::test]
    async fn outside_development_local_addresses_are_refused_without_a_request() {
        let sender = HttpWebhookSender::new(Duration::from_secs(1), false, None, true).expect("a client");
        for url in [
            "https://127.0.0.1:1/in",
            "https://[::ffff:10.0.0.1]/in",
            "http://hooks.example.com/in",
        ] {
            let outcome = sender
                .send(&OutgoingWebhook {
                    url: url.into(),
                    delivery_id: tessera_domain::WebhookDeliveryId::from_uuid(uuid::Uuid::nil()),
                    event_id: uuid::Uuid::nil(),
                    event_type: "workspace.created".into(),
                    body: "{}".into(),
                    secrets: vec!["whsec_x".into()],
                    sent_at: chrono::Utc::now(),
                })
                .await;
            assert_eq!(outcome.status, None, "{url}");
            assert!(
                outcome
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("the URL is refused")),
                "{url}: {outcome:?}"
            );
        }
    }
}
