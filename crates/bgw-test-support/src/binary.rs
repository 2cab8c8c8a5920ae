//! Which `bgw` executable a test runs, and building what a test needs with the `cargo` that runs the tests.
//!
//! The `bgw` package's own integration tests pass `env!("CARGO_BIN_EXE_bgw")` (cargo builds the binary before
//! them). Other packages' tests cannot name it that way: [`find_bgw`] finds it where cargo puts it. The test
//! executable is `<target>/<profile>/deps/<test>-<hash>`, so the host binary is `<target>/<profile>/bgw`;
//! `cargo test --workspace` builds it, and if it is missing it is built once with the `cargo` that runs the
//! tests, into the same target directory and profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's root directory (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python interpreter the driver tests use: the virtual environment `.ci/run` installs psycopg 3 and asyncpg
/// into (`target/drivers/venv`), else `python3` from PATH.
pub fn driver_python() -> PathBuf {
    let venv = repo_root().join("target/drivers/venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// `<target>/<profile>`, from the test executable's location.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the deps directory");
    deps.parent().expect("the profile directory").to_path_buf()
}

/// The host binary of this target directory and profile, built first if it is missing.
pub fn find_bgw() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile = profile_dir();
        let bin = profile.join("bgw");
        if !bin.is_file() {
            cargo_build(&["-p", "bgw", "--bin", "bgw"]);
        }
        assert!(bin.is_file(), "the host binary {} does not exist", bin.display());
        bin
    })
}

/// Runs `cargo build <what>` for the workspace with the `cargo` that runs the tests, into this test's target
/// directory and profile; panics if it fails.
pub fn cargo_build(what: &[&str]) {
    let profile = profile_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet"])
        .args(what)
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(profile.parent().expect("the target directory"));
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo");
    assert!(status.success(), "cargo build {} failed", what.join(" "));
}

/// `bgw initdb -D dir` with the binary `bin`; panics if it fails.
pub fn initdb(bin: impl AsRef<Path>, dir: &Path) {
    let out = Command::new(bin.as_ref()).args(["initdb", "-D"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
}
