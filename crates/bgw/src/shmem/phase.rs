//! The postmaster's phase, as it publishes it in the segment header ([`super::ShmemHeader::phase`]).
//!
//! # Who writes it, who reads it
//!
//! | side    | who                                | how                                                  |
//! |---------|------------------------------------|------------------------------------------------------|
//! | writer  | the postmaster only                | `phase.store(phase as u32, Release)` on every change |
//! | readers | children attached to shared memory | `phase.load(Acquire)`, compared with a [`Phase`]     |
//!
//! The postmaster keeps its own copy of the phase in its private state and publishes it whenever it changes:
//! when it creates a segment (at start and after each crash, [`Phase::Startup`]), when recovery ends or a standby
//! is promoted ([`Phase::HotStandby`], [`Phase::Run`]), when a crash begins ([`Phase::Crashed`]) and when it stops
//! its children ([`Phase::Stopping`]). It never reads the published word back: a child may have scribbled over it.
//!
//! A reader learns only the phase: nothing else is published with it, and the value may be out of date by the time
//! the reader acts on it (a backend asks whether the host is still a hot standby, and a promotion that lands just
//! after it asked is seen by its next question). A reader compares the word with the values below and treats any
//! other value as "none of these".

/// The postmaster's phase, published in shared memory for children (as u32, in [`super::ShmemHeader::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    /// The startup process is running recovery; only postmaster-start workers run.
    Startup = 0,
    /// Consistent but in recovery (standby): consistent-state workers run too; clients connect read-only.
    HotStandby = 1,
    /// Recovery finished: everything runs.
    Run = 2,
    /// Shutting down.
    Stopping = 3,
    /// A crash: waiting for every child to exit before reinitializing.
    Crashed = 4,
}
