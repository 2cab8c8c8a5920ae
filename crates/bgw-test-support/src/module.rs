//! A loadable Rust module crate (a cdylib written with `bgw-sdk`) under test: built by cargo, installed into a
//! host's own library directory as `<library>.so`.
//!
//! Cargo does not build a cdylib-only library for its package's integration tests, so [`Module::lib`] asks the
//! `cargo` that runs the tests to build it (once per test process and package; a no-op when it is current),
//! which also keeps a stale copy from being tested.

use crate::binary::{cargo_build, find_bgw, profile_dir};
use crate::Setup;
use std::path::PathBuf;
use std::sync::Mutex;

/// A module crate, named by its cargo package (`worker-spi`); its library is the package name with `_` for `-`
/// (`worker_spi`, built as `libworker_spi.so`), the name the host loads it by.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    package: &'static str,
}

impl Module {
    /// The module crate of cargo package `package`.
    pub const fn package(package: &'static str) -> Module {
        Module { package }
    }

    /// The name the host loads the module by (`shared_preload_libraries`, `bgw_launch`'s library).
    pub fn library(&self) -> String {
        self.package.replace('-', "_")
    }

    /// The module as cargo built it (`<target>/<profile>/lib<library>.so`), built first.
    pub fn lib(&self) -> PathBuf {
        static BUILT: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if !built.contains(&self.package) {
            cargo_build(&["-p", self.package, "--lib"]);
            built.push(self.package);
        }
        let lib = profile_dir().join(format!("lib{}.so", self.library()));
        assert!(lib.is_file(), "the module {} has not been built", lib.display());
        lib
    }

    /// Options for a host (the one [`find_bgw`] finds) with this module installed on its library path.
    pub fn setup(&self) -> Setup {
        Setup::new(find_bgw()).module(*self)
    }
}
