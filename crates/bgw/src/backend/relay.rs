//! The relay: a client session on a postgresql-engine database, passed through to that database's server.
//!
//! bgw has authenticated the client (its own roles, SCRAM or peer) and admitted it to the database (login,
//! allow-connections, the drop handshake) before this runs, as pgbouncer's session mode does. The relay then
//! opens one connection to the server named by the catalog's connection string
//! ([`crate::catalog::remote::server_config`]: the password from the host's password file), logs in there with
//! the server's own authentication (trust, cleartext, MD5 or SCRAM-SHA-256), and from the server's
//! AuthenticationOk on forwards the server's messages to the client and the client's bytes to the server,
//! unchanged, for the rest of the session: every PostgreSQL feature of the server (its SQL, psql's
//! meta-commands, COPY, LISTEN/NOTIFY, the extended protocol) works as on the server.
//!
//! What the relay changes:
//! - BackendKeyData: the client gets this backend's pid and a key of ours (published in the process entry, as a
//!   session's), never the server's. A CancelRequest for our key reaches this backend as SIGINT (as for any
//!   session); the relay then sends the server a CancelRequest with the server's key.
//! - The startup packet: `user` and `database` are the connection string's (the server's role and database);
//!   the client's other startup parameters (application_name, options, client_encoding, DateStyle, ...) go to
//!   the server as they are.
//! - SIGTERM (pg_terminate_backend, a shutdown) ends the session with bgw's FATAL 57P01, sent between two of the
//!   server's messages (the relay forwards the server's output by whole messages); closing the server
//!   connection makes the server roll back what the session had open.
//!
//! Failures before the session starts are FATAL for the client: the server unreachable (08001, with the reason
//! libpq would give), no password for a server that asks for one (28P01), the server's own refusal (its
//! ErrorResponse, forwarded). No message here ever contains the password.
//!
//! Runs in: a backend process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio_postgres::config::Host;

use super::host::{HostServices, SqlError};
use super::wire::{fatal_bytes, ClientIo, Stream};

/// How long connecting to the server and logging in there may take, unless the connection string sets
/// `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's end of the relay: a socket like the client's.
type ServerIo = Stream;

/// Where the server is, as libpq names it in its messages.
struct Address {
    host: Host,
    port: u16,
}

impl Address {
    fn describe(&self) -> String {
        match &self.host {
            Host::Tcp(name) => format!("connection to server at \"{name}\", port {} failed", self.port),
            Host::Unix(dir) => {
                format!("connection to server on socket \"{}/.s.PGSQL.{}\" failed", dir.display(), self.port)
            }
        }
    }

    async fn connect(&self) -> std::io::Result<ServerIo> {
        match &self.host {
            Host::Tcp(name) => {
                let stream = tokio::net::TcpStream::connect((name.as_str(), self.port)).await?;
                let _ = stream.set_nodelay(true);
                Ok(Stream::Tcp(stream))
            }
            Host::Unix(dir) => {
                let path = dir.join(format!(".s.PGSQL.{}", self.port));
                Ok(Stream::Unix(tokio::net::UnixStream::connect(path).await?))
            }
        }
    }
}

/// What logging in to the server left: the connection, the messages to forward to the client (from
/// AuthenticationOk to ReadyForQuery, BackendKeyData replaced), and the server's cancel key.
struct LoggedIn {
    server: ServerIo,
    greeting: Vec<u8>,
    server_key: (i32, i32),
    address: Address,
}

/// Runs the relayed session to its end; the process exit code.
pub(super) async fn run(
    client: ClientIo,
    client_pending: Vec<u8>,
    host: &dyn HostServices,
    parameters: &HashMap<String, String>,
    database: &str,
    connection: &str,
) -> i32 {
    let mut client = client;
    let config = match crate::catalog::remote::server_config(crate::process::data_dir(), connection) {
        Ok(config) => config,
        Err(e) => {
            let err = SqlError::fatal(e.sqlstate(), format!("could not reach the server of database \"{database}\""))
                .with_detail(e.to_string());
            return fatal(&mut client, err).await;
        }
    };
    let deadline = config.get_connect_timeout().copied().unwrap_or(CONNECT_TIMEOUT);
    let logged_in = match tokio::time::timeout(deadline, log_in(&config, parameters, database, host.backend_pid()))
        .await
    {
        Ok(Ok(logged_in)) => logged_in,
        Ok(Err(Refusal::Ours(err))) => return fatal(&mut client, err).await,
        Ok(Err(Refusal::Server(frame))) => {
            // The server's own FATAL (authentication failed, database does not exist, too many clients).
            let _ = client.write_all(&frame).await;
            return 1;
        }
        Err(_elapsed) => {
            let err = SqlError::fatal("08001", format!("could not connect to the server of database \"{database}\""))
                .with_detail("timeout expired");
            return fatal(&mut client, err).await;
        }
    };
    let LoggedIn { mut server, greeting, server_key, address } = logged_in;
    if client.write_all(&greeting).await.is_err() {
        return 0;
    }
    host.report_state("idle", "");
    pass_through(client, client_pending, &mut server, server_key, &address).await
}

/// Why logging in failed.
enum Refusal {
    /// Our error (the server unreachable, no password).
    Ours(SqlError),
    /// The server's ErrorResponse, as it sent it.
    Server(Vec<u8>),
}

/// Connects to the server and logs in: the startup packet, the server's authentication, its greeting.
async fn log_in(
    config: &tokio_postgres::Config,
    parameters: &HashMap<String, String>,
    database: &str,
    pid: i32,
) -> Result<LoggedIn, Refusal> {
    let address = Address { host: config.get_hosts()[0].clone(), port: config.get_ports()[0] };
    let unreachable = |reason: String| {
        Refusal::Ours(
            SqlError::fatal("08001", format!("could not connect to the server of database \"{database}\""))
                .with_detail(format!("{}: {reason}", address.describe())),
        )
    };
    let mut server = address.connect().await.map_err(|e| unreachable(io_reason(&e)))?;
    let user = config.get_user().unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or(user);
    let mut startup: Vec<(&str, &str)> = vec![("user", user), ("database", dbname)];
    for (name, value) in parameters {
        if !matches!(name.as_str(), "user" | "database" | "replication") {
            startup.push((name, value));
        }
    }
    let mut out = BytesMut::new();
    frontend::startup_message(startup.iter().copied(), &mut out).map_err(|e| unreachable(e.to_string()))?;
    server.write_all(&out).await.map_err(|e| unreachable(io_reason(&e)))?;

    let lost = |e: std::io::Error| unreachable(format!("server closed the connection unexpectedly ({e})"));
    let mut input = Vec::new();
    let mut scram: Option<ScramSha256> = None;
    let password = config.get_password();
    let no_password = || {
        Refusal::Ours(
            SqlError::fatal("28P01", format!("no password for the server of database \"{database}\""))
                .with_detail(format!("The server asks role \"{user}\" for a password."))
                .with_hint("Add a line for it to the host's password file (pgpass in the data directory, mode 0600)."),
        )
    };
    let mut greeting = Vec::new();
    let mut server_key = (0, 0);
    loop {
        let frame = next_frame(&mut server, &mut input).await.map_err(lost)?;
        let body = &frame[5..];
        out.clear();
        match frame[0] {
            b'R' => {
                let code = i32::from_be_bytes(body[..4].try_into().map_err(|_| malformed())?);
                match code {
                    0 => greeting.extend_from_slice(&frame),
                    3 => {
                        let password = password.ok_or_else(no_password)?;
                        frontend::password_message(password, &mut out).map_err(|e| unreachable(e.to_string()))?;
                    }
                    5 => {
                        let password = password.ok_or_else(no_password)?;
                        let salt: [u8; 4] = body[4..8].try_into().map_err(|_| malformed())?;
                        let hashed = postgres_protocol::authentication::md5_hash(user.as_bytes(), password, salt);
                        frontend::password_message(hashed.as_bytes(), &mut out)
                            .map_err(|e| unreachable(e.to_string()))?;
                    }
                    10 => {
                        let password = password.ok_or_else(no_password)?;
                        let mechanisms: Vec<&[u8]> = body[4..].split(|&b| b == 0).collect();
                        if !mechanisms.contains(&&b"SCRAM-SHA-256"[..]) {
                            return Err(unreachable("the server offers no SASL mechanism this host supports".into()));
                        }
                        let exchange = ScramSha256::new(password, ChannelBinding::unsupported());
                        frontend::sasl_initial_response("SCRAM-SHA-256", exchange.message(), &mut out)
                            .map_err(|e| unreachable(e.to_string()))?;
                        scram = Some(exchange);
                    }
                    11 => {
                        let exchange = scram.as_mut().ok_or_else(malformed)?;
                        exchange.update(&body[4..]).map_err(|e| unreachable(format!("SCRAM: {e}")))?;
                        frontend::sasl_response(exchange.message(), &mut out)
                            .map_err(|e| unreachable(e.to_string()))?;
                    }
                    12 => {
                        let exchange = scram.as_mut().ok_or_else(malformed)?;
                        exchange.finish(&body[4..]).map_err(|e| unreachable(format!("SCRAM: {e}")))?;
                    }
                    other => {
                        return Err(unreachable(format!(
                            "the server asks for authentication method {other}, which this host does not support"
                        )))
                    }
                }
                if !out.is_empty() {
                    server.write_all(&out).await.map_err(lost)?;
                }
            }
            // The server's refusal (a login error is FATAL there), sent to the client as it came.
            b'E' => return Err(Refusal::Server(frame)),
            b'K' => {
                let pid = i32::from_be_bytes(body[..4].try_into().map_err(|_| malformed())?);
                let key = i32::from_be_bytes(body[4..8].try_into().map_err(|_| malformed())?);
                server_key = (pid, key);
            }
            b'Z' => {
                let key = super::session::secret_key().map_err(Refusal::Ours)?;
                crate::process::interrupts::publish_cancel_key(key);
                let mut key_data = vec![b'K', 0, 0, 0, 12];
                key_data.extend_from_slice(&pid.to_be_bytes());
                key_data.extend_from_slice(&key.to_be_bytes());
                greeting.extend_from_slice(&key_data);
                greeting.extend_from_slice(&frame);
                return Ok(LoggedIn { server, greeting, server_key, address });
            }
            // ParameterStatus, NoticeResponse, NegotiateProtocolVersion: the client's too.
            _ => greeting.extend_from_slice(&frame),
        }
    }
}

fn malformed() -> Refusal {
    Refusal::Ours(SqlError::fatal("08P01", "the server sent an invalid authentication message"))
}

/// libpq's words for a failed connect.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        _ => e.to_string(),
    }
}

/// Reads the next whole message from the server into a frame (type, length, body).
async fn next_frame(server: &mut ServerIo, input: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    loop {
        if let Some(len) = frame_len(input) {
            return Ok(input.drain(..len).collect());
        }
        let mut chunk = [0u8; 8192];
        let n = server.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "end of input"));
        }
        input.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the whole message at the start of `bytes`, if it is all there.
fn frame_len(bytes: &[u8]) -> Option<usize> {
    let header: [u8; 4] = bytes.get(1..5)?.try_into().ok()?;
    let len = u32::from_be_bytes(header) as usize + 1;
    (bytes.len() >= len).then_some(len)
}

/// What the server sent and the client has not received yet: `bytes[..sent]` went out; the messages end at
/// `whole` (the rest is the start of a message still arriving).
#[derive(Default)]
struct Outbound {
    bytes: Vec<u8>,
    sent: usize,
    whole: usize,
}

impl Outbound {
    /// Appends what the server sent, and moves `whole` to the end of the last complete message.
    fn push(&mut self, chunk: &[u8]) {
        if self.sent > 0 && self.sent == self.whole {
            self.bytes.drain(..self.sent);
            self.whole = 0;
            self.sent = 0;
        }
        self.bytes.extend_from_slice(chunk);
        while let Some(len) = frame_len(&self.bytes[self.whole..]) {
            self.whole += len;
        }
    }
}

/// Passes bytes both ways until one side ends, SIGTERM, or a failure; SIGINT forwards a cancel to the server.
async fn pass_through(
    client: ClientIo,
    client_pending: Vec<u8>,
    server: &mut ServerIo,
    server_key: (i32, i32),
    address: &Address,
) -> i32 {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let mut sigterm = signal(SignalKind::terminate()).ok();
    let mut sigint = signal(SignalKind::interrupt()).ok();
    let outbound = RefCell::new(Outbound::default());

    /// How the passing ended.
    enum End {
        /// The client or the server went away (the exit code).
        Closed(i32),
        Terminated,
    }
    let end = {
        let to_server = async {
            if !client_pending.is_empty() {
                server_write.write_all(&client_pending).await?;
            }
            tokio::io::copy(&mut client_read, &mut server_write).await?;
            // The client went away: the server sees its connection close and rolls back what was open.
            Ok::<_, std::io::Error>(())
        };
        // The server's output goes to the client one write at a time (cancel-safe: what was written is
        // recorded in `outbound`).
        let to_client = async {
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                let n = server_read.read(&mut chunk).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                outbound.borrow_mut().push(&chunk[..n]);
                loop {
                    let slice = {
                        let o = outbound.borrow();
                        o.bytes[o.sent..o.whole].to_vec()
                    };
                    if slice.is_empty() {
                        break;
                    }
                    let written = client_write.write(&slice).await?;
                    if written == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    outbound.borrow_mut().sent += written;
                }
            }
        };
        let cancels = async {
            loop {
                match sigint.as_mut() {
                    Some(listener) => {
                        listener.recv().await;
                        crate::process::interrupts::clear_cancel();
                        forward_cancel(address, server_key).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        let terminated = async {
            match sigterm.as_mut() {
                Some(listener) => {
                    listener.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::pin!(to_server, to_client, cancels, terminated);
        tokio::select! {
            _ = &mut to_server => End::Closed(0),
            result = &mut to_client => match result {
                // The server closed the session (after its own FATAL, which was forwarded).
                Ok(()) => End::Closed(1),
                Err(_) => End::Closed(0),
            },
            _ = &mut cancels => End::Closed(0),
            _ = &mut terminated => End::Terminated,
        }
    };
    if let End::Closed(code) = end {
        return code;
    }
    // Terminated: finish the message the client is in the middle of, then bgw's FATAL (if that message has not
    // arrived whole, the connection just closes: a FATAL inside it would garble both).
    let rest = {
        let o = outbound.borrow();
        let mut end = 0;
        while end < o.sent {
            end += frame_len(&o.bytes[end..]).unwrap_or(usize::MAX / 2);
        }
        (end <= o.whole).then(|| o.bytes[o.sent..end].to_vec())
    };
    let Some(mut message) = rest else { return 1 };
    message.extend_from_slice(&fatal_bytes(&super::session::terminating()));
    let _ = client_write.write_all(&message).await;
    let _ = client_write.flush().await;
    1
}

/// Sends the server a CancelRequest for the relayed session (a failure is only logged: the cancel is lost, as it
/// can be in PostgreSQL).
async fn forward_cancel(address: &Address, (pid, key): (i32, i32)) {
    let mut out = BytesMut::new();
    frontend::cancel_request(pid, key, &mut out);
    let sent = async {
        let mut server = address.connect().await?;
        server.write_all(&out).await?;
        // The server closes the connection when it has handled the request.
        let _ = server.read(&mut [0u8; 1]).await;
        Ok::<_, std::io::Error>(())
    };
    if let Err(e) =
        tokio::time::timeout(CONNECT_TIMEOUT, sent).await.unwrap_or(Err(std::io::ErrorKind::TimedOut.into()))
    {
        crate::elog::Report::new(crate::elog::Level::Log, format!("could not send cancel request to the server: {e}"))
            .emit();
    }
}

/// Sends `err` as FATAL and returns the exit code.
async fn fatal(client: &mut ClientIo, err: SqlError) -> i32 {
    let report = crate::elog::Report::new(crate::elog::Level::Fatal, err.message.clone());
    let report = match &err.detail {
        Some(detail) => report.detail(detail.clone()),
        None => report,
    };
    report.emit();
    let _ = client.write_all(&fatal_bytes(&err)).await;
    let _ = client.flush().await;
    1
}
