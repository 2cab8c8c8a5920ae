//! Statements before they run: what kind each is (for command tags, transaction rules and SPI's result codes),
//! PostgreSQL's spellings of transaction control, `$n` parameter numbering, and the analysed [`Statement`] an
//! engine hands back from `prepare`.
//!
//! Runs in: any process that runs SQL.

use super::lexer::{leading_words, Lexer, Token};
use super::value::PgType;

/// What a statement does, as far as command tags and transaction rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Query,
    Insert,
    Update,
    Delete,
    Begin,
    Commit,
    Rollback,
    RollbackTo,
    /// A statement the caller's hooks run instead of the engine (the backend's catalog commands: CREATE/ALTER/DROP
    /// DATABASE and ROLE, LISTEN/NOTIFY).
    Catalog,
    /// Anything else, with its command tag (`CREATE TABLE`, `PRAGMA`, ...).
    Other(String),
}

impl Kind {
    /// Whether a statement of this kind writes (refused in a read-only session; SQLite's `query_only` backs this
    /// up for anything the classification misses).
    pub fn writes(&self) -> bool {
        match self {
            Kind::Insert | Kind::Update | Kind::Delete => true,
            Kind::Other(tag) => !matches!(
                tag.split(' ').next(),
                Some("SELECT" | "EXPLAIN" | "PRAGMA" | "VALUES" | "WITH" | "SAVEPOINT" | "RELEASE" | "LOCK")
            ),
            Kind::Query | Kind::Begin | Kind::Commit | Kind::Rollback | Kind::RollbackTo | Kind::Catalog => false,
        }
    }

    /// The command named in a read-only error: the statement's tag without counts.
    pub fn command_name(&self) -> String {
        match self {
            Kind::Insert => "INSERT".into(),
            Kind::Update => "UPDATE".into(),
            Kind::Delete => "DELETE".into(),
            Kind::Other(tag) => tag.clone(),
            _ => "this command".into(),
        }
    }
}

/// A result column before it is run: its name and, where known, its type.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub ty: Option<PgType>,
}

/// The command tag of a run that did not happen because the statement changed under it (see
/// [`super::Engine::prepare_simple`]).
pub const REPLAN: &str = "\0replan";

/// One analysed statement, as an engine's `prepare` returns it.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The text the engine runs (a PostgreSQL spelling of transaction control is replaced by the engine's own).
    pub sql: String,
    pub kind: Kind,
    pub columns: Vec<ColumnInfo>,
    /// The parameters as the engine names them (`$2`, `?1`, `?`, `:name`), in the engine's order; None for an
    /// anonymous `?`.
    pub param_names: Vec<Option<String>>,
    /// For each parameter, in the engine's order, the PostgreSQL parameter number (`$n`) it takes (see
    /// [`param_number`]; a parameter without a number counts by position).
    pub param_numbers: Vec<usize>,
    /// How many parameters a Bind must supply: the highest `$n`.
    pub param_count: usize,
    /// The type of each parameter `$n` (at `n - 1`) where the statement tells it (`WHERE id = $1` with an `int4`
    /// column, `$1::date`); shorter than `param_count` or None where nothing tells (the client's type, else text).
    pub param_types: Vec<Option<PgType>>,
    /// Whether the statement leaves the database as it is (SQLite's `sqlite3_stmt_readonly`).
    pub read_only: bool,
    /// SQLite statements the engine runs before `sql`, in one transaction with it (see
    /// [`crate::sql::pg::Translated::before`]).
    pub before: Vec<String>,
    /// SQLite statements the engine runs after `sql`, in the same transaction.
    pub after: Vec<String>,
    /// Whether a client is told the result columns before the statement runs (RowDescription first, so before an
    /// error its rows raise), as PostgreSQL does for a query that reads relations; otherwise when the first rows
    /// come (PostgreSQL evaluates a query without FROM while planning it: its errors come before any description).
    pub describe_first: bool,
    /// For each result column that is a table's column: the table's OID and the column's number (empty: none).
    pub column_origins: Vec<Option<(u32, i16)>>,
    /// What explains its constraint errors in PostgreSQL's words (translated statements that write).
    pub diagnostics: Option<std::sync::Arc<super::pg::diagnose::Diagnostics>>,
    /// The values of the engine's parameters that are the statement's own literals (SQLite's `?1`, `?2`, ... of
    /// a translated query whose integer literals became parameters, see [`crate::sql::pg::translate_with_literals`]);
    /// such a statement has no `$n` parameters.
    pub literals: Vec<super::value::Value>,
    /// For a statement from the engine's translation cache whose schema is checked when it runs (in the read
    /// transaction it runs in, after its first step): the schema version its translation was made under and the
    /// PostgreSQL text it translates, translated again if the version changed.
    pub schema_check: Option<(i64, std::sync::Arc<str>)>,
    /// What runs besides `sql` in its savepoint (see [`crate::sql::pg::Steps`]).
    pub steps: super::pg::Steps,
}

impl Statement {
    /// A statement the engine does not analyse (transaction control, a catalog command): no columns or
    /// parameters.
    pub fn bare(sql: impl Into<String>, kind: Kind) -> Statement {
        Statement {
            sql: sql.into(),
            kind,
            columns: Vec::new(),
            param_names: Vec::new(),
            param_numbers: Vec::new(),
            param_count: 0,
            param_types: Vec::new(),
            read_only: false,
            before: Vec::new(),
            after: Vec::new(),
            describe_first: false,
            column_origins: Vec::new(),
            diagnostics: None,
            literals: Vec::new(),
            schema_check: None,
            steps: Default::default(),
        }
    }
}

/// The PostgreSQL number of a parameter named `name` (`$n` or `?n`, n from 1 to 65535, PostgreSQL's limit), or
/// None for any other name (a bare `?`, `:name`, `$0`).
pub fn param_number(name: Option<&str>) -> Option<usize> {
    name?
        .strip_prefix('$')
        .or_else(|| name?.strip_prefix('?'))
        .and_then(|digits| digits.parse::<usize>().ok())
        .filter(|n| (1..=65_535).contains(n))
}

/// The kind of the first statement of `sql`, from its leading keywords.
pub fn classify(sql: &str) -> Kind {
    let mut words = leading_words(sql);
    let Some(first) = words.next() else {
        return Kind::Other(String::new());
    };
    match first.as_str() {
        "SELECT" | "VALUES" => Kind::Query,
        "INSERT" | "REPLACE" => Kind::Insert,
        "UPDATE" => Kind::Update,
        "DELETE" => Kind::Delete,
        "BEGIN" => Kind::Begin,
        "COMMIT" | "END" => Kind::Commit,
        "ROLLBACK" => {
            if words.any(|w| w == "TO") {
                Kind::RollbackTo
            } else {
                Kind::Rollback
            }
        }
        "WITH" => {
            for word in words {
                match word.as_str() {
                    "SELECT" | "VALUES" => return Kind::Query,
                    "INSERT" | "REPLACE" => return Kind::Insert,
                    "UPDATE" => return Kind::Update,
                    "DELETE" => return Kind::Delete,
                    _ => {}
                }
            }
            Kind::Query
        }
        "CREATE" | "DROP" | "ALTER" => {
            let object =
                words.find(|w| !matches!(w.as_str(), "TEMP" | "TEMPORARY" | "UNIQUE" | "VIRTUAL")).unwrap_or_default();
            Kind::Other(format!("{first} {object}").trim_end().to_owned())
        }
        _ => Kind::Other(first),
    }
}

/// Whether the first statement of `sql` controls transactions in any spelling, PostgreSQL's or SQLite's: BEGIN,
/// START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION. (SPI refuses them all.)
pub fn is_transaction_control(sql: &str) -> bool {
    let mut words = leading_words(sql);
    match words.next().as_deref() {
        Some("BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE") => true,
        Some("PREPARE") => words.next().as_deref() == Some("TRANSACTION"),
        _ => false,
    }
}

/// The first word of `sql`'s first statement (for messages), if it has one.
pub fn first_word(sql: &str) -> Option<String> {
    leading_words(sql).next()
}

/// PostgreSQL's spellings of transaction control that SQLite does not know (`START TRANSACTION`, `BEGIN
/// ISOLATION LEVEL ...`, `COMMIT WORK`, `ABORT`, ...): the SQLite statement to run instead, its kind, and how many
/// bytes of `sql` the statement takes. None for anything else, SQLite's own spellings included, and for a `BEGIN`
/// with malformed modes (SQLite reports the syntax error). A `BEGIN` with transaction modes runs as SQLite's
/// `BEGIN` with the modes in a comment, where [`super::utility::begin_statement_modes`] finds them.
pub fn transaction_control(sql: &str) -> Option<(String, Kind, usize)> {
    const CONTROL: &[&str] = &["START", "BEGIN", "COMMIT", "END", "ABORT", "ROLLBACK"];
    let mut lexer = Lexer::new(sql);
    let mut words: Vec<String> = Vec::new();
    let mut end = sql.len();
    while let Some((depth, token)) = lexer.next() {
        match token {
            Token::Symbol(b';') if depth == 0 => {
                end = lexer.position();
                break;
            }
            Token::Word(word) => {
                if words.is_empty() && !CONTROL.contains(&word.as_str()) {
                    return None;
                }
                words.push(word);
            }
            _ if words.is_empty() => return None,
            _ => {}
        }
    }
    let (first, modifiers) = words.split_first()?;
    let only = |allowed: &[&str]| modifiers.len() <= 1 && modifiers.iter().all(|w| allowed.contains(&w.as_str()));
    let (canonical, kind) = match first.as_str() {
        "BEGIN" if only(&["DEFERRED", "IMMEDIATE", "EXCLUSIVE", "TRANSACTION"]) => return None,
        "BEGIN" if modifiers.len() == 2 && modifiers[1] == "TRANSACTION" && modifiers[0] != "WORK" => return None,
        "START" | "BEGIN" => {
            let (modes, len) = super::utility::begin_modes(sql)?;
            return Some((super::utility::begin_statement(&modes), Kind::Begin, len));
        }
        "COMMIT" | "END" if only(&["TRANSACTION"]) => return None,
        "COMMIT" | "END" => ("COMMIT", Kind::Commit),
        "ROLLBACK" if modifiers.iter().any(|w| w == "TO") || only(&["TRANSACTION"]) => return None,
        "ROLLBACK" | "ABORT" => ("ROLLBACK", Kind::Rollback),
        _ => return None,
    };
    Some((canonical.to_string(), kind, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify("select 1"), Kind::Query);
        assert_eq!(classify("  -- hi\n /* x */ VALUES (1)"), Kind::Query);
        assert_eq!(classify("insert or replace into t values (1)"), Kind::Insert);
        assert_eq!(classify("WITH x(a) AS (SELECT 1) INSERT INTO t SELECT a FROM x"), Kind::Insert);
        assert_eq!(classify("WITH x AS (DELETE) SELECT 1"), Kind::Query);
        assert_eq!(classify("with recursive c(n) as (select 1) select * from c"), Kind::Query);
        assert_eq!(classify("create temp table t(a)"), Kind::Other("CREATE TABLE".into()));
        assert_eq!(classify("CREATE UNIQUE INDEX i ON t(a)"), Kind::Other("CREATE INDEX".into()));
        assert_eq!(classify("drop view v"), Kind::Other("DROP VIEW".into()));
        assert_eq!(classify("begin immediate"), Kind::Begin);
        assert_eq!(classify("end transaction"), Kind::Commit);
        assert_eq!(classify("rollback"), Kind::Rollback);
        assert_eq!(classify("rollback to savepoint a"), Kind::RollbackTo);
        assert_eq!(classify("savepoint a"), Kind::Other("SAVEPOINT".into()));
        assert!(!classify("savepoint a").writes() && !classify("release a").writes());
        assert!(classify("truncate t").writes());
        assert_eq!(classify("pragma table_info('t')"), Kind::Other("PRAGMA".into()));
        assert_eq!(classify("update t set a = 'begin'"), Kind::Update);
        assert_eq!(classify("with a as (delete from t returning *) select 1"), Kind::Query);
    }

    #[test]
    fn transaction_control_in_any_spelling() {
        for sql in [
            "/* c */ START TRANSACTION",
            "end",
            "BEGIN",
            "abort",
            "savepoint a",
            "RELEASE a",
            "prepare transaction 'x'",
        ] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in ["update t set a = 'begin'", "SELECT 1; COMMIT", "PREPARE x", "", "CREATE TABLE t (a)"] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
        assert_eq!(first_word(" -- x\n vacuum; select").as_deref(), Some("VACUUM"));
    }

    #[test]
    fn postgres_transaction_spellings() {
        assert_eq!(transaction_control("START TRANSACTION; SELECT 1"), Some(("BEGIN".into(), Kind::Begin, 18)));
        let long = "start transaction isolation level serializable, read only";
        let begin = "BEGIN /* ISOLATION LEVEL SERIALIZABLE, READ ONLY */".to_string();
        assert_eq!(transaction_control(long), Some((begin, Kind::Begin, long.len())));
        let text = |sql: &str| transaction_control(sql).map(|t| t.0);
        assert_eq!(text("BEGIN WORK").as_deref(), Some("BEGIN"));
        assert_eq!(
            text("begin isolation level read committed").as_deref(),
            Some("BEGIN /* ISOLATION LEVEL READ COMMITTED */")
        );
        assert_eq!(text("BEGIN ISOLATION LEVEL FOO"), None, "malformed modes: SQLite's syntax error");
        assert_eq!(text("COMMIT WORK").as_deref(), Some("COMMIT"));
        assert_eq!(text("abort").as_deref(), Some("ROLLBACK"));
        assert_eq!(text("ROLLBACK WORK").as_deref(), Some("ROLLBACK"));
        // SQLite's own spellings go to SQLite.
        for sqlite in [
            "BEGIN",
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE TRANSACTION",
            "COMMIT",
            "END TRANSACTION",
            "ROLLBACK",
            "ROLLBACK TO s",
            "SELECT 1",
            "; BEGIN WORK",
        ] {
            assert_eq!(transaction_control(sqlite), None, "{sqlite}");
        }
    }

    #[test]
    fn parameter_numbers() {
        assert_eq!(param_number(Some("$2")), Some(2));
        assert_eq!(param_number(Some("$12")), Some(12));
        assert_eq!(param_number(Some("?3")), Some(3));
        assert_eq!(param_number(None), None);
        assert_eq!(param_number(Some(":name")), None);
        assert_eq!(param_number(Some("$0")), None);
        assert_eq!(param_number(Some("$99999999999999999999999")), None);
    }
}
