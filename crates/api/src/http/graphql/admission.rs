//! Admission by rate limits, in two places of the pipeline. First, before anything is
//! looked up: an address whose budget is spent (requests without a credential and
//! failed authentications draw from it) is refused from what this process knows, with
//! no database or Redis work (a person's access token is let on: it costs no lookup).
//! Then, once the caller is known: the person's or key's bucket and the tenant's, or
//! the address's for a caller without a valid credential, and the strict bucket of
//! log-ins and sign-ups. Between the two, a tenant whose plan's API calls for the
//! month are spent is refused. Every refusal of a known caller is metered.

use tessera_application::Application;
use tessera_application::rate_limits::{Admission, Admitted};
use tessera_application::usage::Metered;
use tessera_domain::Permission;

use super::documents::Shape;
use super::refusal::{Refused, RequestRefusal};
use crate::graphql::Caller;

/// The first check of every request.
pub async fn address_first(app: &Application, client_ip: Option<&str>, access_token: bool) -> Result<(), Refused> {
    if access_token {
        return Ok(());
    }
    match app.refuse_spent_address(client_ip).await {
        Some(refused) => Err(Refused::rate_limited(refused)),
        None => Ok(()),
    }
}

/// A tenant whose plan holds its API keys to trusted documents: a key that sent a
/// document of its own is refused (people of the tenant are not held to it).
pub fn documents_for_plan(caller: &Caller, runs_trusted_document: bool) -> Result<(), Refused> {
    match caller {
        Caller::Member(request)
            if request.limits().trusted_documents_required && request.person().is_none() && !runs_trusted_document =>
        {
            Err(Refused::new(
                RequestRefusal::PersistedQueryRequired,
                "the tenant's plan lets its API keys run trusted documents only: \
                 send the documentId (or extensions.persistedQuery.sha256Hash) of a trusted document",
            ))
        }
        _ => Ok(()),
    }
}

/// Whether the caller may introspect the schema: anyone where `INTROSPECTION` is on
/// (development's default), else a member (a person or an API key) holding
/// `schema:read`, so internal tools keep their documentation in production.
pub fn may_introspect(caller: &Caller, open_to_all: bool) -> bool {
    open_to_all || matches!(caller, Caller::Member(context) if context.permissions().contains(Permission::SchemaRead))
}

/// A document that introspects (`__schema`, `__type`) from a caller who may not.
pub fn introspection(caller: &Caller, open_to_all: bool, shape: &Shape) -> Result<(), Refused> {
    if !shape.introspects() || may_introspect(caller, open_to_all) {
        return Ok(());
    }
    Err(Refused::new(
        RequestRefusal::IntrospectionNotAllowed,
        "introspection needs a signed-in member holding `schema:read` on this deployment",
    ))
}

/// A tenant whose plan's API calls for this month are spent (counted by the meter, in
/// memory: no database or Redis work): its API keys are refused here; its people go on,
/// held by the access rules to what lets them change the plan.
pub fn monthly_calls(app: &Application, caller: Caller) -> Result<Caller, Refused> {
    let Caller::Member(context) = caller else {
        return Ok(caller);
    };
    app.hold_to_monthly_calls(context)
        .map(Caller::Member)
        .map_err(|spent| Refused::monthly_calls_spent(spent.limit, spent.used))
}

/// Draws the request from its buckets; a member past a limit is noted in the audit
/// trail (at most once a minute).
pub async fn admit(
    app: &Application,
    caller: &Caller,
    client_ip: Option<&str>,
    shape: &Shape,
) -> Result<Admitted, Refused> {
    let member = match caller {
        Caller::Member(context) => Some(context),
        _ => None,
    };
    let admitted = app
        .admit(Admission {
            member,
            client_ip,
            authentication: shape.authentication(),
        })
        .await;
    if admitted.allowed() {
        return Ok(admitted);
    }
    if let Some(context) = member {
        app.meter(context, Metered::Refused);
        app.note_rate_limited(context, shape.label()).await;
    }
    Err(Refused::rate_limited(admitted))
}
