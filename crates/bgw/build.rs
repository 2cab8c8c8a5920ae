//! Builds the host's small C part and exports its C ABI.
//!
//! - `-rdynamic`: the `bgw` executable exports its symbols, so that modules loaded with dlopen resolve
//!   `RegisterBackgroundWorker` and friends against the running host instead of linking a second copy of it.
//! - `-no-pie`: a position-dependent executable. A PIE is relocated at every start, which dirties its 400 KB of
//!   `.data.rel.ro` and GOT in the postmaster; every fork then copies those page tables and every child carries
//!   its share of the dirty pages. Non-PIE, those pages stay clean file pages that a child maps only if it reads
//!   them (the code stays position-independent; only the final link differs).
//! - `-z keep-text-section-prefix`: the code a worker runs from fork to its idle loop is marked
//!   `#[hot]` (`bgw_macros::hot`: the `.text.hot.bgw_worker` section; see `crate::worker`); this makes lld gather all `.text.hot.*`
//!   input sections into one `.text.hot` output section instead of leaving each where its object file puts it.
//!   GNU ld's default script gathers them anyway (it warns that it ignores the option).
//! - `src/modules/*.c`: the host's C part, PostgreSQL's server API where C is the natural language for it
//!   (variadic formatting, `sigsetjmp`/`siglongjmp` error recovery that must only cross C frames, memory
//!   contexts): `pg_elog.c` (ereport, PG_TRY), `pg_memory.c` (palloc, StringInfo, text, quoting), `pg_ipc.c`
//!   (proc_exit and its callbacks), `pg_misc.c` (process globals, timestamps), `pg_lwlock.c` (LWLocks), `pg_spi.c` (SPI with PostgreSQL's
//!   names: datums, and statements that raise their ERROR), `pg_list.c` (List), `pg_varlena.c` (splitting strings into Lists, port.h's
//!   string helpers), `sqlfn_trap.c` (the trap around a module's SQL function). They are compiled
//!   against the server include tree (`include/`) and linked whole (`+whole-archive`): nothing in Rust calls most
//!   of these functions, modules do, so the linker must keep them all for `-rdynamic` to export.
fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rustc-link-arg-bins=-Wl,-z,keep-text-section-prefix");
    let sources = [
        "sqlfn_trap.c",
        "pg_elog.c",
        "pg_memory.c",
        "pg_ipc.c",
        "pg_misc.c",
        "pg_lwlock.c",
        "pg_list.c",
        "pg_varlena.c",
        "pg_spi.c",
    ];
    for s in sources {
        println!("cargo:rerun-if-changed=src/modules/{s}");
    }
    println!("cargo:rerun-if-changed=../../include");
    cc::Build::new()
        .files(sources.iter().map(|s| format!("src/modules/{s}")))
        .include("../../include")
        .flag("-std=gnu11")
        .warnings(true)
        .link_lib_modifier("+whole-archive")
        .compile("bgw_c_part");
}
