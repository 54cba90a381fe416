//! Keyset pagination over `(created_at, id)`: the page after (or before) a cursor, in
//! index order, fetching one extra row to know whether more exist. No OFFSET.

use sea_orm::sea_query::{LikeExpr, Order};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use tessera_application::Page;
use tessera_application::PageRequest;
use tessera_application::pagination::Direction;
use tessera_application::ports::StoreResult;

/// The order a page is scanned in: ascending forward, descending backward.
pub fn scan_order(page: &PageRequest) -> Order {
    match page.direction {
        Direction::Forward => Order::Asc,
        Direction::Backward => Order::Desc,
    }
}

pub fn paginate<E: EntityTrait>(
    mut query: Select<E>,
    created_at: E::Column,
    id: E::Column,
    page: &PageRequest,
) -> Select<E> {
    if let Some(cursor) = page.cursor {
        let (past_time, same_time_past_id) = match page.direction {
            Direction::Forward => (created_at.gt(cursor.created_at), id.gt(cursor.id)),
            Direction::Backward => (created_at.lt(cursor.created_at), id.lt(cursor.id)),
        };
        query = query.filter(
            Condition::any().add(past_time).add(
                Condition::all()
                    .add(created_at.eq(cursor.created_at))
                    .add(same_time_past_id),
            ),
        );
    }
    query = query
        .order_by(created_at, scan_order(page))
        .order_by(id, scan_order(page));
    query.limit(u64::from(page.limit) + 1)
}

/// Fetches one keyset page of `query` and maps each row to its domain type.
pub async fn fetch<E, T>(
    txn: &super::transaction::Executor,
    query: Select<E>,
    created_at: E::Column,
    id: E::Column,
    page: &PageRequest,
    to_domain: impl Fn(E::Model) -> StoreResult<T>,
) -> StoreResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    let rows = paginate(query, created_at, id, page)
        .all(txn)
        .await
        .map_err(super::db_failure)?
        .into_iter()
        .map(to_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_scan(page, rows))
}

/// A `LIKE` pattern matching `text` anywhere, its wildcards taken literally (escape `\`).
pub fn contains_pattern(text: &str) -> LikeExpr {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}
