//! Edge authorization: every module of the schema says what each of its fields requires
//! (its `RULES`), this module gathers them into one table, and one schema extension
//! enforces it before any resolver runs. A field missing from the table
//! cannot be resolved (fail closed), and a test walks the live schema so that such a
//! field cannot land. Use cases re-check whatever depends on the target.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{PathSegment, ServerError, ServerResult, Value};
use tessera_application::{AppError, ForbiddenReason, Standing};
use tessera_domain::{Allowance, Limit, Permission, Refusal};

use super::context::{Caller, CloneForCaller};
use super::errors::to_graphql_error;

/// What a field needs from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-up, log-in, the permission catalogue).
    Public,
    /// An authenticated, active member of the request's tenant who has finished
    /// onboarding (where the deployment gates on it).
    Member,
    /// An authenticated member, even mid-onboarding: reading who and where I am.
    Identity,
    /// A member holding this permission.
    Permission(Permission),
    /// A signed-in person (an active member), not an API key.
    Person,
    /// A field of an object only reachable through a guarded field; the parent's rule
    /// already decided.
    Inherited,
}

/// One rule: a type, the fields it covers (`"*"`: every field of the type), and what
/// they need.
pub type Rule = (&'static str, &'static [&'static str], Access);

/// Every module's rules, each module listing its own types' fields. A type with a
/// field that exposes anything sensitive lists every field (a new field then needs a
/// rule of its own); plain carriers (connections, edges) use `"*"`.
const MODULE_RULES: &[&[Rule]] = &[
    super::analytics::RULES,
    super::api_keys::RULES,
    super::audit::RULES,
    super::domains::RULES,
    super::identity::RULES,
    super::invitations::RULES,
    super::members::RULES,
    super::offboarding::RULES,
    super::onboarding::RULES,
    super::tenant_setup::RULES,
    super::pagination::RULES,
    super::plans::RULES,
    super::platform::RULES,
    super::roles::RULES,
    super::second_factor::RULES,
    super::sessions::RULES,
    super::scim::RULES,
    super::sso::RULES,
    super::tenants::RULES,
    super::webhooks::RULES,
    super::workspaces::RULES,
];

/// Every rule of the schema, one `(type, field, access)` per field.
pub fn rules() -> impl Iterator<Item = (&'static str, &'static str, Access)> {
    MODULE_RULES
        .iter()
        .flat_map(|rules| rules.iter())
        .flat_map(|(ty, fields, access)| fields.iter().map(move |field| (*ty, *field, *access)))
}

/// The rules by `(type, field)`, built once.
fn table() -> &'static HashMap<(&'static str, &'static str), Access> {
    static TABLE: OnceLock<HashMap<(&'static str, &'static str), Access>> = OnceLock::new();
    TABLE.get_or_init(|| rules().map(|(t, f, access)| ((t, f), access)).collect())
}

/// The rule for one field, if the table has one (a field's own, else its type's `"*"`).
pub fn rule_for(type_name: &str, field: &str) -> Option<Access> {
    let table = table();
    table
        .get(&(type_name, field))
        .or_else(|| table.get(&(type_name, "*")))
        .copied()
}

/// Decides one rule for the caller.
pub fn check(access: Access, caller: Option<&Caller>) -> Result<(), AppError> {
    let member = || match caller {
        Some(Caller::Member(request)) => Ok(request),
        Some(Caller::Refused(error)) => Err(error.clone_for_caller()),
        Some(Caller::Anonymous) | None => Err(AppError::Unauthenticated(
            "this operation needs a valid access token".into(),
        )),
    };
    match access {
        Access::Public | Access::Inherited => Ok(()),
        Access::Member => member()?.ensure_onboarded(),
        Access::Identity => member().map(|_| ()),
        Access::Permission(permission) => member()?.authorize(permission).map(|_| ()),
        Access::Person => member()?.require_person().map(|_| ()),
    }
}

/// Root fields a session without the second factor its tenant requires may still use:
/// who and where it is, enrolling an authenticator, and its own sessions.
const WITHOUT_SECOND_FACTOR: &[&str] = &[
    "me",
    "currentTenant",
    "myTenants",
    "mfaStatus",
    "enrolTotp",
    "confirmTotp",
    "sessions",
    "logOut",
    "logOutEverywhere",
    "revokeSession",
    "switchTenant",
    "requestEmailVerification",
];

/// Root fields a caller whose tenant is past due or suspended may still use: signing
/// in and out, their own sessions, other tenants, and platform administration.
const ANY_STANDING: &[&str] = &[
    "signUp",
    "logIn",
    "logOut",
    "logOutEverywhere",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
    "refreshSession",
    "revokeSession",
    "verifyMfa",
    "completeSsoSignIn",
    "mfaStatus",
    "enrolTotp",
    "confirmTotp",
    "disableTotp",
    "regenerateRecoveryCodes",
    "switchTenant",
    "createTenant",
    "suspendTenant",
    "markTenantPastDue",
    "reactivateTenant",
    "changePlan",
    "setTenantOverride",
    "clearTenantOverride",
    "scheduleTenantDeletion",
    "cancelScheduledTenantDeletion",
    "exportMyData",
    "deleteMyAccount",
    "tenants",
    "platformAuditEvents",
];

/// What a suspended tenant's owner (or a person of a tenant whose monthly API calls are
/// spent) may still read: who they are, the tenant's status, plan and usage, their
/// tenants and sessions, and the catalogue of plans.
const OWNER_WHILE_SUSPENDED: &[&str] = &[
    "me",
    "currentTenant",
    "myTenants",
    "myRole",
    "permissions",
    "sessions",
    "plans",
    "tenantExports",
];

/// What an owner may still change while the tenant is past due or suspended: export
/// it, and delete it.
const OFFBOARDING_WHILE_LOCKED: &[&str] = &["requestTenantExport", "requestTenantDeletion"];

/// What an owner may still change while the tenant is pending deletion.
const WHILE_PENDING_DELETION: &[&str] = &["requestTenantExport", "cancelTenantDeletion"];

/// Refuses a root field that the caller's tenant's status rules out: every change while
/// it is past due (`TENANT_READ_ONLY`), everything but status, billing and the owner's
/// own sessions while it is suspended (`TENANT_SUSPENDED`), and the same for a person
/// once the tenant's monthly API calls are spent (`QUOTA_EXCEEDED`).
pub fn check_standing(parent: &str, field: &str, caller: Option<&Caller>) -> Result<(), AppError> {
    let Some(Caller::Member(request)) = caller else {
        return Ok(());
    };
    if (parent == "Query" || parent == "Mutation")
        && !WITHOUT_SECOND_FACTOR.contains(&field)
        && rule_for(parent, field) != Some(Access::Public)
    {
        request.ensure_second_factor()?;
    }
    if (parent != "Query" && parent != "Mutation") || ANY_STANDING.contains(&field) {
        return Ok(());
    }
    match request.standing() {
        Standing::Full => Ok(()),
        Standing::ReadOnly if parent == "Query" || OFFBOARDING_WHILE_LOCKED.contains(&field) => Ok(()),
        Standing::ReadOnly => Err(AppError::Forbidden {
            reason: ForbiddenReason::TenantReadOnly,
            message: "the tenant is past due: it is read-only until it is active again".into(),
        }),
        Standing::OwnerOnly if parent == "Query" && OWNER_WHILE_SUSPENDED.contains(&field) => Ok(()),
        Standing::OwnerOnly if OFFBOARDING_WHILE_LOCKED.contains(&field) => Ok(()),
        Standing::PendingDeletion if parent == "Query" && OWNER_WHILE_SUSPENDED.contains(&field) => Ok(()),
        Standing::PendingDeletion if WHILE_PENDING_DELETION.contains(&field) => Ok(()),
        Standing::PendingDeletion => Err(AppError::Forbidden {
            reason: ForbiddenReason::TenantPendingDeletion,
            message: "the tenant is being deleted: its owners may cancel the deletion, see its status and export"
                .into(),
        }),
        Standing::OwnerOnly => Err(AppError::Forbidden {
            reason: ForbiddenReason::TenantSuspended,
            message: "the tenant is suspended: its owners may see its status and billing, and export".into(),
        }),
        Standing::CallsSpent { .. } if parent == "Query" && OWNER_WHILE_SUSPENDED.contains(&field) => Ok(()),
        Standing::CallsSpent { limit, used } => Err(AppError::OverPlan(Refusal::QuotaExceeded {
            quota: Limit::ApiCallsPerMonth,
            limit,
            used,
        })),
    }
}

/// The schema extension that applies [`rules`] to every field resolution.
pub struct AccessControl;

impl ExtensionFactory for AccessControl {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AccessControlExtension)
    }
}

struct AccessControlExtension;

#[async_trait::async_trait]
impl Extension for AccessControlExtension {
    /// Over a WebSocket only subscriptions run: queries and mutations go through
    /// `/graphql`, where the rate limits, document limits and trusted documents apply.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: async_graphql::extensions::NextParseQuery<'_>,
    ) -> ServerResult<async_graphql::parser::types::ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let live = ctx.data_opt::<super::LiveCredential>().is_some();
        if live
            && document
                .operations
                .iter()
                .any(|(_, op)| op.node.ty != async_graphql::parser::types::OperationType::Subscription)
        {
            let error = AppError::validation(
                "query",
                "only subscriptions run over the WebSocket; send queries and mutations to /graphql",
            );
            let mut refusal = to_graphql_error(&error).into_server_error(Default::default());
            refusal.locations.clear();
            return Err(refusal);
        }
        Ok(document)
    }

    /// The tenant's plan may bound a document more tightly than the server does: its
    /// `max_query_complexity`, checked once the engine has measured the document and
    /// before anything runs (its `max_query_depth` is checked with the server's, see
    /// [`super::document_depth`]).
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<ServerError>> {
        let measured = next.run(ctx).await?;
        let Some(Caller::Member(request)) = ctx.data_opt::<Caller>() else {
            return Ok(measured);
        };
        if let Allowance::AtMost(most) = request.limits().max_query_complexity
            && u64::try_from(measured.complexity).unwrap_or(u64::MAX) > most
        {
            return Err(vec![ServerError::new(
                format!(
                    "the query's complexity is {}; the tenant's plan allows at most {most} (max_query_complexity)",
                    measured.complexity
                ),
                None,
            )]);
        }
        Ok(measured)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // Introspection, and the items of a list whose field was already decided.
        if info.is_for_introspection
            || info.name.starts_with("__")
            || info.parent_type.starts_with("__")
            || info.parent_type.starts_with('[')
        {
            return next.run(ctx, info).await;
        }
        let caller = ctx.data_opt::<Caller>();
        let decision = match rule_for(info.parent_type, info.name) {
            Some(access) => check(access, caller).and_then(|()| check_standing(info.parent_type, info.name, caller)),
            None => {
                tracing::error!(
                    r#type = info.parent_type,
                    field = info.name,
                    "field has no access rule; refused"
                );
                Err(AppError::internal(format!(
                    "{}.{} has no access rule",
                    info.parent_type, info.name
                )))
            }
        };
        match decision {
            Ok(()) => next.run(ctx, info).await,
            Err(error) => {
                let mut server_error = to_graphql_error(&error).into_server_error(Default::default());
                server_error.locations.clear();
                server_error.path = info
                    .path_node
                    .to_string_vec()
                    .into_iter()
                    .map(|segment| match segment.parse::<usize>() {
                        Ok(index) => PathSegment::Index(index),
                        Err(_) => PathSegment::Field(segment),
                    })
                    .collect();
                Err::<Option<Value>, ServerError>(server_error)
            }
        }
    }
}
