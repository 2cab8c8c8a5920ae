//! Loadable modules: shared libraries that hold worker code, and the C ABI they call back into.
//!
//! - [`loader`]: finds a library by name along `dynamic_library_path`, opens it (RTLD_NOW, never unloaded) and
//!   looks up functions in it. Runs in any process: the postmaster (preloading), backends (checking a dynamic
//!   registration), workers (finding their entry point).
//! - [`preload`]: `shared_preload_libraries`: the postmaster loads each library before shared memory exists and
//!   runs its `_PG_init` once; what the module registers there becomes static registrations.
//! - [`entry`]: a worker's entry point by (library, function): the internal library's table or a module's symbol.
//! - [`abi`]: the spec's API, exported by the `bgw` executable under the spec's names (declared for C in
//!   `include/bgworker.h`). Modules import these symbols from the running host; they never link a copy of it.
//!
//! - [`args_abi`]: typed arguments of registrations (beyond the spec): attach and read.
//! - [`params`]: custom parameters modules define (`DefineCustom*Variable`), kept current across reloads.
//! - [`sqlfn`]: SQL functions modules define for backends, with PostgreSQL's ERROR semantics inside them.
//! - [`trap`]: the error trap those calls (and `_PG_init`) run in, at the bottom of this folder.
//! - [`server`]: PostgreSQL's server API that needs the host's state (activity, identity, recovery).
//! - The C part (`*.c`, compiled by build.rs against the server include tree `include/`): `pg_elog.c`
//!   (ereport, PG_TRY), `pg_memory.c` (memory contexts, palloc, StringInfo, text, quoting), `pg_ipc.c`
//!   (proc_exit and exit callbacks), `sqlfn_trap.c` (the trap).

pub mod abi;
pub mod args_abi;
pub mod entry;
pub mod loader;
pub mod params;
pub mod preload;
pub mod server;
pub mod spi_abi;
pub mod sqlfn;
pub mod trap;
