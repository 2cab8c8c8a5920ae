//! The session loop: the startup phase (startup packet, rejection, authentication), then one frontend message
//! at a time to the [`Session`] state machine, with the SIGTERM listener and the host's wake-up (notifications to
//! deliver) while the session waits for the client.
//!
//! Runs in: a backend process.

use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::host::{HostServices, Severity, SqlError};
use super::session::{terminating, Session};
use super::wire::{message_name, protocol_violation, Wire};

/// How long a client may take from its connection to being authenticated: `authentication_timeout` (PostgreSQL's
/// default, one minute, where no setting is loaded).
fn authentication_timeout() -> Duration {
    match crate::process::setting_int("authentication_timeout") {
        secs if secs > 0 => Duration::from_secs(secs as u64),
        _ => Duration::from_secs(60),
    }
}

/// A client that did not authenticate within `authentication_timeout`: as PostgreSQL's, the FATAL goes to the log
/// only (the client is not told) and the connection is closed.
fn authentication_timed_out() -> i32 {
    crate::elog::Report::new(crate::elog::Level::Fatal, "canceling authentication due to timeout").emit();
    1
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
    // The clock runs from the accept (the fork follows it at once) to the end of authentication.
    let deadline = tokio::time::Instant::now() + authentication_timeout();
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
        startup = tokio::time::timeout_at(deadline, wire.read_startup()) => startup,
    };
    let parameters = match startup {
        // A client that never completed its startup packet: closed without a word, as PostgreSQL does.
        Err(_elapsed) => return 1,
        Ok(Err(ended)) => return ended.exit_code(&mut wire).await,
        Ok(Ok(parameters)) => parameters,
    };
    if let Some(err) = reject {
        return wire.fatal(err).await;
    }
    if wire.is_tcp() {
        let user = parameters.get("user").cloned().unwrap_or_default();
        let exchange = tokio::select! {
            biased;
            _ = next_sigterm(&mut sigterm) => return wire.fatal(terminating()).await,
            exchange = tokio::time::timeout_at(deadline, scram_authenticate(&mut wire, &*host, &user)) => exchange,
        };
        match exchange {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return wire.fatal(err).await,
            Err(_elapsed) => return authentication_timed_out(),
        }
    }
    if let Err(err) = super::session::admit(&wire, &*host, &parameters) {
        return wire.fatal(err).await;
    }
    if let Some(connection) = host.remote_connection() {
        // A database on a PostgreSQL server: the rest of the session is the server's.
        let database = super::session::startup_names(&parameters).map(|(_, d)| d.to_owned()).unwrap_or_default();
        drop(sigterm);
        return match wire.into_parts().await {
            Ok((client, pending)) => {
                super::relay::run(client, pending, &*host, &parameters, &database, &connection).await
            }
            Err(_) => 0,
        };
    }
    let mut session = match Session::start(&wire, host, &parameters) {
        Ok(session) => session,
        Err(err) => return wire.fatal(err).await,
    };
    let wakeup = session.host.wakeup_fd().and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok());
    // When the session last became idle (ReadyForQuery sent, no message since), for the idle timeouts.
    let mut idle_since: Option<tokio::time::Instant> = None;
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
                // Idle: wait for the client, SIGTERM, the idle timeout, or the host's wake-up (notifications to
                // deliver). A cancel that arrives now finds nothing to cancel and is dropped, as in PostgreSQL.
                session.host.idle_wait(true);
                crate::process::interrupts::clear_cancel();
                let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                let (limit, timed_out) = idle_timeout(session.engine.tx_state());
                let woke = tokio::select! {
                    biased;
                    _ = next_sigterm(&mut sigterm) => return wire.fatal(terminating()).await,
                    _ = sleep_until(limit.map(|l| since + l)) => return wire.fatal(timed_out).await,
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
        idle_since = None;
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
/// same exchange, with a salt derived from the server secret and the name (as stable as a real role's), and fail
/// at the end with the same message, as PostgreSQL's mock authentication does.
async fn scram_authenticate(wire: &mut Wire, host: &dyn HostServices, user: &str) -> Result<(), SqlError> {
    let verifier = host.password_verifier(user).and_then(|v| super::scram::Verifier::parse(&v)).unwrap_or_else(|| {
        super::scram::Verifier::mock(user, crate::catalog::secret::read_secret(crate::process::data_dir()).as_ref())
    });
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
    let server_final = super::scram::server_final(&exchange, &response.data, &verifier)
        .map_err(|_| password_authentication_failed(user))?;
    wire.send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(server_final.into_bytes().into())));
    Ok(())
}

/// A failed password exchange: PostgreSQL's FATAL to the client, and to the log with the reason the client is not
/// told (PostgreSQL's DETAIL: the role does not exist, or has no password; none for a wrong password).
fn password_authentication_failed(user: &str) -> SqlError {
    let message = format!("password authentication failed for user \"{user}\"");
    let detail = crate::catalog::Catalog::open(crate::process::data_dir()).ok().and_then(|c| match c.role(user) {
        Ok(None) => Some(format!("Role \"{user}\" does not exist.")),
        Ok(Some(_)) if matches!(c.password_verifier(user), Ok(None)) => {
            Some(format!("User \"{user}\" has no password assigned."))
        }
        _ => None,
    });
    let mut report = crate::elog::Report::new(crate::elog::Level::Fatal, message.clone());
    if let Some(detail) = detail {
        report = report.detail(detail);
    }
    report.emit();
    SqlError::fatal("28P01", message)
}

/// The idle timeout for a session in transaction state `state` (None: off) and the FATAL error it ends the session
/// with: `idle_session_timeout` outside a transaction block, `idle_in_transaction_session_timeout` inside one.
fn idle_timeout(state: crate::sql::TxState) -> (Option<Duration>, SqlError) {
    use crate::process::interrupts::timeout_setting;
    match state {
        crate::sql::TxState::Idle => (
            timeout_setting("idle_session_timeout"),
            SqlError::fatal("57P05", "terminating connection due to idle-session timeout"),
        ),
        _ => (
            timeout_setting("idle_in_transaction_session_timeout"),
            SqlError::fatal("25P03", "terminating connection due to idle-in-transaction timeout"),
        ),
    }
}

/// Resolves at `deadline`; never without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
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
