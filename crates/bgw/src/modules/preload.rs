//! `shared_preload_libraries`: modules loaded into the postmaster at start, whose `_PG_init` runs once.
//!
//! Runs in the postmaster, after the configuration is read and before anything else is created (lock file,
//! socket, shared memory), so a module that fails to load or whose `_PG_init` raises an error stops start-up
//! with a message naming the module and leaves nothing behind. Workers a module registers in `_PG_init` become
//! static registrations, ahead of the declared ones.

use super::loader;
use crate::bgworker::types::WorkerSpec;

fn set_loading(module: Option<String>) {
    let in_progress = module.is_some();
    loader::set_loading(module);
    // SAFETY: the postmaster is single-threaded during preload; the exported flag is a plain bool.
    unsafe { std::ptr::addr_of_mut!(super::abi::process_shared_preload_libraries_in_progress).write(in_progress) };
}

extern "C" {
    static shmem_request_hook: Option<unsafe extern "C" fn()>;
    static shmem_startup_hook: Option<unsafe extern "C" fn()>;
    fn bgw_lwlock_request_space();
    fn bgw_lwlock_shmem_startup();
    fn bgw_set_preload_done();
}

/// After the postmaster creates (or, after a crash, re-creates) shared memory: attaches AddinShmemInitLock and
/// runs the `shmem_startup_hook` chain modules installed, as PostgreSQL's postmaster does. An ERROR in a hook is
/// FATAL here (the postmaster cannot go on with half-initialized module memory).
pub fn shmem_startup() {
    if crate::shmem::attached().is_none() {
        return;
    }
    // SAFETY: C functions of the host's C part, in the single-threaded postmaster; the hook takes no arguments.
    unsafe {
        bgw_lwlock_shmem_startup();
        if let Some(hook) = std::ptr::addr_of!(shmem_startup_hook).read() {
            hook();
        }
    }
}

/// Why preloading failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PreloadError(pub String);

/// Splits a library list: comma-separated names, optionally double-quoted.
pub fn split_list(list: &str) -> Vec<String> {
    list.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty()).collect()
}

/// Loads every library in `list` and runs its `_PG_init`; returns the workers they registered.
pub fn process_shared_preload_libraries(list: &str) -> Result<Vec<WorkerSpec>, PreloadError> {
    // SAFETY: the postmaster is single-threaded here, before any child exists.
    unsafe { super::abi::init_process_globals() };
    for name in split_list(list) {
        let path = loader::resolve(&name).map_err(|e| PreloadError(e.to_string()))?;
        set_loading(Some(name.clone()));
        // Opening the library runs its _PG_init (see loader::open).
        let opened = loader::open(&path);
        set_loading(None);
        opened.map_err(|e| PreloadError(e.to_string()))?;
        crate::elog::debug1(format!("loaded library \"{}\"", path.display()));
    }
    // PostgreSQL 15's order: every library's _PG_init, then the shmem_request_hook chain they installed, while
    // requests are still accepted; the space of AddinShmemInitLock is requested with them.
    set_loading(Some("shmem_request_hook".into()));
    // SAFETY: C functions of the host's C part; the hook (if a module set one) takes no arguments.
    unsafe {
        bgw_lwlock_request_space();
        if let Some(hook) = std::ptr::addr_of!(shmem_request_hook).read() {
            hook();
        }
        bgw_set_preload_done();
    }
    set_loading(None);
    let registered = std::mem::take(&mut *super::abi::PRELOAD_REGISTRATIONS.lock().unwrap_or_else(|e| e.into_inner()));
    let entries: Vec<(&str, &str)> = registered.iter().map(|w| (w.library.as_str(), w.function.as_str())).collect();
    loader::prime(&entries);
    Ok(registered)
}
