//! Attribute macros of the `bgw` crate.
//!
//! [`macro@hot`] places a function on the worker start-up path: in the `.text.hot.bgw_worker` input section, which
//! the link gathers into one `.text.hot` output section (see `crates/bgw/build.rs`), so that a starting worker maps
//! a few blocks of code instead of one block per function it runs (see `bgw::worker` on memory).
//!
//! `#[link_section]` counts as unsafe code to rustc (`unsafe_code` lint): a wrong section can break the program,
//! for instance code placed among the constructors. The `bgw` crate denies unsafe code outside a few modules, so
//! the one section name the host uses is written here once, with its reason, instead of at every function.
//! No dependencies: the item is passed through as it is, behind two attributes.

use proc_macro::TokenStream;

/// Puts the function on the worker start-up path (`.text.hot.bgw_worker`). Takes no arguments.
#[proc_macro_attribute]
pub fn hot(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return r##"compile_error!("#[hot] takes no arguments");"##.parse().unwrap();
    }
    // SAFETY (of the section): a subsection of `.text` ordinary code may live in; the linker script puts every
    // `.text.hot.*` section among the program's code, never among constructors, data or anything run implicitly.
    let mut out: TokenStream = r#"#[allow(unsafe_code)] #[link_section = ".text.hot.bgw_worker"]"#.parse().unwrap();
    out.extend(item);
    out
}
