//! Invitations: a member with `members:invite` invites an email address with a role;
//! the recipient accepts with the token from the mail (or signs up with it). Tokens
//! are single use, expire, are stored only as digests, and name their tenant so that
//! the acceptance path can enter it before anyone is a member there.

mod accept;
mod commands;

pub use commands::InviteMember;

use tessera_domain::{InvitationError, TenantId};
use uuid::Uuid;

use crate::AppError;
use crate::ForbiddenReason;

const TOKEN_PREFIX: &str = "inv_";

/// `inv_<tenant id, 32 hex>_<random>`.
fn token_for(tenant_id: TenantId, random: &str) -> String {
    format!("{TOKEN_PREFIX}{}_{random}", tenant_id.as_uuid().simple())
}

/// The tenant a token names, if it is shaped like an invitation token at all.
pub(crate) fn tenant_of(token: &str) -> Option<TenantId> {
    let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
    let (tenant, random) = rest.split_once('_')?;
    if random.is_empty() {
        return None;
    }
    Uuid::try_parse(tenant).ok().map(TenantId::from_uuid)
}

fn invitation_refused(error: InvitationError) -> AppError {
    let reason = match error {
        InvitationError::AlreadyAccepted => ForbiddenReason::InvitationUsed,
        InvitationError::Revoked => ForbiddenReason::InvitationRevoked,
        InvitationError::Expired => ForbiddenReason::InvitationExpired,
        InvitationError::WrongRecipient => ForbiddenReason::InvitationEmailMismatch,
    };
    AppError::Forbidden {
        reason,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_tenant_and_garbage_names_none() {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        assert_eq!(tenant_of(&token_for(tenant, "abc-DEF_123")), Some(tenant));
        for bad in [
            "",
            "inv_",
            "inv_nothex_abc",
            "rt_123",
            &format!("inv_{}_", tenant.as_uuid().simple()),
        ] {
            assert_eq!(tenant_of(bad), None, "{bad:?}");
        }
    }
}
