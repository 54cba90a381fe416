//! What a tenant may use now: its plan with the live overrides applied, the bounds it
//! puts on every request, and why it refuses a creation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{Allowance, Feature, Limit, OverrideTarget, Plan, PlanOverride};

/// A tenant's plan with its live overrides applied: what it may use now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    pub plan: Plan,
    limits: BTreeMap<Limit, Allowance>,
    features: BTreeSet<Feature>,
    /// When the first of the applied overrides runs out (what they grant holds until then).
    valid_until: Option<DateTime<Utc>>,
}

impl Entitlements {
    pub fn resolve(plan: &Plan, overrides: &[PlanOverride], now: DateTime<Utc>) -> Self {
        let mut limits = plan.limits.clone();
        let mut features = plan.features.clone();
        let mut valid_until: Option<DateTime<Utc>> = None;
        for live in overrides.iter().filter(|o| o.is_live(now)) {
            if let Some(expiry) = live.expires_at {
                valid_until = Some(valid_until.map_or(expiry, |until| until.min(expiry)));
            }
            match live.target {
                OverrideTarget::Limit(limit, allowance) => {
                    limits.insert(limit, allowance);
                }
                OverrideTarget::Feature(feature, true) => {
                    features.insert(feature);
                }
                OverrideTarget::Feature(feature, false) => {
                    features.remove(&feature);
                }
            }
        }
        Self {
            plan: plan.clone(),
            limits,
            features,
            valid_until,
        }
    }

    pub fn allowance(&self, limit: Limit) -> Allowance {
        self.limits.get(&limit).copied().unwrap_or(Allowance::AtMost(0))
    }

    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    pub fn features(&self) -> impl Iterator<Item = Feature> + '_ {
        self.features.iter().copied()
    }

    /// Whether the tenant, holding `used`, may create one more of `quota`'s things:
    /// `Err` names what stops it.
    pub fn admit_one_more(&self, quota: Limit, used: u64) -> Result<(), Refusal> {
        if let Some(feature) = quota.feature().filter(|feature| !self.has(*feature)) {
            return Err(Refusal::FeatureNotInPlan(feature));
        }
        let allowance = self.allowance(quota);
        if allowance.admits_one_more(used) {
            Ok(())
        } else {
            Err(Refusal::QuotaExceeded {
                quota,
                limit: allowance.as_number().unwrap_or(u64::MAX),
                used,
            })
        }
    }
}

/// What a plan bounds on every request, resolved with the tenant's overrides: carried
/// with the caller's cached access, so a request needs no catalogue lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub requests_per_minute: Allowance,
    pub max_query_complexity: Allowance,
    pub max_query_depth: Allowance,
    /// Requests that may run in a calendar month (UTC), counted by the meter.
    pub api_calls_per_month: Allowance,
    /// The tenant's API keys may only run trusted documents.
    pub trusted_documents_required: bool,
    /// The tenant's workspace quota, so that a creation need not read the tenant's plan
    /// (`None`: not known with these limits).
    pub workspaces: Option<Allowance>,
    /// When the first override behind these limits runs out: from then on they may be
    /// stale, and a quota is read from the tenant again.
    pub valid_until: Option<DateTime<Utc>>,
}

impl RequestLimits {
    /// No bound at all (a context built before its tenant is known).
    pub const UNBOUNDED: RequestLimits = RequestLimits {
        requests_per_minute: Allowance::Unlimited,
        max_query_complexity: Allowance::Unlimited,
        max_query_depth: Allowance::Unlimited,
        api_calls_per_month: Allowance::Unlimited,
        trusted_documents_required: false,
        workspaces: None,
        valid_until: None,
    };

    /// The workspace quota these limits vouch for at `now`: `None` when they do not
    /// know it or an override they reflect has run out since.
    pub fn workspaces_at(&self, now: DateTime<Utc>) -> Option<Allowance> {
        self.workspaces
            .filter(|_| self.valid_until.is_none_or(|until| now < until))
    }
}

impl Entitlements {
    pub fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            requests_per_minute: self.allowance(Limit::RequestsPerMinute),
            max_query_complexity: self.allowance(Limit::MaxQueryComplexity),
            max_query_depth: self.allowance(Limit::MaxQueryDepth),
            api_calls_per_month: self.allowance(Limit::ApiCallsPerMonth),
            trusted_documents_required: self.plan.trusted_documents_required,
            workspaces: Some(self.allowance(Limit::Workspaces)),
            valid_until: self.valid_until,
        }
    }
}

/// Why the plan refuses a creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    FeatureNotInPlan(Feature),
    QuotaExceeded { quota: Limit, limit: u64, used: u64 },
}
