//! Refreshing, listing and ending log-in sessions.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_application::PageRequest;
use tessera_domain::Session as SessionRecord;
use tessera_domain::SessionId;

use super::access::{Access, Rule};
use super::context::{application, client_info, member};
use super::cookies;
use super::errors::{GqlResult, parse_id};
use super::identity::AuthPayload;
use super::pagination::{page_cost, relay_connection};

/// What each field of this module's types needs from the caller, gathered by
/// [`super::access`] (a field without a rule is refused).
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    ("Mutation", &["refreshSession"], Access::Public),
    ("Mutation", &["logOut", "logOutEverywhere", "revokeSession"], Access::Person),
    ("Query", &["sessions"], Access::Person),
    // Session: where a person signed in from; every field listed
    ("Session", &["id", "current", "userAgent", "ip", "createdAt", "lastUsedAt", "expiresAt"], Access::Inherited),
    ("SessionConnection", &["*"], Access::Inherited),
    ("SessionEdge", &["*"], Access::Inherited),
];

/// One signed-in device or browser.
#[derive(SimpleObject, Clone)]
pub struct Session {
    pub id: ID,
    /// True for the session this request was made with.
    pub current: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// A session as seen by the caller; `current` is filled in by the connection.
pub struct SessionView {
    record: SessionRecord,
    current: bool,
}

impl From<&SessionView> for Session {
    fn from(view: &SessionView) -> Self {
        let record = &view.record;
        Self {
            id: ID(record.id.to_string()),
            current: view.current,
            user_agent: record.user_agent.clone(),
            ip: record.ip.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            expires_at: record.expires_at,
        }
    }
}

impl super::pagination::Cursored for SessionView {
    fn cursor(&self) -> String {
        tessera_application::Cursor::new(self.record.created_at, self.record.id.as_uuid()).encode()
    }
}

relay_connection!(
    SessionConnection,
    SessionEdge,
    Session,
    SessionView,
    (),
    |app, request, _extra| { app.count_sessions(request) }
);

#[derive(InputObject, Default)]
pub struct RefreshSessionInput {
    /// Leave out in cookie mode: the refresh cookie is used, and the request must carry
    /// the CSRF cookie's value in `X-CSRF-Token`.
    pub refresh_token: Option<String>,
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// My live sessions, oldest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<SessionConnection> {
        let request = member(ctx)?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref()).gql()?;
        let page = application(ctx).list_sessions(request, &page).await.gql()?;
        let current = request.session_id();
        let page = page.map(|record| SessionView {
            current: Some(record.id) == current,
            record,
        });
        Ok(SessionConnection { page, extra: () })
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Exchanges a refresh token for a new token pair. Each refresh token works once:
    /// presenting a used one ends the whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] input: RefreshSessionInput,
    ) -> Result<AuthPayload> {
        let from_cookie;
        let refresh_token = match input.refresh_token.as_deref() {
            Some(token) => token,
            None => {
                from_cookie = ctx.data_opt::<cookies::CookieSession>().cloned().unwrap_or_default();
                from_cookie.refresh_token().gql()?
            }
        };
        application(ctx)
            .refresh_session(refresh_token, client_info(ctx))
            .await
            .gql()
            .map(|session| cookies::issue(ctx, session))
    }

    /// Ends the session this request was made with.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let request = member(ctx)?;
        application(ctx).log_out(request).await.gql()?;
        cookies::clear(ctx);
        Ok(true)
    }

    /// Ends every session of mine; returns how many were ended.
    async fn log_out_everywhere(&self, ctx: &Context<'_>) -> Result<u64> {
        let request = member(ctx)?;
        let ended = application(ctx).log_out_everywhere(request).await.gql()?;
        cookies::clear(ctx);
        Ok(ended)
    }

    /// Ends one of my sessions.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let request = member(ctx)?;
        let session_id = parse_id("id", &id, SessionId::parse)?;
        application(ctx).revoke_session(request, session_id).await.gql()?;
        Ok(id)
    }
}
