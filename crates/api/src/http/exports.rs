//! `GET /exports/{tenant}/{export}?user=…&expires=…&signature=…`: a tenant export's
//! archive, through the signed link `TenantExport.downloadLink` hands to its owner.
//! The link is the credential (no token needed, so a browser can follow it); it works
//! until it expires, only for a person who still owns the tenant, and every download
//! is recorded in the tenant's audit trail.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_application::AppError;
use tessera_application::offboarding::SignedDownload;
use tessera_domain::{TenantExportId, TenantId, UserId};

use super::graphql::client::client_of;
use crate::AppState;

#[derive(Deserialize)]
pub struct LinkQuery {
    user: Option<String>,
    expires: Option<i64>,
    signature: Option<String>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

#[derive(Deserialize)]
pub struct PersonQuery {
    user: Option<String>,
    expires: Option<i64>,
    signature: Option<String>,
}

/// `GET /exports/me?user=…&expires=…&signature=…`: everything about one person, as
/// NDJSON, through the signed link `exportMyData` hands them.
pub async fn personal(State(state): State<AppState>, Query(query): Query<PersonQuery>) -> Response {
    let (Some(user), Some(expires), Some(signature)) = (
        query.user.as_deref().and_then(|u| UserId::parse(u).ok()),
        query.expires,
        query.signature,
    ) else {
        return refuse(StatusCode::BAD_REQUEST, "this is not a download link");
    };
    match state.app.open_personal_export(user, expires, &signature).await {
        Ok(lines) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"tessera-my-data-{user}.ndjson\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            Body::from_stream(lines),
        )
            .into_response(),
        Err(AppError::Forbidden { message, .. }) => refuse(StatusCode::FORBIDDEN, &message),
        Err(error) => {
            tracing::error!(%error, "a personal export failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

pub async fn download(
    State(state): State<AppState>,
    Path((tenant, export)): Path<(String, String)>,
    Query(query): Query<LinkQuery>,
    request: Request,
) -> Response {
    let link = (|| {
        Some(SignedDownload {
            tenant: TenantId::parse(&tenant).ok()?,
            export: TenantExportId::parse(&export).ok()?,
            user: UserId::parse(query.user.as_deref()?).ok()?,
            expires: query.expires?,
            signature: query.signature.clone()?,
        })
    })();
    let Some(link) = link else {
        return refuse(StatusCode::BAD_REQUEST, "this is not a download link");
    };
    let origin = client_of(&request, &state.config.trusted_proxies);
    match state.app.download_tenant_export(&link, origin).await {
        Ok((export, size, bytes)) => {
            let name = format!("tenant-{}-export-{}.tar.gz", export.tenant_id, export.id);
            (
                [
                    (header::CONTENT_TYPE, "application/gzip".to_owned()),
                    (header::CONTENT_LENGTH, size.to_string()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                Body::from_stream(bytes),
            )
                .into_response()
        }
        Err(AppError::Forbidden { message, .. }) => refuse(StatusCode::FORBIDDEN, &message),
        Err(AppError::NotFound(_)) => refuse(StatusCode::NOT_FOUND, "this export is no longer available"),
        Err(error) => {
            tracing::error!(%error, "an export download failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
