//! Authorization once per operation: the fields an operation can resolve are known from
//! its document before it runs (every selection, through fragments, typed by the
//! schema), so the access table is consulted once per distinct field, not once per
//! value resolved (a page of 50 members resolves hundreds). When every one of them is
//! allowed for the caller, the operation runs on the schema without the per-field hook;
//! when any is refused, unknown to the table or unknown to the schema, it runs on the
//! guarded schema, which refuses exactly those fields where they are met, as before.
//! Either way no field runs that its rule refuses: the walk only decides whether the
//! per-field hook can have anything to do.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet, ServiceDocument,
    TypeKind, TypeSystemDefinition,
};

use super::access::{Access, check, check_standing, rule_for};
use super::context::Caller;

/// Each object type's fields and the named type each returns (lists and non-null
/// unwrapped), read from the schema's SDL once.
#[derive(Debug, Default)]
pub struct FieldTypes {
    types: HashMap<String, HashMap<String, String>>,
}

impl FieldTypes {
    /// The object types of `sdl` (the schema's own, see [`super::schema_sdl`]).
    pub fn from_sdl(sdl: &str) -> Self {
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            // No types known: every operation takes the guarded path.
            return Self::default();
        };
        Self::of(&document)
    }

    fn of(document: &ServiceDocument) -> Self {
        let mut types = HashMap::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let fields = match &definition.node.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => continue,
            };
            let fields = fields
                .iter()
                .map(|field| {
                    let mut ty = &field.node.ty.node.base;
                    let named = loop {
                        match ty {
                            BaseType::Named(name) => break name.to_string(),
                            BaseType::List(inner) => ty = &inner.base,
                        }
                    };
                    (field.node.name.node.to_string(), named)
                })
                .collect();
            types.insert(definition.node.name.node.to_string(), fields);
        }
        Self { types }
    }

    fn field(&self, parent: &str, field: &str) -> Option<&str> {
        self.types.get(parent)?.get(field).map(String::as_str)
    }

    fn is_object(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
}

/// One field an operation can resolve, with its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Guarded {
    parent: String,
    field: String,
    access: Access,
}

/// The distinct fields one operation can resolve, or that it reaches a field the
/// schema or the access table does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationFields {
    fields: Vec<Guarded>,
    /// A field without a type in the schema or without a rule: the guarded path
    /// reports it.
    unknown: bool,
}

impl OperationFields {
    /// The fields `operation` (of `document`) selects, through inline fragments and
    /// fragment spreads, each typed by its parent. Introspection and `__typename` are
    /// left out, as the per-field hook leaves them out.
    pub fn of(types: &FieldTypes, document: &ExecutableDocument, operation: &OperationDefinition) -> Self {
        let root = match operation.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let mut walk = Walk {
            types,
            document,
            seen: HashSet::new(),
            fragments: HashSet::new(),
            found: Self::default(),
        };
        walk.set(root, &operation.selection_set.node);
        walk.found
    }

    /// Every field's rule lets `caller` resolve it: the operation may run without the
    /// per-field hook.
    pub fn all_allowed(&self, caller: Option<&Caller>) -> bool {
        !self.unknown
            && self.fields.iter().all(|guarded| {
                check(guarded.access, caller).is_ok() && check_standing(&guarded.parent, &guarded.field, caller).is_ok()
            })
    }

    /// How many distinct fields were found.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }
}

struct Walk<'a> {
    types: &'a FieldTypes,
    document: &'a ExecutableDocument,
    seen: HashSet<(String, String)>,
    /// Fragments already walked, by name and the type they were spread in.
    fragments: HashSet<(String, String)>,
    found: OperationFields,
}

impl Walk<'_> {
    fn set(&mut self, parent: &str, set: &SelectionSet) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue; // `__typename`, and introspection by its own rule
                    }
                    let Some(returns) = self.types.field(parent, name) else {
                        self.found.unknown = true;
                        continue;
                    };
                    let returns = returns.to_string();
                    if self.seen.insert((parent.to_string(), name.to_string())) {
                        match rule_for(parent, name) {
                            Some(access) => self.found.fields.push(Guarded {
                                parent: parent.to_string(),
                                field: name.to_string(),
                                access,
                            }),
                            None => self.found.unknown = true,
                        }
                    }
                    if self.types.is_object(&returns) {
                        self.set(&returns, &field.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str())
                        .to_string();
                    if self.types.is_object(&on) {
                        self.set(&on, &fragment.node.selection_set.node);
                    } else {
                        self.found.unknown = true;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let Some(fragment) = self.document.fragments.get(name) else {
                        self.found.unknown = true;
                        continue;
                    };
                    let on = fragment.node.type_condition.node.on.node.to_string();
                    if !self.fragments.insert((name.to_string(), on.clone())) {
                        continue;
                    }
                    if self.types.is_object(&on) {
                        self.set(&on, &fragment.node.selection_set.node);
                    } else {
                        self.found.unknown = true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_application::{AppError, RequestContext};
    use tessera_domain::{Permission, RoleId, TenantId, UserId};
    use uuid::Uuid;

    use super::*;

    fn fields(query: &str) -> OperationFields {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let types = FieldTypes::from_sdl(&super::super::schema_sdl());
        let (_, operation) = document.operations.iter().next().expect("one operation");
        OperationFields::of(&types, &document, &operation.node)
    }

    fn names(found: &OperationFields) -> Vec<String> {
        let mut names: Vec<String> = found
            .fields
            .iter()
            .map(|guarded| format!("{}.{}", guarded.parent, guarded.field))
            .collect();
        names.sort();
        names
    }

    fn member(permissions: &[Permission]) -> Caller {
        Caller::Member(RequestContext::for_tests(
            UserId::from_uuid(Uuid::now_v7()),
            TenantId::from_uuid(Uuid::now_v7()),
            RoleId::from_uuid(Uuid::now_v7()),
            permissions.iter().copied().collect(),
        ))
    }

    #[test]
    fn every_selected_field_is_found_once_through_fragments_and_typed_by_its_parent() {
        let found = fields(
            "query Page { members(first: 50) { edges { node { ...M user { email } } } pageInfo { hasNextPage } } \
             me { __typename email } } \
             fragment M on Member { role { name ... on Role { permissions } } user { displayName } }",
        );
        assert!(!found.unknown);
        assert_eq!(
            names(&found),
            [
                "Member.role",
                "Member.user",
                "MemberConnection.edges",
                "MemberConnection.pageInfo",
                "MemberEdge.node",
                "PageInfo.hasNextPage",
                "Query.me",
                "Query.members",
                "Role.name",
                "Role.permissions",
                "User.displayName",
                "User.email",
            ]
        );
    }

    #[test]
    fn a_field_the_schema_does_not_know_or_a_missing_fragment_sends_the_operation_to_the_guarded_path() {
        assert!(fields("{ me { email notAField } }").unknown);
        assert!(fields("{ me { ...Missing } }").unknown);
        assert!(fields("{ notARootField }").unknown);
        assert!(!fields("{ me { notAField } }").all_allowed(Some(&member(Permission::ALL))));
        // A fragment that spreads itself is walked once and ends.
        let cyclic = fields("{ me { ...A } } fragment A on User { email ...A }");
        assert!(!cyclic.unknown);
        assert_eq!(names(&cyclic), ["Query.me", "User.email"]);
    }

    #[test]
    fn the_verdict_follows_each_rule_and_the_caller() {
        let anonymous = Caller::Anonymous;
        let catalogue = fields("{ permissions { name } plans { name } }");
        assert!(catalogue.all_allowed(Some(&anonymous)), "public fields");
        assert!(catalogue.all_allowed(None));

        let page = fields("{ members(first: 5) { edges { node { status user { email } } } } }");
        assert!(!page.all_allowed(Some(&anonymous)), "members:read is needed");
        assert!(!page.all_allowed(None));
        let refused = Caller::Refused(AppError::Unauthenticated("expired".into()));
        assert!(!page.all_allowed(Some(&refused)));
        assert!(!page.all_allowed(Some(&member(&[Permission::AuditRead]))));
        assert!(page.all_allowed(Some(&member(&[Permission::MembersRead]))));

        // One refused field anywhere in the operation decides.
        let mixed = fields("{ me { email } auditEvents(first: 1) { edges { node { action } } } }");
        assert!(!mixed.all_allowed(Some(&member(&[Permission::MembersRead]))));
    }
}
