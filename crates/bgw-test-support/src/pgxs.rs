//! Extensions built the way their authors build them for PostgreSQL: with their own Makefile, PGXS and a
//! `pg_config`, here bgw's. An [`Installation`] is a temporary directory laid out as a relocatable PostgreSQL
//! installation whose `bin/pg_config` is a link to the `bgw` executable, so `pg_config` answers `lib/bgw` and
//! `share/bgw` of that directory; [`Installation::build`] copies an extension's sources under `src/` (never
//! touching the originals) and runs `make USE_PGXS=1 PG_CONFIG=... install` there.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary installation (removed when dropped).
pub struct Installation {
    pub dir: tempfile::TempDir,
}

impl Installation {
    /// An empty installation for the `bgw` executable `bgw`.
    pub fn new(bgw: &Path) -> Installation {
        let dir = tempfile::Builder::new().prefix("bgwx").tempdir_in("/tmp").unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(bgw, dir.path().join("bin/pg_config")).unwrap();
        Installation { dir }
    }

    /// `bin/pg_config`.
    pub fn pg_config(&self) -> PathBuf {
        self.dir.path().join("bin/pg_config")
    }

    /// Where `make install` puts libraries (`pg_config --pkglibdir`): a host's `dynamic_library_path`.
    pub fn lib_dir(&self) -> PathBuf {
        self.dir.path().join("lib/bgw")
    }

    /// The share directory (`pg_config --sharedir`), whose `extension/` holds control files and scripts: a host's
    /// `extension_control_path`.
    pub fn share_dir(&self) -> PathBuf {
        self.dir.path().join("share/bgw")
    }

    /// Copies the extension sources in `src` to `src/<its name>` here and builds and installs them with PGXS;
    /// the copy's directory. Panics with make's output if the build fails.
    pub fn build(&self, src: &Path) -> PathBuf {
        let name = src.file_name().expect("an extension directory");
        let copy = self.dir.path().join("src").join(name);
        copy_dir(src, &copy);
        self.make_install(&copy);
        copy
    }

    /// Runs `make USE_PGXS=1 PG_CONFIG=<this installation's> install` in `dir`. Panics with make's output if it
    /// fails.
    pub fn make_install(&self, dir: &Path) {
        let out = Command::new("make")
            .arg("USE_PGXS=1")
            .arg(format!("PG_CONFIG={}", self.pg_config().display()))
            .arg("install")
            .current_dir(dir)
            .output()
            .expect("make is needed to build extensions");
        assert!(
            out.status.success(),
            "make install failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Copies the files of `from` (not its subdirectories) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
