//! The shape of the workspace: the dependency rule and the checked-in schema file.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

const FRAMEWORKS: &[&str] = &[
    "sea-orm",
    "sea-query",
    "sqlx",
    "axum",
    "async-graphql",
    "redis",
    "deadpool-redis",
    "hyper",
    "tokio",
];

/// package name → names of its normal (non-dev, non-build) dependencies, resolved.
fn dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path", manifest])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                })
                .map(|dep| names[dep["pkg"].as_str().expect("pkg")].to_owned())
                .collect();
            (names[node["id"].as_str().expect("id")].to_owned(), deps)
        })
        .collect()
}

fn transitive(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(name) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn domain_and_application_name_no_framework_and_api_names_no_adapter() {
    let graph = dependency_graph();
    for inner in ["tessera-domain", "tessera-application"] {
        let reachable = transitive(&graph, inner);
        let offending: Vec<_> = FRAMEWORKS.iter().filter(|f| reachable.contains(**f)).collect();
        assert!(offending.is_empty(), "{inner} depends on {offending:?}");
    }
    let domain = transitive(&graph, "tessera-domain");
    assert!(
        !domain.contains("tessera-application"),
        "the domain must not depend on the application"
    );

    let api = transitive(&graph, "tessera-api");
    for adapter in ["tessera-infrastructure", "sea-orm", "sqlx", "tessera-migration"] {
        assert!(!api.contains(adapter), "tessera-api depends on {adapter}");
    }
    let infrastructure = transitive(&graph, "tessera-infrastructure");
    for edge in ["tessera-api", "axum", "async-graphql"] {
        assert!(
            !infrastructure.contains(edge),
            "tessera-infrastructure depends on {edge}"
        );
    }
}

#[test]
fn the_checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let on_disk = std::fs::read_to_string(path).expect("schema.graphql exists");
    let generated = tessera_api::schema_sdl();
    assert!(
        on_disk == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` (or `just schema`)"
    );
}

/// The workspace's Rust sources outside tests: every `.rs` under `crates/*/src` and
/// `migration/src`, without test modules in files of their own (`tests.rs`,
/// `use_case_tests`).
fn sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).expect("crates/").flatten() {
        walk(&crate_dir.path().join("src"), &mut files);
    }
    walk(&root.join("migration/src"), &mut files);
    files
        .into_iter()
        .filter(|path| {
            let text = path.to_string_lossy();
            !text.ends_with("/tests.rs") && !text.contains("use_case_tests")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            (path, text)
        })
        .collect()
}

fn relative(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().into_owned();
    text.split_once("/../")
        .map_or(text.clone(), |(_, rest)| rest.to_owned())
}

/// A file past ~500 lines is usually two files; one that is not says why in its
/// opening comment.
#[test]
fn no_source_file_passes_500_lines_without_saying_why() {
    let mut long = Vec::new();
    for (path, text) in sources() {
        let lines = text.lines().count();
        let opening: String = text
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        if lines > 500 && !opening.contains("longer than 500 lines because") {
            long.push(format!("{} ({lines} lines)", relative(&path)));
        }
    }
    assert!(long.is_empty(), "split these, or say why not: {long:?}");
}

/// Module rules the crate graph cannot see: the ports name only the domain and the
/// application's shared vocabulary (never a use case, so no import loop runs through
/// them), and the in-memory fakes are reached only from tests.
#[test]
fn ports_name_no_use_case_and_only_tests_reach_the_fakes() {
    const SHARED: &[&str] = &["Page", "PageRequest", "TenantScope", "Cursor", "pagination", "context"];
    let mut broken = Vec::new();
    for (path, text) in sources() {
        let name = relative(&path);
        if name.starts_with("crates/application/src/ports/") {
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    group
                        .split('}')
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .collect()
                } else {
                    vec![
                        rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                            .next()
                            .unwrap_or_default(),
                    ]
                };
                for used in names.into_iter().filter(|n| !n.is_empty()) {
                    if !SHARED.contains(&used) && used != "ports" {
                        broken.push(format!("{name} names crate::{used}"));
                    }
                }
            }
        }
        let fakes_allowed =
            name.starts_with("crates/application/src/testing/") || name == "crates/application/src/lib.rs";
        if !fakes_allowed && (text.contains("crate::testing") || text.contains("tessera_application::testing")) {
            broken.push(format!("{name} reaches the fakes outside a test"));
        }
    }
    assert!(broken.is_empty(), "{broken:?}");
}

/// The GraphQL endpoint's order is its security model: the stages before `caller`
/// (negotiate, decode, client, persisted, document_limits) get neither the
/// application nor the server's state, so they cannot reach a credential or the
/// database.
#[test]
fn the_graphql_stages_before_the_caller_cannot_reach_the_application() {
    let stages = ["negotiate", "decode", "client", "persisted", "document_limits"];
    let mut found = 0;
    for (path, text) in sources() {
        let name = relative(&path);
        let Some(stage) = name
            .strip_prefix("crates/api/src/http/graphql/")
            .and_then(|file| file.strip_suffix(".rs"))
        else {
            continue;
        };
        if !stages.contains(&stage) {
            continue;
        }
        found += 1;
        // Plain data types from the application (a client's address, a tenant
        // selector) are fine; the application itself, a store or a transaction is not.
        for reach in [
            "AppState",
            "state.app",
            "&Application",
            "Arc<Application>",
            "Store",
            "Transaction",
            "tessera_infrastructure",
        ] {
            assert!(!text.contains(reach), "{name} names {reach}");
        }
    }
    assert_eq!(found, stages.len(), "every stage before `caller` has its module");
}
