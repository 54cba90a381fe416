//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON representation: `add`,
//! `replace` and `remove`, with or without a path; paths of the form `attr`,
//! `attr.sub`, `attr[sub eq "v"]` and `attr[sub eq "v"].sub`, with or without the
//! schema URN in front. The patched representation is then saved like a PUT.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::filter;

/// Why a patch could not apply, in SCIM's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    /// `invalidPath`, `noTarget`, `invalidValue` or `invalidSyntax`.
    pub scim_type: &'static str,
    pub detail: String,
}

fn error(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

/// The most operations one PATCH request carries.
pub const MAX_OPERATIONS: usize = 100;

/// The core schemas, whose URN in front of a path names nothing more than the path.
const CORE: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
];

#[derive(Debug, Clone, PartialEq)]
struct Path {
    /// An extension schema's URN: the path is inside the object kept under it
    /// (`urn:…:enterprise:2.0:User:department`).
    extension: Option<String>,
    attribute: String,
    /// `[sub eq "value"]`
    selector: Option<(String, String)>,
    sub: Option<String>,
}

/// Whether `key` names an extension schema's object (a URN that is not a core
/// schema's and ends in a resource type's name).
fn is_extension(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with("urn:")
        && !CORE.iter().any(|core| key.eq_ignore_ascii_case(core))
        && key
            .rsplit(':')
            .next()
            .is_some_and(|last| last == "User" || last == "Group")
}

fn parse_path(raw: &str) -> Result<Path, PatchError> {
    let raw = raw.trim();
    // A schema URN in front: a core schema's names nothing more (`urn:…:core:2.0:User:
    // name.givenName` is `name.givenName`); an extension's names its object.
    let mut extension = None;
    let raw = if raw.to_ascii_lowercase().starts_with("urn:") {
        let bracket = raw.find('[').unwrap_or(raw.len());
        let cut = raw[..bracket].rfind(':').map_or(0, |i| i + 1);
        let schema = raw[..cut].trim_end_matches(':');
        if !CORE.iter().any(|core| schema.eq_ignore_ascii_case(core)) {
            extension = Some(schema.to_owned());
        }
        &raw[cut..]
    } else {
        raw
    };
    let invalid = || error("invalidPath", format!("{raw:?} is not a path this server understands"));
    let (head, selector, tail) = match raw.find('[') {
        Some(open) => {
            let close = raw.rfind(']').filter(|close| *close > open).ok_or_else(invalid)?;
            let condition = filter::parse(&raw[open + 1..close]).map_err(|e| error("invalidFilter", e))?;
            let tail = &raw[close + 1..];
            let tail = match tail.strip_prefix('.') {
                Some(sub) => Some(sub),
                None if tail.is_empty() => None,
                None => return Err(invalid()),
            };
            (&raw[..open], Some((condition.attribute, condition.value)), tail)
        }
        None => match raw.split_once('.') {
            Some((head, sub)) => (head, None, Some(sub)),
            None => (raw, None, None),
        },
    };
    let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if !name_ok(head) || tail.is_some_and(|sub| !name_ok(sub)) {
        return Err(invalid());
    }
    Ok(Path {
        extension,
        attribute: head.to_owned(),
        selector,
        sub: tail.map(str::to_owned),
    })
}

/// The key in `object` naming `attribute`, compared without regard to case.
fn key_of(object: &Map<String, Value>, attribute: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(attribute))
        .cloned()
        .unwrap_or_else(|| attribute.to_owned())
}

fn matches(item: &Value, (attribute, value): &(String, String)) -> bool {
    let Some(object) = item.as_object() else { return false };
    let key = key_of(object, attribute);
    match object.get(&key) {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(value) || s == value,
        Some(Value::Bool(b)) => b.to_string() == *value,
        Some(Value::Number(n)) => n.to_string() == *value,
        _ => false,
    }
}

/// Applies one operation to `doc` (a JSON object).
pub fn apply(
    doc: &mut Map<String, Value>,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let op = op.to_ascii_lowercase();
    match (op.as_str(), path) {
        ("add" | "replace", None) => {
            let Some(Value::Object(values)) = value else {
                return Err(error(
                    "invalidValue",
                    "without a path the value must be an object of attributes",
                ));
            };
            for (attribute, value) in values {
                // An extension's object: its attributes go into the one kept.
                if is_extension(attribute)
                    && let Value::Object(inner) = value
                {
                    let key = key_of(doc, attribute);
                    let target = extension_object(doc, &key)?;
                    for (name, value) in inner {
                        set(target, &op, &parse_path(name)?, value)?;
                    }
                    continue;
                }
                // `{"name.givenName": …}` (sent by some clients) is a path too.
                let path = parse_path(attribute)?;
                set(within(doc, &path)?, &op, &path, value)?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path)) if is_extension(path) => {
            let Some(Value::Object(inner)) = value else {
                return Err(error("invalidValue", "an extension's value is an object of attributes"));
            };
            let key = key_of(doc, path);
            let target = extension_object(doc, &key)?;
            for (name, value) in inner {
                set(target, &op, &parse_path(name)?, value)?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path)) => {
            let value = value.ok_or_else(|| error("invalidValue", format!("`{op}` needs a value")))?;
            let path = parse_path(path)?;
            set(within(doc, &path)?, &op, &path, value)
        }
        ("remove", Some(path)) if is_extension(path) => {
            let key = key_of(doc, path);
            doc.remove(&key);
            Ok(())
        }
        ("remove", Some(path)) => {
            let path = parse_path(path)?;
            match path.extension.as_deref().map(|urn| key_of(doc, urn)) {
                Some(key) => match doc.get_mut(&key) {
                    Some(Value::Object(target)) => remove(target, &path, value),
                    _ => Ok(()),
                },
                None => remove(doc, &path, value),
            }
        }
        ("remove", None) => Err(error("noTarget", "`remove` needs a path")),
        _ => Err(error("invalidSyntax", format!("{op:?} is not add, replace or remove"))),
    }
}

/// The object an extension's attributes are kept in, made when missing.
fn extension_object<'a>(doc: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Map<String, Value>, PatchError> {
    match doc.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new())) {
        Value::Object(object) => Ok(object),
        _ => Err(error("invalidPath", format!("{key} does not hold an object"))),
    }
}

/// Where a path's attribute lives: the resource, or its extension's object.
fn within<'a>(doc: &'a mut Map<String, Value>, path: &Path) -> Result<&'a mut Map<String, Value>, PatchError> {
    match &path.extension {
        Some(urn) => {
            let key = key_of(doc, urn);
            extension_object(doc, &key)
        }
        None => Ok(doc),
    }
}

fn set(doc: &mut Map<String, Value>, op: &str, path: &Path, value: &Value) -> Result<(), PatchError> {
    let key = key_of(doc, &path.attribute);
    match (&path.selector, &path.sub) {
        (None, None) => {
            match (op, doc.get_mut(&key), value) {
                // `add` to a multi-valued attribute appends (what is there already stays once).
                ("add", Some(Value::Array(items)), _) => {
                    let new = match value {
                        Value::Array(values) => values.clone(),
                        single => vec![single.clone()],
                    };
                    // Compared by their JSON text, in one pass (a body holds thousands at most).
                    let mut seen: HashSet<String> = items.iter().map(Value::to_string).collect();
                    for item in new {
                        if seen.insert(item.to_string()) {
                            items.push(item);
                        }
                    }
                }
                // `add` of an object merges into a complex attribute.
                ("add", Some(Value::Object(existing)), Value::Object(values)) => {
                    for (k, v) in values {
                        let k = key_of(existing, k);
                        existing.insert(k, v.clone());
                    }
                }
                _ => {
                    doc.insert(key, value.clone());
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let entry = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(object) = entry else {
                return Err(error(
                    "invalidPath",
                    format!("{} has no sub-attributes", path.attribute),
                ));
            };
            let sub = key_of(object, sub);
            object.insert(sub, value.clone());
            Ok(())
        }
        (Some(selector), sub) => {
            let entry = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = entry else {
                return Err(error("invalidPath", format!("{} is not multi-valued", path.attribute)));
            };
            let mut hit = false;
            for item in items.iter_mut().filter(|item| matches(item, selector)) {
                hit = true;
                match (sub, item) {
                    (Some(sub), Value::Object(object)) => {
                        let sub = key_of(object, sub);
                        object.insert(sub, value.clone());
                    }
                    (None, item) => *item = value.clone(),
                    _ => {}
                }
            }
            if !hit {
                // Nothing matched: the value is added, carrying what the selector asked for
                // (`emails[type eq "work"].value` adds a work address).
                let mut object = Map::new();
                object.insert(selector.0.clone(), Value::String(selector.1.clone()));
                match (sub, value) {
                    (Some(sub), value) => {
                        object.insert(sub.clone(), value.clone());
                    }
                    (None, Value::Object(values)) => object.extend(values.clone()),
                    (None, _) => return Err(error("noTarget", "no value matched the path's filter")),
                }
                items.push(Value::Object(object));
            }
            Ok(())
        }
    }
}

fn remove(doc: &mut Map<String, Value>, path: &Path, value: Option<&Value>) -> Result<(), PatchError> {
    let key = key_of(doc, &path.attribute);
    match (&path.selector, &path.sub) {
        (None, None) => {
            match (doc.get_mut(&key), value) {
                // `remove members` with a value: those members go (sent by some clients).
                (Some(Value::Array(items)), Some(value)) => {
                    let gone: Vec<Value> = match value {
                        Value::Array(values) => values.clone(),
                        single => vec![single.clone()],
                    };
                    let whole: HashSet<String> = gone.iter().map(Value::to_string).collect();
                    let values: HashSet<String> = gone
                        .iter()
                        .filter_map(|g| g.get("value"))
                        .map(Value::to_string)
                        .collect();
                    items.retain(|item| {
                        !(whole.contains(&item.to_string())
                            || item.get("value").is_some_and(|v| values.contains(&v.to_string())))
                    });
                }
                _ => {
                    doc.remove(&key);
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            if let Some(Value::Object(object)) = doc.get_mut(&key) {
                let sub = key_of(object, sub);
                object.remove(&sub);
            }
            Ok(())
        }
        (Some(selector), sub) => {
            if let Some(Value::Array(items)) = doc.get_mut(&key) {
                match sub {
                    None => items.retain(|item| !matches(item, selector)),
                    Some(sub) => {
                        for item in items.iter_mut().filter(|item| matches(item, selector)) {
                            if let Value::Object(object) = item {
                                let sub = key_of(object, sub);
                                object.remove(&sub);
                            }
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(doc: Value, ops: &[(&str, Option<&str>, Option<Value>)]) -> Result<Value, PatchError> {
        let Value::Object(mut doc) = doc else {
            panic!("an object")
        };
        for (op, path, value) in ops {
            apply(&mut doc, op, *path, value.as_ref())?;
        }
        Ok(Value::Object(doc))
    }

    #[test]
    fn replace_and_add_reach_attributes_sub_attributes_and_filtered_values() {
        let doc = json!({"userName": "ada", "active": true, "name": {"givenName": "Ada"},
            "emails": [{"value": "ada@acme.test", "type": "work", "primary": true}]});
        let out = patched(
            doc,
            &[
                ("Replace", Some("active"), Some(json!(false))),
                ("replace", Some("name.familyName"), Some(json!("Lovelace"))),
                (
                    "replace",
                    Some(r#"emails[type eq "work"].value"#),
                    Some(json!("ada@new.test")),
                ),
                (
                    "add",
                    Some("emails"),
                    Some(json!([{"value": "a@home.test", "type": "home"}])),
                ),
                (
                    "add",
                    None,
                    Some(json!({"displayName": "Ada L", "urn:ietf:params:scim:schemas:core:2.0:User:title": "Eng"})),
                ),
            ],
        )
        .expect("accepted");
        assert_eq!(out["active"], json!(false));
        assert_eq!(out["name"], json!({"givenName": "Ada", "familyName": "Lovelace"}));
        assert_eq!(out["emails"][0]["value"], json!("ada@new.test"));
        assert_eq!(out["emails"][1]["type"], json!("home"));
        assert_eq!(out["displayName"], json!("Ada L"));
        assert_eq!(out["title"], json!("Eng"));
    }

    #[test]
    fn an_extension_schemas_attributes_stay_in_its_object() {
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let department = format!("{enterprise}:department");
        let cost_center = format!("{enterprise}:costCenter");
        let doc = json!({"userName": "ada", (enterprise): {"department": "R&D", "costCenter": "1"}});
        let out = patched(
            doc,
            &[
                ("replace", Some(department.as_str()), Some(json!("Sales"))),
                ("add", None, Some(json!({ (enterprise): {"employeeNumber": "42"} }))),
                ("remove", Some(cost_center.as_str()), None),
            ],
        )
        .expect("accepted");
        assert_eq!(out[enterprise], json!({"department": "Sales", "employeeNumber": "42"}));
        assert!(out.get("department").is_none() && out.get("User").is_none(), "{out}");
    }

    #[test]
    fn remove_takes_attributes_and_filtered_members() {
        let doc =
            json!({"displayName": "g", "members": [{"value": "1"}, {"value": "2"}, {"value": "3"}], "externalId": "x"});
        let out = patched(
            doc,
            &[
                ("remove", Some(r#"members[value eq "2"]"#), None),
                ("remove", Some("members"), Some(json!([{"value": "3"}]))),
                ("remove", Some("externalId"), None),
            ],
        )
        .expect("accepted");
        assert_eq!(out["members"], json!([{"value": "1"}]));
        assert!(out.get("externalId").is_none());
    }

    #[test]
    fn bad_operations_say_why() {
        let doc = json!({"userName": "ada"});
        assert_eq!(
            patched(doc.clone(), &[("remove", None, None)])
                .expect_err("refused")
                .scim_type,
            "noTarget"
        );
        assert_eq!(
            patched(doc.clone(), &[("move", Some("a"), None)])
                .expect_err("refused")
                .scim_type,
            "invalidSyntax"
        );
        assert_eq!(
            patched(doc.clone(), &[("add", Some("a b"), Some(json!(1)))])
                .expect_err("refused")
                .scim_type,
            "invalidPath"
        );
        assert_eq!(
            patched(doc.clone(), &[("add", Some(r#"emails[type co "w"]"#), Some(json!(1)))])
                .expect_err("refused")
                .scim_type,
            "invalidFilter"
        );
        assert_eq!(
            patched(doc, &[("add", None, Some(json!(1)))])
                .expect_err("refused")
                .scim_type,
            "invalidValue"
        );
    }
}
