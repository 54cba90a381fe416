//! What a directory's changes do to memberships: the role its groups give a person,
//! and taking a person's access away (or giving it back).

use std::collections::{BTreeMap, HashMap};

use tessera_domain::{Limit, Membership, MembershipStatus, Role, RoleId, ScimUser, ScimUserId, SystemRole, UserId};

use crate::context::Acting;
use crate::members::{ensure_not_last_owner, system_role};
use crate::ports::{KeyCreators, Transaction};
use crate::{AppError, Application};

impl Application {
    /// The role a person's directory groups give them: the strongest role (most
    /// permissions, then the lowest id) among their groups' mapped roles, or the
    /// tenant's `member` role when none of their groups is mapped. Answers per person.
    async fn directory_roles(
        &self,
        tx: &dyn Transaction,
        acting: &Acting<'_>,
        people: &[ScimUserId],
    ) -> Result<(HashMap<ScimUserId, RoleId>, HashMap<RoleId, Role>), AppError> {
        let scope = acting.scope;
        let default = system_role(tx, scope, SystemRole::Member).await?;
        let mut roles: HashMap<RoleId, Role> = HashMap::from([(default.id, default.clone())]);
        let mut chosen: HashMap<ScimUserId, RoleId> = people.iter().map(|p| (*p, default.id)).collect();
        let mut mapped: BTreeMap<ScimUserId, Vec<RoleId>> = BTreeMap::new();
        for (person, group) in tx.scim().groups_of(scope, people).await? {
            if let Some(role_id) = group.role_id {
                mapped.entry(person).or_default().push(role_id);
            }
        }
        for role_id in mapped.values().flatten() {
            if !roles.contains_key(role_id)
                && let Some(role) = tx.roles().find_by_id(scope, *role_id).await?
            {
                roles.insert(*role_id, role);
            }
        }
        for (person, candidates) in mapped {
            let best = candidates
                .iter()
                .filter_map(|role_id| roles.get(role_id))
                .max_by_key(|role| (role.permissions.len(), std::cmp::Reverse(role.id)));
            if let Some(best) = best {
                chosen.insert(person, best.id);
            }
        }
        Ok((chosen, roles))
    }

    /// Gives these people the role their groups now give them (active members only;
    /// owners keep theirs). Each change is audited and the person's API keys are cut
    /// down to the new role. Answers whether any membership changed.
    pub(super) async fn apply_directory_roles(
        &self,
        tx: &dyn Transaction,
        acting: &Acting<'_>,
        people: &[ScimUserId],
    ) -> Result<bool, AppError> {
        if people.is_empty() {
            return Ok(false);
        }
        let scope = acting.scope;
        let (chosen, roles) = self.directory_roles(tx, acting, people).await?;
        // Pending records (no account linked) hold no membership to change.
        let linked: Vec<(ScimUserId, UserId)> = tx
            .scim()
            .find_users(scope, people)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.id, p.user_id?)))
            .collect();
        let user_ids: Vec<_> = linked.iter().map(|(_, user_id)| *user_id).collect();
        let memberships: HashMap<UserId, Membership> = tx
            .memberships()
            .find_by_users(scope, &user_ids)
            .await?
            .into_iter()
            .map(|m| (m.user_id, m))
            .collect();
        let owner = system_role(tx, scope, SystemRole::Owner).await?;
        let now = self.ports.clock.now();
        let mut changed = false;
        for (person, user_id) in &linked {
            let Some(before) = memberships.get(user_id) else {
                continue;
            };
            let Some(role_id) = chosen.get(person).copied() else {
                continue;
            };
            if !before.is_active() || before.role_id == owner.id || before.role_id == role_id {
                continue;
            }
            let Some(role) = roles.get(&role_id) else { continue };
            let mut membership = before.clone();
            membership.change_role(role_id, now);
            tx.memberships().update(scope, before, &membership).await?;
            let event = acting
                .audit("member.role_changed", "user", user_id, now)
                .change("role_id", Some(before.role_id), Some(role_id))
                .change("role", None::<&str>, Some(role.name.as_str()))
                .change("source", None::<&str>, Some("directory"));
            self.journal(tx, &event).await?;
            self.confine_api_keys(
                tx,
                acting,
                KeyCreators::Person(*user_id),
                Some(&role.permissions),
                "creator_role_changed",
            )
            .await?;
            changed = true;
        }
        Ok(changed)
    }

    /// Takes a person's access to the tenant away: the membership is removed (and its
    /// workspace memberships), their sessions in the tenant end and the API keys they
    /// made are revoked, in the caller's transaction (`member.removed`, a catalogued
    /// event, with `source = directory`). The tenant's last owner stays. Answers the
    /// sessions ended (their cached access is dropped after the commit); nothing for a
    /// pending record.
    pub(super) async fn deprovision(
        &self,
        tx: &dyn Transaction,
        acting: &Acting<'_>,
        person: &ScimUser,
        reason: &'static str,
    ) -> Result<Vec<tessera_domain::SessionId>, AppError> {
        let scope = acting.scope;
        let Some(user_id) = person.user_id else {
            return Ok(Vec::new());
        };
        let Some(before) = tx
            .memberships()
            .find_by_user(scope, user_id)
            .await?
            .filter(|m| m.status != MembershipStatus::Removed)
        else {
            return Ok(Vec::new());
        };
        let role = tx
            .roles()
            .find_by_id(scope, before.role_id)
            .await?
            .ok_or(AppError::NotFound("role"))?;
        ensure_not_last_owner(tx, scope, &before, &role).await?;
        let now = self.ports.clock.now();
        let mut membership = before.clone();
        membership.remove(now);
        tx.memberships().update(scope, &before, &membership).await?;
        tx.workspaces().remove_member_everywhere(scope, user_id).await?;
        let ended = tx.sessions().revoke_for_user_in_tenant(user_id, scope, now).await?;
        let event = acting
            .audit("member.removed", "user", user_id, now)
            .change("role_id", Some(before.role_id), None::<RoleId>)
            .change("status", Some(before.status.as_str()), Some(membership.status.as_str()))
            .change("source", None::<&str>, Some("directory"))
            .change("reason", None::<&str>, Some(reason))
            .change("sessions_ended", None::<String>, Some(ended.len().to_string()));
        self.journal(tx, &event).await?;
        self.confine_api_keys(tx, acting, KeyCreators::Person(user_id), None, "creator_deprovisioned")
            .await?;
        Ok(ended)
    }

    /// Gives a deactivated person their membership back, with the role their groups
    /// give them (a seat is counted).
    pub(super) async fn reprovision(
        &self,
        tx: &dyn Transaction,
        acting: &Acting<'_>,
        person: &ScimUser,
    ) -> Result<(), AppError> {
        let scope = acting.scope;
        let Some(user_id) = person.user_id else {
            return Ok(());
        };
        let before = tx
            .memberships()
            .find_by_user(scope, user_id)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        if before.is_active() {
            return Ok(());
        }
        self.entitle(tx, scope, Limit::Seats).await?;
        let (chosen, _) = self.directory_roles(tx, acting, &[person.id]).await?;
        let role_id = chosen
            .get(&person.id)
            .copied()
            .ok_or_else(|| AppError::internal("no role for a reprovisioned person"))?;
        let now = self.ports.clock.now();
        let mut membership: Membership = before.clone();
        membership.reactivate(role_id, now);
        tx.memberships().update(scope, &before, &membership).await?;
        let event = acting
            .audit("member.provisioned", "user", user_id, now)
            .change("status", Some(before.status.as_str()), Some(membership.status.as_str()))
            .change("role_id", None::<String>, Some(role_id.to_string()));
        self.journal(tx, &event).await?;
        Ok(())
    }
}
