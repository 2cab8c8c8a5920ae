//! Builds the host's small C part and exports its C ABI.
//!
//! - `-rdynamic`: the `bgw` executable exports its symbols, so that modules loaded with dlopen resolve
//!   `RegisterBackgroundWorker` and friends against the running host instead of linking a second copy of it.
//! - `src/modules/sqlfn_trap.c`: the setjmp-based trap that lets `ereport(ERROR)` in a module's SQL function
//!   fail the statement without ending the backend.
fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rerun-if-changed=src/modules/sqlfn_trap.c");
    cc::Build::new().file("src/modules/sqlfn_trap.c").warnings(true).compile("bgw_sqlfn_trap");
}
