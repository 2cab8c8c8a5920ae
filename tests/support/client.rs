//! A PostgreSQL client connection to a test host over its Unix socket, as the OS user, to the `postgres` database;
//! shared by the two test harnesses (`crates/bgw/tests/common` and `tests/support/module_harness.rs`), each of
//! which provides `os_user()` at its root.

use std::path::Path;

/// Connects (panicking if the host refuses: a test that needs a client cannot go on without one).
pub fn connect(socket_dir: &Path, port: u16) -> postgres::Client {
    postgres::Config::new()
        .host_path(socket_dir)
        .port(port)
        .user(&super::os_user())
        .dbname("postgres")
        .connect(postgres::NoTls)
        .unwrap_or_else(|e| panic!("could not connect to the host on port {port}: {e}"))
}
