//! The tables that hold tenant data, read from the database's own catalogue (every
//! table with a `tenant_id` column), with their columns, primary key and the tables
//! they refer to, so that exports and purges cover a table added later without
//! anyone listing it.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// One tenant table as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTable {
    pub name: String,
    /// Every column, in table order.
    pub columns: Vec<String>,
    /// The primary key's columns, in key order (the export's row order).
    pub primary_key: Vec<String>,
    /// Other tenant tables this one refers to.
    pub parents: BTreeSet<String>,
}

impl TenantTable {
    /// Columns holding credentials (signing secrets, digests of tokens and keys): left
    /// out of exports, and named in the manifest. Audit hashes are not secrets.
    pub fn redacted_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .map(String::as_str)
            .filter(|c| c.ends_with("secret") || c.ends_with("_digest") || c.ends_with("_token"))
            .collect()
    }

    pub fn exported_columns(&self) -> Vec<&str> {
        let redacted = self.redacted_columns();
        self.columns
            .iter()
            .map(String::as_str)
            .filter(|c| !redacted.contains(c))
            .collect()
    }
}

const POSTGRES_COLUMNS: &str = "SELECT c.relname AS table_name, a.attname AS column_name, \
       coalesce((SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i \
                 WHERE i.indrelid = c.oid AND i.indisprimary), 0)::int AS key_position \
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY c.relname, a.attnum";

const POSTGRES_REFERENCES: &str = "SELECT c.relname AS table_name, p.relname AS parent \
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE k.contype = 'f' AND n.nspname = current_schema()";

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, p.name AS column_name, p.pk AS key_position \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid";

const SQLITE_REFERENCES: &str = "SELECT m.name AS table_name, f.\"table\" AS parent \
     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'";

/// Every tenant table, parents before the tables that refer to them.
pub async fn tenant_tables(db: &impl ConnectionTrait) -> Result<Vec<TenantTable>, DbErr> {
    let backend = db.get_database_backend();
    let (columns_sql, references_sql) = match backend {
        DbBackend::Postgres => (POSTGRES_COLUMNS, POSTGRES_REFERENCES),
        _ => (SQLITE_COLUMNS, SQLITE_REFERENCES),
    };
    let mut tables: BTreeMap<String, TenantTable> = BTreeMap::new();
    let mut keys: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for row in db.query_all_raw(Statement::from_string(backend, columns_sql)).await? {
        let table: String = row.try_get("", "table_name")?;
        let column: String = row.try_get("", "column_name")?;
        let position: i64 = match backend {
            DbBackend::Postgres => i64::from(row.try_get::<i32>("", "key_position")?),
            _ => row.try_get("", "key_position")?,
        };
        if position > 0 {
            keys.entry(table.clone()).or_default().push((position, column.clone()));
        }
        tables
            .entry(table.clone())
            .or_insert_with(|| TenantTable {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
                parents: BTreeSet::new(),
            })
            .columns
            .push(column);
    }
    tables.retain(|_, table| table.columns.iter().any(|c| c == "tenant_id"));
    for (name, mut key) in keys {
        if let Some(table) = tables.get_mut(&name) {
            key.sort();
            table.primary_key = key.into_iter().map(|(_, column)| column).collect();
        }
    }
    for row in db
        .query_all_raw(Statement::from_string(backend, references_sql))
        .await?
    {
        let table: String = row.try_get("", "table_name")?;
        let parent: String = row.try_get("", "parent")?;
        if parent != table
            && tables.contains_key(&parent)
            && let Some(child) = tables.get_mut(&table)
        {
            child.parents.insert(parent);
        }
    }
    Ok(parents_first(tables))
}

/// A topological order: every table after the tables it refers to (ties by name).
fn parents_first(mut tables: BTreeMap<String, TenantTable>) -> Vec<TenantTable> {
    let mut ordered = Vec::with_capacity(tables.len());
    let mut placed: BTreeSet<String> = BTreeSet::new();
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .values()
            .filter(|t| t.parents.iter().all(|p| placed.contains(p)))
            .map(|t| t.name.clone())
            .collect();
        // A cycle (none exists today) would leave nothing ready: take the rest by name.
        let next = if ready.is_empty() {
            tables.keys().cloned().collect()
        } else {
            ready
        };
        for name in next {
            if let Some(table) = tables.remove(&name) {
                placed.insert(name);
                ordered.push(table);
            }
        }
    }
    ordered
}

/// `"name"`: a catalogue name quoted as an identifier.
pub fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, parents: &[&str]) -> (String, TenantTable) {
        (
            name.to_owned(),
            TenantTable {
                name: name.to_owned(),
                columns: vec![
                    "tenant_id".into(),
                    "secret".into(),
                    "token_digest".into(),
                    "hash".into(),
                ],
                primary_key: vec!["tenant_id".into()],
                parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            },
        )
    }

    #[test]
    fn parents_come_before_the_tables_that_refer_to_them() {
        let tables: BTreeMap<String, TenantTable> = [
            table("workspace_members", &["workspaces", "memberships", "roles"]),
            table("memberships", &["roles"]),
            table("roles", &[]),
            table("workspaces", &[]),
        ]
        .into_iter()
        .collect();
        let order: Vec<String> = parents_first(tables).into_iter().map(|t| t.name).collect();
        assert_eq!(order, ["roles", "workspaces", "memberships", "workspace_members"]);
    }

    #[test]
    fn credentials_are_redacted_and_hashes_kept() {
        let (_, table) = table("webhook_endpoints", &[]);
        assert_eq!(table.redacted_columns(), ["secret", "token_digest"]);
        assert_eq!(table.exported_columns(), ["tenant_id", "hash"]);
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }
}
