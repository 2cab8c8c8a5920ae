//! Finding, opening and looking into loadable libraries.
//!
//! A library name without a `/` is searched for along `dynamic_library_path` (a colon-separated list; `$libdir`
//! stands for the host's library directory, `<directory of the bgw executable>/../lib/bgw`), first as given,
//! then with `.so` appended, as PostgreSQL does. A name with a `/` is used as a path. Libraries are opened with
//! RTLD_NOW (every symbol resolved at load, so a module missing one of the host's functions fails at once) and
//! RTLD_GLOBAL, and never unloaded: function pointers into them may be kept for the life of the process. A
//! library's `_PG_init` runs when it is first loaded into a process, as in PostgreSQL.
//!
//! Runs in any process: the postmaster (preloading), backends (checking a registration's entry point, module SQL
//! functions) and workers (finding their entry point).

use bgw_macros::hot;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LOADING: Mutex<Option<String>> = Mutex::new(None);

/// The module whose `_PG_init` is running while preloading, if any (the spec's
/// `process_shared_preload_libraries_in_progress`; `crate::modules::preload` sets it).
pub fn loading_module() -> Option<String> {
    LOADING.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Sets (or clears) the module being preloaded.
pub(super) fn set_loading(module: Option<String>) {
    *LOADING.lock().unwrap_or_else(|e| e.into_inner()) = module;
}

/// Why a library or function could not be used. The messages are PostgreSQL's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("could not access file \"{0}\": No such file or directory")]
    NotFound(String),
    #[error("could not load library \"{path}\": {reason}")]
    Load { path: String, reason: String },
    #[error("could not find function \"{function}\" in file \"{path}\"")]
    NoFunction { function: String, path: String },
    #[error("could not load library \"{path}\": its _PG_init failed: {message}")]
    Init { path: String, message: String },
    /// The library's magic block (PG_MODULE_MAGIC) says it was built for another server: for PostgreSQL
    /// itself, or another major version.
    #[error("incompatible library \"{path}\": {what} ({detail})")]
    Incompatible { path: String, what: &'static str, detail: String },
}

/// PostgreSQL's `Pg_magic_struct`, as `include/fmgr.h` lays it out (the same as PostgreSQL 15's).
#[repr(C)]
struct MagicBlock {
    len: std::ffi::c_int,
    version: std::ffi::c_int,
    funcmaxargs: std::ffi::c_int,
    indexmaxkeys: std::ffi::c_int,
    namedatalen: std::ffi::c_int,
    float8byval: std::ffi::c_int,
    abi_extra: [u8; 32],
}

/// Checks the library's magic block, if it has one (modules written for bgw need none): it must have been built
/// against bgw's include tree (ABI "bgw", PostgreSQL 15's API), not against PostgreSQL's own headers.
fn check_magic(lib: &libloading::os::unix::Library, path: &Path) -> Result<(), LoadError> {
    // SAFETY: looking up PostgreSQL's conventional symbol; used only as `const Pg_magic_struct *f(void)`.
    let Ok(f) = (unsafe { lib.get::<unsafe extern "C" fn() -> *const MagicBlock>(b"Pg_magic_func\0") }) else {
        return Ok(());
    };
    // SAFETY: the module's magic function returns a pointer to its static block (or NULL).
    let block = unsafe { f() };
    let incompatible = |what, detail| Err(LoadError::Incompatible { path: path.display().to_string(), what, detail });
    if block.is_null() {
        return incompatible("missing magic block", "Its magic function returned NULL.".into());
    }
    // SAFETY: non-NULL; the block is at least as long as it says, and we read only when its `len` covers ours.
    let b = unsafe { &*block };
    if (b.len as usize) < std::mem::size_of::<MagicBlock>() {
        return incompatible("magic block mismatch", format!("Its magic block is {} bytes long.", b.len));
    }
    if b.version != 1500 {
        return incompatible(
            "version mismatch",
            format!("Server is version 15, library is version {}.{}.", b.version / 100, b.version % 100),
        );
    }
    let end = b.abi_extra.iter().position(|&c| c == 0).unwrap_or(b.abi_extra.len());
    let abi = String::from_utf8_lossy(&b.abi_extra[..end]);
    if abi != "bgw" {
        return incompatible(
            "ABI mismatch",
            format!("Server has ABI \"bgw\", library has \"{abi}\" (build it with bgw's pg_config)."),
        );
    }
    Ok(())
}

/// The host's library directory (`$libdir`).
pub fn libdir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("../lib/bgw")))
        .unwrap_or_else(|| PathBuf::from("/usr/local/lib/bgw"))
}

/// The current `dynamic_library_path`, with `$libdir` expanded.
fn search_path() -> Vec<PathBuf> {
    let raw = crate::process::setting_text("dynamic_library_path").unwrap_or_else(|| "$libdir".into());
    let lib = libdir();
    raw.split(':')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.strip_prefix("$libdir") {
            Some(rest) => PathBuf::from(format!("{}{rest}", lib.display())),
            None => PathBuf::from(d),
        })
        .collect()
}

/// Resolves a library name to a file.
pub fn resolve(name: &str) -> Result<PathBuf, LoadError> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return if p.is_file() { Ok(p) } else { Err(LoadError::NotFound(name.to_string())) };
    }
    for dir in search_path() {
        for candidate in [dir.join(name), dir.join(format!("{name}.so"))] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(LoadError::NotFound(name.to_string()))
}

/// An entry point found in this process.
struct Found {
    library: String,
    function: String,
    /// `dynamic_library_path` when it was found (a reload that changes it makes the entry stale).
    search_path: String,
    address: usize,
}

/// Entry points found in this process, few (one per distinct entry point used), searched by comparing names: a
/// hit allocates and hashes nothing (a starting worker's lookup, answered from what the postmaster found).
static FOUND: Mutex<Vec<Found>> = Mutex::new(Vec::new());

/// Libraries this process has opened, by path: never closed.
static OPEN: Mutex<Option<HashMap<PathBuf, &'static libloading::os::unix::Library>>> = Mutex::new(None);

/// Opens (once per process) the library at `path`.
pub fn open(path: &Path) -> Result<&'static libloading::os::unix::Library, LoadError> {
    let mut guard = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(lib) = map.get(path) {
        return Ok(lib);
    }
    let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL;
    // SAFETY: loading a library runs its initializers. That is the point of a module; the host trusts the
    // libraries its configuration or a superuser names, as PostgreSQL does.
    let lib = unsafe { libloading::os::unix::Library::open(Some(path), flags) }
        .map_err(|e| LoadError::Load { path: path.display().to_string(), reason: dl_reason(&e) })?;
    let lib: &'static libloading::os::unix::Library = Box::leak(Box::new(lib));
    drop(guard);
    check_magic(lib, path)?;
    // As PostgreSQL: a library's _PG_init runs once per process, when the library is first loaded into it
    // (children inherit what the postmaster preloaded, and do not run it again). While preloading, an error in
    // it stops start-up (see abi::finish); anywhere else it runs in the error trap, so that its ERROR fails the
    // load (and the statement or worker that asked for it), not the process.
    // SAFETY: looking up a symbol by its conventional name; used only as `void _PG_init(void)`.
    if let Ok(init) = unsafe { lib.get::<unsafe extern "C" fn()>(b"_PG_init\0") } {
        let init: unsafe extern "C" fn() = *init;
        if loading_module().is_some() {
            // SAFETY: calling the module's initializer with its conventional signature, as PostgreSQL does.
            unsafe { init() };
        } else if let Err(e) = super::trap::call_trapped(init) {
            // Not recorded as open: the next load runs _PG_init again, as PostgreSQL would.
            return Err(LoadError::Init { path: path.display().to_string(), message: e.message });
        }
    }
    OPEN.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).insert(path.to_path_buf(), lib);
    Ok(lib)
}

/// The dlerror() text of a failed open.
fn dl_reason(e: &libloading::Error) -> String {
    e.to_string()
}

/// Whether `library`, already open in this process, was built against the server include tree (it has
/// PostgreSQL's magic block, `PG_MODULE_MAGIC`): an extension written for PostgreSQL, whose SPI expects
/// PostgreSQL's SQL. False for a library that is not open, and for modules written for bgw (they need no block).
pub fn has_magic_block(library: &str) -> bool {
    let Ok(path) = resolve(library) else { return false };
    let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lib) = open.as_ref().and_then(|m| m.get(&path).copied()) else { return false };
    // SAFETY: only checks that the conventional symbol exists; it is not called.
    unsafe { lib.get::<*const std::ffi::c_void>(b"Pg_magic_func\0") }.is_ok()
}

/// Finds `function` in `library` (resolving and opening it) and returns its address.
#[hot]
pub fn lookup(library: &str, function: &str) -> Result<*const std::ffi::c_void, LoadError> {
    // Every registration checks its entry point, and every worker looks it up: after the first success in a
    // process the answer comes from memory, without searching the directories again. Libraries are never
    // unloaded, so a found address stays valid; an answer is used only under the dynamic_library_path it was found
    // with, so a reload that changes it searches again.
    if let Some(hit) = found(library, function) {
        return Ok(hit);
    }
    let path = resolve(library)?;
    let lib = open(&path)?;
    let mut name = function.as_bytes().to_vec();
    name.push(0);
    // SAFETY: we only take the symbol's address; the caller gives it a type (and is responsible for it matching,
    // as a C caller of dlsym is).
    let sym = unsafe { lib.get::<*const std::ffi::c_void>(&name) }
        .map_err(|_| LoadError::NoFunction { function: function.to_string(), path: path.display().to_string() })?;
    let addr = *sym;
    if addr.is_null() {
        return Err(LoadError::NoFunction { function: function.to_string(), path: path.display().to_string() });
    }
    let search_path = with_search_path_setting(str::to_string);
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    found.retain(|f| !(f.library == library && f.function == function));
    found.push(Found {
        library: library.to_string(),
        function: function.to_string(),
        search_path,
        address: addr as usize,
    });
    Ok(addr)
}

/// A previous answer of [`lookup`] for (library, function), if the search path is still the one it was found with.
#[hot]
fn found(library: &str, function: &str) -> Option<*const std::ffi::c_void> {
    with_search_path_setting(|current| {
        let found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        let f = found.iter().find(|f| f.library == library && f.function == function && f.search_path == current)?;
        Some(f.address as *const std::ffi::c_void)
    })
}

/// Calls `f` with the current `dynamic_library_path` as it is stored (empty if unset), without copying it.
fn with_search_path_setting<R>(f: impl FnOnce(&str) -> R) -> R {
    let settings = crate::process::settings();
    f(settings.as_ref().and_then(|s| s.get_str("dynamic_library_path")).unwrap_or(""))
}

/// The address of `function` in `library` if the library is already open in this process: found in memory, or
/// looked up once with `dlsym` (and remembered as by [`lookup`]). Never searches for a library that is not open,
/// never loads one (a worker loads its library itself, as in PostgreSQL), and reports no error: a failure is left
/// for the worker to report. The postmaster calls this for the workers it is about to fork (the static workers'
/// after preloading, each dynamic worker's before its first launch), so that they find their entry points in
/// memory they inherit instead of searching the directories and the library's symbols at every start.
pub fn lookup_loaded(library: &str, function: &str) -> Option<*const std::ffi::c_void> {
    if let Some(hit) = found(library, function) {
        return Some(hit);
    }
    if library == crate::bgworker::types::INTERNAL_LIBRARY {
        return None;
    }
    let path = resolve(library).ok()?;
    let loaded = OPEN.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|m| m.contains_key(&path));
    if loaded {
        lookup(library, function).ok()
    } else {
        None
    }
}

/// How many libraries this process has opened (they stay open: the count only grows).
pub fn loaded_count() -> usize {
    OPEN.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |m| m.len())
}

/// [`lookup_loaded`] for each of `entries`, for what it remembers.
pub fn prime(entries: &[(&str, &str)]) {
    for &(library, function) in entries {
        let _ = lookup_loaded(library, function);
    }
}
