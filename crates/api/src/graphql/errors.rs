//! The one place an application error becomes a GraphQL error with `extensions.code`.
//! Internal errors are logged with their cause and shown to the client as nothing more
//! than "internal error".

use async_graphql::{Error, ErrorExtensions, Value};
use tessera_application::AppError;

pub fn to_graphql_error(error: &AppError) -> Error {
    match error {
        AppError::Unauthenticated(message) => coded(message, "UNAUTHENTICATED"),
        AppError::Forbidden { reason, message } => {
            coded(message, "FORBIDDEN").extend_with(|_, ext| ext.set("reason", *reason))
        }
        AppError::NotFound(what) => coded(&format!("{what} not found"), "NOT_FOUND"),
        AppError::Conflict { field, message } => {
            let mut fields = async_graphql::indexmap::IndexMap::new();
            fields.insert(async_graphql::Name::new(field), Value::from(message.as_str()));
            coded(message, "CONFLICT").extend_with(|_, ext| ext.set("fields", Value::Object(fields)))
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
            coded(&format!("invalid input: {summary}"), "BAD_USER_INPUT")
                .extend_with(|_, ext| ext.set("fields", Value::Object(fields)))
        }
        AppError::RateLimited { retry_after_seconds } => coded("too many requests", "RATE_LIMITED")
            .extend_with(|_, ext| ext.set("retryAfterSeconds", *retry_after_seconds)),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            coded("internal error", "INTERNAL_SERVER_ERROR")
        }
    }
}

fn coded(message: &str, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, ext| ext.set("code", code))
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
