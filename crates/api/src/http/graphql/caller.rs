//! Stage 5, the caller: the credential is checked (a JWT by its signature and the
//! cached access, an API key by its digest), the tenant the request names is checked
//! against it, and the request's span learns who is asking. This is the first stage
//! that may read the database (on a cache miss), which is why every stage before it
//! refuses without doing so.

use axum::http::HeaderMap;
use tessera_application::identity::ClientInfo;

use super::client::{Credential, credential, requested_tenant};
use crate::AppState;
use crate::graphql::Caller;

/// A request admitted by its rate limits right after it is identified: a bearer's or a
/// key's buckets may then be spent with its cached access's lookup, in one round trip.
#[derive(Debug, Clone, Copy)]
pub struct SpendAhead {
    /// The request runs a trusted document (a key held to trusted documents by its plan
    /// is refused otherwise, so it spends nothing ahead).
    pub runs_trusted_document: bool,
}

/// Who the headers say is calling: the credential checked, the requested tenant
/// checked against it, and the client's origin attached for the audit trail.
pub async fn identify(state: &AppState, headers: &HeaderMap, client: &ClientInfo, ahead: Option<SpendAhead>) -> Caller {
    let requested = requested_tenant(headers, state.config.base_domain.as_deref());
    // A request that names a tenant is checked against its token first: one refused
    // for naming another tenant spends nothing of its own tenant's budget.
    let ahead = ahead.filter(|_| requested.is_none());
    let caller = match credential(headers) {
        Ok(None) => Caller::Anonymous,
        Ok(Some(Credential::ApiKey(secret))) => match authenticate_key(state, secret, ahead).await {
            Ok(context) => Caller::Member(context),
            Err(error) => refused(error),
        },
        Ok(Some(Credential::AccessToken(token))) => match authenticate(state, token, ahead.is_some()).await {
            Ok(context) => Caller::Member(context),
            Err(error) => refused(error),
        },
        Err(message) => Caller::Refused(tessera_application::AppError::Unauthenticated(message.into())),
    };
    let caller = match (caller, requested) {
        (Caller::Member(context), Some(selector)) => {
            match state.app.check_requested_tenant(&context, &selector).await {
                Ok(()) => Caller::Member(context),
                Err(error) => refused(error),
            }
        }
        (caller, _) => caller,
    };
    // The audit trail records where each change came from.
    match caller {
        Caller::Member(context) => Caller::Member(context.with_origin(client.clone())),
        other => other,
    }
}

async fn authenticate(
    state: &AppState,
    token: &str,
    admitting: bool,
) -> Result<tessera_application::RequestContext, tessera_application::AppError> {
    match admitting {
        true => state.app.authenticate_admitting(token).await,
        false => state.app.authenticate(token).await,
    }
}

async fn authenticate_key(
    state: &AppState,
    secret: &str,
    ahead: Option<SpendAhead>,
) -> Result<tessera_application::RequestContext, tessera_application::AppError> {
    match ahead {
        Some(ahead) => {
            state
                .app
                .authenticate_api_key_admitting(secret, ahead.runs_trusted_document)
                .await
        }
        None => state.app.authenticate_api_key(secret).await,
    }
}

fn refused(error: tessera_application::AppError) -> Caller {
    if let tessera_application::AppError::Internal(cause) = &error {
        tracing::error!(error = %cause, "authentication could not complete");
    }
    Caller::Refused(error)
}

/// Names the operation, tenant and actor on the request's span.
pub fn record(caller: &Caller, operation: &'static str) {
    let span = tracing::Span::current();
    span.record("operation", operation);
    if let Caller::Member(context) = caller {
        span.record("tenant_id", tracing::field::display(context.tenant_id()));
        let actor = match context.actor() {
            tessera_application::Actor::User(user) => format!("user:{user}"),
            tessera_application::Actor::ApiKey(key) => format!("api_key:{key}"),
        };
        span.record("actor", actor.as_str());
    }
}

/// Whether the request presents a person's access token (checked by its signature
/// alone, with no lookup): such a request is not refused by its address's budget.
pub fn presents_access_token(headers: &HeaderMap) -> bool {
    matches!(credential(headers), Ok(Some(Credential::AccessToken(_))))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_an_access_token_skips_the_address_check() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_str(value).expect("header"));
            headers
        };
        assert!(presents_access_token(&with("Bearer eyJ.a.b")));
        assert!(!presents_access_token(&with("Bearer tsk_abc_def_ghi")));
        assert!(!presents_access_token(&with("Basic abc")));
        assert!(!presents_access_token(&HeaderMap::new()));
    }
}
