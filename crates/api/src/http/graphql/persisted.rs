//! Stage 3, persisted documents: a request may send `extensions.persistedQuery` with a
//! hash instead of (or besides) its document (Apollo's automatic persisted queries and
//! the trusted-documents manifest). The document is looked up here, before its shape is
//! measured; only documents that later pass every limit and validate are registered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;

use super::client::{Credential, credential};
use super::refusal::{Refused, RequestRefusal};
use crate::http::TrustedDocuments;

/// The trusted-documents manifest (SHA-256 hex → document) as the server holds it: read
/// by every request, replaced whole when the file is reloaded (a request keeps the
/// manifest it started with).
#[derive(Debug, Default)]
pub struct TrustedManifest(RwLock<Arc<HashMap<String, String>>>);

impl TrustedManifest {
    pub fn new(documents: HashMap<String, String>) -> Self {
        Self(RwLock::new(Arc::new(documents)))
    }

    pub fn current(&self) -> Arc<HashMap<String, String>> {
        match self.0.read() {
            Ok(documents) => documents.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, documents: HashMap<String, String>) {
        let documents = Arc::new(documents);
        match self.0.write() {
            Ok(mut current) => *current = documents,
            Err(poisoned) => *poisoned.into_inner() = documents,
        }
    }
}

/// Automatic persisted queries and trusted documents. A request may send
/// `extensions.persistedQuery.sha256Hash` without a query: the document comes from the
/// trusted manifest or the store (`PersistedQueryNotFound` on a miss, and the client
/// sends it again with the query, which registers it). A document whose hash does not
/// match is refused. Where trusted documents are required, only manifest hashes run.
/// Returns the hash to register once the request has passed the other limits.
pub async fn resolve<F>(
    trusted: &HashMap<String, String>,
    required: TrustedDocuments,
    headers: &HeaderMap,
    request: &mut async_graphql::Request,
    stored: impl FnOnce(String) -> F,
) -> Result<Option<String>, Refused>
where
    F: std::future::Future<Output = Option<String>>,
{
    let hash = match request.extensions.get("persistedQuery") {
        None => None,
        Some(async_graphql::Value::Object(persisted)) => match persisted.get("sha256Hash") {
            Some(async_graphql::Value::String(hash)) => sha256_digits(hash),
            _ => None,
        }
        .map(Some)
        .ok_or_else(|| {
            Refused::new(
                RequestRefusal::BadPersistedQuery,
                "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
            )
        })?,
        Some(_) => {
            return Err(Refused::new(
                RequestRefusal::BadPersistedQuery,
                "extensions.persistedQuery must be an object",
            ));
        }
    };
    let api_key = matches!(credential(headers), Ok(Some(Credential::ApiKey(_))));
    let trusted_only = match required {
        TrustedDocuments::Off => false,
        TrustedDocuments::ApiKeys => api_key,
        TrustedDocuments::Everyone => true,
    };
    let Some(hash) = hash else {
        if trusted_only {
            return Err(Refused::new(
                RequestRefusal::PersistedQueryRequired,
                "this caller may only run trusted documents: send a documentId (or extensions.persistedQuery.sha256Hash)",
            ));
        }
        return Ok(None);
    };
    if let Some(trusted) = trusted.get(&hash) {
        if request.query.is_empty() {
            request.query = trusted.clone();
        }
    } else if trusted_only {
        return Err(Refused::new(
            RequestRefusal::PersistedQueryNotTrusted,
            "this hash is not a trusted document",
        ));
    } else if request.query.is_empty() {
        match stored(hash.clone()).await {
            Some(document) => request.query = document,
            None => {
                // The message is what Apollo clients look for before retrying with the query.
                return Err(Refused::new(
                    RequestRefusal::PersistedQueryNotFound,
                    "PersistedQueryNotFound",
                ));
            }
        }
        return Ok(None);
    }
    if sha256_hex(&request.query) != hash {
        return Err(Refused::new(
            RequestRefusal::PersistedQueryHashMismatch,
            "provided sha256Hash does not match the query",
        ));
    }
    if trusted.contains_key(&hash) {
        Ok(None)
    } else {
        Ok(Some(hash))
    }
}

/// Whether the request (already through [`resolve`]) runs a document of the trusted
/// manifest.
pub fn is_trusted(trusted: &HashMap<String, String>, request: &async_graphql::Request) -> bool {
    match request.extensions.get("persistedQuery") {
        Some(async_graphql::Value::Object(persisted)) => match persisted.get("sha256Hash") {
            Some(async_graphql::Value::String(hash)) => trusted.contains_key(&hash.to_ascii_lowercase()),
            _ => false,
        },
        _ => false,
    }
}

/// `text` as a SHA-256 in 64 hexadecimal digits, in lower case; `None` when it is not one.
pub fn sha256_digits(text: &str) -> Option<String> {
    (text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())).then(|| text.to_ascii_lowercase())
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const DOCUMENT: &str = "{ permissions { name } }";

    fn request(query: &str, hash: Option<&str>) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        if let Some(hash) = hash {
            let mut persisted = async_graphql::indexmap::IndexMap::new();
            persisted.insert(async_graphql::Name::new("sha256Hash"), async_graphql::Value::from(hash));
            request
                .extensions
                .insert("persistedQuery".into(), async_graphql::Value::Object(persisted));
        }
        request
    }

    async fn run(
        trusted: &HashMap<String, String>,
        required: TrustedDocuments,
        api_key: bool,
        mut request: async_graphql::Request,
    ) -> (Result<Option<String>, RequestRefusal>, String) {
        let mut headers = HeaderMap::new();
        if api_key {
            headers.insert("x-api-key", HeaderValue::from_static("tsk_x"));
        }
        let stored = HashMap::from([(sha256_hex("{ stored }"), "{ stored }".to_owned())]);
        let outcome = resolve(trusted, required, &headers, &mut request, |hash| {
            std::future::ready(stored.get(&hash).cloned())
        })
        .await
        .map_err(|refused| refused.refusal);
        (outcome, request.query)
    }

    #[tokio::test]
    async fn a_hash_finds_its_document_or_asks_for_it_and_a_wrong_one_is_refused() {
        let none = HashMap::new();
        let off = TrustedDocuments::Off;
        let hash = sha256_hex(DOCUMENT);
        let (missing, _) = run(&none, off, false, request("", Some(&hash))).await;
        assert_eq!(missing, Err(RequestRefusal::PersistedQueryNotFound));
        let (registering, _) = run(&none, off, false, request(DOCUMENT, Some(&hash))).await;
        assert_eq!(registering, Ok(Some(hash.clone())), "to register once it passes");
        let stored = sha256_hex("{ stored }");
        let (found, query) = run(&none, off, false, request("", Some(&stored))).await;
        assert_eq!((found, query.as_str()), (Ok(None), "{ stored }"));
        let (forged, _) = run(&none, off, false, request("{ other }", Some(&hash))).await;
        assert_eq!(forged, Err(RequestRefusal::PersistedQueryHashMismatch));
        let (malformed, _) = run(&none, off, false, request("", Some("abc"))).await;
        assert_eq!(malformed, Err(RequestRefusal::BadPersistedQuery));
        let (plain, _) = run(&none, off, false, request(DOCUMENT, None)).await;
        assert_eq!(plain, Ok(None));
    }

    #[tokio::test]
    async fn callers_held_to_trusted_documents_run_only_the_manifest() {
        let hash = sha256_hex(DOCUMENT);
        let manifest = HashMap::from([(hash.clone(), DOCUMENT.to_owned())]);
        let keys = TrustedDocuments::ApiKeys;
        let (from_manifest, query) = run(&manifest, keys, true, request("", Some(&hash))).await;
        assert_eq!((from_manifest, query.as_str()), (Ok(None), DOCUMENT));
        let (as_text, _) = run(&manifest, keys, true, request(DOCUMENT, None)).await;
        assert_eq!(as_text, Err(RequestRefusal::PersistedQueryRequired));
        let other = sha256_hex("{ me { email } }");
        let (untrusted, _) = run(&manifest, keys, true, request("{ me { email } }", Some(&other))).await;
        assert_eq!(untrusted, Err(RequestRefusal::PersistedQueryNotTrusted));
        let (person, _) = run(&manifest, keys, false, request(DOCUMENT, None)).await;
        assert_eq!(person, Ok(None), "people are not held to it under `api-keys`");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "worked out apart from this code"
        );
    }
}
