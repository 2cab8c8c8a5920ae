//! What the extended query protocol leaves in a session: statements prepared with Parse and portals bound with
//! Bind (the protocol's steps are in `extended.rs`).
//!
//! Runs in: a backend process.

use std::rc::Rc;

use crate::sql::Statement;

use super::types::{Value, WireColumn};

/// A statement prepared with Parse.
pub(super) struct Prepared {
    /// None for an empty query.
    pub(super) statement: Option<Statement>,
    /// Parameter type OIDs as the client gave them (0: unspecified), one per parameter.
    pub(super) param_oids: Vec<u32>,
    /// The statement as the client wrote it (what `pg_stat_activity.query` shows while it runs).
    pub(super) text: String,
}

pub(super) enum PortalState {
    Ready,
    /// Run, with rows left to send after a row-limited Execute.
    Suspended {
        rows: std::vec::IntoIter<Vec<Value>>,
        tag: String,
    },
    Done,
}

/// A statement bound to its parameters with Bind.
pub(super) struct Portal {
    pub(super) prepared: Rc<Prepared>,
    pub(super) params: Vec<Value>,
    pub(super) columns: Vec<WireColumn>,
    pub(super) state: PortalState,
}
