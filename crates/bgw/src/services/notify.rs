//! LISTEN / NOTIFY of a session: what a transaction queues, and what its commit sends and applies.
//!
//! Runs in a backend process. The queue itself is shared memory ([`crate::shmem::notify`]); a session keeps its
//! channels, its pending notifications and LISTENs, and where it reads the queue, in its [`ShmemHost`].

use super::ShmemHost;
use crate::backend::host::SqlError;
use crate::shmem;
use crate::sync::Ordering;

impl ShmemHost {
    /// NOTIFY / pg_notify: checks the channel and payload, and queues the notification until the transaction
    /// commits.
    pub(super) fn queue_notify(&self, channel: &str, payload: &str) -> Result<(), SqlError> {
        self.pending_notifies
            .borrow_mut()
            .add(channel, payload)
            .map_err(|e| SqlError::error(e.sqlstate(), e.to_string()))
    }

    /// Pre-commit (PostgreSQL's PreCommit_Notify): reserves room in the queue for the transaction's pending
    /// notifications, or fails with ERROR 54000 so that the caller rolls the transaction back.
    pub(super) fn pre_commit_notify(&self) -> Result<(), SqlError> {
        let count = self.pending_notifies.borrow().len();
        // PostgreSQL's error has no DETAIL or HINT.
        shmem::notify::pre_commit(count).map_err(|e| SqlError::error("54000", e.to_string()))
    }

    /// The transaction ended: if it committed, applies its LISTEN / UNLISTEN and publishes its notifications in
    /// the room its pre-commit reserved; otherwise drops them and the reservation.
    pub(super) fn end_notify_transaction(&self, committed: bool) {
        self.savepoint_marks.borrow_mut().clear();
        let listens = std::mem::take(&mut *self.pending_listens.borrow_mut());
        let pending = self.pending_notifies.borrow_mut().take();
        if !committed {
            shmem::notify::release();
            return;
        }
        // Listening first: a session hears what its own transaction sends on a channel it just listened to.
        for (channel, on) in &listens {
            self.apply_listen(channel.as_deref(), *on);
        }
        if let Err(e) = shmem::notify::send(self.db_oid.get(), &pending) {
            // Only a commit that skipped the pre-commit gets here: none of its notifications were sent.
            self.notices.borrow_mut().push(
                SqlError::warning("54000", e.to_string())
                    .with_detail(format!("None of the transaction's {} notifications were sent.", pending.len())),
            );
        }
    }

    /// A savepoint was set (remember what is pending), released (forget the marks from it on) or rolled back to
    /// (drop what was queued since it was set).
    pub(super) fn notify_subtransaction(&self, what: crate::sql::txn::SubXact) {
        use crate::sql::txn::SubXact;
        let mut marks = self.savepoint_marks.borrow_mut();
        match what {
            SubXact::Start(n) => {
                marks.truncate(n);
                marks.push((self.pending_notifies.borrow().len(), self.pending_listens.borrow().len()));
            }
            SubXact::Release(n) => marks.truncate(n),
            SubXact::RollbackTo(n) => {
                if let Some(&(notifies, listens)) = marks.get(n) {
                    self.pending_notifies.borrow_mut().truncate(notifies);
                    self.pending_listens.borrow_mut().truncate(listens);
                }
                marks.truncate(n + 1);
            }
        }
    }

    /// LISTEN / UNLISTEN: take effect when the transaction commits (at once for a statement of its own), as in
    /// PostgreSQL.
    pub(super) fn queue_listen(&self, channel: Option<&str>, on: bool) {
        self.pending_listens.borrow_mut().push((channel.map(str::to_string), on));
    }

    /// Applies a committed LISTEN / UNLISTEN to this session's channels (the first LISTEN starts reading the
    /// queue where it is now).
    pub(super) fn apply_listen(&self, channel: Option<&str>, on: bool) {
        let mut channels = self.listening.borrow_mut();
        if on {
            if channels.is_empty() {
                if let Some(shm) = shmem::attached() {
                    self.read_pos.set(shm.notify_queue().head());
                    if let Some(p) = crate::process::my_proc() {
                        p.set_notify_pos(self.read_pos.get());
                    }
                }
            }
            channels.insert(channel.unwrap_or_default().to_string());
        } else {
            match channel {
                Some(c) => {
                    channels.remove(c);
                }
                None => channels.clear(),
            }
        }
        if let Some(p) = crate::process::my_proc() {
            p.listening.store(!channels.is_empty(), Ordering::Release);
        }
    }
}
