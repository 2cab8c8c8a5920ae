//! The `bgw` command. All of it lives in the library (`bgw::cli`), so applications can embed the host.

/// The system allocator, with a backend's answer to running out of memory (see `bgw::sys::alloc`).
#[global_allocator]
static ALLOCATOR: bgw::sys::alloc::HostAlloc = bgw::sys::alloc::HostAlloc;

fn main() {
    std::process::exit(bgw::cli::main());
}
