//! What a platform team deploys: the Kubernetes overlays render and pass the Kubernetes
//! schemas and Tessera's rules for its manifests (scripts/deploy/validate.sh, offline),
//! a broken copy is refused, and the LICENSE file is the licence Cargo.toml names.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::{node, output_of};

fn validate(deploy: Option<&Path>) -> (bool, String) {
    let mut command = Command::new("bash");
    command.arg(node::root().join("scripts/deploy/validate.sh"));
    if let Some(deploy) = deploy {
        command.arg(deploy);
    }
    let (text, ok) = output_of(&mut command);
    (ok, text)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the folder") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("read a manifest");
    assert!(text.contains(from), "{} holds {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).expect("write a manifest");
}

#[test]
fn the_kubernetes_overlays_render_and_pass_the_schemas_and_the_rules() {
    let (ok, output) = validate(None);
    assert!(ok, "scripts/deploy/validate.sh failed:\n{output}");
    assert!(
        output.contains("production: 12 resources rendered and valid"),
        "{output}"
    );
    assert!(
        output.contains("development: 10 resources rendered and valid"),
        "{output}"
    );
}

#[test]
fn a_broken_manifest_is_refused() {
    let copy: PathBuf = std::env::temp_dir().join(format!("tessera-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&node::root().join("deploy"), &copy);
    let base = copy.join("kubernetes/base");
    edit(
        &base.join("deployment.yaml"),
        "command: [\"sleep\", \"10\"]",
        "command: [\"true\"]",
    );
    edit(
        &base.join("migrate-job.yaml"),
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
    );
    edit(&base.join("service.yaml"), "targetPort: metrics", "targetPort: metric");
    edit(
        &base.join("hpa.yaml"),
        "averageUtilization: 70",
        "averageUtilisation: 70",
    );
    let (ok, output) = validate(Some(&copy));
    let _ = std::fs::remove_dir_all(&copy);
    assert!(!ok, "the broken copy passed:\n{output}");
    for expected in [
        "Deployment/tessera: no preStop drain",
        "Job/tessera-migrate container roles: the root file system is writable",
        "Service/tessera: port metrics targets metric, which the pods do not open",
        "'averageUtilisation' was unexpected",
    ] {
        assert!(output.contains(expected), "no {expected:?} in:\n{output}");
    }
}

#[test]
fn the_license_file_is_the_licence_cargo_names() {
    let manifest = std::fs::read_to_string(node::root().join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("license = \"Apache-2.0\""),
        "Cargo.toml names Apache-2.0"
    );
    let license = std::fs::read_to_string(node::root().join("LICENSE")).expect("a LICENSE file");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
}
