//! Running a child process to completion with a deadline, shared by the two test harnesses
//! (`crates/bgw/tests/common` and `tests/support/module_harness.rs`).

use std::process::{Child, Output};
use std::time::Duration;

/// Waits for `child` to exit and collects its output, reading its pipes meanwhile (so an output larger than a
/// pipe's buffer cannot block it); None, with the child killed, if it takes longer than `deadline`.
pub fn output_within(child: Child, deadline: Duration) -> Option<Output> {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => Some(out.unwrap()),
        Err(_) => {
            // SAFETY: kill has no memory preconditions; the pid is our unreaped child (its waiter is blocked).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            None
        }
    }
}
