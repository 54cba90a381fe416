//! `/scim/v2/Users`: the tenant's people as its directory sees them.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use tessera_application::ports::ScimUserFilter;
use tessera_application::scim::{ScimUserInput, ScimUserView};
use tessera_domain::ScimUserId;

use super::{
    Answer, ListQuery, MAX_RESULTS, ScimError, answer, attr, base_url, body_of, boolean, caller, error, etag,
    expected_version, list_response, parse_filter, patched, project, resource, window,
};
use crate::AppState;

pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Attributes the server keeps itself (or never keeps, like a password). `active` is
/// kept as sent too, so that a person whose directory never sent it reads back without it.
const OWN: [&str; 7] = ["schemas", "id", "meta", "username", "externalid", "groups", "password"];

/// The JSON representation of a person.
pub fn representation(view: &ScimUserView, base: &str) -> Value {
    let user = &view.user;
    let mut object: Map<String, Value> = match serde_json::from_str(&user.attributes) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    let mut schemas = vec![json!(SCHEMA)];
    if object.contains_key(ENTERPRISE) {
        schemas.push(json!(ENTERPRISE));
    }
    object.insert("schemas".into(), Value::Array(schemas));
    object.insert("id".into(), json!(user.id.to_string()));
    if let Some(external_id) = &user.external_id {
        object.insert("externalId".into(), json!(external_id));
    }
    object.insert("userName".into(), json!(user.user_name.as_str()));
    if let Some(key) = object.keys().find(|k| k.eq_ignore_ascii_case("active")).cloned() {
        object.remove(&key);
        object.insert("active".into(), json!(user.active));
    }
    if !view.groups.is_empty() {
        let groups: Vec<Value> = view
            .groups
            .iter()
            .map(|(id, name)| {
                json!({"value": id.to_string(), "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"})
            })
            .collect();
        object.insert("groups".into(), Value::Array(groups));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": user.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(object)
}

/// What a POST or PUT body (or a patched representation) says about a person.
fn input_of(body: &Map<String, Value>) -> Result<ScimUserInput, ScimError> {
    let invalid = |detail: &str| error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail);
    let user_name = match attr(body, "userName") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(invalid("userName: must be text")),
        None => return Err(invalid("userName: is required")),
    };
    let external_id = match attr(body, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(invalid("externalId: must be text")),
    };
    let active = match attr(body, "active") {
        None | Some(Value::Null) => None,
        Some(value) => Some(boolean(value).ok_or_else(|| invalid("active: must be true or false"))?),
    };
    let display_name = match attr(body, "displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(invalid("displayName: must be text")),
    }
    .or_else(|| {
        let name = attr(body, "name")?.as_object()?;
        let formatted = attr(name, "formatted").and_then(Value::as_str).map(str::to_owned);
        formatted.or_else(|| {
            let parts: Vec<&str> = ["givenName", "familyName"]
                .iter()
                .filter_map(|part| attr(name, part).and_then(Value::as_str))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
    });
    if attr(body, "name").is_some_and(|name| !name.is_object() && !name.is_null()) {
        return Err(invalid("name: must be an object"));
    }
    let mut emails = Vec::new();
    match attr(body, "emails") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut listed: Vec<(bool, String)> = Vec::new();
            for item in items {
                let value = item
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("emails: each has a value"))?;
                let primary = item.get("primary").and_then(boolean).unwrap_or(false);
                listed.push((primary, value.to_owned()));
            }
            // The primary address first, then the rest in order.
            listed.sort_by_key(|(primary, _)| !primary);
            emails = listed.into_iter().map(|(_, value)| value).collect();
        }
        Some(_) => return Err(invalid("emails: must be a list")),
    }
    let attributes: Map<String, Value> = body
        .iter()
        .filter(|(key, _)| !OWN.contains(&key.to_ascii_lowercase().as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(ScimUserInput {
        user_name,
        external_id,
        active,
        display_name,
        emails,
        attributes: Value::Object(attributes).to_string(),
    })
}

fn user_id(raw: &str) -> Result<ScimUserId, ScimError> {
    ScimUserId::parse(raw).map_err(|_| error(StatusCode::NOT_FOUND, None, "no such user"))
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let filter = match parse_filter(query.filter.as_deref())? {
        None => None,
        Some(eq) => match super::filter::bare_attribute(&eq.attribute)
            .to_ascii_lowercase()
            .as_str()
        {
            "username" => Some(ScimUserFilter::UserName(eq.value)),
            "externalid" => Some(ScimUserFilter::ExternalId(eq.value)),
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    "users are filtered by userName or externalId",
                ));
            }
        },
    };
    let (offset, limit) = window(&query, MAX_RESULTS)?;
    let base = base_url(&state, request.headers());
    let slice = state.app.scim_users(&caller, filter.as_ref(), offset, limit).await?;
    let resources = slice
        .items
        .iter()
        .map(|view| {
            let mut value = representation(view, &base);
            project(
                &mut value,
                query.attributes.as_deref(),
                query.excluded_attributes.as_deref(),
            );
            value
        })
        .collect();
    Ok(answer(
        StatusCode::OK,
        &list_response(resources, slice.total, offset + 1),
    ))
}

pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    request: Request,
) -> Answer {
    let caller = caller(&state, &request).await?;
    let view = state.app.scim_user(&caller, user_id(&id)?).await?;
    let mut value = representation(&view, &base_url(&state, request.headers()));
    project(
        &mut value,
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
    );
    Ok(resource(StatusCode::OK, &value, view.user.version))
}

pub async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let base = base_url(&state, request.headers());
    let input = input_of(&body_of(&state, request).await?)?;
    let view = state.app.scim_create_user(&caller, input).await?;
    Ok(resource(
        StatusCode::CREATED,
        &representation(&view, &base),
        view.user.version,
    ))
}

pub async fn replace(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let id = user_id(&id)?;
    let expected = expected_version(request.headers())?;
    let base = base_url(&state, request.headers());
    let input = input_of(&body_of(&state, request).await?)?;
    let view = state.app.scim_replace_user(&caller, id, input, expected).await?;
    Ok(resource(
        StatusCode::OK,
        &representation(&view, &base),
        view.user.version,
    ))
}

/// Reads the person, applies the operations to their representation and saves it like
/// a PUT, on the version read (a change in between is retried on the new version).
pub async fn patch(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let id = user_id(&id)?;
    let expected = expected_version(request.headers())?;
    let base = base_url(&state, request.headers());
    let body = body_of(&state, request).await?;
    patched(
        expected,
        &body,
        || state.app.scim_user(&caller, id),
        |view| (representation(view, &base), view.user.version),
        |doc, version| {
            let input = input_of(doc)?;
            Ok(state.app.scim_replace_user(&caller, id, input, Some(version)))
        },
    )
    .await
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    state.app.scim_delete_user(&caller, user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
