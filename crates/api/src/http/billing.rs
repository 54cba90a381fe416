//! `POST /billing/stripe`: the billing provider's signed events, in Stripe's format.
//! The `Stripe-Signature` header carries `t=<unix time>` and one or more
//! `v1=<hex HMAC-SHA256 of "<t>.<body>">`; an event is taken only when one of them
//! matches the configured secret and `t` is within the tolerance, so a captured event
//! cannot be replayed later. The same event id twice changes nothing.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tessera_application::AppError;
use tessera_application::billing::{BillingChange, BillingEvent};
use tessera_domain::TenantId;

use crate::AppState;

/// Where the provider's events are checked.
#[derive(Clone, Default)]
pub struct BillingWebhook {
    /// The endpoint's signing secret (`whsec_…`); the endpoint answers 404 without it.
    pub secret: Option<String>,
    /// How far a signature's time may be from now.
    pub tolerance: Duration,
}

impl std::fmt::Debug for BillingWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingWebhook")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// Why an event was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    MissingSignature,
    MalformedSignature,
    StaleTimestamp,
    BadSignature,
    BadEvent(String),
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Self::MissingSignature => "no Stripe-Signature header".into(),
            Self::MalformedSignature => "the Stripe-Signature header has no `t=` and `v1=` parts".into(),
            Self::StaleTimestamp => "the signature's timestamp is outside the tolerance".into(),
            Self::BadSignature => "no signature matches the body".into(),
            Self::BadEvent(why) => format!("not an event Tessera can read: {why}"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `header` against `body`: the time within `tolerance` of `now` and one `v1`
/// signature equal (in constant time) to the HMAC of `"<t>.<body>"` under `secret`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: DateTime<Utc>, tolerance: Duration) -> Result<(), Refusal> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let (Some(timestamp), false) = (timestamp, signatures.is_empty()) else {
        return Err(Refusal::MalformedSignature);
    };
    let age = now.timestamp().abs_diff(timestamp);
    if age > tolerance.as_secs() {
        return Err(Refusal::StaleTimestamp);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::BadSignature)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = hex(&mac.finalize().into_bytes());
    let matches = signatures
        .iter()
        .any(|candidate| bool::from(candidate.as_bytes().ct_eq(expected.as_bytes())));
    if matches { Ok(()) } else { Err(Refusal::BadSignature) }
}

/// The tenant an event is about: the subscription's (or the invoice's subscription's)
/// `metadata.tenant_id`, set when the subscription was created.
fn tenant_of(object: &Value) -> Option<TenantId> {
    [
        &object["metadata"]["tenant_id"],
        &object["subscription_details"]["metadata"]["tenant_id"],
        &object["parent"]["subscription_details"]["metadata"]["tenant_id"],
    ]
    .into_iter()
    .find_map(|value| value.as_str().and_then(|raw| TenantId::parse(raw).ok()))
}

/// Reads a provider event; `Ok(None)` for an event about no tenant that Tessera does
/// not act on anyway.
pub fn parse_event(body: &[u8]) -> Result<Option<BillingEvent>, Refusal> {
    let event: Value = serde_json::from_slice(body).map_err(|e| Refusal::BadEvent(e.to_string()))?;
    let text = |value: &Value, what: &str| {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Refusal::BadEvent(format!("no `{what}`")))
    };
    let id = text(&event["id"], "id")?;
    let event_type = text(&event["type"], "type")?;
    let occurred_at = event["created"]
        .as_i64()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| Refusal::BadEvent("no `created`".into()))?;
    let object = &event["data"]["object"];
    let change = match event_type.as_str() {
        "customer.subscription.created" | "customer.subscription.updated" => BillingChange::Subscription {
            price_id: text(
                &object["items"]["data"][0]["price"]["id"],
                "data.object.items.data[0].price.id",
            )?,
            status: text(&object["status"], "data.object.status")?,
        },
        "customer.subscription.deleted" => BillingChange::SubscriptionEnded,
        "invoice.payment_failed" => BillingChange::PaymentFailed,
        "invoice.paid" | "invoice.payment_succeeded" => BillingChange::PaymentSucceeded,
        _ => BillingChange::Other,
    };
    let Some(tenant_id) = tenant_of(object) else {
        return if change == BillingChange::Other {
            Ok(None)
        } else {
            Err(Refusal::BadEvent(
                "the event names no tenant (set metadata.tenant_id on the subscription)".into(),
            ))
        };
    };
    Ok(Some(BillingEvent {
        id,
        event_type,
        occurred_at,
        tenant_id,
        change,
    }))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub async fn stripe(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let webhook = &state.config.billing;
    let Some(secret) = &webhook.secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let checked = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .ok_or(Refusal::MissingSignature)
        .and_then(|header| verify(secret, header, &body, Utc::now(), webhook.tolerance))
        .and_then(|()| parse_event(&body));
    let event = match checked {
        Ok(Some(event)) => event,
        Ok(None) => return answer(StatusCode::OK, json!({ "received": true, "outcome": "ignored" })),
        Err(refusal) => {
            tracing::warn!(reason = ?refusal, "billing event refused");
            return answer(StatusCode::BAD_REQUEST, json!({ "error": refusal.message() }));
        }
    };
    match state.app.apply_billing_event(event).await {
        Ok(outcome) => answer(StatusCode::OK, json!({ "received": true, "outcome": outcome.as_str() })),
        Err(AppError::Validation(fields)) => {
            let message: Vec<String> = fields.iter().map(|(field, why)| format!("{field}: {why}")).collect();
            answer(StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": message.join("; ") }))
        }
        Err(AppError::NotFound(_)) => answer(StatusCode::NOT_FOUND, json!({ "error": "no such tenant" })),
        Err(error) => {
            tracing::error!(%error, "billing event failed");
            answer(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": "internal error" }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    fn signed(body: &str, at: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(format!("{at}.{body}").as_bytes());
        format!("t={at},v1={}", hex(&mac.finalize().into_bytes()))
    }

    #[test]
    fn a_signature_is_taken_only_when_fresh_and_matching() {
        let now = Utc::now();
        let body = r#"{"id":"evt_1"}"#;
        let window = Duration::from_secs(300);
        let header = signed(body, now.timestamp());
        assert_eq!(verify(SECRET, &header, body.as_bytes(), now, window), Ok(()));
        // A second, rotated secret's signature next to a bad one still counts.
        let both = format!(
            "t={},v1=00ff,{}",
            now.timestamp(),
            header.split_once(',').expect("v1").1
        );
        assert_eq!(verify(SECRET, &both, body.as_bytes(), now, window), Ok(()));
        assert_eq!(
            verify(SECRET, &header, br#"{"id":"evt_2"}"#, now, window),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify("whsec_other", &header, body.as_bytes(), now, window),
            Err(Refusal::BadSignature)
        );
        let old = signed(body, now.timestamp() - 301);
        assert_eq!(
            verify(SECRET, &old, body.as_bytes(), now, window),
            Err(Refusal::StaleTimestamp)
        );
        assert_eq!(
            verify(SECRET, "v1=abc", body.as_bytes(), now, window),
            Err(Refusal::MalformedSignature)
        );
    }

    #[test]
    fn events_name_their_tenant_and_what_changed() {
        let tenant = "01900000-0000-7000-8000-000000000001";
        let body = json!({
            "id": "evt_1", "type": "customer.subscription.updated", "created": 1_800_000_000,
            "data": { "object": { "status": "active", "metadata": { "tenant_id": tenant },
                      "items": { "data": [ { "price": { "id": "price_team" } } ] } } }
        });
        let event = parse_event(body.to_string().as_bytes())
            .expect("read")
            .expect("an event");
        assert_eq!(event.tenant_id.to_string(), tenant);
        assert_eq!(
            event.change,
            BillingChange::Subscription {
                price_id: "price_team".into(),
                status: "active".into()
            }
        );
        let invoice = json!({
            "id": "evt_2", "type": "invoice.payment_failed", "created": 1_800_000_000,
            "data": { "object": { "parent": { "subscription_details": { "metadata": { "tenant_id": tenant } } } } }
        });
        let event = parse_event(invoice.to_string().as_bytes())
            .expect("read")
            .expect("an event");
        assert_eq!(event.change, BillingChange::PaymentFailed);
        let nameless = json!({ "id": "evt_3", "type": "invoice.paid", "created": 1, "data": { "object": {} } });
        assert!(matches!(
            parse_event(nameless.to_string().as_bytes()),
            Err(Refusal::BadEvent(_))
        ));
        let unrelated = json!({ "id": "evt_4", "type": "charge.refunded", "created": 1, "data": { "object": {} } });
        assert_eq!(parse_event(unrelated.to_string().as_bytes()), Ok(None));
    }
}
