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
