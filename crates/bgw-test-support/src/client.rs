//! Who the tests connect as and where: the OS user (psql's and libpq's default role, and initdb's bootstrap
//! superuser), ports, and client connections over TCP with a password.

use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};

/// The OS user's name.
pub fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port number unique to this test process and call (it only names the Unix socket).
pub fn unique_port() -> u16 {
    let n = NEXT_PORT.fetch_add(1, Ordering::Relaxed) as u32;
    (20000 + (std::process::id() % 1000) * 40 + n % 40) as u16
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A client over TCP on 127.0.0.1 with a password (SCRAM-SHA-256), to the `postgres` database.
pub fn tcp_client(port: u16, user: &str, password: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname("postgres")
        .connect(postgres::NoTls)
}
