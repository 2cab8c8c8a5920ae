//! The worker-side runtime: everything that runs in a background worker process, from fork to exit.
//!
//! [`start_background_worker`] is called in the freshly forked child (the counterpart of the spec's
//! `StartBackgroundWorker`): it sets the process title, blocks signals until the worker unblocks them, detaches
//! shared memory for workers without access, installs the spec's default handlers, finds the entry point by
//! (library, function) and calls it with the main argument. Returning from the entry point is exit 0; a panic is
//! an ERROR: logged, exit 1.
//!
//! Default signal handling, as the spec's:
//! - SIGTERM: FATAL "terminating background worker \"%s\" due to administrator command", exit 1 (while an SPI
//!   call waits for a PostgreSQL server, once the server has canceled its statement). A registration with
//!   `BGWORKER_DIE_AT_INTERRUPTS` gets PostgreSQL 19's `die()` instead: a flag, acted on (with the same FATAL) at
//!   the worker's next `CHECK_FOR_INTERRUPTS()`.
//! - SIGQUIT: `_exit(2)` at once (shared memory may be corrupt; the postmaster treats it as a crash).
//! - SIGHUP: sets a flag ([`take_config_reload_request`]) and the latch; the worker reloads when it chooses.
//! - SIGUSR1: sets the latch (notifications from the postmaster arrive this way).
//! - SIGINT, SIGPIPE ignored.
//!
//! Memory: a worker shares the postmaster's pages until it touches them, and each page it touches counts in its
//! memory (Pss): a page it writes is copied, and each first read of code maps a whole block of the executable
//! around it (fault-around, or a large page-cache folio: 64 to 256 KB). So the path from fork to a module's
//! idle loop allocates nothing and formats nothing (see [`start_background_worker`]), and the functions on it, here
//! and in the latch, signal, shared-memory and module-ABI code, are placed together with
//! `#[hot]` (`bgw_macros::hot`: the `.text.hot.bgw_worker` input section, gathered into one `.text.hot` section at link time, see the crate's
//! build script), so that a starting worker maps a few blocks of code instead of one block per function.

pub mod builtin;
#[allow(unsafe_code)] // a forked child's first steps: contracts that hold in a fresh, single-threaded child
pub(crate) mod forked;
pub mod spare;

use crate::bgworker::types::{
    ascii_safe_byte, ascii_safe_cow, before_nul, BackgroundWorker, BGWORKER_SHMEM_ACCESS, BGW_MAXLEN,
};
use crate::elog::{self, Level};
use crate::modules::entry;
use crate::process::my_worker::{self, background_worker_block_signals, my_bgworker_entry};
use crate::sys::signals;
use bgw_macros::hot;
use std::sync::atomic::{AtomicBool, Ordering};

static GOT_SIGHUP: AtomicBool = AtomicBool::new(false);

#[hot]
extern "C" fn handle_sigterm(signo: libc::c_int) {
    if crate::spi::waiting_for_server() {
        // A statement runs on a PostgreSQL server: its interrupt check cancels it there, then the SPI call ends the
        // worker with the same FATAL (crate::modules::spi_abi).
        crate::process::request_termination();
        crate::sys::signals::preserving_errno(crate::latch::set_latch);
        return;
    }
    if my_bgworker_entry().is_some_and(|e| e.bgw_flags & crate::bgworker::types::BGWORKER_DIE_AT_INTERRUPTS != 0) {
        // PostgreSQL 19's die(), asked for by the registration: a flag the next CHECK_FOR_INTERRUPTS() acts on.
        crate::modules::abi::die(signo);
        return;
    }
    signals::block_all_but(0);
    if let Some(entry) = my_bgworker_entry() {
        if elog::enabled(Level::Fatal) {
            // Assembled here, on the stack (byte copies only: async-signal-safe), rather than formatted at start.
            let mut text = [0u8; 160];
            let n = die_message(entry, &mut text);
            elog::write_from_signal_handler(b"FATAL", &text[..n]);
        }
    }
    crate::sys::process::exit_now(1);
}

/// Writes `terminating background worker "<type>" due to administrator command` into `buf` (cut to fit; 160 bytes
/// hold the longest); returns the length. The type is [`crate::bgworker::types::WorkerSpec::display_type`]'s, made ASCII-safe byte by
/// byte as [`crate::bgworker::types::ascii_safe`] does. Async-signal-safe.
#[hot]
fn die_message(entry: &BackgroundWorker, buf: &mut [u8]) -> usize {
    let field = before_nul(if entry.bgw_type[0] == 0 { &entry.bgw_name[..] } else { &entry.bgw_type[..] });
    let mut n = 0;
    let mut put = |b: u8| {
        if n < buf.len() {
            buf[n] = b;
            n += 1;
        }
    };
    b"terminating background worker \"".iter().for_each(|&b| put(b));
    field.iter().for_each(|&b| put(ascii_safe_byte(b)));
    b"\" due to administrator command".iter().for_each(|&b| put(b));
    n
}

#[hot]
extern "C" fn handle_sigquit(_: libc::c_int) {
    // Exit code 2 makes the postmaster treat this as a crash, as the spec says.
    crate::sys::process::exit_now(2);
}

#[hot]
extern "C" fn handle_sighup(_: libc::c_int) {
    GOT_SIGHUP.store(true, Ordering::SeqCst);
    // Also the flag C modules read, so a module that keeps the default handler still sees SIGHUP.
    crate::modules::abi::set_config_reload_pending();
    signals::preserving_errno(crate::latch::set_latch);
}

/// True once per SIGHUP received: the worker should reload its configuration ([`crate::process::reload_config`]).
#[hot]
pub fn take_config_reload_request() -> bool {
    GOT_SIGHUP.swap(false, Ordering::SeqCst)
}

/// A new worker process's way into [`start_background_worker`], whether it was forked for this worker or was a
/// spare handed it: optionally give the CPU away once (see the postmaster's launch loop), set up the latch and
/// postmaster-death handling, run the worker. Never returns.
#[inline]
#[hot]
pub fn enter_worker(
    raw: BackgroundWorker,
    found: Option<entry::EntryPoint>,
    yield_first: bool,
    postmaster_death: std::os::fd::RawFd,
) -> ! {
    if yield_first {
        signals::yield_cpu();
    }
    crate::latch::init_child(postmaster_death, crate::latch::OnPostmasterDeath::WakeThenExit);
    start_background_worker(raw, found)
}

/// Runs a worker in a freshly forked child. Never returns.
///
/// The path to the entry point allocates nothing and formats nothing: the registration goes to static storage, the
/// title is assembled in a stack buffer, the SIGTERM message is written by the handler itself, and the entry point
/// is found from the names as they are in the registration. A forked child shares the postmaster's pages until it
/// writes them, and every page it touches, code included, counts in its memory: what a worker does not run
/// before it reaches its entry point costs it nothing.
///
/// `found`: the entry point, when the process that forked this one had already found it (a forked child's memory
/// is a copy of its parent's, so the address is valid here); None: looked up here from the registration's names.
#[hot]
pub fn start_background_worker(raw: BackgroundWorker, found: Option<entry::EntryPoint>) -> ! {
    background_worker_block_signals();
    let entry = my_worker::publish_entry(raw);
    crate::modules::abi::set_my_bgworker_entry(my_worker::my_bgworker_entry_ptr());
    set_title(entry);
    // The panic hook (ERROR reports) is the postmaster's, inherited.

    if entry.bgw_flags & BGWORKER_SHMEM_ACCESS == 0 {
        crate::shmem::detach();
    }

    signals::install(libc::SIGTERM, handle_sigterm, &[]);
    signals::install(libc::SIGQUIT, handle_sigquit, &[]);
    signals::install(libc::SIGHUP, handle_sighup, &[]);
    signals::ignore(libc::SIGINT);
    signals::ignore(libc::SIGPIPE);
    signals::default(libc::SIGCHLD);

    let main = match found {
        Some(f) => f,
        None => {
            let library = ascii_safe_cow(&entry.bgw_library_name);
            let function = ascii_safe_cow(&entry.bgw_function_name);
            match entry::lookup(&library, &function) {
                Ok(f) => f,
                Err(e) => {
                    elog::Report::new(Level::Error, e.to_string()).emit();
                    crate::process::exit(1);
                }
            }
        }
    };
    let arg = entry.bgw_main_arg;
    // An entry point that returns ends the worker as PostgreSQL's `proc_exit(0)` after it: the modules' exit
    // callbacks run (with code 1 after a panic, which the panic hook has logged as an ERROR).
    let code = match std::panic::catch_unwind(move || main.call(arg)) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    crate::modules::abi::run_exit_callbacks(code);
    crate::process::exit(code)
}

/// Sets the title `bgw: <name>` (the name made ASCII-safe as [`crate::bgworker::types::WorkerSpec::sanitized_from`] does).
#[hot]
fn set_title(entry: &BackgroundWorker) {
    const PREFIX: &[u8] = b"bgw: ";
    let mut title = [0u8; PREFIX.len() + BGW_MAXLEN];
    title[..PREFIX.len()].copy_from_slice(PREFIX);
    let name = before_nul(&entry.bgw_name);
    for (dst, &b) in title[PREFIX.len()..].iter_mut().zip(name) {
        *dst = ascii_safe_byte(b);
    }
    crate::sys::proctitle::set_bytes(&title[..PREFIX.len() + name.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgworker::types::WorkerSpec;

    fn field<const N: usize>(s: &[u8]) -> [u8; N] {
        let mut f = [0u8; N];
        f[..s.len()].copy_from_slice(s);
        f
    }

    #[test]
    fn die_message_names_the_type_or_else_the_name() {
        let mut w = BackgroundWorker::zeroed();
        w.bgw_name = field(b"my name");
        let mut buf = [0u8; 160];
        let n = die_message(&w, &mut buf);
        assert_eq!(&buf[..n], b"terminating background worker \"my name\" due to administrator command");
        w.bgw_type = field(b"t\xe9pe");
        let n = die_message(&w, &mut buf);
        assert_eq!(&buf[..n], b"terminating background worker \"t?pe\" due to administrator command");
        let spec = WorkerSpec::sanitized_from(&w);
        let expected =
            format!("terminating background worker \"{}\" due to administrator command", spec.display_type());
        assert_eq!(&buf[..n], expected.as_bytes());
        // The longest type fits whole.
        w.bgw_type = [b'x'; BGW_MAXLEN];
        let n = die_message(&w, &mut buf);
        assert!(buf[..n].ends_with(b"\" due to administrator command"));
    }
}
