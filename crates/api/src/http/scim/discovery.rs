//! What the server tells a directory about itself (RFC 7643 §5–7): its configuration,
//! resource types and schemas; plus the search across both resource types
//! (`POST /scim/v2/.search`) and SCIM's 404 for any other path under `/scim/v2`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tessera_application::ports::{ScimGroupFilter, ScimUserFilter};

use super::{
    Answer, MAX_RESULTS, ScimError, answer, base_url, body_of, caller, error, list_response, parse_filter, project,
    users,
};
use crate::AppState;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attribute: Value, changes: Value) -> Value {
    if let (Value::Object(target), Value::Object(changes)) = (&mut attribute, changes) {
        target.extend(changes);
    }
    attribute
}

fn user_schema() -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": users::SCHEMA,
        "name": "User",
        "description": "A person of the tenant, as its directory provisions them",
        "attributes": [
            with(attribute("userName", "string", "The directory's name for the person, unique in the tenant"),
                json!({"required": true, "uniqueness": "server"})),
            with(attribute("name", "complex", "The person's name"), json!({"subAttributes": [
                attribute("formatted", "string", "The full name"),
                attribute("familyName", "string", "The family name"),
                attribute("givenName", "string", "The given name"),
            ]})),
            attribute("displayName", "string", "The name shown for the person"),
            attribute("active", "boolean", "false takes the person's access away: membership, sessions in the tenant and API keys"),
            with(attribute("emails", "complex", "Addresses; the primary one (else the first) is the account's when it is created"),
                json!({"multiValued": true, "required": true, "subAttributes": [
                    with(attribute("value", "string", "The address"), json!({"required": true})),
                    with(attribute("type", "string", "What the address is for"), json!({"canonicalValues": ["work", "home", "other"]})),
                    attribute("primary", "boolean", "The person's main address"),
                ]})),
            with(attribute("groups", "complex", "The groups the person is in"),
                json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                    with(attribute("value", "string", "The group's id"), json!({"mutability": "readOnly"})),
                    with(attribute("$ref", "reference", "The group's URI"), json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                    with(attribute("display", "string", "The group's name"), json!({"mutability": "readOnly"})),
                    with(attribute("type", "string", "Direct membership"), json!({"mutability": "readOnly", "canonicalValues": ["direct"]})),
                ]})),
        ],
    })
}

fn group_schema() -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": super::groups::SCHEMA,
        "name": "Group",
        "description": "A group of the tenant's directory; an owner maps it to a role in Tessera",
        "attributes": [
            with(attribute("displayName", "string", "The group's name, unique in the tenant"),
                json!({"required": true, "uniqueness": "server"})),
            with(attribute("members", "complex", "The people in the group (users of the same directory)"),
                json!({"multiValued": true, "subAttributes": [
                    with(attribute("value", "string", "The user's id"), json!({"mutability": "immutable"})),
                    with(attribute("$ref", "reference", "The user's URI"), json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                    with(attribute("type", "string", "What the member is"), json!({"mutability": "immutable", "canonicalValues": ["User"]})),
                ]})),
        ],
    })
}

fn schemas_with_meta(base: &str) -> Vec<Value> {
    [user_schema(), group_schema()]
        .into_iter()
        .map(|mut schema| {
            let id = schema["id"].as_str().unwrap_or_default().to_owned();
            schema["meta"] = json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
            schema
        })
        .collect()
}

fn resource_types_with_meta(base: &str) -> Vec<Value> {
    [
        ("User", "/Users", users::SCHEMA, "The tenant's people"),
        (
            "Group",
            "/Groups",
            super::groups::SCHEMA,
            "The tenant directory's groups",
        ),
    ]
    .into_iter()
    .map(|(id, endpoint, schema, description)| {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "description": description,
            "schema": schema,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
        })
    })
    .collect()
}

pub async fn service_provider_config(State(state): State<AppState>, request: Request) -> Answer {
    caller(&state, &request).await?;
    let base = base_url(&state, request.headers());
    Ok(answer(
        StatusCode::OK,
        &json!({
            "schemas": [CONFIG_SCHEMA],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "A bearer token an owner of the tenant creates with createScimToken",
                "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
        }),
    ))
}

pub async fn resource_types(State(state): State<AppState>, request: Request) -> Answer {
    caller(&state, &request).await?;
    let types = resource_types_with_meta(&base_url(&state, request.headers()));
    let total = types.len() as u64;
    Ok(answer(StatusCode::OK, &list_response(types, total, 1)))
}

pub async fn resource_type(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    caller(&state, &request).await?;
    match resource_types_with_meta(&base_url(&state, request.headers()))
        .into_iter()
        .find(|t| t["id"] == json!(id))
    {
        Some(found) => Ok(answer(StatusCode::OK, &found)),
        None => Err(error(StatusCode::NOT_FOUND, None, "no such resource type")),
    }
}

pub async fn schemas(State(state): State<AppState>, request: Request) -> Answer {
    caller(&state, &request).await?;
    let schemas = schemas_with_meta(&base_url(&state, request.headers()));
    let total = schemas.len() as u64;
    Ok(answer(StatusCode::OK, &list_response(schemas, total, 1)))
}

pub async fn schema(State(state): State<AppState>, Path(id): Path<String>, request: Request) -> Answer {
    caller(&state, &request).await?;
    match schemas_with_meta(&base_url(&state, request.headers()))
        .into_iter()
        .find(|s| s["id"] == json!(id))
    {
        Some(found) => Ok(answer(StatusCode::OK, &found)),
        None => Err(error(StatusCode::NOT_FOUND, None, "no such schema")),
    }
}

/// Any other path under `/scim/v2`.
pub async fn unknown() -> ScimError {
    error(StatusCode::NOT_FOUND, None, "no such resource")
}

/// `POST /scim/v2/.search`: people, then groups, in one list (RFC 7644 §3.4.3).
pub async fn search(State(state): State<AppState>, request: Request) -> Answer {
    search_in(state, request, Searched::Both).await
}

/// `POST /scim/v2/Users/.search`.
pub async fn search_users(State(state): State<AppState>, request: Request) -> Answer {
    search_in(state, request, Searched::Users).await
}

/// `POST /scim/v2/Groups/.search`.
pub async fn search_groups(State(state): State<AppState>, request: Request) -> Answer {
    search_in(state, request, Searched::Groups).await
}

/// Which resource types a search reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Searched {
    Both,
    Users,
    Groups,
}

async fn search_in(state: AppState, request: Request, searched: Searched) -> Answer {
    let caller = caller(&state, &request).await?;
    let base = base_url(&state, request.headers());
    let body = body_of(&state, request).await?;
    let bad = |detail: &str| error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail);
    if !body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)))
    {
        return Err(bad(&format!("a search names the schema {SEARCH_SCHEMA}")));
    }
    let list = |key: &str| -> Result<Option<String>, ScimError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(
                items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            )),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(bad(&format!("{key}: a list of attribute names"))),
        }
    };
    let attributes = list("attributes")?;
    let excluded = list("excludedAttributes")?;
    let filter = parse_filter(body.get("filter").and_then(Value::as_str))?;
    let start = body.get("startIndex").and_then(Value::as_u64).unwrap_or(1).max(1);
    let count = body
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(MAX_RESULTS)
        .min(MAX_RESULTS);
    let offset = start - 1;
    // Which filter each type answers; a type the attribute does not belong to has none.
    let (user_filter, group_filter, users_match, groups_match) = match &filter {
        None => (None, None, true, true),
        Some(eq) => match super::filter::bare_attribute(&eq.attribute)
            .to_ascii_lowercase()
            .as_str()
        {
            "username" => (Some(ScimUserFilter::UserName(eq.value.clone())), None, true, false),
            "displayname" => (None, Some(ScimGroupFilter::DisplayName(eq.value.clone())), false, true),
            "externalid" => (
                Some(ScimUserFilter::ExternalId(eq.value.clone())),
                Some(ScimGroupFilter::ExternalId(eq.value.clone())),
                true,
                true,
            ),
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    "searches filter by userName, displayName or externalId",
                ));
            }
        },
    };
    let users_match = users_match && searched != Searched::Groups;
    let groups_match = groups_match && searched != Searched::Users;
    let mut resources = Vec::new();
    let mut total = 0;
    if users_match {
        let slice = state
            .app
            .scim_users(&caller, user_filter.as_ref(), offset, count)
            .await?;
        total += slice.total;
        resources.extend(slice.items.iter().map(|view| users::representation(view, &base)));
    }
    if groups_match {
        let users_total = total;
        let group_offset = offset.saturating_sub(users_total);
        let room = count.saturating_sub(resources.len() as u64);
        let with_members = super::groups::wants_members(attributes.as_deref(), excluded.as_deref());
        let room = if with_members {
            room.min(super::MAX_GROUPS_WITH_MEMBERS)
        } else {
            room
        };
        let slice = state
            .app
            .scim_groups(&caller, group_filter.as_ref(), group_offset, room, with_members)
            .await?;
        total += slice.total;
        resources.extend(
            slice
                .items
                .iter()
                .map(|view| super::groups::representation(view, &base)),
        );
    }
    for resource in &mut resources {
        project(resource, attributes.as_deref(), excluded.as_deref());
    }
    Ok(answer(StatusCode::OK, &list_response(resources, total, start)))
}
