//! C test modules, compiled the way a module author would: against the host's header (`include/bgworker.h`),
//! without linking against the host (the module imports the host's symbols when it is loaded).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for built modules (name it in a host's `dynamic_library_path`, see
/// [`Setup::library_path`](crate::Setup::library_path)).
pub fn module_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("bgwm").tempdir_in("/tmp").unwrap()
}

/// Compiles the C source file `source` into `dir` as `<name>.so`; its path.
pub fn build_c_module(source: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(format!("{name}.so"));
    let st = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I"])
        .arg(crate::repo_root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("a C compiler (cc) is needed to build test modules");
    assert!(st.success(), "cc failed for {}", source.display());
    out
}

/// Writes the C source `text` to `dir/<name>.c` and compiles it into `dir/<name>.so`; its path.
pub fn build_c_module_from_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let source = dir.join(format!("{name}.c"));
    std::fs::write(&source, text).unwrap();
    build_c_module(&source, dir, name)
}
