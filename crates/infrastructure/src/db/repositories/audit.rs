//! The audit trail: appends chained by SHA-256, one chain per tenant (and the
//! platform's under the nil id). Each append claims the chain's next position with an
//! upsert on its head row, which locks that row until the transaction ends, so two
//! appends to one chain never fork it; then inserts the event and moves the head.

use async_trait::async_trait;
use chrono::SubsecRound;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, InsertStatement, OnConflict, Query, WithClause,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use tessera_application::ports::{AuditFilter, AuditRepository, OutboxEvent, StoreError, StoreResult};
use tessera_application::{Page, PageRequest, TenantScope};
use tessera_domain::audit::chain_input;
use tessera_domain::{AuditEvent, NewAuditEvent, TenantId, UserId};
use uuid::Uuid;

use crate::auth::secrets::sha256_hex;
use crate::db::entities::audit_event::{self, encode_changes};
use crate::db::entities::outbox_event;
use crate::db::{SeaTransaction, db_failure, keyset, scoped};

const HEADS: &str = "audit_chain_heads";

/// SHA-256 (hex) of the event's chain input.
pub(crate) fn event_hash(id: Uuid, sequence: i64, event: &NewAuditEvent, previous_hash: &str) -> String {
    sha256_hex(&chain_input(id, sequence, event, previous_hash))
}

/// On PostgreSQL, the event's insert, its announcement's insert (if any) and the
/// head's move in one statement (one round trip): the inserts as data-modifying `WITH`s
/// of the update.
fn insert_and_advance(
    insert: InsertStatement,
    announcement: Option<InsertStatement>,
    chain: Uuid,
    hash: String,
) -> Statement {
    let mut with = WithClause::new();
    with.cte(
        CommonTableExpression::new()
            .query(insert)
            .table_name(Alias::new("event"))
            .to_owned(),
    );
    if let Some(announcement) = announcement {
        with.cte(
            CommonTableExpression::new()
                .query(announcement)
                .table_name(Alias::new("announcement"))
                .to_owned(),
        );
    }
    let advance = Query::update()
        .table(Alias::new(HEADS))
        .value(Alias::new("hash"), hash)
        .and_where(Expr::col(Alias::new("chain")).eq(chain))
        .to_owned();
    DbBackend::Postgres.build(&with.query(advance))
}

fn chain_of(tenant_id: Option<TenantId>) -> Uuid {
    tenant_id.map_or(Uuid::nil(), |t| t.as_uuid())
}

impl SeaTransaction {
    /// Appends `event` to its chain and, with it, inserts its announcement.
    async fn append_with(&self, event: &NewAuditEvent, announcement: Option<&OutboxEvent>) -> StoreResult<()> {
        let chain = chain_of(event.tenant_id);
        if announcement.is_some_and(|outbox| outbox.tenant_id.as_uuid() != chain) {
            return Err(StoreError::failure("an announcement of another tenant's event"));
        }
        let mut owned = event.clone();
        // Stored with microseconds on every backend; hash what will be read back.
        owned.occurred_at = owned.occurred_at.trunc_subsecs(6);

        let claim = Query::insert()
            .into_table(Alias::new(HEADS))
            .columns([Alias::new("chain"), Alias::new("sequence"), Alias::new("hash")])
            .values_panic([chain.into(), 1i64.into(), "".into()])
            .on_conflict(
                OnConflict::column(Alias::new("chain"))
                    .value(
                        Alias::new("sequence"),
                        Expr::col((Alias::new(HEADS), Alias::new("sequence"))).add(1),
                    )
                    .to_owned(),
            )
            .returning(Query::returning().columns([Alias::new("sequence"), Alias::new("hash")]))
            .to_owned();
        let head = self
            .txn
            .query_one_raw(self.backend.build(&claim))
            .await
            .map_err(db_failure)?
            .ok_or_else(|| StoreError::failure("the audit chain head returned no row"))?;
        let sequence: i64 = head.try_get("", "sequence").map_err(db_failure)?;
        let previous_hash: String = head.try_get("", "hash").map_err(db_failure)?;

        let id = Uuid::now_v7();
        let hash = event_hash(id, sequence, &owned, &previous_hash);
        let row = audit_event::Model {
            tenant_id: chain,
            sequence,
            id,
            actor_kind: owned.actor.kind().to_owned(),
            actor_id: owned.actor.id(),
            action: owned.action.clone(),
            target_type: owned.target_type.clone(),
            target_id: owned.target_id.clone(),
            changes: encode_changes(&owned.changes),
            ip: owned.origin.ip.clone(),
            user_agent: owned.origin.user_agent.clone(),
            request_id: owned.origin.request_id.clone(),
            occurred_at: owned.occurred_at,
            previous_hash,
            hash: hash.clone(),
        };
        // Without RETURNING: the runtime role may insert platform events it cannot read.
        let insert = audit_event::Entity::insert(row.into_active_model()).into_query();
        let announcement = announcement.map(|outbox| {
            outbox_event::Entity::insert(outbox_event::Model::from_domain(outbox).into_active_model()).into_query()
        });
        if self.backend == DbBackend::Postgres {
            self.txn
                .execute_raw(insert_and_advance(insert, announcement, chain, hash))
                .await
                .map_err(db_failure)?;
            return Ok(());
        }
        self.txn
            .execute_raw(self.backend.build(&insert))
            .await
            .map_err(db_failure)?;
        if let Some(announcement) = announcement {
            self.txn
                .execute_raw(self.backend.build(&announcement))
                .await
                .map_err(db_failure)?;
        }
        let advance = Query::update()
            .table(Alias::new(HEADS))
            .value(Alias::new("hash"), hash)
            .and_where(Expr::col(Alias::new("chain")).eq(chain))
            .to_owned();
        self.txn
            .execute_raw(self.backend.build(&advance))
            .await
            .map_err(db_failure)?;
        Ok(())
    }
}

#[async_trait]
impl AuditRepository for SeaTransaction {
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<()> {
        self.append_with(event, None).await
    }

    async fn append_announcing(&self, event: &NewAuditEvent, announcement: &OutboxEvent) -> StoreResult<()> {
        self.append_with(event, Some(announcement)).await
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        keyset::fetch(
            &self.txn,
            filtered(scope, filter),
            audit_event::Column::OccurredAt,
            audit_event::Column::Id,
            page,
            audit_event::Model::into_domain,
        )
        .await
    }

    async fn count(&self, scope: &TenantScope, filter: &AuditFilter) -> StoreResult<u64> {
        filtered(scope, filter).count(&self.txn).await.map_err(db_failure)
    }

    async fn by_actor(&self, actor: UserId, after: Option<(Uuid, i64)>, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let (after_chain, after_sequence) = after.unwrap_or((Uuid::nil(), -1));
        let rows = if self.backend == DbBackend::Postgres {
            // Across tenants, through the schema owner's function: only the events of the
            // person the transaction was entered for (`Transaction::enter_user`).
            audit_event::Entity::find()
                .from_raw_sql(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT * FROM audit_events_of_actor($1, $2, $3, $4)",
                    [
                        actor.as_uuid().into(),
                        after_chain.into(),
                        after_sequence.into(),
                        i32::try_from(limit).unwrap_or(i32::MAX).into(),
                    ],
                ))
                .all(&self.txn)
                .await
        } else {
            audit_event::Entity::find()
                .filter(audit_event::Column::ActorId.eq(actor.as_uuid()))
                .filter(audit_event::Column::ActorKind.is_in(["user", "platform_admin"]))
                .filter(
                    Condition::any().add(audit_event::Column::TenantId.gt(after_chain)).add(
                        Condition::all()
                            .add(audit_event::Column::TenantId.eq(after_chain))
                            .add(audit_event::Column::Sequence.gt(after_sequence)),
                    ),
                )
                .order_by_asc(audit_event::Column::TenantId)
                .order_by_asc(audit_event::Column::Sequence)
                .limit(u64::from(limit))
                .all(&self.txn)
                .await
        }
        .map_err(db_failure)?;
        rows.into_iter().map(audit_event::Model::into_domain).collect()
    }
}

fn filtered(scope: &TenantScope, filter: &AuditFilter) -> sea_orm::Select<audit_event::Entity> {
    let mut query = scoped::select::<audit_event::Entity>(scope);
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_event::Column::ActorId.eq(actor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(target_type) = &filter.target_type {
        query = query.filter(audit_event::Column::TargetType.eq(target_type.as_str()));
    }
    if let Some(target_id) = &filter.target_id {
        query = query.filter(audit_event::Column::TargetId.eq(target_id.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_event::Column::OccurredAt.lt(to));
    }
    query
}

/// One chain's head: its last position and hash, and where archiving left off.
#[derive(Debug, FromQueryResult)]
struct ChainHead {
    chain: Uuid,
    sequence: i64,
    hash: String,
    archived_sequence: i64,
    archived_hash: String,
}

/// Every chain's head (or one tenant's), read over the owner's connection.
async fn chain_heads(db: &DatabaseConnection, tenant: Option<TenantId>) -> Result<Vec<ChainHead>, String> {
    let mut query = Query::select()
        .columns([
            Alias::new("chain"),
            Alias::new("sequence"),
            Alias::new("hash"),
            Alias::new("archived_sequence"),
            Alias::new("archived_hash"),
        ])
        .from(Alias::new(HEADS))
        .order_by(Alias::new("chain"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    if let Some(tenant) = tenant {
        query.and_where(Expr::col(Alias::new("chain")).eq(tenant.as_uuid()));
    }
    let statement = db.get_database_backend().build(&query);
    ChainHead::find_by_statement(statement)
        .all(db)
        .await
        .map_err(|e| e.to_string())
}

/// What `tessera audit verify` found in one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// `None` for the platform chain.
    pub tenant_id: Option<TenantId>,
    pub events: u64,
    /// Each break, in chain order; empty when the chain is intact.
    pub problems: Vec<String>,
}

/// Recomputes every hash of every chain (or one tenant's), in sequence order, and
/// compares the end with the chain's head, so an edited, inserted or removed event
/// (including the last one) is reported. Needs a connection that can read every
/// tenant's events (the owner's).
/// Deliberately unscoped (here and in `archive_audit_events`): the owner's connection
/// has no `TenantScope`, and the platform chain's nil id is no tenant.
pub async fn verify_audit_chains(
    db: &DatabaseConnection,
    tenant: Option<TenantId>,
) -> Result<Vec<ChainReport>, String> {
    let heads = chain_heads(db, tenant).await?;
    let mut reports = Vec::new();
    for head in heads {
        let ChainHead {
            chain,
            sequence: head_sequence,
            hash: head_hash,
            archived_sequence,
            archived_hash,
        } = head;
        let mut expected_sequence = archived_sequence + 1;
        let mut previous = archived_hash;
        let mut problems = Vec::new();
        let mut events = 0u64;
        let mut after = expected_sequence - 1;
        loop {
            let batch = audit_event::Entity::find()
                .filter(audit_event::Column::TenantId.eq(chain))
                .filter(audit_event::Column::Sequence.gt(after))
                .order_by_asc(audit_event::Column::Sequence)
                .limit(1000)
                .all(db)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = batch.last() else { break };
            after = last.sequence;
            for row in batch {
                events += 1;
                let sequence = row.sequence;
                if sequence != expected_sequence {
                    problems.push(format!("event {expected_sequence} is missing (next is {sequence})"));
                }
                if row.previous_hash != previous {
                    problems.push(format!("event {sequence} does not follow the event before it"));
                }
                let stored = row.hash.clone();
                let id = row.id;
                match row.into_domain() {
                    Ok(event) => {
                        if event_hash(id, sequence, &event.event, &event.previous_hash) != stored {
                            problems.push(format!("event {sequence} was altered after it was written"));
                        }
                    }
                    Err(error) => problems.push(format!("event {sequence} cannot be read: {error}")),
                }
                previous = stored;
                expected_sequence = sequence + 1;
            }
        }
        if expected_sequence - 1 != head_sequence || previous != head_hash {
            problems.push(format!(
                "the chain ends at event {} but its head says {head_sequence}: events at the end were removed",
                expected_sequence - 1
            ));
        }
        reports.push(ChainReport {
            tenant_id: (!chain.is_nil()).then(|| TenantId::from_uuid(chain)),
            events,
            problems,
        });
    }
    Ok(reports)
}

/// Events archived per chain and transaction.
const ARCHIVE_BATCH: u64 = 5_000;

/// What one retention run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Events written to the archive and then deleted.
    pub archived: u64,
    /// Chains that lost their oldest events.
    pub chains: u64,
}

/// Where archived events go. What was written must survive a crash before the events
/// are deleted from the database: [`ArchiveSink::persist`] is called first.
pub trait ArchiveSink: std::io::Write + Send {
    /// Makes everything written so far durable (for a file: flushed, then `fsync`ed).
    fn persist(&mut self) -> std::io::Result<()>;
}

impl ArchiveSink for std::fs::File {
    fn persist(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(self)?;
        self.sync_data()
    }
}

/// Retention: for every chain, the oldest events that happened before `before` (a
/// prefix of the chain, so it stays verifiable) are written to `out` as JSON lines,
/// every field and both hashes, and only then deleted, in one transaction per chain
/// that also records the last archived position and hash on the chain's head (where
/// `verify` picks the chain up). Needs the owner's connection, like `verify`.
pub async fn archive_audit_events(
    db: &DatabaseConnection,
    before: chrono::DateTime<chrono::Utc>,
    out: &mut dyn ArchiveSink,
) -> Result<ArchiveReport, String> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let text = |e: sea_orm::DbErr| e.to_string();
    let mut report = ArchiveReport::default();
    for ChainHead { chain, .. } in chain_heads(db, None).await? {
        let mut touched = false;
        loop {
            let oldest = audit_event::Entity::find()
                .filter(audit_event::Column::TenantId.eq(chain))
                .order_by_asc(audit_event::Column::Sequence)
                .limit(ARCHIVE_BATCH)
                .all(db)
                .await
                .map_err(text)?;
            let fetched = oldest.len() as u64;
            let prefix: Vec<audit_event::Model> = oldest.into_iter().take_while(|e| e.occurred_at < before).collect();
            let Some(last) = prefix.last() else { break };
            let (last_sequence, last_hash) = (last.sequence, last.hash.clone());
            for row in &prefix {
                let line = serde_json::json!({
                    "chain": row.tenant_id, "sequence": row.sequence, "id": row.id,
                    "actor_kind": row.actor_kind, "actor_id": row.actor_id, "action": row.action,
                    "target_type": row.target_type, "target_id": row.target_id,
                    // As stored: an unreadable value is archived as its text, never lost.
                    "changes": serde_json::from_str::<serde_json::Value>(&row.changes)
                        .unwrap_or_else(|_| serde_json::Value::String(row.changes.clone())),
                    "ip": row.ip, "user_agent": row.user_agent, "request_id": row.request_id,
                    "occurred_at": row.occurred_at, "previous_hash": row.previous_hash, "hash": row.hash,
                });
                writeln!(out, "{line}").map_err(|e| format!("writing the archive: {e}"))?;
            }
            // Written and on disk before anything is deleted: a crash right after the
            // deletion must not lose events that only the page cache held.
            out.persist().map_err(|e| format!("writing the archive: {e}"))?;

            let txn = db.begin().await.map_err(text)?;
            let mark = match backend {
                sea_orm::DbBackend::Postgres => "SELECT set_config('tessera.audit_retention', 'on', true)",
                _ => "INSERT INTO audit_retention_runs (started_at) VALUES (datetime('now'))",
            };
            txn.execute_unprepared(mark).await.map_err(text)?;
            audit_event::Entity::delete_many()
                .filter(audit_event::Column::TenantId.eq(chain))
                .filter(audit_event::Column::Sequence.lte(last_sequence))
                .exec(&txn)
                .await
                .map_err(text)?;
            let advance = Query::update()
                .table(Alias::new(HEADS))
                .value(Alias::new("archived_sequence"), last_sequence)
                .value(Alias::new("archived_hash"), last_hash)
                .and_where(Expr::col(Alias::new("chain")).eq(chain))
                .to_owned();
            txn.execute_raw(backend.build(&advance)).await.map_err(text)?;
            if backend != sea_orm::DbBackend::Postgres {
                txn.execute_unprepared("DELETE FROM audit_retention_runs")
                    .await
                    .map_err(text)?;
            }
            txn.commit().await.map_err(text)?;
            report.archived += prefix.len() as u64;
            touched = true;
            if (prefix.len() as u64) < fetched || fetched < ARCHIVE_BATCH {
                break;
            }
        }
        report.chains += u64::from(touched);
    }
    Ok(report)
}
