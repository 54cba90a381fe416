//! The people a directory provisions: each linked to a Tessera user (found by address,
//! or created without a password) and that user's membership of the tenant.

use std::collections::HashMap;

use tessera_domain::scim::parse_external_id;
use tessera_domain::{
    Email, Limit, Membership, MembershipId, MembershipStatus, ScimGroupId, ScimUser, ScimUserId, ScimUserName,
    SessionId, SystemRole, UserId,
};

use super::{ScimCaller, version_conflict};
use crate::members::system_role;
use crate::ports::{ScimSlice, ScimUserFilter, StoreError, Transaction};
use crate::{AppError, Application, FieldErrors};

/// What a directory sends for a person.
#[derive(Debug, Clone, Default)]
pub struct ScimUserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    /// Left out: `true` for a new person, unchanged for a replaced one.
    pub active: Option<bool>,
    /// The name a new account gets (else the address's local part).
    pub display_name: Option<String>,
    /// The person's addresses, the primary one first; the first that parses is the
    /// account's (else `userName`, when it is an address).
    pub emails: Vec<String>,
    /// The rest of the directory's representation, a JSON object, kept as sent.
    pub attributes: String,
}

/// A person as the directory sees them, with their groups (id and display name).
#[derive(Debug, Clone)]
pub struct ScimUserView {
    pub user: ScimUser,
    pub groups: Vec<(ScimGroupId, String)>,
}

struct Checked {
    user_name: ScimUserName,
    external_id: Option<String>,
    /// The account's address: the first of `emails` that is one, else `userName` when
    /// it is one.
    email: Option<Email>,
}

fn check(input: &ScimUserInput) -> Result<Checked, AppError> {
    let mut errors = FieldErrors::new();
    let user_name = errors.check("userName", ScimUserName::parse(&input.user_name));
    let external_id = errors.check(
        "externalId",
        input.external_id.as_deref().map(parse_external_id).transpose(),
    );
    let email = input
        .emails
        .iter()
        .find_map(|raw| Email::parse(raw).ok())
        .or_else(|| Email::parse(&input.user_name).ok());
    match (user_name, external_id) {
        (Some(user_name), Some(external_id)) if errors.is_empty() => Ok(Checked {
            user_name,
            external_id,
            email,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

fn stored(error: StoreError) -> AppError {
    match error {
        StoreError::Duplicate("userName") => AppError::Conflict {
            field: "userName".into(),
            message: "another person of the tenant has this userName".into(),
        },
        StoreError::Duplicate(_) => AppError::Conflict {
            field: "emails".into(),
            message: "this person is provisioned already, under another userName".into(),
        },
        StoreError::Stale => version_conflict(),
        other => other.into(),
    }
}

impl Application {
    /// The tenant has verified the address's domain (it may speak for its people).
    async fn speaks_for(&self, tx: &dyn Transaction, caller: &ScimCaller, email: &Email) -> Result<bool, AppError> {
        let Some(domain) = email.domain() else {
            return Ok(false);
        };
        Ok(tx
            .custom_domains()
            .find(&caller.scope, &domain)
            .await?
            .is_some_and(|d| d.is_verified()))
    }

    /// The account and membership a directory's person is linked to, where the
    /// directory may link one: an account that is an active member of the tenant
    /// already, or one with an address in a verified domain of the tenant (found, or
    /// created without a password; an account nobody proved the address of is taken
    /// back first: its password, second factor and sessions end). The membership is
    /// created when missing (`active` decides its status; an active one is a seat).
    /// Anything else stays unlinked: a directory may not create, or pull into its
    /// tenant, an account of an address its tenant does not control. Answers the link
    /// and the sessions a take-back ended.
    async fn link(
        &self,
        tx: &dyn Transaction,
        caller: &ScimCaller,
        email: &Email,
        display_name: Option<&str>,
        active: bool,
    ) -> Result<(Option<(UserId, Membership)>, Vec<SessionId>), AppError> {
        let scope = &caller.scope;
        let now = self.ports.clock.now();
        let existing = tx.users().find_by_email(email).await?;
        let membership = match &existing {
            Some(user) => tx.memberships().find_by_user(scope, user.id).await?,
            None => None,
        };
        if let (Some(user), Some(membership)) = (&existing, &membership)
            && membership.is_active()
        {
            return Ok((Some((user.id, membership.clone())), Vec::new()));
        }
        if !self.speaks_for(tx, caller, email).await? {
            return Ok((None, Vec::new()));
        }
        let mut ended = Vec::new();
        let user_id = match existing {
            Some(user) if user.email_verified_at.is_none() => {
                ended = crate::identity::take_back_account(tx, user.id, now).await?;
                let event = caller
                    .acting()
                    .audit("user.reclaimed_by_directory", "user", user.id, now)
                    .change("sessions_ended", None::<String>, Some(ended.len().to_string()));
                self.journal(tx, &event).await?;
                user.id
            }
            Some(user) => user.id,
            None => {
                let user = crate::identity::vouched_account(
                    UserId::from_uuid(self.ports.ids.new_id()),
                    email,
                    display_name,
                    "displayName",
                    now,
                )?;
                tx.users().insert(&user).await?;
                user.id
            }
        };
        let membership = match membership {
            Some(membership) => membership,
            None => {
                if active {
                    self.entitle(tx, scope, Limit::Seats).await?;
                }
                let role = system_role(tx, scope, SystemRole::Member).await?;
                let membership = Membership {
                    id: MembershipId::from_uuid(self.ports.ids.new_id()),
                    tenant_id: scope.tenant_id(),
                    user_id,
                    role_id: role.id,
                    status: if active {
                        MembershipStatus::Active
                    } else {
                        MembershipStatus::Removed
                    },
                    created_at: now,
                    updated_at: now,
                };
                tx.memberships().insert(scope, &membership).await?;
                membership
            }
        };
        Ok((Some((user_id, membership)), ended))
    }

    /// Brings a just linked membership in line with the record's `active`: given back
    /// (a seat) or taken away. Answers the sessions ended.
    async fn settle(
        &self,
        tx: &dyn Transaction,
        caller: &ScimCaller,
        person: &ScimUser,
        membership: &Membership,
    ) -> Result<Vec<SessionId>, AppError> {
        match (membership.is_active(), person.active) {
            (false, true) => {
                self.reprovision(tx, &caller.acting(), person).await?;
                Ok(Vec::new())
            }
            (true, false) => self.deprovision(tx, &caller.acting(), person, "inactive").await,
            _ => Ok(Vec::new()),
        }
    }

    /// Provisions a person (see [`Application::link`]): a linked person gets the
    /// `member` role until their groups say otherwise; an unlinked one is kept pending
    /// (the directory's record, no access) and linked on a later write once the
    /// directory may.
    #[tracing::instrument(level = "debug", name = "scim_create_user", skip_all)]
    pub async fn scim_create_user(&self, caller: &ScimCaller, input: ScimUserInput) -> Result<ScimUserView, AppError> {
        caller.ensure_may_grant()?;
        let checked = check(&input)?;
        let email = checked.email.ok_or_else(|| {
            AppError::validation(
                "emails",
                "a person needs an email address: give one in emails, or a userName that is one",
            )
        })?;
        let scope = &caller.scope;
        let now = self.ports.clock.now();
        let active = input.active.unwrap_or(true);
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let (link, mut ended) = self
            .link(tx.as_ref(), caller, &email, input.display_name.as_deref(), active)
            .await?;
        if let Some((user_id, _)) = &link
            && tx.scim().find_user_by_user(scope, *user_id).await?.is_some()
        {
            return Err(stored(StoreError::Duplicate("user")));
        }
        let person = ScimUser {
            id: ScimUserId::from_uuid(self.ports.ids.new_id()),
            tenant_id: scope.tenant_id(),
            user_id: link.as_ref().map(|(user_id, _)| *user_id),
            membership_id: link.as_ref().map(|(_, membership)| membership.id),
            user_name: checked.user_name,
            external_id: checked.external_id,
            active,
            attributes: input.attributes,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        tx.scim().insert_user(scope, &person).await.map_err(stored)?;
        if let Some((_, membership)) = &link {
            ended.extend(self.settle(tx.as_ref(), caller, &person, membership).await?);
        }
        let event = caller
            .acting()
            .audit("scim.user_created", "scim_user", person.id, now)
            .change("user_name", None::<&str>, Some(person.user_name.as_str()))
            .change("user_id", None::<String>, person.user_id.map(|id| id.to_string()))
            .change("active", None::<String>, Some(person.active.to_string()));
        self.commit_with(tx, &event).await?;
        self.directory_changed(caller, &ended).await;
        Ok(ScimUserView {
            user: person,
            groups: Vec::new(),
        })
    }

    /// Replaces a person's directory record; `active` turning false deprovisions them,
    /// turning true gives their membership back (left out, it stays as it was). A
    /// pending record is linked once the directory may. With `expected_version`,
    /// refused when the record has another. The account's address and name stay as
    /// they are.
    #[tracing::instrument(level = "debug", name = "scim_replace_user", skip_all, fields(id = %id))]
    pub async fn scim_replace_user(
        &self,
        caller: &ScimCaller,
        id: ScimUserId,
        input: ScimUserInput,
        expected_version: Option<i64>,
    ) -> Result<ScimUserView, AppError> {
        let checked = check(&input)?;
        let scope = &caller.scope;
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let before = tx
            .scim()
            .find_user(scope, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(version_conflict());
        }
        let now = self.ports.clock.now();
        let mut after = before.clone();
        after.user_name = checked.user_name;
        after.external_id = checked.external_id;
        after.active = input.active.unwrap_or(before.active);
        after.attributes = input.attributes;
        after.version = before.version + 1;
        after.updated_at = now;
        if after.active && !before.active {
            caller.ensure_may_grant()?;
        }
        let mut ended = Vec::new();
        let mut newly_linked = None;
        if let Some(email) = checked
            .email
            .as_ref()
            .filter(|_| before.user_id.is_none() && caller.may_grant())
        {
            let (link, reclaimed) = self
                .link(tx.as_ref(), caller, email, input.display_name.as_deref(), after.active)
                .await?;
            ended = reclaimed;
            if let Some((user_id, membership)) = link {
                if tx.scim().find_user_by_user(scope, user_id).await?.is_some() {
                    return Err(stored(StoreError::Duplicate("user")));
                }
                after.user_id = Some(user_id);
                after.membership_id = Some(membership.id);
                newly_linked = Some(membership);
            }
        }
        tx.scim()
            .update_user(scope, &after, before.version)
            .await
            .map_err(stored)?;
        match (&newly_linked, before.active, after.active) {
            (Some(membership), _, _) => ended.extend(self.settle(tx.as_ref(), caller, &after, membership).await?),
            (None, true, false) => {
                ended.extend(
                    self.deprovision(tx.as_ref(), &caller.acting(), &after, "deactivated")
                        .await?,
                );
            }
            (None, false, true) => self.reprovision(tx.as_ref(), &caller.acting(), &after).await?,
            _ => {}
        }
        let event = caller
            .acting()
            .audit("scim.user_updated", "scim_user", after.id, now)
            .change(
                "user_name",
                Some(before.user_name.as_str()),
                Some(after.user_name.as_str()),
            )
            .change(
                "user_id",
                before.user_id.map(|id| id.to_string()),
                after.user_id.map(|id| id.to_string()),
            )
            .change(
                "active",
                Some(before.active.to_string()),
                Some(after.active.to_string()),
            );
        let groups = group_names(tx.scim().groups_of(scope, &[after.id]).await?, after.id);
        self.commit_with(tx, &event).await?;
        self.directory_changed(caller, &ended).await;
        Ok(ScimUserView { user: after, groups })
    }

    /// Deletes a person's directory record, deprovisioning them first.
    #[tracing::instrument(level = "debug", name = "scim_delete_user", skip_all, fields(id = %id))]
    pub async fn scim_delete_user(&self, caller: &ScimCaller, id: ScimUserId) -> Result<(), AppError> {
        let scope = &caller.scope;
        let tx = self.global_tx().await?;
        tx.enter_tenant_exclusively(scope).await?;
        let person = tx
            .scim()
            .find_user(scope, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let ended = self
            .deprovision(tx.as_ref(), &caller.acting(), &person, "deleted")
            .await?;
        tx.scim().delete_user(scope, id).await?;
        let now = self.ports.clock.now();
        let event = caller
            .acting()
            .audit("scim.user_deleted", "scim_user", person.id, now)
            .change("user_name", Some(person.user_name.as_str()), None::<&str>);
        self.commit_with(tx, &event).await?;
        self.directory_changed(caller, &ended).await;
        Ok(())
    }

    pub async fn scim_user(&self, caller: &ScimCaller, id: ScimUserId) -> Result<ScimUserView, AppError> {
        let tx = self.tenant_tx(&caller.scope).await?;
        let user = tx
            .scim()
            .find_user(&caller.scope, id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let groups = group_names(tx.scim().groups_of(&caller.scope, &[id]).await?, id);
        Ok(ScimUserView { user, groups })
    }

    /// One page of the tenant's directory people, each with their groups (two more
    /// statements whatever the page's size).
    pub async fn scim_users(
        &self,
        caller: &ScimCaller,
        filter: Option<&ScimUserFilter>,
        offset: u64,
        limit: u64,
    ) -> Result<ScimSlice<ScimUserView>, AppError> {
        let tx = self.tenant_tx(&caller.scope).await?;
        let slice = tx.scim().list_users(&caller.scope, filter, offset, limit).await?;
        let ids: Vec<_> = slice.items.iter().map(|u| u.id).collect();
        let mut groups_by_person: HashMap<ScimUserId, Vec<(ScimGroupId, String)>> = HashMap::new();
        for (person, group) in tx.scim().groups_of(&caller.scope, &ids).await? {
            groups_by_person
                .entry(person)
                .or_default()
                .push((group.id, group.display_name));
        }
        let items = slice
            .items
            .into_iter()
            .map(|user| {
                let groups = groups_by_person.remove(&user.id).unwrap_or_default();
                ScimUserView { user, groups }
            })
            .collect();
        Ok(ScimSlice {
            items,
            total: slice.total,
        })
    }

    /// After a directory change commits: the tenant's cached access goes, and so do the
    /// ended sessions'.
    pub(super) async fn directory_changed(&self, caller: &ScimCaller, ended: &[SessionId]) {
        for session in ended {
            self.ports.access_cache.revoke_session(*session).await;
        }
        self.access_changed(caller.scope.tenant_id()).await;
    }
}

fn group_names(links: Vec<(ScimUserId, tessera_domain::ScimGroup)>, id: ScimUserId) -> Vec<(ScimGroupId, String)> {
    links
        .into_iter()
        .filter(|(member, _)| *member == id)
        .map(|(_, group)| (group.id, group.display_name))
        .collect()
}
