//! `/.well-known/jwks.json`: the public keys that verify Tessera's access tokens (RS256
//! or EdDSA), the signing key and those kept for rotation, so a partner or a gateway
//! verifies tokens without a shared secret. With HS256 the set is empty: a secret is
//! never published.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Verifiers may keep the set this long; a rotation lists the new key before it signs,
/// so a verifier that refetches on an unknown `kid` never misses it.
const CACHE_CONTROL: &str = "public, max-age=300";

pub async fn render(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)),
        ],
        state.config.published_keys.to_string(),
    )
        .into_response()
}
