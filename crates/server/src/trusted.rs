//! The trusted-documents manifest: a JSON object from SHA-256 (hex, or `sha256:<hex>` as
//! GraphQL Code Generator writes it) to document, loaded at start (every hash is
//! checked against its document), extended with `tessera persisted add <file>` and
//! `tessera persisted import <manifest>`, and reloaded by a running server when the
//! file changes or on SIGHUP.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use tessera_api::http::{TrustedManifest, sha256_hex};

/// A manifest's key without its `sha256:` prefix, in lower case.
fn bare_hash(key: &str) -> String {
    key.strip_prefix("sha256:").unwrap_or(key).to_ascii_lowercase()
}

/// Reads and checks a manifest; a missing file is an empty manifest.
pub fn load(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: HashMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object of hash to document", path.display()))?;
    for (hash, document) in &manifest {
        if sha256_hex(document) != bare_hash(hash) {
            bail!("{}: the document under {hash} does not have that hash", path.display());
        }
    }
    Ok(manifest.into_iter().map(|(h, d)| (bare_hash(&h), d)).collect())
}

/// Apollo's persisted query manifest (`@apollo/generate-persisted-query-manifest`).
#[derive(Deserialize)]
struct ApolloManifest {
    format: String,
    version: u32,
    operations: Vec<ApolloOperation>,
}

#[derive(Deserialize)]
struct ApolloOperation {
    id: String,
    #[serde(default)]
    name: Option<String>,
    body: String,
}

/// The documents of a manifest to import, each with what names it in messages: a
/// GraphQL Code Generator (client preset) `persisted-documents.json` or Tessera's own
/// manifest (hash → document), or an Apollo persisted query manifest.
fn documents_to_import(text: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let value: serde_json::Value = serde_json::from_str(text).context("the file is not JSON")?;
    if value.get("format").is_some() {
        let manifest: ApolloManifest =
            serde_json::from_value(value).context("not an Apollo persisted query manifest")?;
        if manifest.format != "apollo-persisted-query-manifest" || manifest.version != 1 {
            bail!(
                "unknown manifest format `{}` version {} (apollo-persisted-query-manifest version 1 is read)",
                manifest.format,
                manifest.version
            );
        }
        return Ok(manifest
            .operations
            .into_iter()
            .map(|operation| {
                let label = operation.name.clone().unwrap_or_else(|| operation.id.clone());
                (operation.id, operation.body, label)
            })
            .collect());
    }
    let flat: BTreeMap<String, String> = serde_json::from_value(value)
        .context("neither an object of hash to document nor an Apollo persisted query manifest")?;
    Ok(flat
        .into_iter()
        .map(|(id, document)| (id.clone(), document, id))
        .collect())
}

/// What an import did.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub already_present: usize,
}

/// Adds every document of `file` (see [`documents_to_import`]) to the manifest at
/// `manifest`. Each id must be the SHA-256 of its document and each document valid
/// GraphQL; one that is not fails the whole import and nothing is written. The new
/// manifest replaces the old in one rename, so a server reloading it never reads half.
pub fn import(manifest: &Path, file: &Path) -> anyhow::Result<Imported> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let incoming = documents_to_import(&text).with_context(|| format!("{}", file.display()))?;
    if incoming.is_empty() {
        bail!("{}: no documents", file.display());
    }
    let mut entries: BTreeMap<String, String> = load(manifest)?.into_iter().collect();
    let mut imported = Imported {
        added: 0,
        already_present: 0,
    };
    for (id, document, label) in incoming {
        let hash = bare_hash(&id);
        if sha256_hex(&document) != hash {
            bail!("{label}: its id is not the SHA-256 of its document (use SHA-256 ids; nothing was imported)");
        }
        async_graphql::parser::parse_query(&document)
            .map_err(|error| anyhow::anyhow!("{label}: not valid GraphQL: {error} (nothing was imported)"))?;
        if entries.insert(hash, document).is_some() {
            imported.already_present += 1;
        } else {
            imported.added += 1;
        }
    }
    write(manifest, &entries)?;
    Ok(imported)
}

fn write(manifest: &Path, entries: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(entries)? + "\n";
    let mut staging = manifest.as_os_str().to_owned();
    staging.push(".new");
    let staging = std::path::PathBuf::from(staging);
    std::fs::write(&staging, text).with_context(|| format!("writing {}", staging.display()))?;
    std::fs::rename(&staging, manifest).with_context(|| format!("replacing {}", manifest.display()))
}

/// Adds a document to the manifest (creating it); returns its hash.
pub fn add(manifest: &Path, document: &str) -> anyhow::Result<String> {
    let document = document.trim();
    if document.is_empty() {
        bail!("the document is empty");
    }
    async_graphql::parser::parse_query(document).context("the document is not valid GraphQL")?;
    let mut entries: BTreeMap<String, String> = load(manifest)?.into_iter().collect();
    let hash = sha256_hex(document);
    entries.insert(hash.clone(), document.to_owned());
    write(manifest, &entries)?;
    Ok(hash)
}

/// When the file last changed, as far as a reload cares.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Loads `path` into `manifest` when it changed since `seen` (or when `force`); a file
/// that does not load keeps the previous documents. Answers the file's stamp.
fn reload(
    path: &Path,
    manifest: &TrustedManifest,
    seen: Option<(SystemTime, u64)>,
    force: bool,
) -> Option<(SystemTime, u64)> {
    let now = stamp(path);
    if !force && now == seen {
        return seen;
    }
    match load(path) {
        Ok(documents) => {
            tracing::info!(documents = documents.len(), file = %path.display(), "trusted documents reloaded");
            metrics::counter!("tessera_trusted_documents_reloads_total", "outcome" => "loaded").increment(1);
            metrics::gauge!("tessera_trusted_documents").set(documents.len() as f64);
            manifest.replace(documents);
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "the trusted documents were not reloaded; the previous ones stay");
            metrics::counter!("tessera_trusted_documents_reloads_total", "outcome" => "failed").increment(1);
        }
    }
    now
}

/// Keeps `manifest` equal to the file: looks every `every` (when not zero) and on each
/// SIGHUP.
pub fn watch(path: std::path::PathBuf, manifest: Arc<TrustedManifest>, every: Duration) -> tokio::task::JoinHandle<()> {
    metrics::gauge!("tessera_trusted_documents").set(manifest.current().len() as f64);
    tokio::spawn(async move {
        let mut seen = stamp(&path);
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let tick = async {
                if every.is_zero() {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep(every).await;
                }
            };
            #[cfg(unix)]
            let signalled = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await.is_some(),
                    None => std::future::pending::<bool>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<bool>();
            let force = tokio::select! {
                () = tick => false,
                forced = signalled => forced,
            };
            seen = reload(&path, &manifest, seen, force);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_added_once_by_hash_and_checked_on_load() {
        let dir = std::env::temp_dir().join(format!("tessera-trusted-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let manifest = dir.join("trusted.json");
        let _ = std::fs::remove_file(&manifest);
        let hash = add(&manifest, "{ me { email } }\n").expect("added");
        assert_eq!(hash, sha256_hex("{ me { email } }"));
        assert_eq!(add(&manifest, "{ me { email } }").expect("again"), hash);
        assert!(add(&manifest, "{ me { ").is_err(), "invalid GraphQL is refused");
        let loaded = load(&manifest).expect("loads");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[&hash], "{ me { email } }");

        std::fs::write(&manifest, format!("{{\"{hash}\": \"{{ me {{ id }} }}\"}}")).expect("tampered");
        assert!(
            load(&manifest).is_err(),
            "a hash that does not match its document is refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn codegen_and_apollo_manifests_are_imported_whole_or_not_at_all() {
        let dir = temp_dir("import");
        let manifest = dir.join("trusted.json");
        let me = "query Me { me { email } }";
        let tenant = "query Tenant { currentTenant { slug } }";
        // GraphQL Code Generator's client preset: `sha256:`-prefixed keys.
        let codegen = dir.join("persisted-documents.json");
        std::fs::write(
            &codegen,
            serde_json::json!({ format!("sha256:{}", sha256_hex(me)): me }).to_string(),
        )
        .expect("write");
        assert_eq!(
            import(&manifest, &codegen).expect("imported"),
            Imported {
                added: 1,
                already_present: 0
            }
        );
        // Apollo's manifest, one document already there.
        let apollo = dir.join("apollo.json");
        let operations = serde_json::json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                { "id": sha256_hex(me), "name": "Me", "type": "query", "body": me },
                { "id": sha256_hex(tenant), "name": "Tenant", "type": "query", "body": tenant },
            ],
        });
        std::fs::write(&apollo, operations.to_string()).expect("write");
        assert_eq!(
            import(&manifest, &apollo).expect("imported"),
            Imported {
                added: 1,
                already_present: 1
            }
        );
        let loaded = load(&manifest).expect("loads");
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[&sha256_hex(tenant)], tenant);

        // A wrong id or a broken document: nothing of the file is imported.
        let before = std::fs::read_to_string(&manifest).expect("manifest");
        let other = "query Other { me { id } }";
        let bad = serde_json::json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                { "id": sha256_hex(other), "name": "Other", "body": other },
                { "id": sha256_hex(me), "name": "Liar", "body": tenant },
            ],
        });
        std::fs::write(&apollo, bad.to_string()).expect("write");
        let error = import(&manifest, &apollo).expect_err("a wrong id");
        assert!(error.to_string().contains("Liar"), "{error}");
        let broken = "query Broken { me { ";
        std::fs::write(&codegen, serde_json::json!({ sha256_hex(broken): broken }).to_string()).expect("write");
        assert!(import(&manifest, &codegen).is_err(), "invalid GraphQL");
        std::fs::write(
            &codegen,
            r#"{"format": "something-else", "version": 1, "operations": []}"#,
        )
        .expect("write");
        assert!(import(&manifest, &codegen).is_err(), "an unknown format");
        assert_eq!(std::fs::read_to_string(&manifest).expect("manifest"), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reload_takes_a_changed_file_and_keeps_the_old_documents_when_it_is_broken() {
        let dir = temp_dir("reload");
        let path = dir.join("trusted.json");
        let manifest = TrustedManifest::default();
        let seen = reload(&path, &manifest, None, true);
        assert!(manifest.current().is_empty(), "no file: no documents");
        let me = "{ me { email } }";
        add(&path, me).expect("added");
        let seen = reload(&path, &manifest, seen, false);
        assert_eq!(manifest.current().get(&sha256_hex(me)).map(String::as_str), Some(me));
        // Unchanged: not read again (a broken file would otherwise be noticed).
        let unchanged = reload(&path, &manifest, seen, false);
        assert_eq!(unchanged, seen);
        std::fs::write(&path, "{ not json").expect("broken");
        reload(&path, &manifest, seen, true);
        assert_eq!(
            manifest.current().len(),
            1,
            "a broken file keeps the previous documents"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
