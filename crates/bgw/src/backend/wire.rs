//! The wire layer: bytes in and out of the client's socket, and the PostgreSQL v3 messages they carry.
//!
//! [`Wire`] frames frontend messages out of what the socket delivered and decodes them with pgwire, and encodes
//! backend messages into an output buffer that is flushed before the session waits for more input. It is the
//! only async part of a session besides the loop in [`super::serve`]. It also answers the startup phase's SSL and
//! GSS requests and turns [`SqlError`]s into ErrorResponse and NoticeResponse messages.
//!
//! Runs in: a backend process.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use pgwire::error::ErrorInfo;
use pgwire::messages::data::DataRow;
use pgwire::messages::response::{ErrorResponse, GssEncResponse, NoticeResponse, SslResponse};
use pgwire::messages::startup::{NegotiateProtocolVersion, SecretKey};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::host::{Severity, SqlError};

/// The largest frontend message accepted (PostgreSQL's limit: 1 GB).
const MAX_MESSAGE_BYTES: usize = 0x3fff_ffff;
/// The largest startup packet accepted (PostgreSQL's MAX_STARTUP_PACKET_LENGTH).
const MAX_STARTUP_BYTES: usize = 10_000;

const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSS_REQUEST_CODE: u32 = 80_877_104;

pub(super) fn protocol_violation(message: impl Into<String>) -> SqlError {
    SqlError::fatal("08P01", message)
}

/// Why the startup phase ended without a startup packet.
pub(super) enum StartupEnd {
    /// The client went away: close quietly.
    Quiet,
    /// A CancelRequest for backend `pid` with key `key` (a key that is not 4 bytes long matches nothing: 0).
    Cancel { pid: i32, key: i32 },
    /// A protocol violation: answer with this FATAL error.
    Fatal(SqlError),
}

impl StartupEnd {
    pub(super) async fn exit_code(self, wire: &mut Wire) -> i32 {
        match self {
            StartupEnd::Quiet => 0,
            StartupEnd::Cancel { pid, key } => {
                crate::process::interrupts::serve_cancel_request(pid, key);
                0
            }
            StartupEnd::Fatal(err) => wire.fatal(err).await,
        }
    }
}

/// A socket: the client's under a session (the relay takes it over, see [`Wire::into_parts`]), or the relay's
/// connection to a server.
pub(super) enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

/// The client's socket, for the relay.
pub(super) type ClientIo = Stream;

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The client connection at the byte level.
pub(super) struct Wire {
    stream: Stream,
    input: Vec<u8>,
    /// How much of `input` has been decoded already.
    consumed: usize,
    /// Encoded messages not sent yet; shared with the session's [`Spill`], which sends them (in order) while a
    /// statement streams its rows.
    output: Rc<RefCell<Vec<u8>>>,
    decode_context: DecodeContext,
    /// Whether the last message [`Wire::decode`] refused as malformed (an ERROR) was an extended-protocol one.
    pub(super) malformed_extended: bool,
}

impl Wire {
    pub(super) fn new(stream: super::ClientStream) -> std::io::Result<Wire> {
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
            output: Rc::new(RefCell::new(Vec::with_capacity(8192))),
            decode_context,
            malformed_extended: false,
        })
    }

    pub(super) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.stream {
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }

    /// Hands the socket over (to the relay) after sending what is queued: the socket and the bytes received but
    /// not decoded yet.
    pub(super) async fn into_parts(mut self) -> std::io::Result<(Stream, Vec<u8>)> {
        self.flush().await?;
        let pending = self.pending().to_vec();
        Ok((self.stream, pending))
    }

    pub(super) fn is_tcp(&self) -> bool {
        matches!(self.stream, Stream::Tcp(_))
    }

    /// Waits for the next complete message (during authentication).
    pub(super) async fn next_message(&mut self) -> Result<PgWireFrontendMessage, SqlError> {
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
    pub(super) async fn read_more(&mut self) -> std::io::Result<usize> {
        self.input.drain(..self.consumed);
        self.consumed = 0;
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.input.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Takes the next complete frontend message off the input, if there is one.
    pub(super) fn decode(&mut self) -> Result<Option<PgWireFrontendMessage>, SqlError> {
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
        // A message is held whole in memory: one larger than the backend may use is refused before it is read.
        let memory_limit = crate::process::setting_int("backend_memory_limit").saturating_mul(1024);
        if memory_limit > 0 && declared as i64 > memory_limit {
            return Err(SqlError::fatal("53200", "out of memory")
                .with_detail(format!("A message of {declared} bytes exceeds backend_memory_limit.")));
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
    pub(super) async fn read_startup(&mut self) -> Result<HashMap<String, String>, StartupEnd> {
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
                Ok(Some(PgWireFrontendMessage::CancelRequest(cancel))) => {
                    let key = match cancel.secret_key {
                        SecretKey::I32(key) => key,
                        SecretKey::Bytes(bytes) => bytes[..].try_into().map_or(0, i32::from_be_bytes),
                    };
                    return Err(StartupEnd::Cancel { pid: cancel.pid, key });
                }
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
    pub(super) fn send(&mut self, message: PgWireBackendMessage) {
        encode(message, &mut self.output.borrow_mut());
    }

    /// What lets a running statement send its rows before it ends (None if the socket cannot be duplicated).
    pub(super) fn spill(&self) -> Option<Spill> {
        let fd = crate::sys::fd::dup_cloexec(self.raw_fd())?;
        Some(Spill { socket: std::fs::File::from(fd), output: self.output.clone() })
    }

    pub(super) fn send_all(&mut self, messages: impl Iterator<Item = PgWireBackendMessage>) {
        for message in messages {
            self.send(message);
        }
    }

    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.borrow().is_empty() {
            let output = std::mem::take(&mut *self.output.borrow_mut());
            let result = self.stream.write_all(&output).await;
            // Keep the buffer's capacity for the next messages.
            {
                let mut shared = self.output.borrow_mut();
                if shared.is_empty() {
                    *shared = output;
                    shared.clear();
                }
            }
            result?;
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Sends `err` as a FATAL error and returns the exit code for it.
    pub(super) async fn fatal(&mut self, err: SqlError) -> i32 {
        self.send(PgWireBackendMessage::ErrorResponse(error_response(&SqlError { severity: Severity::Fatal, ..err })));
        let _ = self.flush().await;
        1
    }
}

/// `err` as a FATAL ErrorResponse, encoded: for a refusal written by a process that runs no session (the
/// postmaster, when it will not fork for a client).
pub(super) fn fatal_bytes(err: &SqlError) -> Vec<u8> {
    let mut out = Vec::new();
    encode(
        PgWireBackendMessage::ErrorResponse(error_response(&SqlError { severity: Severity::Fatal, ..err.clone() })),
        &mut out,
    );
    out
}

/// Encodes `message` onto `output` (an encoding failure becomes an internal error message, logged).
fn encode(message: PgWireBackendMessage, output: &mut Vec<u8>) {
    let mut buffer = DataRow::default().data;
    match message.encode(&mut buffer) {
        Ok(()) => output.extend_from_slice(&buffer),
        Err(err) => {
            eprintln!("bgw backend: could not encode a protocol message: {err}");
            let fallback = error_response(&SqlError::error("XX000", "could not encode a protocol message"));
            let mut buffer = DataRow::default().data;
            if PgWireBackendMessage::ErrorResponse(fallback).encode(&mut buffer).is_ok() {
                output.extend_from_slice(&buffer);
            }
        }
    }
}

/// Sends a statement's rows while it runs, from inside the (synchronous) statement: messages are encoded onto the
/// wire's own output buffer (after whatever is queued there, so the order holds) and, past [`SPILL_BYTES`],
/// written to the socket at once, waiting for the client to read if it must. So a result of any size takes a
/// bounded amount of the backend's memory.
pub(super) struct Spill {
    /// A duplicate of the client socket (non-blocking, as the wire's).
    socket: std::fs::File,
    output: Rc<RefCell<Vec<u8>>>,
}

/// How many encoded bytes a statement's rows may queue before they are written to the socket.
pub(super) const SPILL_BYTES: usize = 64 * 1024;

/// The client cannot be written to any more (it went away, or SIGTERM arrived while it did not read).
#[derive(Debug)]
pub(super) struct Lost;

impl Spill {
    /// Queues `message`; writes the queue out once it is large.
    pub(super) fn send(&mut self, message: PgWireBackendMessage) -> Result<(), Lost> {
        encode(message, &mut self.output.borrow_mut());
        if self.output.borrow().len() >= SPILL_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes everything queued, waiting (in 100 ms polls) while the client does not read; gives up when the
    /// socket fails or the backend is asked to terminate.
    fn write_out(&mut self) -> Result<(), Lost> {
        let mut output = self.output.borrow_mut();
        let mut written = 0;
        while written < output.len() {
            match self.socket.write(&output[written..]) {
                Ok(0) => return Err(Lost),
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    use std::os::fd::AsRawFd;
                    let mut fds = [libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLOUT, revents: 0 }];
                    crate::sys::fd::poll(&mut fds, 100);
                    if crate::process::termination_pending() {
                        return Err(Lost);
                    }
                }
                Err(_) => return Err(Lost),
            }
        }
        output.clear();
        Ok(())
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
    info.where_context = err.context.as_deref().map(clip);
    info
}

/// An ErrorResponse for `err`: ERROR unless the error is FATAL.
pub(super) fn error_response(err: &SqlError) -> ErrorResponse {
    let severity = if err.severity == Severity::Fatal { "FATAL" } else { "ERROR" };
    error_info(err, severity).into()
}

/// A NoticeResponse for `notice`: INFO, NOTICE or WARNING.
pub(super) fn notice_response(notice: &SqlError) -> NoticeResponse {
    let severity = match notice.severity {
        Severity::Info => "INFO",
        Severity::Notice => "NOTICE",
        _ => "WARNING",
    };
    error_info(notice, severity).into()
}

pub(super) fn message_name(message: &PgWireFrontendMessage) -> &'static str {
    match message {
        PgWireFrontendMessage::PasswordMessageFamily(_) => "password message",
        PgWireFrontendMessage::Startup(_) => "startup packet",
        PgWireFrontendMessage::CancelRequest(_) => "cancel request",
        PgWireFrontendMessage::SslNegotiation(_) => "SSL negotiation",
        PgWireFrontendMessage::PortalSuspended(_) => "portal suspended",
        _ => "message",
    }
}
