//! Exports the host's C ABI from the `bgw` executable, so that modules loaded with dlopen resolve
//! `RegisterBackgroundWorker` and friends against the running host instead of linking a second copy of it.
fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
}
