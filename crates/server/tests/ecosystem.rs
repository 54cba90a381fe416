//! Tessera as tools nobody here wrote see it, each against a real server process (this
//! crate's binary on a temporary SQLite file): the `graphql-http` audit of the
//! GraphQL-over-HTTP specification (every MUST and SHOULD), and GraphiQL in a headless
//! Chromium (documentation, a query with a token, a subscription), and the example
//! TypeScript client generated from the schema by GraphQL Code Generator, run by
//! `documentId` once its manifest is imported. The npm packages are installed once into
//! a cache folder, and Chromium from Debian's package when the machine has none, by
//! `scripts/ecosystem/setup.sh`.

use std::process::Command;
use std::time::Duration;

mod support;

use support::{Server, node, output_of};

#[test]
fn the_graphql_over_http_audit_passes_every_must_and_should() {
    let server = Server::start("audit");
    let report = node::run("graphql-http-audit.cjs", &[&format!("{}/graphql", server.base)], false);
    assert!(!report.contains("FAIL"), "{report}");
    assert!(
        report.contains("SHOULD accept */* and use application/json"),
        "{report}"
    );
}

#[test]
fn graphiql_shows_the_docs_runs_a_query_and_a_subscription_in_a_real_browser() {
    let server = Server::start("graphiql");
    let report = node::run("graphiql-browser.cjs", &[&server.base], true);
    for step in [
        "the documentation explorer lists the fields of Query … ok",
        "a query runs with the access token and shows its result … ok",
        "a subscription runs over /graphql/ws and shows an event … ok",
    ] {
        assert!(report.contains(step), "{report}");
    }
}

/// Runs `scripts/clients/generate.sh` on `schema` into `work`: the TypeScript client as a
/// partner generates it (GraphQL Code Generator, then `tsc`).
fn generate_client(schema: &std::path::Path, work: &std::path::Path) -> (String, bool) {
    output_of(
        Command::new("bash")
            .arg(node::root().join("scripts/clients/generate.sh"))
            .arg(schema)
            .arg(work),
    )
}

fn run_example(work: &std::path::Path, server: &Server) -> (String, bool) {
    output_of(
        Command::new("node")
            .arg(work.join("dist/example.js"))
            .arg(format!("{}/graphql", server.base)),
    )
}

/// The client of `clients/typescript`, generated from the checked-in schema, runs
/// against a server that accepts trusted documents only, once its manifest is imported
/// (picked up without a restart); a schema that loses a field the client uses fails
/// the generation.
#[test]
fn the_generated_client_runs_by_document_id_once_its_manifest_is_imported() {
    let name = "client";
    let dir = Server::dir_of(name);
    let _ = std::fs::remove_dir_all(&dir);
    let work = dir.join("client");
    let (output, ok) = generate_client(&node::root().join("schema.graphql"), &work);
    assert!(ok, "the client does not generate from schema.graphql:\n{output}");
    let generated = work.join("src/gql/persisted-documents.json");
    assert!(generated.is_file(), "{output}");

    let manifest = dir.join("trusted.json");
    let manifest_text = manifest.display().to_string();
    let server = Server::start_with(
        name,
        &[
            ("TRUSTED_DOCUMENTS_FILE", manifest_text.as_str()),
            ("TRUSTED_DOCUMENTS_REQUIRED", "everyone"),
            ("TRUSTED_DOCUMENTS_RELOAD_SECONDS", "1"),
        ],
    );
    let (refused, ok) = run_example(&work, &server);
    assert!(!ok && refused.contains("PERSISTED_QUERY_NOT_TRUSTED"), "{refused}");

    let (imported, ok) = output_of(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["persisted", "import"])
            .arg(&generated)
            .env_clear()
            .env("TRUSTED_DOCUMENTS_FILE", &manifest),
    );
    assert!(ok && imported.starts_with("4 documents added"), "{imported}");

    // The running server reloads the manifest within a second or so.
    let mut last = String::new();
    for _ in 0..40 {
        let (output, ok) = run_example(&work, &server);
        if ok {
            last = output;
            break;
        }
        last = output;
        std::thread::sleep(Duration::from_millis(250));
    }
    let result: serde_json::Value = serde_json::from_str(last.trim())
        .unwrap_or_else(|_| panic!("the example did not run after the import: {last}"));
    assert_eq!(result["plan"], "free", "{result}");
    assert_eq!(result["members"], 1, "{result}");
    assert!(
        result["workspace"]
            .as_str()
            .is_some_and(|slug| slug.starts_with("typed-")),
        "{result}"
    );
    assert!(result["rateLimitRemaining"].is_number(), "{result}");

    // A breaking change to the schema shows when the client is generated.
    let schema = std::fs::read_to_string(node::root().join("schema.graphql")).expect("the schema");
    let user = schema.find("type User {").expect("type User");
    let field = schema[user..]
        .find("\tdisplayName: String!\n")
        .expect("User.displayName")
        + user;
    let broken = format!(
        "{}{}",
        &schema[..field],
        &schema[field + "\tdisplayName: String!\n".len()..]
    );
    let broken_schema = dir.join("broken.graphql");
    std::fs::write(&broken_schema, broken).expect("write");
    let (output, ok) = generate_client(&broken_schema, &dir.join("broken-client"));
    assert!(
        !ok,
        "a schema without User.displayName still generated the client:\n{output}"
    );
    assert!(
        output.contains("Cannot query field \"displayName\" on type \"User\""),
        "{output}"
    );
}
