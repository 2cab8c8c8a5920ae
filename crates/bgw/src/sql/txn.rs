//! PostgreSQL's transaction rules, on top of an engine whose own transactions are simpler (SQLite's).
//!
//! A session is idle, in a transaction block, or in a *failed* block: after an error inside a block PostgreSQL
//! refuses every statement (SQLSTATE 25P02) until the block ends; `COMMIT` (or `ROLLBACK`) then rolls back, and
//! `ROLLBACK TO` a savepoint recovers the block. `COMMIT` or `ROLLBACK` outside a block and `BEGIN` inside one
//! are warnings, not errors. [`Tracker`] keeps the failed flag the engine itself does not know, and [`gate`] says
//! what a statement of a kind may do in a state. [`Savepoints`] keeps a block's savepoints by PostgreSQL's rules
//! (names are case-sensitive identifiers, the same name may be used twice and the latest wins, none outside a
//! block) and names them for the engine, whose own savepoint names are case-insensitive. Both front-ends use them: client sessions for every statement,
//! SPI for its statements (it runs no transaction control through `SPI_execute`).
//!
//! Runs in: any process that runs SQL.

use super::error::SqlError;
use super::statement::Kind;
use super::statement::Statement;
use super::utility::{savepoint_command, SavepointCommand};

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

/// What a savepoint command did to the block's savepoints, as [`super::Hooks::subtransaction`] hears it.
/// Savepoints are numbered from 0, the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubXact {
    /// Savepoint `n` was set (there are `n + 1` now).
    Start(usize),
    /// Savepoint `n` and the later ones were released (there are `n` now).
    Release(usize),
    /// The block went back to savepoint `n`, which stays (there are `n + 1` now).
    RollbackTo(usize),
}

/// The first statement of `sql` as a savepoint command the engine runs through [`Savepoints`] (its text kept
/// for [`savepoint_of`]), with its byte length; None for anything else.
pub fn savepoint_statement(sql: &str) -> Option<(Statement, usize)> {
    let (command, len) = savepoint_command(sql)?;
    let kind = match command {
        SavepointCommand::RollbackTo(_) => Kind::RollbackTo,
        _ => Kind::Other(command.tag().to_string()),
    };
    let text = sql[..len].trim_end().trim_end_matches(';');
    Some((Statement::bare(text, kind), len))
}

/// The savepoint command a statement from [`savepoint_statement`] holds.
pub fn savepoint_of(statement: &Statement) -> Option<SavepointCommand> {
    match &statement.kind {
        Kind::RollbackTo => {}
        Kind::Other(tag) if tag == "SAVEPOINT" || tag == "RELEASE" => {}
        _ => return None,
    }
    savepoint_command(&statement.sql).map(|(command, _)| command)
}

/// PostgreSQL's transaction control that bgw does not do, with the error it answers instead of running something
/// else: `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` (0A000), two-phase commit (`PREPARE TRANSACTION`: 55000, as a
/// PostgreSQL with `max_prepared_transactions = 0`; `COMMIT PREPARED` / `ROLLBACK PREPARED`: 42704, none exists).
pub fn refused_transaction_control(sql: &str) -> Option<SqlError> {
    let first = super::lexer::leading_words(sql).next()?;
    if !matches!(first.as_str(), "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "PREPARE") {
        return None;
    }
    let words: Vec<String> = super::lexer::leading_words(sql).collect();
    let first = words.first()?.as_str();
    let has = |w: &str| words.iter().any(|x| x == w);
    match first {
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" if has("CHAIN") && !has("NO") && !has("TO") => {
            let what = if matches!(first, "COMMIT" | "END") { "COMMIT" } else { "ROLLBACK" };
            Some(SqlError::error("0A000", format!("{what} AND CHAIN is not supported")))
        }
        "PREPARE" if words.get(1).map(String::as_str) == Some("TRANSACTION") => {
            Some(SqlError::error("55000", "prepared transactions are disabled"))
        }
        "COMMIT" | "ROLLBACK" if words.get(1).map(String::as_str) == Some("PREPARED") => {
            let id = super::session::tokens_at(sql).and_then(|(toks, _)| {
                toks.into_iter().find_map(|(t, _)| if let super::session::Tok::Str(s) = t { Some(s) } else { None })
            });
            Some(SqlError::error(
                "42704",
                format!("prepared transaction with identifier \"{}\" does not exist", id.unwrap_or_default()),
            ))
        }
        _ => None,
    }
}

/// The savepoints of the open transaction block, oldest first.
#[derive(Debug, Default, Clone)]
pub struct Savepoints {
    names: Vec<String>,
}

impl Savepoints {
    /// The engine's name for savepoint `n`.
    fn engine_name(n: usize) -> String {
        format!("bgw_savepoint_{n}")
    }

    /// How many there are (0: the block's top level, PostgreSQL's top transaction).
    pub fn depth(&self) -> usize {
        self.names.len()
    }

    /// The block ended: no savepoints.
    pub fn clear(&mut self) {
        self.names.clear();
    }

    /// What `command` takes: the engine's statement to run and what it does; PostgreSQL's errors outside a block
    /// (25P01) and for an unknown name (3B001). Nothing changes until [`Savepoints::done`].
    pub fn plan(&self, command: &SavepointCommand, in_block: bool) -> Result<(String, SubXact), SqlError> {
        if !in_block {
            let what = match command {
                SavepointCommand::Savepoint(_) => "SAVEPOINT",
                SavepointCommand::Release(_) => "RELEASE SAVEPOINT",
                SavepointCommand::RollbackTo(_) => "ROLLBACK TO SAVEPOINT",
            };
            return Err(SqlError::error("25P01", format!("{what} can only be used in transaction blocks")));
        }
        let find = || {
            self.names
                .iter()
                .rposition(|n| n == command.name())
                .ok_or_else(|| SqlError::error("3B001", format!("savepoint \"{}\" does not exist", command.name())))
        };
        Ok(match command {
            SavepointCommand::Savepoint(_) => {
                let n = self.names.len();
                (format!("SAVEPOINT {}", Self::engine_name(n)), SubXact::Start(n))
            }
            SavepointCommand::Release(_) => {
                let n = find()?;
                (format!("RELEASE {}", Self::engine_name(n)), SubXact::Release(n))
            }
            SavepointCommand::RollbackTo(_) => {
                let n = find()?;
                (format!("ROLLBACK TO {}", Self::engine_name(n)), SubXact::RollbackTo(n))
            }
        })
    }

    /// The engine ran what [`Savepoints::plan`] gave for `command`.
    pub fn done(&mut self, command: &SavepointCommand, what: SubXact) {
        match what {
            SubXact::Start(_) => self.names.push(command.name().to_string()),
            SubXact::Release(n) => self.names.truncate(n),
            SubXact::RollbackTo(n) => self.names.truncate(n + 1),
        }
    }
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

    #[test]
    fn refused_control() {
        let code = |sql: &str| refused_transaction_control(sql).map(|e| e.code);
        assert_eq!(code("COMMIT AND CHAIN"), Some("0A000"));
        assert_eq!(code("rollback work and chain"), Some("0A000"));
        assert_eq!(code("COMMIT AND NO CHAIN"), None);
        assert_eq!(code("PREPARE TRANSACTION 'x'"), Some("55000"));
        let err = refused_transaction_control("COMMIT PREPARED 'x'").unwrap();
        assert_eq!(err.message, "prepared transaction with identifier \"x\" does not exist");
        assert_eq!(code("COMMIT"), None);
        assert_eq!(code("ROLLBACK TO chain"), None);
    }

    #[test]
    fn savepoints_by_postgres_rules() {
        let sp = |n: &str| SavepointCommand::Savepoint(n.into());
        let mut s = Savepoints::default();
        assert_eq!(s.plan(&sp("a"), false).unwrap_err().code, "25P01");
        let err = s.plan(&SavepointCommand::Release("a".into()), false).unwrap_err();
        assert_eq!(err.message, "RELEASE SAVEPOINT can only be used in transaction blocks");
        for name in ["a", "A", "a", "b"] {
            let (sql, what) = s.plan(&sp(name), true).unwrap();
            assert!(sql.starts_with("SAVEPOINT bgw_savepoint_"));
            s.done(&sp(name), what);
        }
        let back = SavepointCommand::RollbackTo("a".into());
        assert_eq!(s.plan(&back, true).unwrap(), ("ROLLBACK TO bgw_savepoint_2".into(), SubXact::RollbackTo(2)));
        s.done(&back, SubXact::RollbackTo(2));
        assert_eq!(s.depth(), 3);
        let release = SavepointCommand::Release("A".into());
        let (_, what) = s.plan(&release, true).unwrap();
        s.done(&release, what);
        assert_eq!(s.depth(), 1);
        let err = s.plan(&SavepointCommand::RollbackTo("b".into()), true).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), ("3B001", "savepoint \"b\" does not exist"));
    }
}
