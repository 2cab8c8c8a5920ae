//! The session's cache of translated queries: a query that comes again with other integer literals (pgbench's
//! `SELECT abalance FROM pgbench_accounts WHERE aid = 12345`) is found by its shape ([`crate::sql::lexer::shape`]:
//! one lexing pass), bound and run, without parsing, translating or compiling it again.
//!
//! Invariants, so that a hit always gives the answer a fresh translation would:
//! - An entry is the translation of one text. Its literals that the translator turned into parameters (see
//!   [`crate::sql::pg::translate_with_literals`]: only integers used as plain values of their own type) match any
//!   literal of the same type (int4 or int8 by its range); every other literal matches only its own digits.
//! - Only successful translations of read-only queries are kept (an error is reported again by a new
//!   translation), only those that read nothing but the relations' columns, and only those that come out the same
//!   when translated again with other values in their parameterised literals (the engine checks on a miss).
//! - Everything a translation depends on besides its text is in the [`Stamp`] it was made under (SQLite's
//!   schema version, which another session's DDL changes too; the session's identity and recovery state); a
//!   lookup under another stamp empties the cache. The engine also empties it after any statement that may change
//!   the schema or the session's state without changing the version the same way (DDL, a rollback, SET, ...).
//! - Bounded: emptied when it holds [`CAPACITY`] entries.
//!
//! Runs in: a backend process (a client session speaking PostgreSQL's SQL).

use std::collections::HashMap;

use crate::sql::lexer::Shape;
use crate::sql::statement::Statement;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// How many shapes a session keeps.
pub(super) const CAPACITY: usize = 256;

/// What a translation depends on besides its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    /// SQLite's `PRAGMA schema_version`.
    pub schema_version: i64,
    pub in_recovery: bool,
    /// The session's user and database.
    pub identity: (String, String),
}

/// What an entry requires of each literal of its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    /// Used as written: only these digits match.
    Inline(String),
    /// A parameter: any literal of this type matches.
    Param(PgType),
}

#[derive(Debug)]
struct Entry {
    statement: Statement,
    /// Whether its schema version may be checked when it runs rather than before (see
    /// [`TranslationCache::lookup`]): its SQL calls no function, so its first step has no effect to undo.
    checked_when_run: bool,
    literals: Vec<Literal>,
    /// For each parameter `?j` of the statement, the literal it takes.
    slots: Vec<usize>,
}

/// The translations of one session, by shape.
#[derive(Debug, Default)]
pub(super) struct TranslationCache {
    entries: HashMap<String, Entry>,
    stamp: Option<Stamp>,
}

/// Whether SQLite SQL may call a function (or anything else whose effect a second run would repeat): any `(`
/// after a name or a quoted name, except after the keywords that open a parenthesis without calling anything.
/// Errs towards yes (a string holding `x(` counts).
pub(super) fn calls_functions(sql: &str) -> bool {
    const OPENERS: &[&str] = &["WHERE", "AND", "OR", "NOT", "ON", "IN", "SELECT", "FROM", "BY", "HAVING", "WHEN"];
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().filter(|(_, &b)| b == b'(').any(|(at, _)| {
        let before = sql[..at].trim_end();
        match before.as_bytes().last() {
            Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => {
                let word = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
                let quoted = before[..before.len() - word.len()].ends_with(['"', '`', ']']);
                quoted || !OPENERS.iter().any(|k| k.eq_ignore_ascii_case(word))
            }
            Some(b'"' | b'`' | b']' | b'\'') => true,
            Some(b) => *b >= 0x80,
            None => false,
        }
    })
}

/// The type PostgreSQL gives an integer literal: int4 in its range, else int8; None past int8 (numeric).
fn literal_type(digits: &str) -> Option<PgType> {
    let value = digits.parse::<i64>().ok()?;
    Some(if i32::try_from(value).is_ok() { PgType::Int4 } else { PgType::Int8 })
}

impl TranslationCache {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a statement of this shape may be here (a lookup still checks its literals).
    pub fn contains(&self, shape: &Shape) -> bool {
        self.entries.contains_key(&shape.key)
    }

    /// The stamp the entries were made under.
    pub fn stamp(&self) -> Option<&Stamp> {
        self.stamp.as_ref()
    }

    /// Whether the entry for `shape` may have its schema version checked when it runs (see [`Self::lookup`]).
    pub fn checked_when_run(&self, shape: &Shape) -> bool {
        self.entries.get(&shape.key).is_some_and(|entry| entry.checked_when_run)
    }

    /// Empties the cache if `stamp` is not the one its entries were made under.
    pub fn validate(&mut self, stamp: &Stamp) {
        if self.stamp.as_ref() != Some(stamp) {
            self.entries.clear();
            self.stamp = None;
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.stamp = None;
    }

    /// The statement for `sql` (whose shape is `shape`), with its literals' values bound, if an entry matches it.
    /// The caller has validated the cache first.
    pub fn lookup(&self, sql: &str, shape: &Shape) -> Option<Statement> {
        let entry = self.entries.get(&shape.key)?;
        if entry.literals.len() != shape.literals.len() {
            return None;
        }
        for (want, found) in entry.literals.iter().zip(&shape.literals) {
            let digits = &sql[found.start..found.end];
            let matches = match want {
                Literal::Inline(text) => text == digits,
                Literal::Param(ty) => literal_type(digits) == Some(*ty),
            };
            if !matches {
                return None;
            }
        }
        let mut statement = entry.statement.clone();
        statement.literals = entry
            .slots
            .iter()
            .map(|&k| {
                let found = &shape.literals[k];
                sql[found.start..found.end].parse::<i64>().map_or(Value::Null, Value::Integer)
            })
            .collect();
        Some(statement)
    }

    /// Keeps `statement`, the translation of `sql` (of shape `shape`) made under `stamp`, whose parameter `?j`
    /// takes literal `slots[j - 1]`.
    pub fn insert(&mut self, stamp: Stamp, sql: &str, shape: Shape, statement: &Statement, slots: &[usize]) {
        if self.stamp.as_ref() != Some(&stamp) {
            self.entries.clear();
        }
        if self.entries.len() >= CAPACITY {
            self.entries.clear();
        }
        let mut literals = Vec::with_capacity(shape.literals.len());
        for (k, found) in shape.literals.iter().enumerate() {
            let digits = &sql[found.start..found.end];
            literals.push(match literal_type(digits) {
                Some(ty) if slots.contains(&k) => Literal::Param(ty),
                // A parameter is always an int4 or int8 literal: anything else is not this cache's to keep.
                None if slots.contains(&k) => return,
                _ => Literal::Inline(digits.to_owned()),
            });
        }
        let statement = Statement { literals: Vec::new(), schema_check: None, ..statement.clone() };
        self.stamp = Some(stamp);
        let checked_when_run = !calls_functions(&statement.sql);
        self.entries.insert(shape.key, Entry { statement, checked_when_run, literals, slots: slots.to_vec() });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, Options, SqliteEngine};
    use crate::sql::lexer::shape;
    use crate::sql::{SqlError, Value};

    fn open(path: &std::path::Path) -> SqliteEngine {
        let conn = SqliteEngine::open_sandboxed(Some(path), |_| Ok(())).unwrap();
        SqliteEngine::new(conn, Options::CLIENT_POSTGRES)
    }

    /// Every row of `sql`'s result, and whether its statement came from the cache.
    fn query(engine: &mut SqliteEngine, sql: &str) -> Result<(Vec<Vec<Value>>, bool), SqlError> {
        let cached = engine.cached(sql)?.is_some();
        let (statement, _) = engine.prepare(sql)?.expect("a statement");
        let done = crate::sql::execute_collecting(engine, &statement, &[])?;
        Ok((done.rows.unwrap_or_default(), cached))
    }

    /// `sql` run on an engine whose cache is emptied first: the answer without the cache.
    fn uncached(engine: &mut SqliteEngine, sql: &str) -> Result<Vec<Vec<Value>>, SqlError> {
        engine.cache.get_mut().clear();
        let (statement, _) = engine.prepare(sql)?.expect("a statement");
        engine.cache.get_mut().clear();
        Ok(crate::sql::execute_collecting(engine, &statement, &[])?.rows.unwrap_or_default())
    }

    #[test]
    fn a_query_of_the_same_shape_is_found_and_answers_as_a_fresh_translation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut e = open(&path);
        let mut fresh = open(&path);
        for sql in ["CREATE TABLE t (a int, b text, c bigint)", "INSERT INTO t VALUES (1, 'x', 10), (2, 'y', 20)"] {
            query(&mut e, sql).unwrap();
        }
        let mut check = |sql: &str, hit: bool| {
            let (rows, cached) = query(&mut e, sql).unwrap();
            assert_eq!(cached, hit, "{sql}: from the cache");
            assert_eq!(rows, uncached(&mut fresh, sql).unwrap(), "{sql}");
            rows
        };
        check("SELECT b FROM t WHERE a = 1", false);
        assert_eq!(check("SELECT b FROM t WHERE a = 2", true), [[Value::Text("y".into())]]);
        assert_eq!(check("SELECT b FROM t WHERE a = 3;", true), Vec::<Vec<Value>>::new());
        // Another type for the literal (int8): another translation.
        check("SELECT b FROM t WHERE a = 5000000000", false);
        check("SELECT b FROM t WHERE a = 6000000000", true);
        // An ordinal, a LIMIT, a typed literal, a literal under a unary minus, arithmetic: their digits count.
        check("SELECT a, b FROM t WHERE a > 0 ORDER BY 1", false);
        check("SELECT a, b FROM t WHERE a > 0 ORDER BY 2", false);
        check("SELECT a, b FROM t WHERE a > 1 ORDER BY 2", true);
        check("SELECT a FROM t WHERE a > 0 LIMIT 1", false);
        check("SELECT a FROM t WHERE a > 0 LIMIT 2", false);
        check("SELECT a FROM t WHERE a = 1::int8", false);
        check("SELECT a FROM t WHERE a = 2::int8", false);
        check("SELECT a FROM t WHERE a = -1", false);
        check("SELECT a FROM t WHERE a = -2", false);
        check("SELECT a + 1 FROM t WHERE c = 10", false);
        check("SELECT a + 2 FROM t WHERE c = 10", false);
        // An int4 literal compared with an int8 column is converted: its digits count too.
        check("SELECT a + 2 FROM t WHERE c = 20", false);
        check("SELECT a + 2 FROM t WHERE c = 5000000000", false);
        check("SELECT a + 2 FROM t WHERE c = 5000000001", true);
        check("SELECT 1 = 1, 2 < 1", false);
        check("SELECT 3 = 1, 0 < 1", true);
        // Errors are reported again, not kept.
        for _ in 0..2 {
            let err = query(&mut e, "SELECT nope FROM t WHERE a = 1").unwrap_err();
            assert_eq!(err.code, "42703");
        }
        assert!(!e.cache.borrow().contains(&shape("SELECT nope FROM t WHERE a = 1").unwrap()));
    }

    #[test]
    fn another_sessions_ddl_and_this_sessions_rollback_empty_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut e = open(&path);
        let mut other = open(&path);
        query(&mut e, "CREATE TABLE t (a int, b text)").unwrap();
        query(&mut e, "INSERT INTO t VALUES (1, 'x')").unwrap();
        assert_eq!(query(&mut e, "SELECT * FROM t WHERE a = 1").unwrap().0[0].len(), 2);
        assert!(query(&mut e, "SELECT * FROM t WHERE a = 2").unwrap().1);
        query(&mut other, "ALTER TABLE t ADD COLUMN c int").unwrap();
        let (rows, _) = query(&mut e, "SELECT * FROM t WHERE a = 1").unwrap();
        assert_eq!(rows, [[Value::Integer(1), Value::Text("x".into()), Value::Null]]);
        // A table created and rolled back, then another of the same name: the same schema version again.
        query(&mut e, "BEGIN").unwrap();
        query(&mut e, "CREATE TABLE u (a int)").unwrap();
        query(&mut e, "SELECT * FROM u WHERE a = 1").unwrap();
        query(&mut e, "ROLLBACK").unwrap();
        query(&mut e, "BEGIN").unwrap();
        query(&mut e, "CREATE TABLE u (a int, b int)").unwrap();
        let (rows, cached) = query(&mut e, "INSERT INTO u VALUES (1, 2)")
            .and_then(|_| query(&mut e, "SELECT * FROM u WHERE a = 1"))
            .unwrap();
        assert!(!cached);
        assert_eq!(rows, [[Value::Integer(1), Value::Integer(2)]]);
        query(&mut e, "COMMIT").unwrap();
    }

    /// A statement prepared for the simple protocol, run: its rows, or None for a run the engine asked to replan.
    fn simple(engine: &mut SqliteEngine, sql: &str) -> Option<Vec<Vec<Value>>> {
        let (statement, _) = engine.prepare_simple(sql).unwrap().expect("a statement");
        let mut rows = Vec::new();
        let done = engine
            .execute(&statement, &[], &mut |row| {
                rows.push(row);
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        (done.tag != crate::sql::statement::REPLAN).then_some(rows)
    }

    #[test]
    fn the_simple_protocol_checks_the_schema_when_the_query_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut e = open(&path);
        let mut other = open(&path);
        query(&mut e, "CREATE TABLE t (a int, b text)").unwrap();
        query(&mut e, "INSERT INTO t VALUES (1, 'x'), (2, 'y')").unwrap();
        assert_eq!(simple(&mut e, "SELECT * FROM t WHERE a = 1").unwrap().len(), 1);
        let (hit, _) = e.prepare_simple("SELECT * FROM t WHERE a = 2").unwrap().unwrap();
        assert!(hit.schema_check.is_some() && hit.literals == [Value::Integer(2)]);
        // Another session's DDL that leaves the result as it was: translated again as the query runs.
        query(&mut other, "CREATE TABLE u (a int)").unwrap();
        assert_eq!(
            simple(&mut e, "SELECT * FROM t WHERE a = 2"),
            Some(vec![vec![Value::Integer(2), Value::Text("y".into())]])
        );
        // One that changes it: no rows, and the caller prepares it again.
        query(&mut other, "ALTER TABLE t ADD COLUMN c int").unwrap();
        assert_eq!(simple(&mut e, "SELECT * FROM t WHERE a = 2"), None);
        assert_eq!(query(&mut e, "SELECT * FROM t WHERE a = 2").unwrap().0[0].len(), 3);
        // One that drops the relation: the error comes from that prepare.
        simple(&mut e, "SELECT * FROM t WHERE a = 1").unwrap();
        query(&mut other, "DROP TABLE t").unwrap();
        assert_eq!(simple(&mut e, "SELECT * FROM t WHERE a = 1"), None);
        assert_eq!(query(&mut e, "SELECT * FROM t WHERE a = 1").unwrap_err().code, "42P01");
    }

    #[test]
    fn function_calls_are_found() {
        for (sql, calls) in [
            ("SELECT \"abalance\" FROM \"pgbench_accounts\" WHERE (\"aid\" = ?1)", false),
            ("SELECT a FROM t WHERE (a IN (1, 2)) AND NOT (b = 1)", false),
            ("SELECT pg_cast(a, 'int4', 'text', -1) FROM t", true),
            ("SELECT count (*) FROM t", true),
            ("SELECT \"f\"(1)", true),
            ("SELECT CAST(a AS REAL) FROM t", true),
        ] {
            assert_eq!(super::calls_functions(sql), calls, "{sql}");
        }
    }
}
