//! Typed arguments of registrations (beyond PostgreSQL; `include/bgw/bgw.h`, "typed arguments"): up to
//! [`BGW_MAX_ARG_BYTES`] bytes a registrant attaches to a dynamic registration with
//! `bgw_register_dynamic_with_arg`, which its worker reads with `bgw_worker_arg`.

/// The most bytes an argument may hold.
pub const BGW_MAX_ARG_BYTES: usize = 8192;
