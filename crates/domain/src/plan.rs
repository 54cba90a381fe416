//! Plans: what a tenant may use. A catalogue (data, loaded at start) names each plan's
//! limits and features; a tenant is on one plan, and platform administrators may
//! grant or withhold one limit or feature for one tenant, until an expiry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};

/// Declares a closed set of names with their wire form.
macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable name, as written in the catalogue and shown to clients.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|candidate| candidate.as_str() == raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// A number a plan sets. The first six count things a tenant creates (quotas); the
    /// others bound how it may call the API.
    Limit {
        Seats => "seats",
        Workspaces => "workspaces",
        CustomRoles => "custom_roles",
        ApiKeys => "api_keys",
        WebhookEndpoints => "webhook_endpoints",
        CustomDomains => "custom_domains",
        RequestsPerMinute => "requests_per_minute",
        ApiCallsPerMonth => "api_calls_per_month",
        MaxQueryComplexity => "max_query_complexity",
        MaxQueryDepth => "max_query_depth",
    }
}

names! {
    /// A capability a plan includes or not.
    Feature {
        ApiKeys => "api_keys",
        Webhooks => "webhooks",
        CustomRoles => "custom_roles",
        CustomDomains => "custom_domains",
        AuditExport => "audit_export",
        Sso => "sso",
        Scim => "scim",
    }
}

impl Limit {
    /// The quotas: limits on how many of something the tenant holds.
    pub const QUOTAS: &'static [Limit] = &[
        Limit::Seats,
        Limit::Workspaces,
        Limit::CustomRoles,
        Limit::ApiKeys,
        Limit::WebhookEndpoints,
        Limit::CustomDomains,
    ];

    /// The feature without which the tenant may not create any of this quota's things.
    pub const fn feature(self) -> Option<Feature> {
        match self {
            Limit::CustomRoles => Some(Feature::CustomRoles),
            Limit::ApiKeys => Some(Feature::ApiKeys),
            Limit::WebhookEndpoints => Some(Feature::Webhooks),
            Limit::CustomDomains => Some(Feature::CustomDomains),
            _ => None,
        }
    }
}

/// How much of a limit a plan allows: a number, or no limit at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    AtMost(u64),
    Unlimited,
}

impl Allowance {
    /// Whether one more may be added to `used`.
    pub fn admits_one_more(self, used: u64) -> bool {
        match self {
            Allowance::AtMost(limit) => used < limit,
            Allowance::Unlimited => true,
        }
    }

    /// Whether `amount` is within the allowance (at most its number).
    pub fn allows(self, amount: u64) -> bool {
        match self {
            Allowance::AtMost(limit) => amount <= limit,
            Allowance::Unlimited => true,
        }
    }

    pub fn as_number(self) -> Option<u64> {
        match self {
            Allowance::AtMost(limit) => Some(limit),
            Allowance::Unlimited => None,
        }
    }
}

/// A plan's key: lower-case letters, digits, `-` and `_`, 1 to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanKey(String);

impl PlanKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "`{raw}` is not a plan key (1 to 32 lower-case letters, digits, `-` or `_`)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a plan costs, for a pricing page to show (Tessera takes no payments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// In the currency's smallest unit (cents).
    pub amount: u64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// `month` or `year`.
    pub interval: String,
}

/// One plan of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub key: PlanKey,
    pub name: String,
    pub price: Option<Price>,
    /// Every limit, stated (the catalogue refuses a plan that leaves one out).
    pub limits: BTreeMap<Limit, Allowance>,
    pub features: BTreeSet<Feature>,
    /// API keys of tenants on this plan may only run trusted documents.
    pub trusted_documents_required: bool,
}

impl Plan {
    pub fn allowance(&self, limit: Limit) -> Allowance {
        // Every limit is present (checked when the catalogue is built); a missing one
        // allows nothing rather than everything.
        self.limits.get(&limit).copied().unwrap_or(Allowance::AtMost(0))
    }
}

/// Why a catalogue was refused, naming the plan and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueError(pub String);

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CatalogueError {}

/// Every plan, in display order, and the one new tenants start on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanCatalogue {
    plans: Vec<Plan>,
    default: PlanKey,
}

impl PlanCatalogue {
    pub fn new(plans: Vec<Plan>, default: PlanKey) -> Result<Self, CatalogueError> {
        if plans.is_empty() {
            return Err(CatalogueError("the catalogue has no plans".into()));
        }
        let mut keys = BTreeSet::new();
        for plan in &plans {
            if !keys.insert(plan.key.clone()) {
                return Err(CatalogueError(format!("plan `{}` is defined twice", plan.key)));
            }
            if plan.name.trim().is_empty() {
                return Err(CatalogueError(format!("plan `{}` has no name", plan.key)));
            }
            if let Some(missing) = Limit::ALL.iter().find(|limit| !plan.limits.contains_key(limit)) {
                return Err(CatalogueError(format!(
                    "plan `{}` does not state its `{missing}` limit (a number, or \"unlimited\")",
                    plan.key
                )));
            }
            if let Some(price) = &plan.price {
                let currency_ok = price.currency.len() == 3 && price.currency.chars().all(|c| c.is_ascii_uppercase());
                if !currency_ok {
                    return Err(CatalogueError(format!(
                        "plan `{}`: currency `{}` is not an upper-case ISO 4217 code",
                        plan.key, price.currency
                    )));
                }
                if price.interval != "month" && price.interval != "year" {
                    return Err(CatalogueError(format!(
                        "plan `{}`: interval `{}` must be `month` or `year`",
                        plan.key, price.interval
                    )));
                }
            }
        }
        if !keys.contains(&default) {
            return Err(CatalogueError(format!(
                "the default plan `{default}` is not in the catalogue"
            )));
        }
        Ok(Self { plans, default })
    }

    /// The catalogue a server runs with when it is given none: `free`, `team` and
    /// `enterprise`, new tenants starting on `free`. `deploy/plans.example.toml` writes
    /// the same catalogue in the file format (a test keeps the two equal).
    pub fn built_in() -> Self {
        use Allowance::{AtMost, Unlimited};
        let plan = |key: &str, name: &str, price: Option<u64>, limits: [Allowance; 10], features: &[Feature]| Plan {
            key: PlanKey(key.to_owned()),
            name: name.to_owned(),
            price: price.map(|amount| Price {
                amount,
                currency: "USD".to_owned(),
                interval: "month".to_owned(),
            }),
            limits: Limit::ALL.iter().copied().zip(limits).collect(),
            features: features.iter().copied().collect(),
            trusted_documents_required: false,
        };
        // In the order of `Limit::ALL`: seats, workspaces, custom roles, API keys,
        // webhook endpoints, custom domains, requests per minute, API calls per month,
        // query complexity, query depth. A quota behind a feature the plan lacks still
        // has a number: it applies when an override grants the feature. The query
        // limits equal the server's own defaults (`MAX_QUERY_*`): a catalogue may
        // tighten them per plan, the built-in one does not.
        let plans = vec![
            plan(
                "free",
                "Free",
                Some(0),
                [
                    AtMost(5),
                    AtMost(3),
                    AtMost(3),
                    AtMost(2),
                    AtMost(2),
                    AtMost(1),
                    AtMost(600),
                    AtMost(100_000),
                    AtMost(5_000),
                    AtMost(12),
                ],
                &[Feature::ApiKeys],
            ),
            plan(
                "team",
                "Team",
                Some(2_900),
                [
                    AtMost(50),
                    AtMost(25),
                    AtMost(10),
                    AtMost(25),
                    AtMost(10),
                    AtMost(2),
                    AtMost(3_000),
                    AtMost(2_000_000),
                    AtMost(5_000),
                    AtMost(12),
                ],
                &[
                    Feature::ApiKeys,
                    Feature::Webhooks,
                    Feature::CustomRoles,
                    Feature::CustomDomains,
                    Feature::AuditExport,
                ],
            ),
            plan(
                "enterprise",
                "Enterprise",
                None,
                [
                    Unlimited,
                    Unlimited,
                    Unlimited,
                    Unlimited,
                    Unlimited,
                    AtMost(20),
                    AtMost(12_000),
                    Unlimited,
                    AtMost(5_000),
                    AtMost(12),
                ],
                Feature::ALL,
            ),
        ];
        Self::new(plans, PlanKey("free".to_owned())).expect("the built-in catalogue is valid")
    }

    /// The same plans with another one as the default for new tenants.
    pub fn with_default(mut self, default: PlanKey) -> Result<Self, CatalogueError> {
        if self.get(&default).is_none() {
            return Err(CatalogueError(format!(
                "the default plan `{default}` is not in the catalogue"
            )));
        }
        self.default = default;
        Ok(self)
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn default_key(&self) -> &PlanKey {
        &self.default
    }

    pub fn get(&self, key: &PlanKey) -> Option<&Plan> {
        self.plans.iter().find(|plan| &plan.key == key)
    }
}

/// What a platform administrator granted or withheld for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideTarget {
    Limit(Limit, Allowance),
    Feature(Feature, bool),
}

impl OverrideTarget {
    /// `limit:<name>` or `feature:<name>`: one override per limit or feature.
    pub fn slot(&self) -> String {
        match self {
            OverrideTarget::Limit(limit, _) => format!("limit:{limit}"),
            OverrideTarget::Feature(feature, _) => format!("feature:{feature}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOverride {
    pub target: OverrideTarget,
    /// After this the plan's own value applies again; `None`: until cleared.
    pub expires_at: Option<DateTime<Utc>>,
    pub set_at: DateTime<Utc>,
}

impl PlanOverride {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

mod entitlements;
pub use entitlements::{Entitlements, Refusal, RequestLimits};

#[cfg(test)]
mod tests;
