//! The `bgw` command. All of it lives in the library (`bgw::cli`), so applications can embed the host.

fn main() {
    std::process::exit(bgw::cli::main());
}
