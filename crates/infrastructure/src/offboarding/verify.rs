//! Checks an export archive offline, with nothing but the file: every table file's
//! SHA-256 and row count against the manifest, no file missing or unlisted, and the
//! exported audit trail's hash chain (each event's hash recomputed, each event
//! following the one before).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::archive::{ARCHIVE_FORMAT, MANIFEST, Manifest};
use crate::db::entities::audit_event;
use crate::db::repositories::audit::event_hash;

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportCheck {
    pub tenant_id: String,
    pub tables: usize,
    pub rows: u64,
    pub audit_events: u64,
    /// Everything wrong, in plain words; empty when the archive holds up.
    pub problems: Vec<String>,
}

impl ExportCheck {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One exported audit event, as the archive's NDJSON holds it: the stored row.
#[derive(Deserialize)]
struct ExportedEvent {
    tenant_id: uuid::Uuid,
    sequence: i64,
    id: uuid::Uuid,
    actor_kind: String,
    actor_id: Option<uuid::Uuid>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    changes: String,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    occurred_at: String,
    previous_hash: String,
    hash: String,
}

/// Timestamps as either backend writes them (`T` or a space between date and time).
fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The event's sequence, its recorded previous hash and hash, and the hash recomputed
/// as the live chain computes it (the row read back through the audit entity).
fn event_of(row: ExportedEvent) -> Result<(i64, String, String, String), String> {
    let stored = audit_event::Model {
        tenant_id: row.tenant_id,
        sequence: row.sequence,
        id: row.id,
        actor_kind: row.actor_kind,
        actor_id: row.actor_id,
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        changes: row.changes,
        ip: row.ip,
        user_agent: row.user_agent,
        request_id: row.request_id,
        occurred_at: parse_time(&row.occurred_at).ok_or("unreadable time")?,
        previous_hash: row.previous_hash,
        hash: row.hash,
    };
    let (sequence, previous, recorded) = (stored.sequence, stored.previous_hash.clone(), stored.hash.clone());
    let event = stored.into_domain().map_err(|e| e.to_string())?;
    let computed = event_hash(event.id, event.sequence, &event.event, &event.previous_hash);
    Ok((sequence, previous, recorded, computed))
}

/// Reads the archive at `path` and checks it.
pub fn verify_export(path: &Path) -> std::io::Result<ExportCheck> {
    let file = std::fs::File::open(path)?;
    verify_export_from(file)
}

/// Checks an archive read from `reader` (a `.tar.gz`).
pub fn verify_export_from(reader: impl Read) -> std::io::Result<ExportCheck> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let mut manifest: Option<Manifest> = None;
    // file → (rows, sha256)
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut check = ExportCheck::default();
    let mut chain: Vec<(i64, String, String, String)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name == MANIFEST {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            manifest = Some(serde_json::from_str(&text).map_err(std::io::Error::other)?);
            continue;
        }
        let mut hasher = Sha256::new();
        let mut rows = 0u64;
        let audit = name.ends_with("/audit_events.ndjson");
        let mut lines = BufReader::new(&mut entry);
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                break;
            }
            hasher.update(line.as_bytes());
            rows += 1;
            if audit {
                match serde_json::from_str::<ExportedEvent>(line.trim_end())
                    .map_err(|e| e.to_string())
                    .and_then(event_of)
                {
                    Ok(event) => chain.push(event),
                    Err(error) => check
                        .problems
                        .push(format!("audit event on line {rows} cannot be read: {error}")),
                }
            }
        }
        seen.insert(name, (rows, format!("{:x}", hasher.finalize())));
    }
    let Some(manifest) = manifest else {
        check.problems.push("the archive has no manifest".into());
        return Ok(check);
    };
    if manifest.format != ARCHIVE_FORMAT {
        check
            .problems
            .push(format!("the manifest's format is `{}`", manifest.format));
    }
    check.tenant_id = manifest.tenant_id.clone();
    check.tables = manifest.tables.len();
    for table in &manifest.tables {
        match seen.remove(&table.file) {
            None => check.problems.push(format!("{} is missing", table.file)),
            Some((rows, sha256)) => {
                check.rows += rows;
                if rows != table.rows {
                    check.problems.push(format!(
                        "{} holds {rows} rows; the manifest says {}",
                        table.file, table.rows
                    ));
                }
                if sha256 != table.sha256 {
                    check
                        .problems
                        .push(format!("{} does not match its SHA-256", table.file));
                }
            }
        }
    }
    for unlisted in seen.keys() {
        check.problems.push(format!("{unlisted} is not in the manifest"));
    }
    check.audit_events = chain.len() as u64;
    let mut before: Option<(i64, String)> = None;
    for (sequence, previous_hash, hash, computed) in chain {
        if hash != computed {
            check
                .problems
                .push(format!("audit event {sequence} was altered after it was written"));
        }
        if let Some((last_sequence, last_hash)) = &before {
            if sequence != last_sequence + 1 {
                check.problems.push(format!(
                    "audit event {} is missing (next is {sequence})",
                    last_sequence + 1
                ));
            }
            if &previous_hash != last_hash {
                check
                    .problems
                    .push(format!("audit event {sequence} does not follow the event before it"));
            }
        }
        before = Some((sequence, hash));
    }
    Ok(check)
}
