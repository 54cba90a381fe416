//! Stage 1, negotiation: which media type the answer uses, from `Accept`
//! (`application/graphql-response+json` when the client names it, else
//! `application/json`), and how any answer is written in it.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// Which media type the response uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponse,
    LegacyJson,
}

/// `None` when the client accepts none of them (`406`). A client that names
/// `application/graphql-response+json` gets it; one that sends no `Accept`, or accepts
/// anything (`*/*`, `application/*`), gets `application/json`, as the GraphQL-over-HTTP
/// specification recommends while clients that predate the new type are about.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::LegacyJson);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .collect();
    if types.iter().any(|t| t.eq_ignore_ascii_case(GRAPHQL_RESPONSE)) {
        Some(MediaType::GraphqlResponse)
    } else if types
        .iter()
        .any(|t| t.eq_ignore_ascii_case(JSON) || *t == "*/*" || t.eq_ignore_ascii_case("application/*"))
    {
        Some(MediaType::LegacyJson)
    } else {
        None
    }
}

/// Whether a POST body says it is JSON.
pub fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(JSON))
        .unwrap_or(false)
}

/// `body` as the answer, in `media`.
pub fn respond(status: StatusCode, media: MediaType, body: &impl serde::Serialize) -> Response {
    let content_type = match media {
        MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        MediaType::LegacyJson => "application/json; charset=utf-8",
    };
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| br#"{"errors":[{"message":"internal error"}]}"#.to_vec());
    (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accepting(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).expect("header"));
        }
        headers
    }

    #[test]
    fn the_graphql_media_type_goes_to_those_who_name_it_and_plain_json_to_everyone_else() {
        assert_eq!(negotiate(&accepting(None)), Some(MediaType::LegacyJson));
        assert_eq!(
            negotiate(&accepting(Some(
                "application/graphql-response+json, application/json;q=0.9"
            ))),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(negotiate(&accepting(Some("*/*"))), Some(MediaType::LegacyJson));
        assert_eq!(
            negotiate(&accepting(Some("text/html, application/*;q=0.8"))),
            Some(MediaType::LegacyJson)
        );
        assert_eq!(
            negotiate(&accepting(Some("application/json; charset=utf-8"))),
            Some(MediaType::LegacyJson)
        );
        assert_eq!(negotiate(&accepting(Some("text/html"))), None);
    }

    #[test]
    fn only_a_json_content_type_is_a_json_body() {
        let mut headers = HeaderMap::new();
        assert!(!is_json_body(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(is_json_body(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json_body(&headers));
    }
}
