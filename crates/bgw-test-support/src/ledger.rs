//! A witness of acknowledged commits: a client that keeps committing numbered rows while an attack runs, and
//! afterwards checks that every commit the server acknowledged is still there.
//!
//! A guard test starts one ([`Ledger::start`]) before its attack and calls [`Ledger::check`] after it: the promise
//! "no user can make the host lose an acknowledged commit" is then checked by every such test, not only by the
//! durability tests. The writer runs on a thread of its own with its own connection (as the OS user, to the
//! `postgres` database, table `bgw_ledger`); a commit that fails (the attack may refuse new work for a moment) is
//! not acknowledged and is not expected afterwards, and the writer reconnects.

use crate::endpoint::Endpoint;
use crate::os_user;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The running writer.
pub struct Ledger {
    endpoint: Endpoint,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<Vec<i64>>>,
}

impl Ledger {
    /// Creates the table and starts committing one row per transaction, as fast as the server acknowledges.
    pub fn start(endpoint: Endpoint) -> Ledger {
        let mut setup =
            endpoint.client_config(&os_user(), "postgres").connect(postgres::NoTls).expect("ledger: connect");
        setup.batch_execute("CREATE TABLE IF NOT EXISTS bgw_ledger (n bigint PRIMARY KEY)").expect("ledger: table");
        let stop = Arc::new(AtomicBool::new(false));
        let (config, flag) = (endpoint.client_config(&os_user(), "postgres"), stop.clone());
        let writer = std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let mut next = 0i64;
            let mut client = None;
            while !flag.load(Ordering::Relaxed) {
                let c = match &mut client {
                    Some(c) => c,
                    None => match config.connect(postgres::NoTls) {
                        Ok(c) => client.insert(c),
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    },
                };
                next += 1;
                match c.execute(&format!("INSERT INTO bgw_ledger VALUES ({next})"), &[]) {
                    Ok(1) => acknowledged.push(next),
                    _ => client = None,
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            acknowledged
        });
        Ledger { endpoint, stop, writer: Some(writer) }
    }

    /// Stops the writer and checks every acknowledged commit is present; returns how many there were (at least
    /// one: a ledger that acknowledged nothing proves nothing).
    pub fn check(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let acknowledged = self.writer.take().expect("checked once").join().expect("ledger writer");
        assert!(!acknowledged.is_empty(), "the ledger acknowledged no commit while the attack ran");
        let mut reader =
            self.endpoint.client_config(&os_user(), "postgres").connect(postgres::NoTls).expect("ledger: connect");
        let present: std::collections::HashSet<i64> =
            reader.query("SELECT n FROM bgw_ledger", &[]).expect("ledger: read").iter().map(|r| r.get(0)).collect();
        let lost: Vec<i64> = acknowledged.iter().copied().filter(|n| !present.contains(n)).collect();
        assert!(lost.is_empty(), "acknowledged commits lost: {lost:?} of {}", acknowledged.len());
        acknowledged.len()
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}
