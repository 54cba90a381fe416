use sea_orm::entity::prelude::*;
use tessera_application::ports::StoreError;
use tessera_domain::{Email, Invitation, InvitationId, InvitationStatus, RoleId, TenantId, UserId};

use super::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub role_id: Uuid,
    pub invited_by: Uuid,
    pub token_digest: String,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
}

super::table!(tenant);

impl Model {
    pub fn into_domain(self) -> Result<Invitation, StoreError> {
        Ok(Invitation {
            id: InvitationId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            email: Email::parse(&self.email).map_err(|e| corrupt("invitations", "email", e))?,
            role_id: RoleId::from_uuid(self.role_id),
            invited_by: UserId::from_uuid(self.invited_by),
            token_digest: self.token_digest,
            status: InvitationStatus::parse(&self.status)
                .ok_or_else(|| corrupt("invitations", "status", &self.status))?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
        })
    }

    pub fn from_domain(invitation: &Invitation) -> Self {
        Self {
            tenant_id: invitation.tenant_id.as_uuid(),
            id: invitation.id.as_uuid(),
            email: invitation.email.as_str().to_owned(),
            role_id: invitation.role_id.as_uuid(),
            invited_by: invitation.invited_by.as_uuid(),
            token_digest: invitation.token_digest.clone(),
            status: invitation.status.as_str().to_owned(),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
            accepted_at: invitation.accepted_at,
        }
    }
}
