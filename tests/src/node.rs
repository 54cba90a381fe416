//! Tools nobody here wrote, run with Node.js: the npm packages pinned in
//! `tests/ecosystem/package-lock.json`, installed once into a cache folder by
//! `scripts/ecosystem/setup.sh` (which also installs Chromium when asked). Shared by the
//! e2e suite and the server's ecosystem tests (included there by path).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("tests/ecosystem/package.json").is_file())
        .expect("the repository root")
        .to_path_buf()
}

/// Runs the setup script (`with_browser` also installs Chromium) and answers the folder
/// of the installed npm packages.
pub fn node_modules(with_browser: bool) -> String {
    let mut command = Command::new("bash");
    command.arg(root().join("scripts/ecosystem/setup.sh"));
    if with_browser {
        command.arg("browser");
    }
    let output = command.stderr(Stdio::inherit()).output().expect("bash runs");
    assert!(output.status.success(), "scripts/ecosystem/setup.sh failed");
    String::from_utf8(output.stdout).expect("a path").trim().to_owned()
}

/// Runs `tests/ecosystem/<script>` with `args`; panics with its output unless it
/// succeeds, else answers it.
pub fn run(script: &str, args: &[&str], with_browser: bool) -> String {
    let output = Command::new("node")
        .arg(root().join("tests/ecosystem").join(script))
        .args(args)
        .env("NODE_PATH", node_modules(with_browser))
        .output()
        .expect("node runs (Node.js 20 or later is needed by the ecosystem checks)");
    succeeded(script, &output)
}

/// A tool's output (stdout, then stderr); panics with it unless the tool succeeded.
fn succeeded(script: &str, output: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed:\n{text}");
    text
}

/// Runs `scripts/ecosystem/python.sh` (installs the pinned Python tools once) and
/// answers the virtual environment's bin folder.
pub fn python_bin() -> PathBuf {
    let output = Command::new("bash")
        .arg(root().join("scripts/ecosystem/python.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "scripts/ecosystem/python.sh failed");
    PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
}

/// Runs `tests/ecosystem/<script>` with the tools' Python and `args`; panics with its
/// output unless it succeeds, else answers it.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let output = Command::new(python_bin().join("python"))
        .arg(root().join("tests/ecosystem").join(script))
        .args(args)
        .output()
        .expect("the tools' Python runs");
    succeeded(script, &output)
}
