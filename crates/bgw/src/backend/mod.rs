//! The backend: one client session speaking the PostgreSQL v3 wire protocol, with SQL run on SQLite.
//!
//! # Who runs this
//!
//! A backend process, forked from the postmaster for one accepted client connection, calls [`serve`] and exits
//! with the code it returns. One connection per process: the session never serves a second client, and it runs
//! on a tokio *current-thread* runtime that [`serve`] builds for itself (no threads are started). The postmaster
//! itself never runs any of this.
//!
//! # What it does
//!
//! * Startup: refuses SSL/GSS encryption requests, reads the startup packet, answers with the host's rejection
//!   (if [`serve`] was given one) as a FATAL error, otherwise authenticates the peer by its Unix-socket credentials
//!   (`SO_PEERCRED`) through [`HostServices::authenticate_peer`], then sends the usual `ParameterStatus` messages.
//! * Queries: the simple protocol (several statements in one string, empty queries) and the extended protocol
//!   (Parse/Bind/Describe/Execute/Close/Flush/Sync, parameters in text or binary format, results in text or
//!   binary format), run on a private in-memory SQLite database.
//! * SQL functions (`bgw_register`, `bgw_launch`, `pg_backend_pid`, ...) and views (`pg_stat_activity`,
//!   `bgw_workers`) that ask the host through [`HostServices`].
//!
//! # Where things are
//!
//! * `serve`: the session loop (startup, authentication, SIGTERM, the host's wake-ups);
//!   `wire`: bytes and protocol messages; `session`: the state machine and the simple query protocol;
//!   `extended`: the extended query protocol; `relay`: a session on a postgresql-engine database, passed
//!   through to its server; `prepare`: SQL-level `PREPARE` / `EXECUTE` /
//!   `DEALLOCATE`; `settings`: the session's settings and transaction modes; `scram`: SCRAM-SHA-256.
//! * `database`: the session's database, the SQL layer's engine ([`crate::sql`]) with the backend's hooks;
//!   `functions` and `views`: the SQL functions and views that ask the host; `catalog_source`: what the SQL
//!   layer's catalogs (`pg_class`, ...) read of the session and the host; `context`: the thread-local host
//!   they reach; `types`: values on the wire; `options`: the registration options of `bgw_register`;
//!   `copy`: COPY FROM STDIN / TO STDOUT over the protocol's copy messages.
//! * [`host`]: what the backend needs from the host ([`HostServices`]).
//!
//! # Invariants
//!
//! * Everything the backend knows about workers, other processes and settings comes through [`HostServices`];
//!   of the rest of the crate it uses only the layers below it (the SQL layer, `catalog`, `sys`).
//! * A failing statement or a bad message is answered with an ErrorResponse and the session goes on (a message
//!   whose frame is whole but whose body does not parse is an ERROR, SQLSTATE 08P01, as in PostgreSQL); only FATAL
//!   errors (termination, failed authentication, rejection, protocol violations such as an unknown message type
//!   or an impossible length) end it. A panic while handling a
//!   message is caught and reported as an internal error (SQLSTATE XX000).
//! * Before each statement the backend checks [`HostServices::termination_requested`] and absorbs configuration
//!   reloads; it reports its state (`active` with the query text; afterwards `idle`, or `idle in transaction`
//!   inside a transaction block) and forwards the host's notices after it.
//! * A SIGTERM that arrives while the session waits for the client (or between two messages) ends it at once
//!   (FATAL 57P01, exit code 1); so do `idle_session_timeout` (FATAL 57P05) and, inside a transaction block,
//!   `idle_in_transaction_session_timeout` (FATAL 25P03). The backend installs no handler for any other signal:
//!   SIGHUP, SIGINT, SIGUSR1 and SIGQUIT belong to the host. The SIGTERM listener is tokio's: it chains to a handler the host installed
//!   before [`serve`], and it needs tokio's signal handling not to have been set up in the postmaster before the
//!   fork (the postmaster must not use `tokio::signal`).
//! * The host handle is an `Rc` and stays on the backend's one thread: the SQL functions and views reach it
//!   through a thread-local set for the duration of [`serve`].
//! * The session's SQL cannot touch files: `ATTACH` of a database file, `VACUUM INTO` and `COPY` to or from a
//!   server file or program are refused (42501), since the backend runs with the host's privileges.
//!
//! * A CancelRequest (instead of a startup packet) is served by the backend forked for that connection: it sends
//!   SIGINT to the backend of this host whose pid and cancel key (random, sent in BackendKeyData and kept in the
//!   process entry) both match, and closes the connection without an answer; a wrong key is ignored silently.
//!   SIGINT cancels the running statement (57014); SIGTERM ends it and the session (FATAL 57P01); both reach a
//!   running statement through the SQL engine's interrupt check (see `crate::process::interrupts`).
//!
//! Exit codes: 0 when the client disconnects (or sends a cancel request), 1 when the session ends with a FATAL
//! error or the client sends no startup packet within 60 seconds.

use std::os::unix::net::UnixStream;
use std::rc::Rc;

pub mod host;

mod catalog_source;
mod context;
mod copy;
mod database;
mod extended;
mod extension;
mod functions;
mod options;
mod portal;
mod prepare;
mod relay;
mod scram;
mod serve;
mod session;
mod settings;
mod types;
mod views;
mod wire;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use host::{
    ActivityRow, Handle, HostServices, ModuleFunction, RegistrationRequest, RequestFlags, Severity, SqlArg, SqlError,
    SqlResultType, StartPhase, Status, WorkerRow,
};
pub use options::parse_registration;

/// A worker's SPI connection speaking PostgreSQL's SQL gets the catalogs and views a session's has (the postmaster
/// gives this to `crate::spi::connection::set_postgres_sql_setup`).
pub use database::setup_for_spi;

/// A client's connection: the Unix socket (peer authentication) or TCP (SCRAM-SHA-256 password authentication).
pub enum ClientStream {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

/// `err` as the FATAL ErrorResponse a client would get from a session, encoded (for a refusal the postmaster
/// writes itself, without forking a backend).
pub fn fatal_error_message(err: &SqlError) -> Vec<u8> {
    wire::fatal_bytes(err)
}

/// Runs one client session on a Unix-socket connection (see [`serve_client`]).
pub fn serve(stream: UnixStream, host: Rc<dyn HostServices>, reject: Option<SqlError>) -> i32 {
    serve_client(ClientStream::Unix(stream), host, reject)
}

/// Runs one client session on `stream` to completion and returns the process exit code (0: the client went
/// away; 1: the session ended with a FATAL error).
///
/// If `reject` is given, the backend only reads the startup packet and answers with that error (sent as FATAL),
/// as the host does for "sorry, too many clients already" (53300) or "the database system is starting up" (57P03).
pub fn serve_client(stream: ClientStream, host: Rc<dyn HostServices>, reject: Option<SqlError>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bgw backend: could not build the session runtime: {err}");
            return 1;
        }
    };
    let _context = context::install(host.clone());
    runtime.block_on(serve::run(stream, host, reject))
}
