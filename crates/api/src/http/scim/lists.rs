//! What every SCIM list shares: the window a request asks for, the list response, and
//! the attributes it keeps or leaves out.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{LIST_SCHEMA, ScimError, error, filter};

/// `startIndex` (1-based) and `count` of a list request: the offset and limit, the
/// count cut to `max` (numbers that are not: `invalidValue`).
pub fn window(query: &ListQuery, max: u64) -> Result<(u64, u64), ScimError> {
    let number = |name: &str, raw: &Option<String>| -> Result<Option<i64>, ScimError> {
        raw.as_deref()
            .map(|raw| {
                raw.trim().parse::<i64>().map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        Some("invalidValue"),
                        &format!("{name}: must be a whole number"),
                    )
                })
            })
            .transpose()
    };
    let start = number("startIndex", &query.start_index)?.unwrap_or(1).max(1) as u64;
    let count = number("count", &query.count)?.map_or(max, |c| c.clamp(0, max as i64) as u64);
    Ok((start - 1, count))
}

/// A list request's query (numbers kept as sent, and checked by [`window`]).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// A SCIM ListResponse.
pub fn list_response(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// Keeps what `attributes` asks for (plus `id`, `schemas` and `meta`, always returned)
/// or drops what `excludedAttributes` names; names compare without regard to case and
/// may carry the schema URN or a sub-attribute (`name.givenName`).
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Value::Object(object) = resource else { return };
    let names = |list: &str| -> Vec<(String, Option<String>)> {
        list.split(',')
            .map(|name| filter::bare_attribute(name.trim()).to_owned())
            .filter(|name| !name.is_empty())
            .map(|name| match name.split_once('.') {
                Some((head, sub)) => (head.to_ascii_lowercase(), Some(sub.to_ascii_lowercase())),
                None => (name.to_ascii_lowercase(), None),
            })
            .collect()
    };
    const ALWAYS: [&str; 3] = ["id", "schemas", "meta"];
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        object.retain(|key, value| {
            let key = key.to_ascii_lowercase();
            if ALWAYS.contains(&key.as_str()) {
                return true;
            }
            let subs: Vec<_> = wanted.iter().filter(|(head, _)| *head == key).collect();
            if subs.is_empty() {
                return false;
            }
            if subs.iter().all(|(_, sub)| sub.is_some())
                && let Value::Object(inner) = value
            {
                inner.retain(|k, _| {
                    subs.iter()
                        .any(|(_, sub)| sub.as_deref() == Some(&k.to_ascii_lowercase()))
                });
            }
            true
        });
    } else if let Some(list) = excluded {
        let unwanted = names(list);
        object.retain(|key, value| {
            let key = key.to_ascii_lowercase();
            if ALWAYS.contains(&key.as_str()) {
                return true;
            }
            for (head, sub) in &unwanted {
                if *head != key {
                    continue;
                }
                match (sub, &mut *value) {
                    (None, _) => return false,
                    (Some(sub), Value::Object(inner)) => inner.retain(|k, _| k.to_ascii_lowercase() != *sub),
                    _ => {}
                }
            }
            true
        });
    }
}
