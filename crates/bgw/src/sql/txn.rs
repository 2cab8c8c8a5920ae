//! PostgreSQL's transaction rules, on top of an engine whose own transactions are simpler (SQLite's).
//!
//! A session is idle, in a transaction block, or in a *failed* block: after an error inside a block PostgreSQL
//! refuses every statement (SQLSTATE 25P02) until the block ends; `COMMIT` (or `ROLLBACK`) then rolls back, and
//! `ROLLBACK TO` a savepoint recovers the block. `COMMIT` or `ROLLBACK` outside a block and `BEGIN` inside one
//! are warnings, not errors. [`Tracker`] keeps the failed flag the engine itself does not know, and [`gate`] says
//! what a statement of a kind may do in a state. Both front-ends use them: client sessions for every statement,
//! SPI for its statements (it runs no transaction control through `SPI_execute`).
//!
//! Runs in: any process that runs SQL.

use super::error::SqlError;
use super::statement::Kind;

/// Transaction state, as ReadyForQuery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    Idle,
    InBlock,
    Failed,
}

/// The failed flag of a transaction block; the engine says whether a block is open.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tracker {
    failed: bool,
}

impl Tracker {
    /// The state, given whether the engine is in autocommit mode (no block open).
    pub fn state(&self, autocommit: bool) -> TxState {
        if autocommit {
            TxState::Idle
        } else if self.failed {
            TxState::Failed
        } else {
            TxState::InBlock
        }
    }

    /// Whether the block failed (and has not ended through [`Tracker::reset`] or a statement outside a block).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// A statement failed: an open block is failed now.
    pub fn statement_failed(&mut self, autocommit: bool) {
        if !autocommit {
            self.failed = true;
        }
    }

    /// A statement of `kind` finished (well or not): outside a block nothing is failed any more, and a successful
    /// `ROLLBACK TO` recovers a failed block.
    pub fn statement_done(&mut self, autocommit: bool, kind: &Kind, ok: bool) {
        if autocommit {
            self.failed = false;
        } else if !ok {
            self.failed = true;
        } else if *kind == Kind::RollbackTo {
            self.failed = false;
        }
    }

    /// The caller failed the block itself (an error it raised, not the engine).
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The block ended (committed or rolled back through the engine's API) or a new one begins.
    pub fn reset(&mut self) {
        self.failed = false;
    }

    /// Forgets the flag and says whether it was set.
    pub fn take(&mut self) -> bool {
        std::mem::take(&mut self.failed)
    }
}

/// What a statement of a given kind does in a given state, before it reaches the engine.
#[derive(Debug, PartialEq)]
pub enum Gate {
    /// Run it.
    Run,
    /// A failed block ends with a rollback, whatever `COMMIT` or `ROLLBACK` asked for; the tag is ROLLBACK.
    RollBackFailed,
    /// Refused: the block failed (25P02).
    Refuse(SqlError),
    /// Not run: only this warning, and the statement's own tag.
    Warn(SqlError, &'static str),
}

/// PostgreSQL's rules for a statement of `kind` in `state`.
pub fn gate(state: TxState, kind: &Kind) -> Gate {
    match (state, kind) {
        (TxState::Failed, Kind::Commit | Kind::Rollback) => Gate::RollBackFailed,
        (TxState::Failed, Kind::RollbackTo) => Gate::Run,
        (TxState::Failed, _) => Gate::Refuse(aborted()),
        (TxState::Idle, Kind::Commit | Kind::Rollback) => Gate::Warn(
            SqlError::warning("25P01", "there is no transaction in progress"),
            if *kind == Kind::Commit { "COMMIT" } else { "ROLLBACK" },
        ),
        (TxState::InBlock, Kind::Begin) => {
            Gate::Warn(SqlError::warning("25001", "there is already a transaction in progress"), "BEGIN")
        }
        _ => Gate::Run,
    }
}

/// The error for a statement in a failed block (25P02).
pub fn aborted() -> SqlError {
    SqlError::error("25P02", "current transaction is aborted, commands ignored until end of transaction block")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(gate(TxState::Failed, &Kind::Commit), Gate::RollBackFailed);
        assert_eq!(gate(TxState::Failed, &Kind::Rollback), Gate::RollBackFailed);
        assert_eq!(gate(TxState::Failed, &Kind::RollbackTo), Gate::Run);
        assert!(matches!(gate(TxState::Failed, &Kind::Query), Gate::Refuse(e) if e.code == "25P02"));
        assert!(matches!(gate(TxState::Idle, &Kind::Commit), Gate::Warn(e, "COMMIT") if e.code == "25P01"));
        assert!(matches!(gate(TxState::Idle, &Kind::Rollback), Gate::Warn(_, "ROLLBACK")));
        assert!(matches!(gate(TxState::InBlock, &Kind::Begin), Gate::Warn(e, "BEGIN") if e.code == "25001"));
        assert_eq!(gate(TxState::Idle, &Kind::Begin), Gate::Run);
        let mut t = Tracker::default();
        t.statement_failed(true);
        assert_eq!(t.state(false), TxState::InBlock, "an error outside a block fails nothing");
        t.statement_failed(false);
        assert_eq!(t.state(false), TxState::Failed);
        t.statement_done(false, &Kind::RollbackTo, true);
        assert_eq!(t.state(false), TxState::InBlock);
        t.statement_done(false, &Kind::Query, false);
        assert!(t.take());
        assert_eq!(t.state(false), TxState::InBlock);
    }
}
