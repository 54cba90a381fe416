//! The one place an application error becomes a GraphQL error with `extensions.code`,
//! and the table of those codes. Internal errors are logged with their cause and
//! shown to the client as nothing more than "internal error".

use async_graphql::{Error, ErrorExtensions, Value};
use tessera_application::wire_table;
use tessera_application::{AppError, ForbiddenReason};
use tessera_domain::Refusal;

wire_table! {
    /// The `extensions.code` of an error in a GraphQL response (HTTP 200 with `data`), a
    /// closed set, each with what it means. Requests refused before they run have their
    /// own table ([`crate::http::RequestRefusal`]).
    pub enum ErrorCode: (&'static str, &'static str) {
        Unauthenticated => ("UNAUTHENTICATED", "no credential, or one that is not (or no longer) valid"),
        Forbidden => ("FORBIDDEN", "the caller may not do this; `extensions.reason` says why (table below)"),
        NotFound => ("NOT_FOUND", "no such thing in the caller's tenant (another tenant's ids answer the same)"),
        BadUserInput => ("BAD_USER_INPUT", "the input is invalid; `extensions.fields` holds a message per input field"),
        Conflict => ("CONFLICT", "the change clashes with what is stored (a taken slug, a stale version, a row changed meanwhile); `extensions.fields` names the field"),
        RateLimited => ("RATE_LIMITED", "past a rate limit or budget; `extensions.retryAfterSeconds` says when to try again"),
        InternalServerError => ("INTERNAL_SERVER_ERROR", "something failed on the server; nothing more is shown (the cause is logged with the request id)"),
    }
}

impl ErrorCode {
    pub const fn code(self) -> &'static str {
        self.row().0
    }

    pub const fn meaning(self) -> &'static str {
        self.row().1
    }
}

pub fn to_graphql_error(error: &AppError) -> Error {
    match error {
        AppError::Unauthenticated(message) => coded(message, ErrorCode::Unauthenticated),
        AppError::Forbidden { reason, message } => {
            coded(message, ErrorCode::Forbidden).extend_with(|_, ext| ext.set("reason", reason.code()))
        }
        AppError::OverPlan(refusal) => over_plan(*refusal),
        AppError::SoleOwner { tenants } => coded(
            &format!(
                "you are the only owner of {}: hand ownership over or delete them first",
                tenants.join(", ")
            ),
            ErrorCode::Forbidden,
        )
        .extend_with(|_, ext| {
            ext.set("reason", ForbiddenReason::SoleOwner.code());
            ext.set("tenants", tenants.clone());
        }),
        AppError::MfaChallenge { challenge, expires_at } => coded(
            "a second factor is needed: send the challenge and a code from your authenticator (or a recovery code) to verifyMfa",
            ErrorCode::Forbidden,
        )
        .extend_with(|_, ext| {
            ext.set("reason", ForbiddenReason::MfaRequired.code());
            ext.set("mfaChallenge", challenge.as_str());
            ext.set("mfaChallengeExpiresAt", expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }),
        AppError::SsoRequired { start_url } => coded(
            "this address signs in through its organization's identity provider: start at extensions.ssoStartUrl",
            ErrorCode::Forbidden,
        )
        .extend_with(|_, ext| {
            ext.set("reason", ForbiddenReason::SsoRequired.code());
            ext.set("ssoStartUrl", start_url.as_str());
        }),
        AppError::NotFound(what) => coded(&format!("{what} not found"), ErrorCode::NotFound),
        AppError::Conflict { field, message } => {
            let mut fields = async_graphql::indexmap::IndexMap::new();
            fields.insert(async_graphql::Name::new(field), Value::from(message.as_str()));
            coded(message, ErrorCode::Conflict).extend_with(|_, ext| ext.set("fields", Value::Object(fields)))
        }
        AppError::Validation(field_errors) => {
            let mut fields = async_graphql::indexmap::IndexMap::new();
            for (field, message) in field_errors.iter() {
                fields
                    .entry(async_graphql::Name::new(field))
                    .or_insert_with(|| Value::from(message));
            }
            let summary = field_errors
                .iter()
                .map(|(field, message)| format!("{field} {message}"))
                .collect::<Vec<_>>()
                .join("; ");
            coded(&format!("invalid input: {summary}"), ErrorCode::BadUserInput)
                .extend_with(|_, ext| ext.set("fields", Value::Object(fields)))
        }
        AppError::RateLimited { retry_after_seconds } => coded("too many requests", ErrorCode::RateLimited)
            .extend_with(|_, ext| ext.set("retryAfterSeconds", *retry_after_seconds)),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            coded("internal error", ErrorCode::InternalServerError)
        }
    }
}

/// `FORBIDDEN` with the plan's reason and what the client needs to explain it.
fn over_plan(refusal: Refusal) -> Error {
    let reason = |reason: ForbiddenReason| {
        move |_: &_, ext: &mut async_graphql::ErrorExtensionValues| ext.set("reason", reason.code())
    };
    match refusal {
        Refusal::QuotaExceeded { quota, limit, used } => coded(
            &format!(
                "the plan allows {limit} {}; the tenant has {used}",
                quota.as_str().replace('_', " ")
            ),
            ErrorCode::Forbidden,
        )
        .extend_with(reason(ForbiddenReason::QuotaExceeded))
        .extend_with(|_, ext| {
            ext.set("quota", quota.as_str());
            ext.set("limit", limit);
            ext.set("used", used);
        }),
        Refusal::FeatureNotInPlan(feature) => coded(
            &format!("the tenant's plan does not include `{feature}`"),
            ErrorCode::Forbidden,
        )
        .extend_with(reason(ForbiddenReason::FeatureNotInPlan))
        .extend_with(|_, ext| ext.set("feature", feature.as_str())),
    }
}

fn coded(message: &str, code: ErrorCode) -> Error {
    Error::new(message).extend_with(|_, ext| ext.set("code", code.code()))
}

/// `result.gql()?` in resolvers.
pub(crate) trait GqlResult<T> {
    fn gql(self) -> Result<T, Error>;
}

impl<T> GqlResult<T> for Result<T, AppError> {
    fn gql(self) -> Result<T, Error> {
        self.map_err(|error| to_graphql_error(&error))
    }
}

/// An id argument that is not a well-formed id: `BAD_USER_INPUT` on that field.
pub(crate) fn parse_id<T, E>(field: &str, raw: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, Error> {
    parse(raw).map_err(|_| to_graphql_error(&AppError::validation(field, "is not a valid id")))
}
