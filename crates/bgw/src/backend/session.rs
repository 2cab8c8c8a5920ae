//! The wire protocol: startup, the simple and extended query protocols, and the session loop.
//!
//! Two layers:
//!
//! * [`Wire`] moves bytes: it frames frontend messages out of what the socket delivered and decodes them with
//!   pgwire, and encodes backend messages into an output buffer that is flushed before the session waits for
//!   more input. It is the only async part.
//! * [`Session`] is the protocol state machine: synchronous, it handles one frontend message at a time and
//!   queues the backend messages to send. It holds the SQLite engine, the prepared statements and portals of
//!   the extended protocol, and decides when the session ends.
//!
//! [`run`] ties them together with the startup phase and the SIGTERM listener.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use pgwire::api::results::FieldFormat;
use pgwire::error::ErrorInfo;
use pgwire::messages::data::{DataRow, NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete, PortalSuspended,
    TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::NotificationResponse;
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, GssEncResponse, NoticeResponse, ReadyForQuery, SslResponse,
    TransactionStatus,
};
use pgwire::messages::startup::{Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::context;
use super::host::{HostServices, Severity, SqlError};
use super::sql::{is_blank, Engine, Executed, Statement, TxState};
use super::types::{
    decode_param, described_param_oid, row_description, type_from_values, PgType, RowEncoder, Value, WireColumn,
};

/// How long a client may take to send its startup packet (PostgreSQL's authentication_timeout).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest frontend message accepted (PostgreSQL's limit: 1 GB).
const MAX_MESSAGE_BYTES: usize = 0x3fff_ffff;
/// The largest startup packet accepted (PostgreSQL's MAX_STARTUP_PACKET_LENGTH).
const MAX_STARTUP_BYTES: usize = 10_000;

const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSS_REQUEST_CODE: u32 = 80_877_104;

/// What the backend reports in ParameterStatus messages after authentication (besides application_name and
/// session_authorization).
const PARAMETER_STATUS: &[(&str, &str)] = &[
    ("server_version", "15.0 (bgw)"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("IntervalStyle", "postgres"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("TimeZone", "UTC"),
    ("is_superuser", "off"),
];

fn terminating() -> SqlError {
    SqlError::fatal("57P01", "terminating connection due to administrator command")
}

fn protocol_violation(message: impl Into<String>) -> SqlError {
    SqlError::fatal("08P01", message)
}

fn internal_error(payload: &(dyn std::any::Any + Send)) -> SqlError {
    SqlError::error("XX000", format!("internal error in the backend: {}", context::panic_message(payload)))
}

/// Runs one session on `stream` and returns the exit code.
pub(crate) async fn run(stream: super::ClientStream, host: Rc<dyn HostServices>, reject: Option<SqlError>) -> i32 {
    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(listener) => Some(listener),
        Err(err) => {
            eprintln!("bgw backend: cannot listen for SIGTERM: {err}");
            None
        }
    };
    let mut wire = match Wire::new(stream) {
        Ok(wire) => wire,
        Err(err) => {
            eprintln!("bgw backend: unusable client socket: {err}");
            return 1;
        }
    };
    let startup = tokio::select! {
        biased;
        _ = next_sigterm(&mut sigterm) => return wire.fatal(terminating()).await,
        startup = tokio::time::timeout(STARTUP_TIMEOUT, wire.read_startup()) => startup,
    };
    let parameters = match startup {
        Err(_elapsed) => return 1,
        Ok(Err(ended)) => return ended.exit_code(&mut wire).await,
        Ok(Ok(parameters)) => parameters,
    };
    if let Some(err) = reject {
        return wire.fatal(err).await;
    }
    if wire.is_tcp() {
        let user = parameters.get("user").cloned().unwrap_or_default();
        let exchange = tokio::time::timeout(STARTUP_TIMEOUT, scram_authenticate(&mut wire, &*host, &user)).await;
        match exchange {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return wire.fatal(err).await,
            Err(_elapsed) => return 1,
        }
    }
    let mut session = match Session::start(&wire, host, &parameters) {
        Ok(session) => session,
        Err(err) => return wire.fatal(err).await,
    };
    let wakeup = session.host.wakeup_fd().and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok());
    loop {
        wire.send_all(session.out.drain(..));
        if let Some(code) = session.exit {
            // Ignoring a failed flush: the session ends either way.
            let _ = wire.flush().await;
            return code;
        }
        let message = match wire.decode() {
            Ok(Some(message)) => message,
            Ok(None) => {
                if wire.flush().await.is_err() {
                    return 0;
                }
                // Idle: wait for the client, SIGTERM, or the host's wake-up (notifications to deliver).
                session.host.idle_wait(true);
                let woke = tokio::select! {
                    biased;
                    _ = next_sigterm(&mut sigterm) => return wire.fatal(terminating()).await,
                    _ = wakeup_readable(&wakeup) => true,
                    read = wire.read_more() => match read {
                        Ok(0) | Err(_) => return 0,
                        Ok(_) => false,
                    },
                };
                session.host.idle_wait(false);
                if woke {
                    session.host.clear_wakeup();
                    if let Some(pipe) = &wakeup {
                        // The host drained the pipe; reading it dry here clears tokio's cached readiness.
                        let _ = pipe.try_read(&mut [0u8; 64]);
                    }
                    session.deliver_notifications();
                }
                continue;
            }
            Err(err) if err.severity != Severity::Fatal => {
                session.malformed(err, wire.malformed_extended);
                continue;
            }
            Err(err) => return wire.fatal(err).await,
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            let _ = wire.flush().await;
            return 0;
        }
        // A SIGTERM that arrived while the previous message was handled ends the session before the next one,
        // even if the host has not (yet) flagged the termination.
        if sigterm.as_mut().is_some_and(|listener| listener.recv().now_or_never().is_some()) {
            return wire.fatal(terminating()).await;
        }
        session.handle_caught(message);
    }
}

/// SCRAM-SHA-256 password authentication (TCP connections): AuthenticationSASL, the client's first message, our
/// first message, the client's proof, our signature. Unknown roles and roles without a password go through the
/// same exchange and fail at the end with the same message, as PostgreSQL's mock authentication does.
async fn scram_authenticate(wire: &mut Wire, host: &dyn HostServices, user: &str) -> Result<(), SqlError> {
    let failed = || SqlError::fatal("28P01", format!("password authentication failed for user \"{user}\""));
    let verifier = host
        .password_verifier(user)
        .and_then(|v| super::scram::Verifier::parse(&v))
        .unwrap_or_else(super::scram::Verifier::impossible);
    wire.send(PgWireBackendMessage::Authentication(Authentication::SASL(vec!["SCRAM-SHA-256".to_owned()])));
    let initial = match wire.next_message().await? {
        PgWireFrontendMessage::PasswordMessageFamily(p) => {
            p.into_sasl_initial_response().map_err(|e| protocol_violation(e.to_string()))?
        }
        other => return Err(protocol_violation(format!("expected SASL response, got {}", message_name(&other)))),
    };
    if initial.auth_method != "SCRAM-SHA-256" {
        return Err(SqlError::fatal("08P01", "client selected an invalid SASL authentication mechanism"));
    }
    let first = initial.data.unwrap_or_default();
    let (exchange, server_first) =
        super::scram::server_first(&first, &verifier).map_err(|m| SqlError::fatal("08P01", m))?;
    wire.send(PgWireBackendMessage::Authentication(Authentication::SASLContinue(server_first.into_bytes().into())));
    let response = match wire.next_message().await? {
        PgWireFrontendMessage::PasswordMessageFamily(p) => {
            p.into_sasl_response().map_err(|e| protocol_violation(e.to_string()))?
        }
        other => return Err(protocol_violation(format!("expected SASL response, got {}", message_name(&other)))),
    };
    let server_final = super::scram::server_final(&exchange, &response.data, &verifier).map_err(|_| failed())?;
    wire.send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(server_final.into_bytes().into())));
    Ok(())
}

/// Resolves when the host's wake-up descriptor is readable; never without one.
async fn wakeup_readable(pipe: &Option<tokio::net::unix::pipe::Receiver>) {
    match pipe {
        Some(pipe) => {
            let _ = pipe.readable().await;
        }
        None => std::future::pending().await,
    }
}

/// Waits for the next SIGTERM, or forever without a listener.
async fn next_sigterm(listener: &mut Option<Signal>) {
    match listener {
        Some(listener) => {
            listener.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Why the startup phase ended without a startup packet.
enum StartupEnd {
    /// The client went away or asked to cancel a query (not supported): close quietly.
    Quiet,
    /// A protocol violation: answer with this FATAL error.
    Fatal(SqlError),
}

impl StartupEnd {
    async fn exit_code(self, wire: &mut Wire) -> i32 {
        match self {
            StartupEnd::Quiet => 0,
            StartupEnd::Fatal(err) => wire.fatal(err).await,
        }
    }
}

/// The client connection at the byte level.
/// The socket under a session.
enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf).await,
            Stream::Tcp(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(buf).await,
            Stream::Tcp(s) => s.write_all(buf).await,
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush().await,
            Stream::Tcp(s) => s.flush().await,
        }
    }
}

struct Wire {
    stream: Stream,
    input: Vec<u8>,
    /// How much of `input` has been decoded already.
    consumed: usize,
    output: Vec<u8>,
    decode_context: DecodeContext,
    /// Whether the last message [`Wire::decode`] refused as malformed (an ERROR) was an extended-protocol one.
    malformed_extended: bool,
}

impl Wire {
    fn new(stream: super::ClientStream) -> std::io::Result<Wire> {
        let stream = match stream {
            super::ClientStream::Unix(s) => {
                s.set_nonblocking(true)?;
                Stream::Unix(tokio::net::UnixStream::from_std(s)?)
            }
            super::ClientStream::Tcp(s) => {
                s.set_nonblocking(true)?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(tokio::net::TcpStream::from_std(s)?)
            }
        };
        let mut decode_context = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
        // SSL and GSS requests are answered before pgwire sees any message (see `read_startup`).
        decode_context.awaiting_frontend_ssl = false;
        decode_context.awaiting_frontend_startup = true;
        Ok(Wire {
            stream,
            input: Vec::with_capacity(8192),
            consumed: 0,
            output: Vec::with_capacity(8192),
            decode_context,
            malformed_extended: false,
        })
    }

    fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.stream {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn is_tcp(&self) -> bool {
        matches!(self.stream, Stream::Tcp(_))
    }

    /// Waits for the next complete message (during authentication).
    async fn next_message(&mut self) -> Result<PgWireFrontendMessage, SqlError> {
        loop {
            if let Some(m) = self.decode()? {
                return Ok(m);
            }
            self.flush().await.map_err(|e| SqlError::fatal("08006", format!("could not send data to client: {e}")))?;
            match self.read_more().await {
                Ok(0) | Err(_) => return Err(SqlError::fatal("08006", "the client closed the connection")),
                Ok(_) => {}
            }
        }
    }

    /// The received bytes not decoded yet.
    fn pending(&self) -> &[u8] {
        &self.input[self.consumed..]
    }

    /// Reads what the socket has (at least one byte, or 0 at end of input).
    async fn read_more(&mut self) -> std::io::Result<usize> {
        self.input.drain(..self.consumed);
        self.consumed = 0;
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.input.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Takes the next complete frontend message off the input, if there is one.
    fn decode(&mut self) -> Result<Option<PgWireFrontendMessage>, SqlError> {
        let startup = self.decode_context.awaiting_frontend_startup;
        let (header, limit) = if startup { (4, MAX_STARTUP_BYTES) } else { (5, MAX_MESSAGE_BYTES) };
        let pending = self.pending();
        if pending.len() < header {
            return Ok(None);
        }
        let declared =
            u32::from_be_bytes([pending[header - 4], pending[header - 3], pending[header - 2], pending[header - 1]])
                as usize;
        if declared < 4 || declared > limit {
            return Err(protocol_violation(format!("invalid message length {declared}")));
        }
        let total = header - 4 + declared;
        if pending.len() < total {
            return Ok(None);
        }
        // pgwire decodes from a `bytes::BytesMut`; an empty one is taken from pgwire's own `DataRow` so that the
        // backend needs no dependency on `bytes`. One frame at a time keeps the copy to one per message.
        let mut frame = DataRow::default().data;
        frame.extend_from_slice(&pending[..total]);
        self.consumed += total;
        let context = &self.decode_context;
        // A complete query-cycle message whose body does not parse (a count promising more than is there, a
        // missing terminator) is an ERROR, as in PostgreSQL: the frame was read whole, so the session can go on.
        // Anything else that does not decode (an unknown message type) ends the session.
        let kind = if startup { None } else { frame.first().copied().filter(|k| b"QPBDECSH".contains(k)) };
        let malformed = |message: String| match kind {
            Some(_) => SqlError::error("08P01", message),
            None => protocol_violation(message),
        };
        self.malformed_extended = kind.is_some_and(|k| k != b'Q');
        match catch_unwind(AssertUnwindSafe(|| PgWireFrontendMessage::decode(&mut frame, context))) {
            Ok(Ok(Some(message))) => Ok(Some(message)),
            Ok(Ok(None)) => Err(protocol_violation("incomplete message from client")),
            Ok(Err(err)) => Err(malformed(format!("invalid frontend message: {err}"))),
            Err(_panic) => Err(malformed("malformed frontend message".to_owned())),
        }
    }

    /// Reads up to the startup packet, refusing SSL and GSS encryption on the way; returns its parameters.
    async fn read_startup(&mut self) -> Result<HashMap<String, String>, StartupEnd> {
        loop {
            let pending = self.pending();
            if pending.len() >= 8 && pending[..4] == 8u32.to_be_bytes() {
                let code = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]);
                let refusal = match code {
                    SSL_REQUEST_CODE => Some(PgWireBackendMessage::SslResponse(SslResponse::Refuse)),
                    GSS_REQUEST_CODE => Some(PgWireBackendMessage::GssEncResponse(GssEncResponse::Refuse)),
                    _ => None,
                };
                if let Some(refusal) = refusal {
                    self.consumed += 8;
                    self.send(refusal);
                    self.flush().await.map_err(|_| StartupEnd::Quiet)?;
                    continue;
                }
            }
            match self.decode() {
                Ok(Some(PgWireFrontendMessage::Startup(startup))) => {
                    self.decode_context.awaiting_frontend_startup = false;
                    if startup.protocol_number_minor > 0 {
                        let unsupported =
                            startup.parameters.keys().filter(|k| k.starts_with("_pq_.")).cloned().collect();
                        self.send(PgWireBackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion::new(
                            i32::from(ProtocolVersion::PROTOCOL3_0),
                            unsupported,
                        )));
                    }
                    return Ok(startup.parameters.into_iter().collect());
                }
                Ok(Some(PgWireFrontendMessage::CancelRequest(_))) => return Err(StartupEnd::Quiet),
                Ok(Some(_)) => return Err(StartupEnd::Fatal(protocol_violation("expected a startup packet"))),
                Ok(None) => match self.read_more().await {
                    Ok(0) | Err(_) => return Err(StartupEnd::Quiet),
                    Ok(_) => {}
                },
                Err(err) => {
                    let err = SqlError {
                        message: format!("unsupported frontend protocol or invalid startup packet ({})", err.message),
                        ..err
                    };
                    return Err(StartupEnd::Fatal(err));
                }
            }
        }
    }

    /// Encodes `message` into the output buffer.
    fn send(&mut self, message: PgWireBackendMessage) {
        let mut buffer = DataRow::default().data;
        match message.encode(&mut buffer) {
            Ok(()) => self.output.extend_from_slice(&buffer),
            Err(err) => {
                eprintln!("bgw backend: could not encode a protocol message: {err}");
                let fallback = error_response(&SqlError::error("XX000", "could not encode a protocol message"));
                let mut buffer = DataRow::default().data;
                if PgWireBackendMessage::ErrorResponse(fallback).encode(&mut buffer).is_ok() {
                    self.output.extend_from_slice(&buffer);
                }
            }
        }
    }

    fn send_all(&mut self, messages: impl Iterator<Item = PgWireBackendMessage>) {
        for message in messages {
            self.send(message);
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            let result = self.stream.write_all(&self.output).await;
            self.output.clear();
            result?;
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Sends `err` as a FATAL error and returns the exit code for it.
    async fn fatal(&mut self, err: SqlError) -> i32 {
        self.send(PgWireBackendMessage::ErrorResponse(error_response(&SqlError { severity: Severity::Fatal, ..err })));
        let _ = self.flush().await;
        1
    }
}

/// At most this many bytes of a message or detail in an error, to stay well inside libpq's limits.
const MAX_ERROR_TEXT: usize = 8000;

fn clip(text: &str) -> String {
    if text.len() <= MAX_ERROR_TEXT {
        return text.to_owned();
    }
    let mut cut = MAX_ERROR_TEXT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

fn error_info(err: &SqlError, severity: &str) -> ErrorInfo {
    let code = if err.code.len() == 5 { err.code } else { "XX000" };
    let mut info = ErrorInfo::new(severity.to_owned(), code.to_owned(), clip(&err.message));
    info.severity_nonlocalized = Some(severity.to_owned());
    info.detail = err.detail.as_deref().map(clip);
    info.hint = err.hint.as_deref().map(clip);
    info
}

/// An ErrorResponse for `err`: ERROR unless the error is FATAL.
fn error_response(err: &SqlError) -> ErrorResponse {
    let severity = if err.severity == Severity::Fatal { "FATAL" } else { "ERROR" };
    error_info(err, severity).into()
}

/// A NoticeResponse for `notice`: NOTICE or WARNING.
fn notice_response(notice: &SqlError) -> NoticeResponse {
    let severity = if notice.severity == Severity::Notice { "NOTICE" } else { "WARNING" };
    error_info(notice, severity).into()
}

/// The peer's user id, from the kernel.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn peer_uid(fd: std::os::fd::RawFd) -> std::io::Result<u32> {
    let mut credentials = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `credentials` and `len` are valid for writes of the sizes given; `fd` is the open client socket.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut credentials as *mut libc::ucred).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(credentials.uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The peer's user id, from the kernel.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn peer_uid(fd: std::os::fd::RawFd) -> std::io::Result<u32> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: `uid` and `gid` are valid for writes; `fd` is the open client socket.
    if unsafe { libc::getpeereid(fd, &mut uid, &mut gid) } == 0 {
        Ok(uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A statement prepared with Parse.
struct Prepared {
    /// None for an empty query.
    statement: Option<Statement>,
    /// Parameter type OIDs as the client gave them (0: unspecified), one per parameter.
    param_oids: Vec<u32>,
}

enum PortalState {
    Ready,
    /// Run, with rows left to send after a row-limited Execute.
    Suspended {
        rows: std::vec::IntoIter<Vec<Value>>,
        tag: String,
    },
    Done,
}

/// A statement bound to its parameters with Bind.
struct Portal {
    prepared: Rc<Prepared>,
    params: Vec<Value>,
    columns: Vec<WireColumn>,
    state: PortalState,
}

/// The protocol state of one session after authentication.
struct Session {
    host: Rc<dyn HostServices>,
    engine: Engine,
    /// Messages to send, in order.
    out: Vec<PgWireBackendMessage>,
    statements: HashMap<String, Rc<Prepared>>,
    portals: HashMap<String, Portal>,
    /// After an error in the extended protocol, messages are ignored up to the next Sync.
    skip_until_sync: bool,
    /// Set when the session must end, with the exit code, once `out` is sent.
    exit: Option<i32>,
}

impl Session {
    /// Authenticates the client and greets it; an error is FATAL.
    fn start(
        wire: &Wire,
        host: Rc<dyn HostServices>,
        parameters: &HashMap<String, String>,
    ) -> Result<Session, SqlError> {
        let user = parameters
            .get("user")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| SqlError::fatal("28000", "no PostgreSQL user name specified in startup packet"))?;
        let database = parameters.get("database").filter(|d| !d.is_empty()).unwrap_or(user);
        if wire.is_tcp() {
            // The password exchange has succeeded (see `run`): the role and database checks remain.
            host.authenticate_password(user, database)?;
        } else {
            let uid = peer_uid(wire.raw_fd())
                .map_err(|err| SqlError::fatal("28000", format!("could not get peer credentials: {err}")))?;
            host.authenticate_peer(uid, user, database)?;
        }
        let application_name = parameters.get("application_name").map(String::as_str).unwrap_or("");
        host.report_application_name(application_name);
        let engine = Engine::open(host.database_path().as_deref())?;

        let mut out = vec![PgWireBackendMessage::Authentication(Authentication::Ok)];
        let status = |name: &str, value: &str| {
            PgWireBackendMessage::ParameterStatus(ParameterStatus::new(name.to_owned(), value.to_owned()))
        };
        out.push(status("application_name", application_name));
        out.push(status("session_authorization", user));
        out.extend(PARAMETER_STATUS.iter().map(|(name, value)| status(name, value)));
        let pid = host.backend_pid();
        out.push(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(pid, SecretKey::I32(secret_key(pid)))));
        host.report_state("idle", "");
        let mut session = Session {
            host,
            engine,
            out,
            statements: HashMap::new(),
            portals: HashMap::new(),
            skip_until_sync: false,
            exit: None,
        };
        session.ready();
        Ok(session)
    }

    /// A message that could not be read is an ERROR (ignored while skipping to Sync); the session goes on, as
    /// after any failed simple query or extended-protocol step.
    fn malformed(&mut self, err: SqlError, extended: bool) {
        if self.skip_until_sync {
            return;
        }
        self.error(err);
        if extended {
            self.skip_until_sync = true;
        } else {
            self.ready();
        }
    }

    /// Handles one message; a panic becomes an internal error and the session goes on.
    fn handle_caught(&mut self, message: PgWireFrontendMessage) {
        let extended = message.is_extended_query();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.handle(message))) {
            self.error(internal_error(&*payload));
            if extended {
                self.skip_until_sync = true;
            } else {
                self.ready();
            }
        }
    }

    fn handle(&mut self, message: PgWireFrontendMessage) {
        if self.skip_until_sync && !matches!(message, PgWireFrontendMessage::Sync(_)) {
            // After an error in the extended protocol everything up to Sync is ignored, as PostgreSQL does.
            return;
        }
        match message {
            PgWireFrontendMessage::Query(query) => self.simple_query(&query.query),
            PgWireFrontendMessage::Parse(parse) => self.extended(|s| s.parse(parse)),
            PgWireFrontendMessage::Bind(bind) => self.extended(|s| s.bind(bind)),
            PgWireFrontendMessage::Describe(describe) => self.extended(|s| s.describe(describe)),
            PgWireFrontendMessage::Execute(execute) => self.extended(|s| s.execute(execute)),
            PgWireFrontendMessage::Close(close) => self.extended(|s| s.close(close)),
            PgWireFrontendMessage::Sync(_) => self.sync(),
            // Output is flushed whenever the session waits for input.
            PgWireFrontendMessage::Flush(_) => {}
            // Outside COPY these are ignored, as PostgreSQL does.
            PgWireFrontendMessage::CopyData(_)
            | PgWireFrontendMessage::CopyDone(_)
            | PgWireFrontendMessage::CopyFail(_) => {}
            other => {
                self.error(protocol_violation(format!("unexpected message from client: {}", message_name(&other))))
            }
        }
    }

    /// Queues `err`; a FATAL one ends the session.
    fn error(&mut self, err: SqlError) {
        self.out.push(PgWireBackendMessage::ErrorResponse(error_response(&err)));
        if err.severity == Severity::Fatal {
            self.exit = Some(1);
        }
    }

    fn ready(&mut self) {
        self.deliver_notifications();
        let status = match self.engine.tx_state() {
            TxState::Idle => TransactionStatus::Idle,
            TxState::InBlock => TransactionStatus::Transaction,
            TxState::Failed => TransactionStatus::Error,
        };
        self.out.push(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status)));
    }

    /// Sends the notifications for this session's channels, outside a transaction block (as PostgreSQL does).
    fn deliver_notifications(&mut self) {
        if self.engine.tx_state() != TxState::Idle {
            return;
        }
        for (pid, channel, payload) in self.host.take_notifications() {
            self.out.push(PgWireBackendMessage::NotificationResponse(NotificationResponse::new(pid, channel, payload)));
        }
    }

    /// What has to happen before any statement runs; an error here is FATAL.
    fn before_statement(&mut self, query: &str) -> Result<(), SqlError> {
        if self.host.termination_requested() {
            return Err(terminating());
        }
        self.host.absorb_config_reload();
        self.host.report_state("active", query);
        Ok(())
    }

    /// What has to happen after a statement: its notices go out, and the backend is idle again.
    fn after_statement(&mut self) {
        let notices: Vec<SqlError> = context::take_notices().into_iter().chain(self.host.take_notices()).collect();
        self.out.extend(notices.iter().map(|n| PgWireBackendMessage::NoticeResponse(notice_response(n))));
        let state = match self.engine.tx_state() {
            TxState::Idle => "idle",
            TxState::InBlock => "idle in transaction",
            TxState::Failed => "idle in transaction (aborted)",
        };
        self.host.report_state(state, "");
    }

    /// Prepares (in simple mode) and runs one statement between the before and after steps; a panic becomes an
    /// internal error.
    fn run_statement<T>(
        &mut self,
        query: &str,
        work: impl FnOnce(&mut Engine) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.before_statement(query)?;
        let engine = &mut self.engine;
        let result =
            catch_unwind(AssertUnwindSafe(|| work(engine))).unwrap_or_else(|payload| Err(internal_error(&*payload)));
        self.after_statement();
        result
    }

    fn simple_query(&mut self, query: &str) {
        let mut rest = query;
        let mut ran_any = false;
        while !is_blank(rest) {
            let step = self.run_statement(query, |engine| {
                let Some((statement, remainder)) = engine.prepare(rest)? else {
                    return Ok(None);
                };
                let executed = engine.execute(&statement, &[])?;
                Ok(Some((statement, executed, remainder.len())))
            });
            match step {
                Ok(Some((statement, executed, remaining))) => {
                    ran_any = true;
                    rest = &rest[rest.len() - remaining..];
                    self.simple_result(&statement, executed);
                }
                Ok(None) => break,
                Err(err) => {
                    ran_any = true;
                    self.error(err);
                    break;
                }
            }
            if self.exit.is_some() {
                return;
            }
        }
        if self.exit.is_some() {
            return;
        }
        if !ran_any {
            self.out.push(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()));
        }
        self.ready();
    }

    /// Sends a simple-protocol result: columns typed by declaration or by their values, in text format.
    fn simple_result(&mut self, statement: &Statement, executed: Executed) {
        if let Some(rows) = &executed.rows {
            let columns: Vec<WireColumn> = statement
                .columns
                .iter()
                .enumerate()
                .map(|(i, column)| WireColumn {
                    name: column.name.clone(),
                    ty: column.ty.unwrap_or_else(|| type_from_values(rows.iter().filter_map(|row| row.get(i)))),
                    format: FieldFormat::Text,
                })
                .collect();
            self.out.push(PgWireBackendMessage::RowDescription(row_description(&columns)));
            if let Err(err) = self.send_rows(rows.iter(), &columns) {
                self.error(err);
                return;
            }
        }
        self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(executed.tag)));
    }

    fn send_rows<'a>(
        &mut self,
        rows: impl Iterator<Item = &'a Vec<Value>>,
        columns: &[WireColumn],
    ) -> Result<usize, SqlError> {
        let mut encoder = RowEncoder::new();
        let mut sent = 0;
        for row in rows {
            self.out.push(PgWireBackendMessage::DataRow(encoder.encode(row, columns)?));
            sent += 1;
        }
        Ok(sent)
    }

    /// Runs an extended-protocol step unless an earlier error is waiting for Sync; an error starts the wait.
    fn extended(&mut self, step: impl FnOnce(&mut Self) -> Result<(), SqlError>) {
        if self.skip_until_sync {
            return;
        }
        if let Err(err) = step(self) {
            self.error(err);
            self.skip_until_sync = true;
        }
    }

    fn parse(&mut self, parse: Parse) -> Result<(), SqlError> {
        let name = parse.name.unwrap_or_default();
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(SqlError::error("42P05", format!("prepared statement \"{name}\" already exists")));
        }
        let statement = match self.engine.prepare(&parse.query)? {
            None => None,
            Some((statement, rest)) => {
                if !is_blank(rest) {
                    return Err(SqlError::error("42601", "cannot insert multiple commands into a prepared statement"));
                }
                Some(statement)
            }
        };
        let count = statement.as_ref().map_or(0, |s| s.param_count).max(parse.type_oids.len());
        let param_oids = (0..count).map(|i| parse.type_oids.get(i).copied().unwrap_or(0)).collect();
        self.statements.insert(name, Rc::new(Prepared { statement, param_oids }));
        self.out.push(PgWireBackendMessage::ParseComplete(ParseComplete::new()));
        Ok(())
    }

    fn bind(&mut self, bind: Bind) -> Result<(), SqlError> {
        let statement_name = bind.statement_name.unwrap_or_default();
        let portal_name = bind.portal_name.unwrap_or_default();
        let prepared = self.statements.get(&statement_name).cloned().ok_or_else(|| {
            SqlError::error("26000", format!("prepared statement \"{statement_name}\" does not exist"))
        })?;
        if !portal_name.is_empty() && self.portals.contains_key(&portal_name) {
            return Err(SqlError::error("42P03", format!("portal \"{portal_name}\" already exists")));
        }
        let expected = prepared.param_oids.len();
        if bind.parameters.len() != expected {
            return Err(SqlError::error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires \
                     {expected}",
                    bind.parameters.len()
                ),
            ));
        }
        let param_binary = formats(&bind.parameter_format_codes, expected, "parameter")?;
        let params = bind
            .parameters
            .iter()
            .zip(&prepared.param_oids)
            .zip(param_binary)
            .enumerate()
            .map(|(i, ((raw, &oid), format))| decode_param(raw.as_deref(), oid, format == FieldFormat::Binary, i + 1))
            .collect::<Result<Vec<Value>, SqlError>>()?;
        let statement_columns = prepared.statement.as_ref().map_or(&[][..], |s| &s.columns[..]);
        let result_formats = formats(&bind.result_column_format_codes, statement_columns.len(), "result")?;
        let columns = statement_columns
            .iter()
            .zip(result_formats)
            .map(|(column, format)| WireColumn {
                name: column.name.clone(),
                ty: column.ty.unwrap_or(PgType::Text),
                format,
            })
            .collect();
        self.portals.insert(portal_name, Portal { prepared, params, columns, state: PortalState::Ready });
        self.out.push(PgWireBackendMessage::BindComplete(BindComplete::new()));
        Ok(())
    }

    fn describe(&mut self, describe: Describe) -> Result<(), SqlError> {
        let name = describe.name.unwrap_or_default();
        match describe.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let prepared = self
                    .statements
                    .get(&name)
                    .ok_or_else(|| SqlError::error("26000", format!("prepared statement \"{name}\" does not exist")))?;
                let types = prepared.param_oids.iter().map(|&oid| described_param_oid(oid)).collect();
                let columns: Vec<WireColumn> = prepared.statement.as_ref().map_or_else(Vec::new, |s| {
                    s.columns
                        .iter()
                        .map(|c| WireColumn {
                            name: c.name.clone(),
                            ty: c.ty.unwrap_or(PgType::Text),
                            format: FieldFormat::Text,
                        })
                        .collect()
                });
                let has_rows = prepared.statement.as_ref().is_some_and(|s| !s.columns.is_empty());
                self.out.push(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(types)));
                self.describe_rows(has_rows, &columns);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let portal = self
                    .portals
                    .get(&name)
                    .ok_or_else(|| SqlError::error("34000", format!("portal \"{name}\" does not exist")))?;
                let columns = portal.columns.clone();
                let has_rows = portal.prepared.statement.as_ref().is_some_and(|s| !s.columns.is_empty());
                self.describe_rows(has_rows, &columns);
            }
            other => return Err(SqlError::error("08P01", format!("invalid DESCRIBE message subtype {other}"))),
        }
        Ok(())
    }

    fn describe_rows(&mut self, has_rows: bool, columns: &[WireColumn]) {
        self.out.push(if has_rows {
            PgWireBackendMessage::RowDescription(row_description(columns))
        } else {
            PgWireBackendMessage::NoData(NoData::new())
        });
    }

    fn execute(&mut self, execute: Execute) -> Result<(), SqlError> {
        let name = execute.name.unwrap_or_default();
        let mut portal = self
            .portals
            .remove(&name)
            .ok_or_else(|| SqlError::error("34000", format!("portal \"{name}\" does not exist")))?;
        let result = self.execute_portal(&mut portal, execute.max_rows);
        self.portals.insert(name, portal);
        result
    }

    fn execute_portal(&mut self, portal: &mut Portal, max_rows: i32) -> Result<(), SqlError> {
        if let PortalState::Ready = portal.state {
            let Some(statement) = portal.prepared.statement.clone() else {
                self.out.push(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()));
                return Ok(());
            };
            let params = std::mem::take(&mut portal.params);
            let executed = self.run_statement(&statement.sql, |engine| engine.execute(&statement, &params));
            portal.params = params;
            let executed = executed?;
            portal.state = match executed.rows {
                Some(rows) => PortalState::Suspended { rows: rows.into_iter(), tag: executed.tag },
                None => {
                    self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(executed.tag)));
                    PortalState::Done
                }
            };
        }
        match std::mem::replace(&mut portal.state, PortalState::Done) {
            PortalState::Suspended { mut rows, tag } => {
                let limit = if max_rows > 0 { max_rows as usize } else { usize::MAX };
                let batch: Vec<Vec<Value>> = rows.by_ref().take(limit).collect();
                let sent = self.send_rows(batch.iter(), &portal.columns)?;
                if rows.len() > 0 {
                    self.out.push(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()));
                    portal.state = PortalState::Suspended { rows, tag };
                } else {
                    let tag = if tag.starts_with("SELECT ") { format!("SELECT {sent}") } else { tag };
                    self.out.push(PgWireBackendMessage::CommandComplete(CommandComplete::new(tag)));
                }
            }
            PortalState::Done | PortalState::Ready => {}
        }
        Ok(())
    }

    fn close(&mut self, close: Close) -> Result<(), SqlError> {
        let name = close.name.unwrap_or_default();
        match close.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                self.statements.remove(&name);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                self.portals.remove(&name);
            }
            other => return Err(SqlError::error("08P01", format!("invalid CLOSE message subtype {other}"))),
        }
        self.out.push(PgWireBackendMessage::CloseComplete(CloseComplete::new()));
        Ok(())
    }

    fn sync(&mut self) {
        self.skip_until_sync = false;
        if self.engine.tx_state() == TxState::Idle {
            // Portals live until the end of their transaction; outside a block that is now.
            self.portals.clear();
        }
        self.ready();
    }
}

/// Which formats `codes` (from Bind) give `count` values: none means all text, one applies to all.
fn formats(codes: &[i16], count: usize, what: &str) -> Result<Vec<FieldFormat>, SqlError> {
    let format = |code: i16| match code {
        0 => Ok(FieldFormat::Text),
        1 => Ok(FieldFormat::Binary),
        other => Err(SqlError::error("08P01", format!("unsupported format code: {other}"))),
    };
    match codes {
        [] => Ok(vec![FieldFormat::Text; count]),
        [code] => Ok(vec![format(*code)?; count]),
        codes if codes.len() == count => codes.iter().map(|&c| format(c)).collect(),
        codes => Err(SqlError::error(
            "08P01",
            format!("bind message has {} {what} formats but {count} {what}s", codes.len()),
        )),
    }
}

fn message_name(message: &PgWireFrontendMessage) -> &'static str {
    match message {
        PgWireFrontendMessage::PasswordMessageFamily(_) => "password message",
        PgWireFrontendMessage::Startup(_) => "startup packet",
        PgWireFrontendMessage::CancelRequest(_) => "cancel request",
        PgWireFrontendMessage::SslNegotiation(_) => "SSL negotiation",
        PgWireFrontendMessage::PortalSuspended(_) => "portal suspended",
        _ => "message",
    }
}

/// A cancel key for BackendKeyData. Query cancellation is not supported, so it only has to look plausible.
fn secret_key(pid: i32) -> i32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mixed = (nanos ^ (u64::from(pid as u32) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as i32
}
