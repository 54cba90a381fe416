//! The small, closed set of failures the outside world sees. The API maps each variant
//! to one `extensions.code`, in one place.

use crate::wire_table;
use std::error::Error as StdError;
use std::fmt;

use crate::ports::StoreError;

/// Per-field messages for a refused input, keyed by the input field's wire name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, String)>);

/// `field: message; other: message`, for logs and the command line.
impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }
    /// Records the outcome of a parse, keeping the value when it succeeded.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_str()))
    }
    /// `Err(Validation)` when any field failed.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }
}

wire_table! {
    /// Why an operation answered `FORBIDDEN`: the closed set behind `extensions.reason`,
    /// each with its wire name and what it tells the caller. The README's error table is
    /// generated from it.
    pub enum ForbiddenReason: (&'static str, &'static str) {
        MissingPermission => ("MISSING_PERMISSION", "the caller lacks a permission the operation needs"),
        PermissionEscalation => ("PERMISSION_ESCALATION", "the change would grant permissions the caller does not hold"),
        TargetOutranks => ("TARGET_OUTRANKS", "the member concerned holds permissions the caller does not"),
        ApiKeyNotAllowed => ("API_KEY_NOT_ALLOWED", "only a signed-in person may do this, not an API key"),
        OnboardingIncomplete => ("ONBOARDING_INCOMPLETE", "the person has not finished onboarding yet"),
        TenantSuspended => ("TENANT_SUSPENDED", "the tenant is suspended: only its owners may sign in, and then only to see its status and billing, export, and end their sessions"),
        TenantPendingDeletion => ("TENANT_PENDING_DELETION", "the tenant is being deleted: only its owners may sign in, and then only to cancel the deletion, see its status and export"),
        ReauthenticationFailed => ("REAUTHENTICATION_FAILED", "the operation needs the caller's password, and the one given does not match"),
        SoleOwner => ("SOLE_OWNER", "the person is the only owner of tenants (listed in `extensions.tenants`) that must be handed over or deleted first"),
        TenantReadOnly => ("TENANT_READ_ONLY", "the tenant is past due: it may read, but changes wait until it is active again (billing, export and session operations excepted)"),
        NotAMember => ("NOT_A_MEMBER", "the person is not an active member of that tenant"),
        NoActiveMembership => ("NO_ACTIVE_MEMBERSHIP", "the person belongs to no active tenant to log in to"),
        TenantMismatch => ("TENANT_MISMATCH", "the tenant the request names is not the credential's"),
        LastOwner => ("LAST_OWNER", "the tenant's last owner cannot be removed, demoted or leave"),
        NotOwner => ("NOT_OWNER", "only an owner may do this"),
        OwnerOnly => ("OWNER_ONLY", "only the tenant's owner sets it up during onboarding"),
        NotPlatformAdmin => ("NOT_PLATFORM_ADMIN", "this needs a platform administrator"),
        OwnerRoleFixed => ("OWNER_ROLE_FIXED", "the owner role cannot be edited or deleted"),
        SystemRole => ("SYSTEM_ROLE", "a system role cannot be deleted"),
        InvitationUsed => ("INVITATION_USED", "the invitation was already accepted"),
        InvitationRevoked => ("INVITATION_REVOKED", "the invitation was revoked"),
        InvitationExpired => ("INVITATION_EXPIRED", "the invitation has expired"),
        InvitationEmailMismatch => ("INVITATION_EMAIL_MISMATCH", "the invitation is addressed to another email"),
        Csrf => ("CSRF", "cookie mode: the X-CSRF-Token header does not match the tessera_csrf cookie"),
        TooManySubscriptions => ("TOO_MANY_SUBSCRIPTIONS", "the WebSocket connection runs as many subscriptions as it may"),
        QuotaExceeded => ("QUOTA_EXCEEDED", "the tenant holds as many as its plan allows; `extensions.quota`, `extensions.limit` and `extensions.used` say which and how many"),
        FeatureNotInPlan => ("FEATURE_NOT_IN_PLAN", "the tenant's plan does not include this; `extensions.feature` names the feature"),
        SsoRequired => ("SSO_REQUIRED", "the address's domain signs in through its tenant's identity provider: start at `extensions.ssoStartUrl` (passwords are refused, the tenant's owners excepted)"),
        MfaRequired => ("MFA_REQUIRED", "a second factor is needed: after `logIn`, send `extensions.mfaChallenge` and a code to `verifyMfa`; in a tenant that requires one, a session signed in without it may only enrol an authenticator (`enrolTotp`, `confirmTotp`)"),
        TooManyConnections => ("TOO_MANY_CONNECTIONS", "the person, key or tenant has as many WebSocket connections open as it may"),
    }
}

impl ForbiddenReason {
    /// The wire name, e.g. `MISSING_PERMISSION`.
    pub const fn code(self) -> &'static str {
        self.row().0
    }

    /// What it means, for the documentation.
    pub const fn meaning(self) -> &'static str {
        self.row().1
    }
}

impl std::fmt::Display for ForbiddenReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("forbidden ({reason}): {message}")]
    Forbidden { reason: ForbiddenReason, message: String },
    /// The tenant's plan refuses the creation (`FORBIDDEN` with the quota or feature).
    #[error("refused by the plan: {0:?}")]
    OverPlan(tessera_domain::Refusal),
    /// The person is the only owner of these tenants (slugs): `FORBIDDEN`, `SOLE_OWNER`.
    #[error("the only owner of {}", tenants.join(", "))]
    SoleOwner { tenants: Vec<String> },
    /// The password was right and a second factor is needed: `FORBIDDEN`,
    /// `MFA_REQUIRED`, with the challenge `verifyMfa` takes.
    #[error("a second factor is needed")]
    MfaChallenge {
        challenge: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// A password log-in for an address whose domain must sign in through its tenant's
    /// provider: `FORBIDDEN`, `SSO_REQUIRED`, with where to start.
    #[error("single sign-on is required")]
    SsoRequired { start_url: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict on {field}: {message}")]
    Conflict { field: String, message: String },
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    #[error("rate limited")]
    RateLimited { retry_after_seconds: u64 },
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl AppError {
    pub fn internal(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound("record"),
            StoreError::Duplicate(field) => AppError::Conflict {
                field: field.to_owned(),
                message: "is already taken".to_owned(),
            },
            StoreError::Stale => AppError::Conflict {
                field: "id".to_owned(),
                message: "was changed by another request meanwhile; read it again and retry".to_owned(),
            },
            other => AppError::Internal(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ForbiddenReason;

    #[test]
    fn every_reason_has_one_distinct_upper_case_wire_name_and_a_meaning() {
        let mut codes: Vec<&str> = ForbiddenReason::ALL.iter().map(|r| r.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
        );
        assert!(ForbiddenReason::ALL.iter().all(|r| !r.meaning().is_empty()));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ForbiddenReason::ALL.len(), "no wire name twice");
    }
}
