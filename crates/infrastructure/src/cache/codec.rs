//! The text form of a member's access in the tenant's Redis hash.

use tessera_application::ports::MemberAccess;
use tessera_domain::{Allowance, PermissionSet, RequestLimits, RoleId};

/// `role-id|perm,perm,…|onboarded|per-minute|complexity|depth|per-month|trusted|workspaces|valid-until|mfa-required`
/// (onboarded, trusted and mfa-required `1` or `0`; a limit is a number, or `-` for unlimited; the
/// workspace quota and the limits' expiry (unix milliseconds) are empty when unknown).
pub(super) fn encode(access: &MemberAccess) -> String {
    let permissions: Vec<&str> = access.permissions.iter().map(|p| p.as_str()).collect();
    let limit = |allowance: Allowance| allowance.as_number().map_or_else(|| "-".to_owned(), |n| n.to_string());
    let limits = &access.limits;
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        access.role_id,
        permissions.join(","),
        u8::from(access.onboarded),
        limit(limits.requests_per_minute),
        limit(limits.max_query_complexity),
        limit(limits.max_query_depth),
        limit(limits.api_calls_per_month),
        u8::from(limits.trusted_documents_required),
        limits.workspaces.map(limit).unwrap_or_default(),
        limits
            .valid_until
            .map(|until| until.timestamp_millis().to_string())
            .unwrap_or_default(),
        u8::from(access.mfa_required),
    )
}

pub(super) fn decode(raw: &str) -> Option<MemberAccess> {
    let flag = |part: &str| match part {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    let limit = |part: &str| match part {
        "-" => Some(Allowance::Unlimited),
        number => number.parse().ok().map(Allowance::AtMost),
    };
    let mut parts = raw.split('|');
    let role_id = RoleId::parse(parts.next()?).ok()?;
    let names = parts.next()?.split(',').filter(|p| !p.is_empty());
    let permissions = PermissionSet::parse_names(names).ok()?;
    let onboarded = flag(parts.next()?)?;
    let limits = RequestLimits {
        requests_per_minute: limit(parts.next()?)?,
        max_query_complexity: limit(parts.next()?)?,
        max_query_depth: limit(parts.next()?)?,
        api_calls_per_month: limit(parts.next()?)?,
        trusted_documents_required: flag(parts.next()?)?,
        workspaces: match parts.next()? {
            "" => None,
            known => Some(limit(known)?),
        },
        valid_until: match parts.next()? {
            "" => None,
            millis => Some(chrono::DateTime::from_timestamp_millis(millis.parse().ok()?)?),
        },
    };
    let mfa_required = flag(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some(MemberAccess {
        role_id,
        permissions,
        onboarded,
        limits,
        mfa_required,
    })
}
