//! Edge authorization: one table says what every field of the schema requires, and one
//! schema extension enforces it before any resolver runs. A field missing from the table
//! cannot be resolved (fail closed), and a test walks the live schema so that such a
//! field cannot land. Use cases re-check whatever depends on the target.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{PathSegment, ServerError, ServerResult, Value};
use tessera_application::AppError;
use tessera_domain::Permission;

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

/// Every field, by `(type, field)`; `"*"` covers all fields of a type.
#[rustfmt::skip]
pub const RULES: &[(&str, &str, Access)] = &[
    // identity
    ("Mutation", "signUp", Access::Public),
    ("Mutation", "logIn", Access::Public),
    ("Query", "me", Access::Identity),
    ("Mutation", "refreshSession", Access::Public),
    ("Mutation", "requestEmailVerification", Access::Person),
    ("Mutation", "verifyEmail", Access::Public),
    ("Mutation", "requestPasswordReset", Access::Public),
    ("Mutation", "resetPassword", Access::Public),
    ("Mutation", "logOut", Access::Person),
    ("Mutation", "logOutEverywhere", Access::Person),
    ("Mutation", "revokeSession", Access::Person),
    ("Query", "sessions", Access::Person),
    ("Session", "*", Access::Inherited),
    ("SessionConnection", "*", Access::Inherited),
    ("SessionEdge", "*", Access::Inherited),
    ("AuthPayload", "*", Access::Inherited),
    ("User", "*", Access::Inherited),
    // tenants
    ("Query", "currentTenant", Access::Identity),
    ("Query", "myTenants", Access::Person),
    ("Mutation", "switchTenant", Access::Person),
    ("Mutation", "createTenant", Access::Person),
    ("MyTenant", "*", Access::Inherited),
    ("MyTenantConnection", "*", Access::Inherited),
    ("MyTenantEdge", "*", Access::Inherited),
    ("Tenant", "*", Access::Inherited),
    // onboarding (a person's own, never gated) and tenant setup
    ("Query", "onboarding", Access::Person),
    ("Mutation", "saveOnboardingDraft", Access::Person),
    ("Mutation", "advanceOnboarding", Access::Person),
    ("Mutation", "returnToOnboardingStage", Access::Person),
    ("Mutation", "completeOnboarding", Access::Person),
    ("Onboarding", "*", Access::Inherited),
    ("OnboardingDraft", "*", Access::Inherited),
    ("PersonalInfo", "*", Access::Inherited),
    ("OrganizationInfo", "*", Access::Inherited),
    ("OrganizationDraft", "*", Access::Inherited),
    ("TermsInfo", "*", Access::Inherited),
    ("Query", "onboardingFunnel", Access::Permission(Permission::TenantUpdate)),
    ("OnboardingFunnelStats", "*", Access::Inherited),
    ("StageCount", "*", Access::Inherited),
    ("Query", "tenantSettings", Access::Member),
    ("Mutation", "updateTenantSettings", Access::Permission(Permission::TenantUpdate)),
    ("TenantSettings", "*", Access::Inherited),
    ("Query", "setupChecklist", Access::Permission(Permission::TenantUpdate)),
    ("SetupChecklistView", "*", Access::Inherited),
    ("SetupChecklistItem", "*", Access::Inherited),
    ("Query", "customDomains", Access::Permission(Permission::TenantUpdate)),
    ("Mutation", "addCustomDomain", Access::Permission(Permission::TenantUpdate)),
    ("Mutation", "verifyCustomDomain", Access::Permission(Permission::TenantUpdate)),
    ("Mutation", "removeCustomDomain", Access::Permission(Permission::TenantUpdate)),
    ("CustomDomain", "*", Access::Inherited),
    // permissions and roles
    ("Query", "permissions", Access::Public),
    ("PermissionInfo", "*", Access::Inherited),
    ("Query", "roles", Access::Member),
    ("Query", "role", Access::Member),
    ("Query", "myRole", Access::Member),
    ("Mutation", "createRole", Access::Permission(Permission::RolesManage)),
    ("Mutation", "updateRole", Access::Permission(Permission::RolesManage)),
    ("Mutation", "deleteRole", Access::Permission(Permission::RolesManage)),
    ("Role", "*", Access::Inherited),
    ("RoleConnection", "*", Access::Inherited),
    ("RoleEdge", "*", Access::Inherited),
    // members
    ("Query", "members", Access::Permission(Permission::MembersRead)),
    ("Query", "member", Access::Permission(Permission::MembersRead)),
    ("Mutation", "updateMemberRole", Access::Permission(Permission::MembersManage)),
    ("Mutation", "removeMember", Access::Permission(Permission::MembersManage)),
    ("Mutation", "leaveTenant", Access::Person),
    ("Mutation", "transferOwnership", Access::Person),
    ("Member", "*", Access::Inherited),
    ("MemberConnection", "*", Access::Inherited),
    ("MemberEdge", "*", Access::Inherited),
    // invitations
    ("Query", "invitations", Access::Permission(Permission::MembersInvite)),
    // API keys are made by people; a key cannot mint keys
    ("Query", "apiKeys", Access::Permission(Permission::ApiKeysManage)),
    // webhooks and live events
    ("Query", "webhookEventTypes", Access::Member),
    ("Query", "webhookEndpoints", Access::Permission(Permission::WebhooksManage)),
    ("Query", "webhookDeliveries", Access::Permission(Permission::WebhooksManage)),
    ("Mutation", "createWebhookEndpoint", Access::Permission(Permission::WebhooksManage)),
    ("Mutation", "updateWebhookEndpoint", Access::Permission(Permission::WebhooksManage)),
    ("Mutation", "deleteWebhookEndpoint", Access::Permission(Permission::WebhooksManage)),
    ("Mutation", "rotateWebhookSecret", Access::Permission(Permission::WebhooksManage)),
    ("Mutation", "redeliverWebhook", Access::Permission(Permission::WebhooksManage)),
    ("WebhookEndpoint", "*", Access::Inherited),
    ("WebhookEndpointConnection", "*", Access::Inherited),
    ("WebhookEndpointEdge", "*", Access::Inherited),
    ("WebhookEndpointWithSecret", "*", Access::Inherited),
    ("WebhookDelivery", "*", Access::Inherited),
    ("WebhookDeliveryConnection", "*", Access::Inherited),
    ("WebhookDeliveryEdge", "*", Access::Inherited),
    ("Subscription", "tenantEvents", Access::Permission(Permission::AuditRead)),
    ("TenantEvent", "*", Access::Inherited),
    // the audit trail
    ("Query", "auditEvents", Access::Permission(Permission::AuditRead)),
    // platform administrators (checked by the use case; no tenant role implies it)
    ("Query", "platformAuditEvents", Access::Person),
    ("PlatformAuditEventConnection", "*", Access::Inherited),
    ("PlatformAuditEventEdge", "*", Access::Inherited),
    ("AuditEvent", "*", Access::Inherited),
    ("AuditChange", "*", Access::Inherited),
    ("AuditEventConnection", "*", Access::Inherited),
    ("AuditEventEdge", "*", Access::Inherited),
    ("Mutation", "createApiKey", Access::Person),
    ("Mutation", "revokeApiKey", Access::Permission(Permission::ApiKeysManage)),
    ("ApiKey", "*", Access::Inherited),
    ("ApiKeyConnection", "*", Access::Inherited),
    ("ApiKeyEdge", "*", Access::Inherited),
    ("CreatedApiKey", "*", Access::Inherited),
    ("Mutation", "inviteMember", Access::Permission(Permission::MembersInvite)),
    ("Mutation", "revokeInvitation", Access::Permission(Permission::MembersInvite)),
    ("Mutation", "acceptInvitation", Access::Person),
    ("Invitation", "*", Access::Inherited),
    ("InvitationConnection", "*", Access::Inherited),
    ("InvitationEdge", "*", Access::Inherited),
    // workspaces: writes on one workspace are decided by the use case, from tenant-level
    // `workspaces:manage` or the same permission through a workspace role there
    ("Query", "workspaces", Access::Member),
    ("Query", "workspace", Access::Member),
    ("Mutation", "createWorkspace", Access::Permission(Permission::WorkspacesCreate)),
    ("Mutation", "renameWorkspace", Access::Member),
    ("Mutation", "deleteWorkspace", Access::Member),
    ("Mutation", "addWorkspaceMember", Access::Member),
    ("Mutation", "updateWorkspaceMember", Access::Member),
    ("Mutation", "removeWorkspaceMember", Access::Member),
    ("Workspace", "members", Access::Member),
    ("Workspace", "*", Access::Inherited),
    ("WorkspaceConnection", "*", Access::Inherited),
    ("WorkspaceEdge", "*", Access::Inherited),
    ("WorkspaceMember", "*", Access::Inherited),
    ("MemberWorkspace", "*", Access::Inherited),
    ("MemberWorkspaceConnection", "*", Access::Inherited),
    ("MemberWorkspaceEdge", "*", Access::Inherited),
    ("WorkspaceMemberConnection", "*", Access::Inherited),
    ("WorkspaceMemberEdge", "*", Access::Inherited),
    // platform administration: the use cases demand a PlatformScope, which only a
    // platform administrator's request can obtain
    ("Query", "tenants", Access::Person),
    ("Mutation", "suspendTenant", Access::Person),
    ("Mutation", "reactivateTenant", Access::Person),
    ("TenantConnection", "*", Access::Inherited),
    ("TenantEdge", "*", Access::Inherited),
    // shared
    ("PageInfo", "*", Access::Inherited),
];

/// The rule for one field, if the table has one.
pub fn rule_for(type_name: &str, field: &str) -> Option<Access> {
    RULES
        .iter()
        .find(|(t, f, _)| *t == type_name && *f == field)
        .or_else(|| RULES.iter().find(|(t, f, _)| *t == type_name && *f == "*"))
        .map(|(_, _, access)| *access)
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

/// The schema extension that applies [`RULES`] to every field resolution.
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
        let decision = match rule_for(info.parent_type, info.name) {
            Some(access) => check(access, ctx.data_opt::<Caller>()),
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
