//! The small, closed set of failures the outside world sees. The API maps each variant
//! to one `extensions.code`, in one place.

use std::error::Error as StdError;
use std::fmt;

use crate::ports::StoreError;

/// Per-field messages for a refused input, keyed by the input field's wire name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, String)>);

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

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("forbidden ({reason}): {message}")]
    Forbidden { reason: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict on {field}: {message}")]
    Conflict { field: String, message: String },
    #[error("invalid input")]
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
