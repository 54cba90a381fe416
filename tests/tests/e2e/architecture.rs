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
