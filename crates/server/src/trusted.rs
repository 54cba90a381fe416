//! The trusted-documents manifest: a JSON object from SHA-256 (hex) to document,
//! loaded at start (every hash is checked against its document) and extended with
//! `tessera persisted add <file>`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context as _, bail};
use tessera_api::http::sha256_hex;

/// Reads and checks a manifest; a missing file is an empty manifest.
pub fn load(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: HashMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object of hash to document", path.display()))?;
    for (hash, document) in &manifest {
        if sha256_hex(document) != hash.to_ascii_lowercase() {
            bail!("{}: the document under {hash} does not have that hash", path.display());
        }
    }
    Ok(manifest.into_iter().map(|(h, d)| (h.to_ascii_lowercase(), d)).collect())
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
    let text = serde_json::to_string_pretty(&entries)?;
    std::fs::write(manifest, text + "\n").with_context(|| format!("writing {}", manifest.display()))?;
    Ok(hash)
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
}
