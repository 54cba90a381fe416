//! The per-request caller, put into the GraphQL context by the HTTP layer.

use std::sync::Arc;

use async_graphql::{Context, Error};
use tessera_application::identity::ClientInfo;
use tessera_application::{AppError, Application, RequestContext};

use super::errors::to_graphql_error;

/// Who is calling: nobody, somebody whose credentials failed, or an authenticated member.
/// One is made per request and moved along the pipeline, never kept in bulk, so the
/// member's context stays inline rather than behind a pointer.
#[allow(clippy::large_enum_variant)]
pub enum Caller {
    Anonymous,
    Refused(AppError),
    Member(RequestContext),
}

/// The caller as a credential stands now, or why it no longer stands.
pub type Recheck = std::pin::Pin<Box<dyn std::future::Future<Output = Result<RequestContext, AppError>> + Send>>;

/// Checks a live connection's credential again (a WebSocket outlives the request that
/// opened it).
#[derive(Clone)]
pub struct LiveCredential(pub Arc<dyn Fn() -> Recheck + Send + Sync>);

/// Where the HTTP request came from (recorded on sessions).
#[derive(Debug, Clone, Default)]
pub struct ClientOrigin(pub ClientInfo);

pub(crate) fn application<'a>(ctx: &Context<'a>) -> &'a Arc<Application> {
    ctx.data_unchecked::<Arc<Application>>()
}

pub(crate) fn client_info(ctx: &Context<'_>) -> ClientInfo {
    ctx.data_opt::<ClientOrigin>()
        .map(|origin| origin.0.clone())
        .unwrap_or_default()
}

/// The authenticated member, or `UNAUTHENTICATED`.
pub(crate) fn member<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::Member(request)) => Ok(request),
        Some(Caller::Refused(error)) => Err(to_graphql_error(&error.clone_for_caller())),
        Some(Caller::Anonymous) | None => Err(to_graphql_error(&AppError::Unauthenticated(
            "this operation needs a valid access token".into(),
        ))),
    }
}

/// Refusals are reported for every field that needs a caller; they carry no sources.
pub(crate) trait CloneForCaller {
    fn clone_for_caller(&self) -> AppError;
}

impl CloneForCaller for AppError {
    fn clone_for_caller(&self) -> AppError {
        match self {
            AppError::Unauthenticated(message) => AppError::Unauthenticated(message.clone()),
            AppError::Forbidden { reason, message } => AppError::Forbidden {
                reason: *reason,
                message: message.clone(),
            },
            AppError::NotFound(what) => AppError::NotFound(what),
            AppError::SsoRequired { start_url } => AppError::SsoRequired {
                start_url: start_url.clone(),
            },
            AppError::MfaChallenge { challenge, expires_at } => AppError::MfaChallenge {
                challenge: challenge.clone(),
                expires_at: *expires_at,
            },
            AppError::SoleOwner { tenants } => AppError::SoleOwner {
                tenants: tenants.clone(),
            },
            AppError::OverPlan(refusal) => AppError::OverPlan(*refusal),
            AppError::Validation(fields) => AppError::Validation(fields.clone()),
            AppError::RateLimited { retry_after_seconds } => AppError::RateLimited {
                retry_after_seconds: *retry_after_seconds,
            },
            AppError::Conflict { field, message } => AppError::Conflict {
                field: field.clone(),
                message: message.clone(),
            },
            // The cause was logged where it happened; the caller learns nothing more.
            AppError::Internal(_) => AppError::internal("authentication failed"),
        }
    }
}
