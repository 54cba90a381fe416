//! A directory's groups: their members (people the same directory provisioned) and
//! the role each group gives them, which an owner maps in Tessera.

use std::collections::{BTreeSet, HashMap};

use tessera_domain::scim::parse_external_id;
use tessera_domain::{RoleId, ScimGroup, ScimGroupId, ScimUserId};

use super::{ScimCaller, version_conflict};
use crate::context::Acting;
use crate::ports::{ScimGroupFilter, ScimSlice, StoreError, Transaction};
use crate::{AppError, Application, FieldErrors, ForbiddenReason, RequestContext, TenantScope};

/// What a directory sends for a group.
#[derive(Debug, Clone, Default)]
pub struct ScimGroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Ids of the directory's people.
    pub members: Vec<String>,
}

/// A group with its members (id and userName), when they were asked for.
#[derive(Debug, Clone)]
pub struct ScimGroupView {
    pub group: ScimGroup,
    pub members: Option<Vec<(ScimUserId, String)>>,
}

struct Checked {
    display_name: String,
    external_id: Option<String>,
    members: Vec<ScimUserId>,
}

fn check(input: &ScimGroupInput) -> Result<Checked, AppError> {
    let mut errors = FieldErrors::new();
    let display_name = errors.check("displayName", ScimGroup::parse_display_name(&input.display_name));
    let external_id = errors.check(
        "externalId",
        input.external_id.as_deref().map(parse_external_id).transpose(),
    );
    let mut members = BTreeSet::new();
    for raw in &input.members {
        match ScimUserId::parse(raw) {
            Ok(id) => {
                members.insert(id);
            }
            Err(_) => errors.add("members", format!("{raw:?} is not the id of a user")),
        }
    }
    if members.len() > ScimGroup::MAX_MEMBERS {
        errors.add(
            "members",
            format!("a group holds at most {} members", ScimGroup::MAX_MEMBERS),
        );
    }
    match (display_name, external_id) {
        (Some(display_name), Some(external_id)) if errors.is_empty() => Ok(Checked {
            display_name,
            external_id,
            members: members.into_iter().collect(),
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// The people in one group.
async fn members_of(
    tx: &dyn Transaction,
    scope: &TenantScope,
    group: ScimGroupId,
) -> Result<Vec<ScimUserId>, AppError> {
    Ok(tx
        .scim()
        .group_members(scope, &[group])
        .await?
        .into_iter()
        .map(|(_, member)| member)
        .collect())
}

fn stored(error: StoreError) -> AppError {
    match error {
        StoreError::Duplicate(_) => AppError::Conflict {
            field: "displayName".into(),
            message: "another group of the tenant has this displayName".into(),
        },
        StoreError::Stale => version_conflict(),
        other => other.into(),
    }
}

impl Application {
    /// Every member must be a person this tenant's directory provisioned.
    async fn known_people(
        &self,
        tx: &dyn Transaction,
        caller: &ScimCaller,
        members: &[ScimUserId],
    ) -> Result<Vec<(ScimUserId, String)>, AppError> {
        let found = tx.scim().find_users(&caller.scope, members).await?;
        if let Some(unknown) = members.iter().find(|id| !found.iter().any(|u| u.id == **id)) {
            return Err(AppError::validation("members", format!("no user has the id {unknown}")));
        }
        let mut named: Vec<_> = found
            .into_iter()
            .map(|u| (u.id, u.user_name.as_str().to_owned()))
            .collect();
        named.sort();
        Ok(named)
    }

    #[tracing::instrument(level = "debug", name = "scim_create_group", skip_all)]
    pub async fn scim_create_group(
        &self,
        caller: &ScimCaller,
        input: ScimGroupInput,
    ) -> Result<ScimGroupView, AppError> {
        caller.ensure_may_grant()?;
        let checked = check(&input)?;
        let scope = &caller.scope;
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let members = self.known_people(tx.as_ref(), caller, &checked.members).await?;
        let now = self.ports.clock.now();
        let group = ScimGroup {
            id: ScimGroupId::from_uuid(self.ports.ids.new_id()),
            tenant_id: scope.tenant_id(),
            display_name: checked.display_name,
            external_id: checked.external_id,
            role_id: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        tx.scim().insert_group(scope, &group).await.map_err(stored)?;
        tx.scim().set_group_members(scope, group.id, &checked.members).await?;
        let event = caller
            .acting()
            .audit("scim.group_created", "scim_group", group.id, now)
            .change("display_name", None::<&str>, Some(group.display_name.as_str()))
            .change("members", None::<String>, Some(members.len().to_string()));
        self.commit_with(tx, &event).await?;
        Ok(ScimGroupView {
            group,
            members: Some(members),
        })
    }

    /// Replaces a group's name and members; when it is mapped to a role, the people who
    /// joined or left it get the role their groups now give them.
    #[tracing::instrument(level = "debug", name = "scim_replace_group", skip_all, fields(id = %id))]
    pub async fn scim_replace_group(
        &self,
        caller: &ScimCaller,
        id: ScimGroupId,
        input: ScimGroupInput,
        expected_version: Option<i64>,
    ) -> Result<ScimGroupView, AppError> {
        caller.ensure_may_grant()?;
        let checked = check(&input)?;
        let scope = &caller.scope;
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let before = tx
            .scim()
            .find_group(scope, id)
            .await?
            .ok_or(AppError::NotFound("group"))?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(version_conflict());
        }
        let members = self.known_people(tx.as_ref(), caller, &checked.members).await?;
        let old: BTreeSet<ScimUserId> = members_of(tx.as_ref(), scope, id).await?.into_iter().collect();
        let new: BTreeSet<ScimUserId> = checked.members.iter().copied().collect();
        let now = self.ports.clock.now();
        let mut after = before.clone();
        after.display_name = checked.display_name;
        after.external_id = checked.external_id;
        after.version = before.version + 1;
        after.updated_at = now;
        tx.scim()
            .update_group(scope, &after, before.version)
            .await
            .map_err(stored)?;
        tx.scim().set_group_members(scope, id, &checked.members).await?;
        let changed = if after.role_id.is_some() {
            let moved: Vec<_> = old.symmetric_difference(&new).copied().collect();
            self.apply_directory_roles(tx.as_ref(), &caller.acting(), &moved)
                .await?
        } else {
            false
        };
        let event = caller
            .acting()
            .audit("scim.group_updated", "scim_group", id, now)
            .change(
                "display_name",
                Some(before.display_name.as_str()),
                Some(after.display_name.as_str()),
            )
            .change("members", Some(old.len().to_string()), Some(new.len().to_string()));
        self.commit_with(tx, &event).await?;
        if changed {
            self.access_changed(scope.tenant_id()).await;
        }
        Ok(ScimGroupView {
            group: after,
            members: Some(members),
        })
    }

    /// Deletes a group; when it was mapped, its members get the role their other groups
    /// give them.
    #[tracing::instrument(level = "debug", name = "scim_delete_group", skip_all, fields(id = %id))]
    pub async fn scim_delete_group(&self, caller: &ScimCaller, id: ScimGroupId) -> Result<(), AppError> {
        caller.ensure_may_grant()?;
        let scope = &caller.scope;
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let group = tx
            .scim()
            .find_group(scope, id)
            .await?
            .ok_or(AppError::NotFound("group"))?;
        let members = members_of(tx.as_ref(), scope, id).await?;
        tx.scim().delete_group(scope, id).await?;
        let changed = if group.role_id.is_some() {
            self.apply_directory_roles(tx.as_ref(), &caller.acting(), &members)
                .await?
        } else {
            false
        };
        let now = self.ports.clock.now();
        let event = caller
            .acting()
            .audit("scim.group_deleted", "scim_group", id, now)
            .change("display_name", Some(group.display_name.as_str()), None::<&str>);
        self.commit_with(tx, &event).await?;
        if changed {
            self.access_changed(scope.tenant_id()).await;
        }
        Ok(())
    }

    pub async fn scim_group(
        &self,
        caller: &ScimCaller,
        id: ScimGroupId,
        with_members: bool,
    ) -> Result<ScimGroupView, AppError> {
        let tx = self.tenant_tx(&caller.scope).await?;
        let group = tx
            .scim()
            .find_group(&caller.scope, id)
            .await?
            .ok_or(AppError::NotFound("group"))?;
        let mut views = self
            .with_members(tx.as_ref(), caller, vec![group], with_members)
            .await?;
        views.pop().ok_or(AppError::NotFound("group"))
    }

    /// One page of the tenant's directory groups, with their members when asked (two
    /// more statements whatever the page's size).
    pub async fn scim_groups(
        &self,
        caller: &ScimCaller,
        filter: Option<&ScimGroupFilter>,
        offset: u64,
        limit: u64,
        with_members: bool,
    ) -> Result<ScimSlice<ScimGroupView>, AppError> {
        let tx = self.tenant_tx(&caller.scope).await?;
        let slice = tx.scim().list_groups(&caller.scope, filter, offset, limit).await?;
        let items = self
            .with_members(tx.as_ref(), caller, slice.items, with_members)
            .await?;
        Ok(ScimSlice {
            items,
            total: slice.total,
        })
    }

    async fn with_members(
        &self,
        tx: &dyn Transaction,
        caller: &ScimCaller,
        groups: Vec<ScimGroup>,
        with_members: bool,
    ) -> Result<Vec<ScimGroupView>, AppError> {
        if !with_members {
            return Ok(groups
                .into_iter()
                .map(|group| ScimGroupView { group, members: None })
                .collect());
        }
        let ids: Vec<_> = groups.iter().map(|g| g.id).collect();
        let links = tx.scim().group_members(&caller.scope, &ids).await?;
        let people: Vec<_> = links
            .iter()
            .map(|(_, member)| *member)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let named: HashMap<ScimUserId, String> = tx
            .scim()
            .find_users(&caller.scope, &people)
            .await?
            .into_iter()
            .map(|u| (u.id, u.user_name.as_str().to_owned()))
            .collect();
        let mut by_group: HashMap<ScimGroupId, Vec<(ScimUserId, String)>> = HashMap::new();
        for (group, member) in links {
            if let Some(name) = named.get(&member) {
                by_group.entry(group).or_default().push((member, name.clone()));
            }
        }
        Ok(groups
            .into_iter()
            .map(|group| {
                let members = by_group.remove(&group.id).unwrap_or_default();
                ScimGroupView {
                    group,
                    members: Some(members),
                }
            })
            .collect())
    }

    /// Maps a directory group to a role of the tenant (or unmaps it): its members get
    /// the role their groups now give them. Owners only; never the owner role.
    #[tracing::instrument(level = "debug", name = "map_scim_group", skip_all, fields(id = %id))]
    pub async fn map_scim_group(
        &self,
        ctx: &RequestContext,
        id: ScimGroupId,
        role_id: Option<RoleId>,
    ) -> Result<ScimGroup, AppError> {
        let scope = ctx.own_scope().clone();
        let tx = self.quota_tx(&scope).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        let before = tx
            .scim()
            .find_group(&scope, id)
            .await?
            .ok_or(AppError::NotFound("group"))?;
        if let Some(role_id) = role_id {
            let role = tx
                .roles()
                .find_by_id(&scope, role_id)
                .await?
                .ok_or(AppError::NotFound("role"))?;
            if role.is_owner() {
                return Err(AppError::Forbidden {
                    reason: ForbiddenReason::OwnerRoleFixed,
                    message: "a directory group cannot make owners; transfer ownership in Tessera".into(),
                });
            }
        }
        let now = self.ports.clock.now();
        let mut after = before.clone();
        after.role_id = role_id;
        after.version = before.version + 1;
        after.updated_at = now;
        tx.scim()
            .update_group(&scope, &after, before.version)
            .await
            .map_err(stored)?;
        let members = members_of(tx.as_ref(), &scope, id).await?;
        let acting: Acting<'_> = ctx.acting();
        self.apply_directory_roles(tx.as_ref(), &acting, &members).await?;
        let event = ctx
            .audit("scim.group_mapped", "scim_group", id, now)
            .change("role_id", before.role_id, role_id);
        self.commit_with(tx, &event).await?;
        self.access_changed(scope.tenant_id()).await;
        Ok(after)
    }

    /// The tenant's directory groups, for an owner mapping them (one page).
    pub async fn scim_groups_for_owner(
        &self,
        ctx: &RequestContext,
        offset: u64,
        limit: u64,
    ) -> Result<ScimSlice<ScimGroup>, AppError> {
        let tx = self.tenant_tx(ctx.own_scope()).await?;
        self.require_owner(tx.as_ref(), ctx).await?;
        Ok(tx.scim().list_groups(ctx.own_scope(), None, offset, limit).await?)
    }
}
