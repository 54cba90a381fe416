//! Tessera's pure model: identifiers, aggregates, value objects and their invariants.
//! Nothing here knows about storage, transport or frameworks; every constructor that
//! takes raw input validates it and returns a typed error.

pub mod api_key;
pub mod audit;
pub mod custom_domain;
pub mod events;
pub mod ids;
pub mod invitation;
pub mod membership;
pub mod mfa;
pub mod offboarding;
pub mod onboarding;
pub mod permission;
pub mod plan;
pub mod rate_limit;
pub mod role;
pub mod scim;
pub mod session;
pub mod sso;
pub mod tenant;
pub mod tenant_settings;
pub mod usage;
pub mod user;
pub mod user_token;
pub mod values;
pub mod webhook;
pub mod workspace;

pub use api_key::ApiKey;
pub use audit::{AuditActor, AuditEvent, AuditOrigin, FieldChange, NewAuditEvent};
pub use custom_domain::{CustomDomain, DomainName};
pub use events::{EVENT_CATALOGUE, EventType, domain_event_types, is_domain_event_type};
pub use ids::{
    ApiKeyId, InvitationId, MembershipId, RoleId, ScimGroupId, ScimTokenId, ScimUserId, SessionId, TenantExportId,
    TenantId, UserId, WorkspaceId, WorkspaceMembershipId,
};
pub use invitation::{Invitation, InvitationError, InvitationStatus};
pub use membership::{Membership, MembershipStatus, WorkspaceMembership};
pub use mfa::{MfaChallenge, RECOVERY_CODES, TotpFactor, normalize_recovery_code};
pub use offboarding::{ExportStatus, TenantExport};
pub use onboarding::{
    CompanySize, DraftRefusal, Locale, Onboarding, OnboardingError, OnboardingRecord, OnboardingStage, Organization,
    OrganizationInput, PersonalInfo, PersonalInfoInput, StageData, StageDataError, StageDraft, TermsAcceptance,
    TermsInput, TimeZone, Transition, TransitionRefusal,
};
pub use permission::{Permission, PermissionSet};
pub use plan::{
    Allowance, CatalogueError, Entitlements, Feature, Limit, OverrideTarget, Plan, PlanCatalogue, PlanKey,
    PlanOverride, Price, Refusal, RequestLimits,
};
pub use role::{Role, RoleRuleError, SystemRole};
pub use scim::{ScimGroup, ScimToken, ScimUser, ScimUserName};
pub use session::Session;
pub use sso::{IssuerUrl, SsoConnection, SsoSignIn};
pub use tenant::{ScheduledDeletion, StatusReason, Tenant, TenantStatus, TenantStatusError};
pub use tenant_settings::{Colour, LogoUrl, SettingsChange, TenantSettings};
pub use usage::{Bucket, Granularity, Principal, RangeError, UsageCounts, UsageKey, UsagePoint};
pub use user::{PasswordHash, User};
pub use user_token::{TokenPurpose, UserToken};
pub use values::{DisplayName, Email, InvalidValue, Name, Password, Slug};
pub use webhook::{
    AttemptEnd, DeliveryStatus, EventSelection, RetryPolicy, SigningSecrets, WebhookDelivery, WebhookDeliveryId,
    WebhookEndpoint, WebhookEndpointId, WebhookUrl, is_public_ip,
};
pub use workspace::Workspace;
