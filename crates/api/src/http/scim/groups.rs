//! `/scim/v2/Groups`: the tenant directory's groups and their members.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use tessera_application::ports::ScimGroupFilter;
use tessera_application::scim::{ScimGroupInput, ScimGroupView};
use tessera_domain::ScimGroupId;

use super::{
    Answer, ListQuery, MAX_GROUPS_WITH_MEMBERS, MAX_RESULTS, ScimError, answer, attr, base_url, body_of, caller, error,
    etag, expected_version, list_response, parse_filter, patched, project, resource, window,
};
use crate::AppState;

pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The JSON representation of a group; members as `{value, $ref, type}`.
pub fn representation(view: &ScimGroupView, base: &str) -> Value {
    let group = &view.group;
    let mut object = Map::new();
    object.insert("schemas".into(), json!([SCHEMA]));
    object.insert("id".into(), json!(group.id.to_string()));
    if let Some(external_id) = &group.external_id {
        object.insert("externalId".into(), json!(external_id));
    }
    object.insert("displayName".into(), json!(group.display_name));
    if let Some(members) = view.members.as_ref().filter(|m| !m.is_empty()) {
        let members: Vec<Value> = members
            .iter()
            .map(|(id, _)| json!({"value": id.to_string(), "$ref": format!("{base}/Users/{id}"), "type": "User"}))
            .collect();
        object.insert("members".into(), Value::Array(members));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": group.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(object)
}

fn input_of(body: &Map<String, Value>) -> Result<ScimGroupInput, ScimError> {
    let invalid = |detail: &str| error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail);
    let display_name = match attr(body, "displayName") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(invalid("displayName: must be text")),
        None => return Err(invalid("displayName: is required")),
    };
    let external_id = match attr(body, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(invalid("externalId: must be text")),
    };
    let mut members = Vec::new();
    match attr(body, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let value = item
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("members: each names its user in value"))?;
                if item.get("type").and_then(Value::as_str).is_some_and(|t| t != "User") {
                    return Err(invalid("members: only users can be members (no nested groups)"));
                }
                members.push(value.to_owned());
            }
        }
        Some(_) => return Err(invalid("members: must be a list")),
    }
    Ok(ScimGroupInput {
        display_name,
        external_id,
        members,
    })
}

fn group_id(raw: &str) -> Result<ScimGroupId, ScimError> {
    ScimGroupId::parse(raw).map_err(|_| error(StatusCode::NOT_FOUND, None, "no such group"))
}

/// Members come along unless `excludedAttributes` (or an `attributes` list without
/// them) leaves them out.
pub fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|n| super::filter::bare_attribute(n.trim()).to_ascii_lowercase())
            .collect()
    };
    match (attributes.filter(|a| !a.trim().is_empty()), excluded) {
        (Some(list), _) => names(list).iter().any(|n| n == "members" || n.starts_with("members.")),
        (None, Some(list)) => !names(list).iter().any(|n| n == "members"),
        (None, None) => true,
    }
}

pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let filter = match parse_filter(query.filter.as_deref())? {
        None => None,
        Some(eq) => match super::filter::bare_attribute(&eq.attribute)
            .to_ascii_lowercase()
            .as_str()
        {
            "displayname" => Some(ScimGroupFilter::DisplayName(eq.value)),
            "externalid" => Some(ScimGroupFilter::ExternalId(eq.value)),
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    "groups are filtered by displayName or externalId",
                ));
            }
        },
    };
    let with_members = wants_members(query.attributes.as_deref(), query.excluded_attributes.as_deref());
    let max = if with_members {
        MAX_GROUPS_WITH_MEMBERS
    } else {
        MAX_RESULTS
    };
    let (offset, limit) = window(&query, max)?;
    let base = base_url(&state, request.headers());
    let slice = state
        .app
        .scim_groups(&caller, filter.as_ref(), offset, limit, with_members)
        .await?;
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
    let with_members = wants_members(query.attributes.as_deref(), query.excluded_attributes.as_deref());
    let view = state.app.scim_group(&caller, group_id(&id)?, with_members).await?;
    let mut value = representation(&view, &base_url(&state, request.headers()));
    project(
        &mut value,
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
    );
    Ok(resource(StatusCode::OK, &value, view.group.version))
}

pub async fn create(State(state): State<AppState>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let base = base_url(&state, request.headers());
    let input = input_of(&body_of(&state, request).await?)?;
    let view = state.app.scim_create_group(&caller, input).await?;
    Ok(resource(
        StatusCode::CREATED,
        &representation(&view, &base),
        view.group.version,
    ))
}

pub async fn replace(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let id = group_id(&id)?;
    let expected = expected_version(request.headers())?;
    let base = base_url(&state, request.headers());
    let input = input_of(&body_of(&state, request).await?)?;
    let view = state.app.scim_replace_group(&caller, id, input, expected).await?;
    Ok(resource(
        StatusCode::OK,
        &representation(&view, &base),
        view.group.version,
    ))
}

/// Reads the group with its members, applies the operations and saves it like a PUT,
/// on the version read (a change in between is retried on the new version).
pub async fn patch(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    let id = group_id(&id)?;
    let expected = expected_version(request.headers())?;
    let base = base_url(&state, request.headers());
    let body = body_of(&state, request).await?;
    patched(
        expected,
        &body,
        || state.app.scim_group(&caller, id, true),
        |view| (representation(view, &base), view.group.version),
        |doc, version| {
            let input = input_of(doc)?;
            Ok(state.app.scim_replace_group(&caller, id, input, Some(version)))
        },
    )
    .await
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    let caller = caller(&state, &request).await?;
    state.app.scim_delete_group(&caller, group_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
