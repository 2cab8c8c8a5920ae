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
//! - `src/modules/sqlfn_trap.c`: the setjmp-based trap that lets `ereport(ERROR)` in a module's SQL function
//!   fail the statement without ending the backend.
fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rustc-link-arg-bins=-Wl,-z,keep-text-section-prefix");
    println!("cargo:rerun-if-changed=src/modules/sqlfn_trap.c");
    cc::Build::new().file("src/modules/sqlfn_trap.c").warnings(true).compile("bgw_sqlfn_trap");
}
