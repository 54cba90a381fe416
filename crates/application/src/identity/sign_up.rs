//! Sign-up: the user, their tenant, its system roles, a default workspace and the owner
//! membership, all in one transaction: either everything exists afterwards or nothing.

use tessera_domain::{
    AuditActor, DisplayName, Email, Membership, MembershipId, MembershipStatus, Name, NewAuditEvent, Password, Role,
    RoleId, Slug, SystemRole, Tenant, TenantId, User, UserId, Workspace, WorkspaceId, WorkspaceMembership,
    WorkspaceMembershipId,
};

use super::{AuthSession, ClientInfo};
use crate::ports::Transaction;
use crate::{AppError, Application, FieldErrors, TenantScope};

#[derive(Debug, Clone)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// The new tenant to create; required unless joining through an invitation.
    pub tenant_name: Option<String>,
    pub tenant_slug: Option<String>,
    /// Join the inviting tenant instead of creating one.
    pub invitation_token: Option<String>,
}

/// What the new user signs up into.
enum Destination {
    NewTenant { name: Name, slug: Option<Slug> },
    Invitation(String),
}

struct ValidSignUp {
    email: Email,
    password: Password,
    display_name: DisplayName,
    destination: Destination,
}

impl SignUp {
    fn validate(&self) -> Result<ValidSignUp, AppError> {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", Email::parse(&self.email));
        let password = errors.check("password", Password::parse(&self.password));
        let display_name = errors.check("displayName", DisplayName::parse(&self.display_name));
        let destination = match (&self.invitation_token, &self.tenant_name) {
            (Some(_), _) if self.tenant_name.is_some() || self.tenant_slug.is_some() => {
                errors.add(
                    "invitationToken",
                    "sign up either with an invitation or with a new tenant, not both",
                );
                None
            }
            (Some(token), _) if token.trim().is_empty() => {
                errors.add("invitationToken", "must not be empty");
                None
            }
            (Some(token), _) => Some(Destination::Invitation(token.trim().to_owned())),
            (None, None) => {
                errors.add("tenantName", "is required unless signing up with an invitation");
                None
            }
            (None, Some(raw_name)) => {
                let name = errors.check("tenantName", Name::parse(raw_name));
                let slug = match self.tenant_slug.as_deref() {
                    Some(raw) => errors.check("tenantSlug", Slug::parse_tenant(raw)).map(Some),
                    None => Some(None),
                };
                match (name, slug) {
                    (Some(name), Some(slug)) => Some(Destination::NewTenant { name, slug }),
                    _ => None,
                }
            }
        };
        match (email, password, display_name, destination) {
            (Some(email), Some(password), Some(display_name), Some(destination)) => Ok(ValidSignUp {
                email,
                password,
                display_name,
                destination,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

const DEFAULT_WORKSPACE_SLUG: &str = "general";
const DEFAULT_WORKSPACE_NAME: &str = "General";

impl Application {
    #[tracing::instrument(level = "debug", name = "sign_up", skip_all)]
    pub async fn sign_up(&self, input: SignUp, client: ClientInfo) -> Result<AuthSession, AppError> {
        let input = input.validate()?;
        let password_hash = self
            .ports
            .password_hasher
            .hash(&input.password)
            .await
            .map_err(AppError::Internal)?;
        let now = self.ports.clock.now();

        let tx = self.global_tx().await?;
        if tx.users().find_by_email(&input.email).await?.is_some() {
            return Err(AppError::Conflict {
                field: "email".into(),
                message: "an account with this email already exists".into(),
            });
        }
        let user = User::register(
            UserId::from_uuid(self.ports.ids.new_id()),
            input.email,
            input.display_name,
            password_hash,
            now,
        );
        let (tenant_name, tenant_slug) = match input.destination {
            Destination::Invitation(token) => {
                tx.users().insert(&user).await.map_err(|e| conflict_as(e, "email"))?;
                let (tenant, invitation) = self
                    .accept_into(tx.as_ref(), &user, &token)
                    .await
                    .map_err(as_invitation_field)?;
                // `accept_into` entered the inviting tenant: the event lands in its chain.
                let event = signed_up(&user, tenant.id, &client, now).change(
                    "invitation_id",
                    None::<String>,
                    Some(invitation.id),
                );
                self.journal(tx.as_ref(), &event).await?;
                let session = self.open_session(tx.as_ref(), user, tenant, &client, false).await?;
                tx.commit().await?;
                self.access_changed(session.tenant.id).await;
                return Ok(session);
            }
            Destination::NewTenant { name, slug } => (name, slug),
        };
        tx.users().insert(&user).await.map_err(|e| conflict_as(e, "email"))?;
        let tenant = self
            .provision_tenant(tx.as_ref(), user.id, tenant_name, tenant_slug.as_ref(), now)
            .await?;
        // `provision_tenant` entered the new tenant: the event opens its chain.
        self.journal(tx.as_ref(), &signed_up(&user, tenant.id, &client, now))
            .await?;

        let session = self.open_session(tx.as_ref(), user, tenant, &client, false).await?;
        tx.commit().await?;
        tracing::info!(user_id = %session.user.id, tenant_id = %session.tenant.id, "signed up");
        Ok(session)
    }

    /// Creates a tenant owned by `owner_id`: its system roles, the owner membership and
    /// a default workspace, inside `tx`. The new tenant's creator is about to own it:
    /// this is one of the few places allowed to mint a scope.
    pub(crate) async fn provision_tenant(
        &self,
        tx: &dyn Transaction,
        owner_id: UserId,
        tenant_name: Name,
        tenant_slug: Option<&Slug>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Tenant, AppError> {
        let slug = self.choose_tenant_slug(tx, &tenant_name, tenant_slug).await?;
        let tenant = Tenant::new(
            TenantId::from_uuid(self.ports.ids.new_id()),
            slug,
            tenant_name,
            self.plans.default_key().clone(),
            now,
        );
        tx.tenants()
            .insert(&tenant)
            .await
            .map_err(|e| conflict_as(e, "tenantSlug"))?;

        // The new tenant exists and its creator is about to be its owner: this is one of
        // the few places allowed to mint a scope.
        let scope = TenantScope::new(tenant.id);
        tx.enter_tenant(&scope).await?;
        let mut owner_role = None;
        for system in SystemRole::ALL {
            let role = Role::seed(RoleId::from_uuid(self.ports.ids.new_id()), tenant.id, system, now);
            tx.roles().insert(&scope, &role).await?;
            if system == SystemRole::Owner {
                owner_role = Some(role.id);
            }
        }
        let owner_role = owner_role.ok_or_else(|| AppError::internal("owner role was not seeded"))?;
        tx.memberships()
            .insert(
                &scope,
                &Membership {
                    id: MembershipId::from_uuid(self.ports.ids.new_id()),
                    tenant_id: tenant.id,
                    user_id: owner_id,
                    role_id: owner_role,
                    status: MembershipStatus::Active,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
        let workspace = Workspace::new(
            WorkspaceId::from_uuid(self.ports.ids.new_id()),
            tenant.id,
            Slug::parse(DEFAULT_WORKSPACE_SLUG).expect("the default workspace slug is a valid slug"),
            Name::parse(DEFAULT_WORKSPACE_NAME).expect("the default workspace name is a valid name"),
            now,
        );
        tx.workspaces().insert(&scope, &workspace).await?;
        tx.workspaces()
            .add_member(
                &scope,
                &WorkspaceMembership {
                    id: WorkspaceMembershipId::from_uuid(self.ports.ids.new_id()),
                    tenant_id: tenant.id,
                    workspace_id: workspace.id,
                    user_id: owner_id,
                    role_id: owner_role,
                    created_at: now,
                },
            )
            .await?;

        Ok(tenant)
    }

    /// The requested slug when free (else `CONFLICT`); otherwise one derived from the
    /// tenant name, de-duplicated with a short suffix.
    async fn choose_tenant_slug(
        &self,
        tx: &dyn Transaction,
        tenant_name: &Name,
        requested: Option<&Slug>,
    ) -> Result<Slug, AppError> {
        if let Some(slug) = requested {
            if tx.tenants().find_by_slug(slug).await?.is_some() {
                return Err(AppError::Conflict {
                    field: "tenantSlug".into(),
                    message: "this tenant slug is already taken".into(),
                });
            }
            return Ok(slug.clone());
        }
        let base = Slug::derive_from(tenant_name.as_str())
            .unwrap_or_else(|| Slug::parse("tenant").expect("`tenant` is a valid slug"));
        if tx.tenants().find_by_slug(&base).await?.is_none() {
            return Ok(base);
        }
        for _ in 0..8 {
            let suffix = self.ports.ids.new_id().simple().to_string();
            let candidate = base
                .with_suffix(&suffix[suffix.len() - 6..])
                .map_err(|e| AppError::internal(e.to_string()))?;
            if tx.tenants().find_by_slug(&candidate).await?.is_none() {
                return Ok(candidate);
            }
        }
        Err(AppError::validation(
            "tenantSlug",
            "could not derive a free slug; please choose one",
        ))
    }
}

/// `user.signed_up`, in the tenant the new user signed up into, by that user.
fn signed_up(
    user: &User,
    tenant_id: TenantId,
    client: &ClientInfo,
    now: chrono::DateTime<chrono::Utc>,
) -> NewAuditEvent {
    NewAuditEvent::new(
        Some(tenant_id),
        AuditActor::User(user.id),
        "user.signed_up",
        "user",
        Some(user.id.to_string()),
        now,
    )
    .change("email", None::<&str>, Some(user.email.as_str()))
    .with_origin(client.clone())
}

/// Errors about the token are reported on the sign-up input's `invitationToken` field.
fn as_invitation_field(error: AppError) -> AppError {
    match error {
        AppError::Validation(fields) if fields.iter().any(|(f, _)| f == "token") => {
            let mut renamed = FieldErrors::new();
            for (field, message) in fields.iter() {
                renamed.add(if field == "token" { "invitationToken" } else { field }, message);
            }
            AppError::Validation(renamed)
        }
        AppError::Conflict { field, message } if field == "token" => AppError::Conflict {
            field: "invitationToken".into(),
            message,
        },
        other => other,
    }
}

/// A unique violation on insert means someone else took the value meanwhile.
fn conflict_as(error: crate::ports::StoreError, field: &str) -> AppError {
    match error {
        crate::ports::StoreError::Duplicate(_) => AppError::Conflict {
            field: field.to_owned(),
            message: "is already taken".to_owned(),
        },
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> SignUp {
        SignUp {
            email: "ada@example.com".into(),
            password: "a long enough password".into(),
            display_name: "Ada".into(),
            tenant_name: Some("Analytical Engines".into()),
            tenant_slug: None,
            invitation_token: None,
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let input = SignUp {
            email: "not-an-email".into(),
            password: "short".into(),
            display_name: " ".into(),
            tenant_name: Some("x".repeat(101)),
            tenant_slug: Some("Bad Slug".into()),
            invitation_token: None,
        };
        let Err(AppError::Validation(fields)) = input.validate() else {
            panic!("expected validation errors");
        };
        let names: Vec<_> = fields.iter().map(|(f, _)| f).collect();
        assert_eq!(names, ["email", "password", "displayName", "tenantName", "tenantSlug"]);
    }

    #[test]
    fn a_valid_sign_up_passes_validation() {
        assert!(valid().validate().is_ok());
        let with_slug = SignUp {
            tenant_slug: Some("engines".into()),
            ..valid()
        };
        assert!(
            with_slug
                .validate()
                .is_ok_and(|v| matches!(v.destination, Destination::NewTenant { slug: Some(_), .. }))
        );
    }

    #[test]
    fn an_invitation_replaces_the_tenant_fields_and_excludes_them() {
        let invited = SignUp {
            tenant_name: None,
            invitation_token: Some("inv_x_y".into()),
            ..valid()
        };
        assert!(
            invited
                .validate()
                .is_ok_and(|v| matches!(v.destination, Destination::Invitation(_)))
        );
        let both = SignUp {
            invitation_token: Some("inv_x_y".into()),
            ..valid()
        };
        assert!(
            matches!(both.validate(), Err(AppError::Validation(f)) if f.iter().any(|(n, _)| n == "invitationToken"))
        );
        let neither = SignUp {
            tenant_name: None,
            ..valid()
        };
        assert!(matches!(neither.validate(), Err(AppError::Validation(f)) if f.iter().any(|(n, _)| n == "tenantName")));
    }
}
