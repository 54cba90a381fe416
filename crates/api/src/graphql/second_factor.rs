//! A second factor: enrolling a TOTP authenticator, the log-in's second step, recovery
//! codes, and a tenant's requirement.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::identity::{MfaStatus as DomainStatus, TotpConfirmation, TotpEnrolment as DomainEnrolment};

use super::access::{Access, Rule};
use super::context::{application, client_info, member};
use super::cookies;
use super::errors::GqlResult;
use super::identity::AuthPayload;
use super::tenants::Tenant;

pub(super) const RULES: &[Rule] = &[
    ("Query", &["mfaStatus"], Access::Person),
    (
        "Mutation",
        &["enrolTotp", "confirmTotp", "disableTotp", "regenerateRecoveryCodes"],
        Access::Person,
    ),
    ("Mutation", &["verifyMfa"], Access::Public),
    // Owners only: the use case checks the role.
    ("Mutation", &["setMfaRequired"], Access::Person),
    // Shown once to the person who asked, in answer to their own request; every field listed
    ("TotpEnrolment", &["secret", "otpauthUri"], Access::Inherited),
    (
        "TotpConfirmed",
        &["recoveryCodes", "accessToken", "expiresAt"],
        Access::Inherited,
    ),
    ("RecoveryCodes", &["recoveryCodes"], Access::Inherited),
    (
        "MfaStatus",
        &["totpEnabled", "totpPending", "recoveryCodesLeft", "sessionVerified"],
        Access::Inherited,
    ),
];

/// A new authenticator to add to an app: type the secret, or scan the URI as a QR code.
/// Confirm it with `confirmTotp` and a first code.
#[derive(SimpleObject)]
pub struct TotpEnrolment {
    /// The shared secret, base32.
    pub secret: String,
    /// `otpauth://totp/…`: what a QR code for authenticator apps holds.
    pub otpauth_uri: String,
}

impl From<DomainEnrolment> for TotpEnrolment {
    fn from(enrolment: DomainEnrolment) -> Self {
        Self {
            secret: enrolment.secret,
            otpauth_uri: enrolment.provisioning_uri,
        }
    }
}

/// The authenticator guards log-ins from now on.
#[derive(SimpleObject)]
pub struct TotpConfirmed {
    /// Ten single-use codes for when the authenticator is lost: shown this once, keep
    /// them somewhere safe.
    pub recovery_codes: Vec<String>,
    /// An access token of this session that carries the second factor (use it in place
    /// of the current one).
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
}

impl From<TotpConfirmation> for TotpConfirmed {
    fn from(confirmed: TotpConfirmation) -> Self {
        Self {
            recovery_codes: confirmed.recovery_codes,
            access_token: confirmed.access_token,
            expires_at: confirmed.access_token_expires_at,
        }
    }
}

/// New recovery codes; the earlier ones no longer work.
#[derive(SimpleObject)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Where my second factor stands.
#[derive(SimpleObject)]
pub struct MfaStatus {
    /// A confirmed authenticator guards my log-ins.
    pub totp_enabled: bool,
    /// An authenticator is enrolled but not confirmed yet.
    pub totp_pending: bool,
    pub recovery_codes_left: u64,
    /// This session proved a second factor.
    pub session_verified: bool,
}

impl From<DomainStatus> for MfaStatus {
    fn from(status: DomainStatus) -> Self {
        Self {
            totp_enabled: status.totp_enabled,
            totp_pending: status.totp_pending,
            recovery_codes_left: status.recovery_codes_left,
            session_verified: status.session_verified,
        }
    }
}

#[derive(InputObject)]
pub struct EnrolTotpInput {
    /// My password, to confirm it is me.
    pub password: String,
}

#[derive(InputObject)]
pub struct ConfirmTotpInput {
    /// The six-digit code the authenticator shows now.
    pub code: String,
}

#[derive(InputObject)]
pub struct DisableTotpInput {
    pub password: String,
    /// A code from the authenticator, or a recovery code.
    pub code: String,
}

#[derive(InputObject)]
pub struct RegenerateRecoveryCodesInput {
    /// A code from the authenticator.
    pub code: String,
}

#[derive(InputObject)]
pub struct VerifyMfaInput {
    /// `extensions.mfaChallenge` of the `logIn` that answered `MFA_REQUIRED`.
    pub challenge: String,
    /// A code from the authenticator, or a recovery code.
    pub code: String,
}

#[derive(InputObject)]
pub struct SetMfaRequiredInput {
    pub required: bool,
}

#[derive(Default)]
pub struct SecondFactorQuery;

#[Object]
impl SecondFactorQuery {
    /// Where my second factor stands.
    async fn mfa_status(&self, ctx: &Context<'_>) -> Result<MfaStatus> {
        let request = member(ctx)?;
        application(ctx).mfa_status(request).await.gql().map(MfaStatus::from)
    }
}

#[derive(Default)]
pub struct SecondFactorMutation;

#[Object]
impl SecondFactorMutation {
    /// Starts enrolling a TOTP authenticator (replacing one not yet confirmed).
    async fn enrol_totp(&self, ctx: &Context<'_>, input: EnrolTotpInput) -> Result<TotpEnrolment> {
        let request = member(ctx)?;
        application(ctx)
            .enrol_totp(request, &input.password)
            .await
            .gql()
            .map(TotpEnrolment::from)
    }

    /// Confirms the authenticator being enrolled with a first code; answers the
    /// recovery codes, once.
    async fn confirm_totp(&self, ctx: &Context<'_>, input: ConfirmTotpInput) -> Result<TotpConfirmed> {
        let request = member(ctx)?;
        application(ctx)
            .confirm_totp(request, &input.code)
            .await
            .gql()
            .map(TotpConfirmed::from)
    }

    /// Removes my authenticator and recovery codes: log-ins take a password alone again.
    async fn disable_totp(&self, ctx: &Context<'_>, input: DisableTotpInput) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx)
            .disable_totp(request, &input.password, &input.code)
            .await
            .gql()?;
        Ok(true)
    }

    /// New recovery codes in place of the old ones.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        input: RegenerateRecoveryCodesInput,
    ) -> Result<RecoveryCodes> {
        let request = member(ctx)?;
        application(ctx)
            .regenerate_recovery_codes(request, &input.code)
            .await
            .gql()
            .map(|recovery_codes| RecoveryCodes { recovery_codes })
    }

    /// The second step of a log-in that answered `MFA_REQUIRED`: the challenge and a
    /// code. A challenge lasts 5 minutes and takes 5 wrong codes.
    async fn verify_mfa(&self, ctx: &Context<'_>, input: VerifyMfaInput) -> Result<AuthPayload> {
        application(ctx)
            .verify_mfa(&input.challenge, &input.code, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }

    /// Whether members must sign in with a second factor (owners only; to require it,
    /// sign in with one yourself first).
    async fn set_mfa_required(&self, ctx: &Context<'_>, input: SetMfaRequiredInput) -> Result<Tenant> {
        let request = member(ctx)?;
        application(ctx)
            .set_mfa_required(request, input.required)
            .await
            .gql()
            .map(Tenant::from)
    }
}
