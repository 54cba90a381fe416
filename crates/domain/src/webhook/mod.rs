//! Webhooks: a tenant's endpoints, the events each one wants, and the deliveries of
//! those events with their retry schedule.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use crate::events::{ALL_EVENT_TYPES, is_domain_event_type};
use crate::{InvalidValue, TenantId};

pub use crate::ids::{WebhookDeliveryId, WebhookEndpointId};

/// Whether an address belongs to the public internet: loopback, private, link-local,
/// shared, documentation and multicast addresses do not, nor do IPv6 addresses that
/// carry an IPv4 address inside them and can be routed to it by a translator (NAT64
/// `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`, the old
/// IPv4-compatible `::/96`): one of those may lead to `127.0.0.1` or `10.0.0.1`.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let first = segments[0];
            let embeds_ipv4 = (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0])
                || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 0x0001)
                || first == 0x2002
                || (first == 0x2001 && segments[1] == 0)
                || segments[..6] == [0; 6];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || embeds_ipv4
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && segments[1] == 0x0db8)
        }
    }
}

/// Where deliveries go. Outside development it must be `https` and must not name a
/// loopback or private address (`localhost`, `10.0.0.1`, …); names are checked again
/// against their resolved addresses at every delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const MAX_LEN: usize = 2048;

    /// `development` allows `http` and local addresses (a receiver on the laptop).
    pub fn parse(raw: &str, development: bool) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidValue("must not be empty".into()));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidValue(format!("must be at most {} characters", Self::MAX_LEN)));
        }
        let url = url::Url::parse(raw).map_err(|_| InvalidValue("must be an absolute URL".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if development => {}
            "http" => return Err(InvalidValue("must use https".into())),
            _ => return Err(InvalidValue("must be an https URL".into())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidValue("must not carry a user name or password".into()));
        }
        if url.fragment().is_some() {
            return Err(InvalidValue("must not have a #fragment".into()));
        }
        let local = match url.host() {
            None => return Err(InvalidValue("must name a host".into())),
            Some(url::Host::Ipv4(ip)) => !is_public_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_public_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                name == "localhost" || name.ends_with(".localhost") || !name.contains('.')
            }
        };
        if local && !development {
            return Err(InvalidValue(
                "must not point at a loopback, private or single-label host".into(),
            ));
        }
        Ok(Self(url.to_string()))
    }

    /// A stored URL, validated when it was saved.
    pub fn from_stored(url: String) -> Self {
        Self(url)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The event types an endpoint receives: catalogued types, or `*` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSelection(Vec<String>);

impl EventSelection {
    pub const MAX_TYPES: usize = 64;

    pub fn parse<S: AsRef<str>>(types: &[S]) -> Result<Self, InvalidValue> {
        if types.is_empty() {
            return Err(InvalidValue("name at least one event type (or \"*\" for all)".into()));
        }
        if types.len() > Self::MAX_TYPES {
            return Err(InvalidValue(format!("at most {} event types", Self::MAX_TYPES)));
        }
        let mut selected = Vec::with_capacity(types.len());
        for raw in types {
            let raw = raw.as_ref().trim();
            if raw != ALL_EVENT_TYPES && !is_domain_event_type(raw) {
                return Err(InvalidValue(format!("`{raw}` is not an event type")));
            }
            selected.push(raw.to_owned());
        }
        selected.sort_unstable();
        selected.dedup();
        if selected.iter().any(|t| t == ALL_EVENT_TYPES) {
            selected = vec![ALL_EVENT_TYPES.to_owned()];
        }
        Ok(Self(selected))
    }

    pub fn from_stored(types: Vec<String>) -> Self {
        Self(types)
    }

    pub fn includes(&self, event_type: &str) -> bool {
        self.0.iter().any(|t| t == ALL_EVENT_TYPES || t == event_type)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub tenant_id: TenantId,
    pub url: WebhookUrl,
    pub description: String,
    pub events: EventSelection,
    pub enabled: bool,
    /// Why Tessera turned it off (after failing deliveries), until someone turns it on.
    pub disabled_reason: Option<String>,
    /// Deliveries that gave up in a row; a success resets it.
    pub failed_deliveries_in_a_row: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    pub const MAX_DESCRIPTION: usize = 500;

    pub fn check_description(raw: &str) -> Result<String, InvalidValue> {
        let description = raw.trim();
        if description.chars().count() > Self::MAX_DESCRIPTION {
            return Err(InvalidValue(format!(
                "must be at most {} characters",
                Self::MAX_DESCRIPTION
            )));
        }
        Ok(description.to_owned())
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.events.includes(event_type)
    }

    /// On again (by a person): the reason it was turned off goes, and so does the count
    /// of deliveries that failed in a row.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.disabled_reason = None;
        self.failed_deliveries_in_a_row = 0;
    }

    /// Off, by a person (no reason recorded).
    pub fn turn_off(&mut self) {
        self.enabled = false;
    }

    /// Changes what a person may edit: where deliveries go, which events, and the
    /// description. `None` keeps a field.
    pub fn edit(&mut self, url: Option<WebhookUrl>, events: Option<EventSelection>, description: Option<String>) {
        if let Some(url) = url {
            self.url = url;
        }
        if let Some(events) = events {
            self.events = events;
        }
        if let Some(description) = description {
            self.description = description;
        }
    }

    /// Off (deliveries kept failing), saying why.
    pub fn disable(&mut self, reason: String, now: DateTime<Utc>) {
        self.enabled = false;
        self.disabled_reason = Some(reason);
        self.updated_at = now;
    }
}

/// Where a delivery stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Succeeded,
    /// Failed; tried again at `next_attempt_at`.
    Retrying,
    /// Failed, and out of attempts or time: the delivery failed for good.
    GaveUp,
}

/// A signing secret and, for a while after a rotation, the one it replaced (both sign
/// each delivery until the old one expires, so receivers can switch without loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    pub current: String,
    pub previous: Option<(String, DateTime<Utc>)>,
}

impl SigningSecrets {
    /// The secrets that sign a delivery made at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.current.as_str()];
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            secrets.push(previous.as_str());
        }
        secrets
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookEndpointId,
    /// The domain event delivered (receivers deduplicate on it).
    pub event_id: uuid::Uuid,
    pub event_type: String,
    /// The JSON body sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub response_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl WebhookDelivery {
    /// A delivery of an event to an endpoint, due at once.
    pub fn new(
        id: WebhookDeliveryId,
        endpoint: &WebhookEndpoint,
        event_id: uuid::Uuid,
        event_type: &str,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant_id: endpoint.tenant_id,
            endpoint_id: endpoint.id,
            event_id,
            event_type: event_type.to_owned(),
            payload: payload.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_attempt_at: None,
            response_status: None,
            last_error: None,
            created_at: now,
            completed_at: None,
        }
    }
}

impl WebhookDelivery {
    /// Ends the delivery without an attempt (its endpoint is off).
    pub fn abandon(&mut self, reason: &str, now: DateTime<Utc>) {
        self.status = DeliveryStatus::Failed;
        self.last_error = Some(reason.to_owned());
        self.completed_at = Some(now);
    }

    /// Records an attempt's answer (`error` is `None` for a success) and, for a
    /// failure, when to try again under `policy`, or that it is given up.
    pub fn record_attempt(
        &mut self,
        response_status: Option<u16>,
        error: Option<String>,
        policy: &RetryPolicy,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> AttemptEnd {
        self.attempts = self.attempts.saturating_add(1);
        self.last_attempt_at = Some(now);
        self.response_status = response_status;
        self.last_error = error;
        if self.last_error.is_none() {
            self.status = DeliveryStatus::Succeeded;
            self.completed_at = Some(now);
            return AttemptEnd::Succeeded;
        }
        match policy.next_attempt(self.attempts, self.created_at, now, jitter) {
            Some(at) => {
                self.next_attempt_at = at;
                AttemptEnd::Retrying
            }
            None => {
                self.status = DeliveryStatus::Failed;
                self.completed_at = Some(now);
                AttemptEnd::GaveUp
            }
        }
    }
}

/// How failed deliveries are retried: exponential backoff from `base`, capped at
/// `max_delay`, with up to half of each delay taken off at random (jitter), for at most
/// `max_attempts` attempts and never later than `max_age` after the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_delay: Duration,
    pub max_attempts: u32,
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::seconds(30),
            max_delay: Duration::hours(6),
            max_attempts: 12,
            max_age: Duration::days(3),
        }
    }
}

impl RetryPolicy {
    /// When to try again after `attempts` failed attempts, or `None` to give up.
    /// `jitter` is a random number in `[0, 1)`.
    pub fn next_attempt(
        &self,
        attempts: u32,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exponent = attempts.saturating_sub(1).min(30);
        let full = self
            .base
            .checked_mul(1i32 << exponent)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let jitter = jitter.clamp(0.0, 1.0);
        let delay_ms = full.num_milliseconds() as f64 * (1.0 - jitter / 2.0);
        let at = now + Duration::milliseconds(delay_ms.max(1.0) as i64);
        created_at
            .checked_add_signed(self.max_age)
            .is_none_or(|limit| at <= limit)
            .then_some(at)
    }
}

#[cfg(test)]
mod tests;
