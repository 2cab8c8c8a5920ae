//! PostgreSQL's utility statements that are answered before a statement is translated, read from their text:
//! savepoints (`SAVEPOINT`, `RELEASE`, `ROLLBACK TO`), transaction modes (`BEGIN ISOLATION LEVEL ...`,
//! `START TRANSACTION ...`, `SET TRANSACTION ...`, `SET SESSION CHARACTERISTICS AS TRANSACTION ...`), SQL-level
//! prepared statements (`PREPARE`, `EXECUTE`, `DEALLOCATE`) and `TRUNCATE`. Names are PostgreSQL identifiers:
//! an unquoted one is folded to lower case, a quoted one kept as written.
//!
//! This module only reads the syntax; what each statement does is its runner's business (the engine for
//! savepoints and TRUNCATE, the session for the rest).
//!
//! Runs in: any process that runs SQL.

use super::words::{is_kw, tokens_at, Tok};

/// An identifier as PostgreSQL reads it: an unquoted word folded to lower case (ASCII only, as PostgreSQL does
/// for multi-byte encodings), a quoted one as written.
fn ident(tok: &Tok) -> Option<String> {
    match tok {
        Tok::Word(w)
            if w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
                && !w.contains(['.', '-', '+']) =>
        {
            Some(w.to_ascii_lowercase())
        }
        Tok::Ident(i) if !i.is_empty() => Some(i.clone()),
        _ => None,
    }
}

/// Whether the first word of `sql` is one of `first` (upper case): a look at one token, before reading the whole
/// statement (every statement a session runs passes here).
fn starts_with(sql: &str, first: &[&str]) -> bool {
    super::lexer::leading_words(sql).next().is_some_and(|w| first.contains(&w.as_str()))
}

fn words(sql: &str) -> Option<(Vec<Tok>, usize)> {
    tokens_at(sql).map(|(toks, len)| (toks.into_iter().map(|(t, _)| t).collect(), len))
}

/// A savepoint command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavepointCommand {
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    Release(String),
    /// `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name`.
    RollbackTo(String),
}

impl SavepointCommand {
    /// The savepoint's name.
    pub fn name(&self) -> &str {
        match self {
            SavepointCommand::Savepoint(n) | SavepointCommand::Release(n) | SavepointCommand::RollbackTo(n) => n,
        }
    }

    /// PostgreSQL's command tag.
    pub fn tag(&self) -> &'static str {
        match self {
            SavepointCommand::Savepoint(_) => "SAVEPOINT",
            SavepointCommand::Release(_) => "RELEASE",
            SavepointCommand::RollbackTo(_) => "ROLLBACK",
        }
    }
}

/// The first statement of `sql` as a savepoint command, with its byte length; None for anything else (a
/// malformed one included: SQLite reports its syntax error).
pub fn savepoint_command(sql: &str) -> Option<(SavepointCommand, usize)> {
    if !starts_with(sql, &["SAVEPOINT", "RELEASE", "ROLLBACK"]) {
        return None;
    }
    let (toks, len) = words(sql)?;
    let command = match toks.as_slice() {
        [first, name] if is_kw(Some(first), "SAVEPOINT") => SavepointCommand::Savepoint(ident(name)?),
        [first, name] if is_kw(Some(first), "RELEASE") => SavepointCommand::Release(ident(name)?),
        [first, kw, name] if is_kw(Some(first), "RELEASE") && is_kw(Some(kw), "SAVEPOINT") => {
            SavepointCommand::Release(ident(name)?)
        }
        [first, rest @ ..] if is_kw(Some(first), "ROLLBACK") => {
            let rest = match rest {
                [w, rest @ ..] if is_kw(Some(w), "WORK") || is_kw(Some(w), "TRANSACTION") => rest,
                rest => rest,
            };
            let rest = match rest {
                [to, rest @ ..] if is_kw(Some(to), "TO") => rest,
                _ => return None,
            };
            match rest {
                [name] => SavepointCommand::RollbackTo(ident(name)?),
                [kw, name] if is_kw(Some(kw), "SAVEPOINT") => SavepointCommand::RollbackTo(ident(name)?),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((command, len))
}

/// Transaction modes as `BEGIN`, `START TRANSACTION` and `SET TRANSACTION` give them; None where not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxModes {
    /// `serializable`, `repeatable read`, `read committed` or `read uncommitted` (as `SHOW` spells them).
    pub isolation: Option<&'static str>,
    pub read_only: Option<bool>,
    pub deferrable: Option<bool>,
}

impl TxModes {
    /// Whether no mode is given.
    pub fn is_empty(&self) -> bool {
        *self == TxModes::default()
    }

    /// The modes as PostgreSQL's syntax spells them (what [`modes`] reads back).
    pub fn to_sql(&self) -> String {
        let mut parts = Vec::new();
        if let Some(level) = self.isolation {
            parts.push(format!("ISOLATION LEVEL {}", level.to_ascii_uppercase()));
        }
        if let Some(ro) = self.read_only {
            parts.push(if ro { "READ ONLY" } else { "READ WRITE" }.to_string());
        }
        if let Some(d) = self.deferrable {
            parts.push(if d { "DEFERRABLE" } else { "NOT DEFERRABLE" }.to_string());
        }
        parts.join(", ")
    }
}

/// Reads a list of transaction modes (commas between them optional, as PostgreSQL's grammar has it); None on
/// anything else. A later mode overrides an earlier one, as in PostgreSQL.
fn modes(toks: &[Tok]) -> Option<TxModes> {
    let mut out = TxModes::default();
    let mut i = 0;
    let kw = |i: usize, k: &str| is_kw(toks.get(i), k);
    while i < toks.len() {
        if i > 0 && toks[i] == Tok::Sym(',') {
            i += 1;
        }
        if kw(i, "ISOLATION") && kw(i + 1, "LEVEL") {
            i += 2;
            let (level, used) = if kw(i, "SERIALIZABLE") {
                ("serializable", 1)
            } else if kw(i, "REPEATABLE") && kw(i + 1, "READ") {
                ("repeatable read", 2)
            } else if kw(i, "READ") && kw(i + 1, "COMMITTED") {
                ("read committed", 2)
            } else if kw(i, "READ") && kw(i + 1, "UNCOMMITTED") {
                ("read uncommitted", 2)
            } else {
                return None;
            };
            out.isolation = Some(level);
            i += used;
        } else if kw(i, "READ") && kw(i + 1, "ONLY") {
            out.read_only = Some(true);
            i += 2;
        } else if kw(i, "READ") && kw(i + 1, "WRITE") {
            out.read_only = Some(false);
            i += 2;
        } else if kw(i, "DEFERRABLE") {
            out.deferrable = Some(true);
            i += 1;
        } else if kw(i, "NOT") && kw(i + 1, "DEFERRABLE") {
            out.deferrable = Some(false);
            i += 2;
        } else {
            return None;
        }
    }
    Some(out)
}

/// `BEGIN [WORK | TRANSACTION] [modes]` or `START TRANSACTION [modes]`: the modes and the statement's byte
/// length; None for anything else, malformed modes included (the caller lets its engine report the syntax
/// error).
pub fn begin_modes(sql: &str) -> Option<(TxModes, usize)> {
    let (toks, len) = words(sql)?;
    let rest = match toks.as_slice() {
        [first, second, rest @ ..] if is_kw(Some(first), "START") && is_kw(Some(second), "TRANSACTION") => rest,
        [first, second, rest @ ..]
            if is_kw(Some(first), "BEGIN") && (is_kw(Some(second), "WORK") || is_kw(Some(second), "TRANSACTION")) =>
        {
            rest
        }
        [first, rest @ ..] if is_kw(Some(first), "BEGIN") => rest,
        _ => return None,
    };
    Some((modes(rest)?, len))
}

/// The engine's statement for a `BEGIN` with `modes`: SQLite's `BEGIN`, the modes in a comment.
pub fn begin_statement(modes: &TxModes) -> String {
    if modes.is_empty() {
        "BEGIN".to_string()
    } else {
        format!("BEGIN /* {} */", modes.to_sql())
    }
}

/// The modes of a statement [`begin_statement`] wrote (none for any other text).
pub fn begin_statement_modes(sql: &str) -> TxModes {
    sql.strip_prefix("BEGIN /* ")
        .and_then(|rest| rest.strip_suffix(" */"))
        .and_then(|inner| begin_modes(&format!("BEGIN {inner}")))
        .map(|(modes, _)| modes)
        .unwrap_or_default()
}

/// `SET TRANSACTION modes` (false) or `SET SESSION CHARACTERISTICS AS TRANSACTION modes` (true), from the
/// tokens after `SET`; None if it is neither or malformed.
pub(crate) fn set_transaction(after_set: &[Tok]) -> Option<(bool, TxModes)> {
    match after_set {
        [t, rest @ ..] if is_kw(Some(t), "TRANSACTION") && !rest.is_empty() => Some((false, modes(rest)?)),
        [s, c, a, t, rest @ ..]
            if is_kw(Some(s), "SESSION")
                && is_kw(Some(c), "CHARACTERISTICS")
                && is_kw(Some(a), "AS")
                && is_kw(Some(t), "TRANSACTION")
                && !rest.is_empty() =>
        {
            Some((true, modes(rest)?))
        }
        _ => None,
    }
}

/// An SQL-level prepared-statement command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedCommand {
    /// `PREPARE name [(type, ...)] AS statement`: the type names as written, and the statement's text.
    Prepare { name: String, types: Vec<String>, statement: String },
    /// `EXECUTE name [(expression, ...)]`: the arguments' text (None without parentheses).
    Execute { name: String, args: Option<String> },
    /// `DEALLOCATE [PREPARE] name`, or `... ALL` (None).
    Deallocate(Option<String>),
}

/// Whether the first statement of `sql` is a `PREPARE` (not `PREPARE TRANSACTION`), `EXECUTE` or `DEALLOCATE`:
/// its caller runs it, and reports the session module's `syntax_error` if [`prepared_command`] cannot read it.
pub fn is_prepared_command(sql: &str) -> bool {
    if !starts_with(sql, &["PREPARE", "EXECUTE", "DEALLOCATE"]) {
        return false;
    }
    let Some((toks, _)) = words(sql) else { return false };
    match toks.first() {
        first if is_kw(first, "PREPARE") => !is_kw(toks.get(1), "TRANSACTION"),
        first => is_kw(first, "EXECUTE") || is_kw(first, "DEALLOCATE"),
    }
}

/// Splits `text` at its commas outside parentheses and quotes, each part trimmed.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None::<char>, 0usize);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                parts.push(text[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim().to_string());
    parts
}

/// The text between the `(` at byte `open` of `body` and the last `)` before its end; None if the statement
/// does not end with that `)`.
fn parenthesised(body: &str, open: usize) -> Option<&str> {
    let inner = body[open + 1..].trim_end();
    inner.strip_suffix(')')
}

/// Parses the first statement of `sql` as a prepared-statement command, with its byte length; None if it is
/// not one or is malformed.
pub fn prepared_command(sql: &str) -> Option<(PreparedCommand, usize)> {
    if !starts_with(sql, &["PREPARE", "EXECUTE", "DEALLOCATE"]) {
        return None;
    }
    let (toks, len) = tokens_at(sql)?;
    // The statement's text without its `;`.
    let body = sql[..len].trim_end().trim_end_matches(';');
    let tok = |i: usize| toks.get(i).map(|(t, _)| t);
    let at = |i: usize| toks.get(i).map(|(_, at)| *at);
    let command = if is_kw(tok(0), "PREPARE") {
        let name = ident(tok(1)?)?;
        let mut i = 2;
        let mut types = Vec::new();
        if tok(i) == Some(&Tok::Sym('(')) {
            let open = at(i)?;
            let as_at = (i..toks.len()).find(|&j| is_kw(tok(j), "AS") && j > i)?;
            let inner = parenthesised(&body[..at(as_at)?], open)?;
            types = split_top_level(inner);
            if types.iter().any(String::is_empty) {
                return None;
            }
            i = as_at;
        }
        if !is_kw(tok(i), "AS") {
            return None;
        }
        let statement = body[at(i + 1)?..].trim().to_string();
        PreparedCommand::Prepare { name, types, statement }
    } else if is_kw(tok(0), "EXECUTE") {
        let name = ident(tok(1)?)?;
        let args = match tok(2) {
            None => None,
            Some(Tok::Sym('(')) => {
                let inner = parenthesised(body, at(2)?)?;
                Some(inner.trim().to_string())
            }
            Some(_) => return None,
        };
        PreparedCommand::Execute { name, args }
    } else if is_kw(tok(0), "DEALLOCATE") {
        let i = if is_kw(tok(1), "PREPARE") && toks.len() == 3 { 2 } else { 1 };
        if toks.len() != i + 1 {
            return None;
        }
        if is_kw(tok(i), "ALL") {
            PreparedCommand::Deallocate(None)
        } else {
            PreparedCommand::Deallocate(Some(ident(tok(i)?)?))
        }
    } else {
        return None;
    };
    Some((command, len))
}

/// The arguments of `EXECUTE name (a, b)` one by one (for counting them; empty text is no argument).
pub fn split_arguments(args: &str) -> Vec<String> {
    if args.trim().is_empty() {
        return Vec::new();
    }
    split_top_level(args)
}

/// A type name of `PREPARE name (types)` without its modifier (`varchar(20)` is `varchar`, `numeric(10, 2)` is
/// `numeric`; `int[]` stays).
pub fn type_without_modifier(name: &str) -> String {
    match name.find('(') {
        Some(open) => {
            let close = name.rfind(')').unwrap_or(name.len() - 1);
            format!("{}{}", name[..open].trim_end(), &name[(close + 1).min(name.len())..])
        }
        None => name.to_string(),
    }
}

/// `TRUNCATE [TABLE] [ONLY] name [*] [, ...] [RESTART IDENTITY | CONTINUE IDENTITY] [CASCADE | RESTRICT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Each table as (schema, name); schema None when not written.
    pub tables: Vec<(Option<String>, String)>,
    pub restart_identity: bool,
    pub cascade: bool,
}

/// Parses the first statement of `sql` as `TRUNCATE`, with its byte length; None if it is not one. Some(Err) for
/// a malformed one (the caller reports a syntax error).
pub fn truncate(sql: &str) -> Option<Result<(Truncate, usize), ()>> {
    if !starts_with(sql, &["TRUNCATE"]) {
        return None;
    }
    let (toks, len) = words(sql)?;
    if !is_kw(toks.first(), "TRUNCATE") {
        return None;
    }
    Some(truncate_tokens(&toks[1..]).map(|t| (t, len)).ok_or(()))
}

fn truncate_tokens(toks: &[Tok]) -> Option<Truncate> {
    let mut i = usize::from(is_kw(toks.first(), "TABLE"));
    let mut out = Truncate { tables: Vec::new(), restart_identity: false, cascade: false };
    loop {
        if is_kw(toks.get(i), "ONLY") {
            i += 1;
        }
        let (schema, name, used) = qualified_name(&toks[i.min(toks.len())..])?;
        out.tables.push((schema, name));
        i += used;
        if toks.get(i) == Some(&Tok::Sym('*')) {
            i += 1;
        }
        if toks.get(i) == Some(&Tok::Sym(',')) {
            i += 1;
            continue;
        }
        break;
    }
    let kw = |i: usize, k: &str| is_kw(toks.get(i), k);
    if kw(i, "RESTART") && kw(i + 1, "IDENTITY") {
        out.restart_identity = true;
        i += 2;
    } else if kw(i, "CONTINUE") && kw(i + 1, "IDENTITY") {
        i += 2;
    }
    if kw(i, "CASCADE") {
        out.cascade = true;
        i += 1;
    } else if kw(i, "RESTRICT") {
        i += 1;
    }
    (i == toks.len()).then_some(out)
}

/// A relation name, schema-qualified or not (`t`, `s.t`, `"S"."t"`, `s."t"`): (schema, name, tokens used).
fn qualified_name(toks: &[Tok]) -> Option<(Option<String>, String, usize)> {
    // The tokenizer keeps dots in words: `s.t` is one word, `"s"."t"` three tokens (`.` a word of its own).
    let mut parts: Vec<String> = Vec::new();
    let mut need_part = true;
    let mut used = 0;
    for tok in toks {
        match tok {
            Tok::Ident(i) if need_part => {
                parts.push(i.clone());
                need_part = false;
            }
            Tok::Word(w) if need_part || w.starts_with('.') => {
                for (k, piece) in w.split('.').enumerate() {
                    if k > 0 {
                        if need_part {
                            return None;
                        }
                        need_part = true;
                    }
                    if piece.is_empty() {
                        continue;
                    }
                    if !need_part {
                        return None;
                    }
                    parts.push(ident(&Tok::Word(piece.to_string()))?);
                    need_part = false;
                }
            }
            _ => break,
        }
        used += 1;
    }
    if need_part {
        return None;
    }
    let name = parts.pop()?;
    match parts.len() {
        0 => Some((None, name, used)),
        1 => Some((parts.pop(), name, used)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints() {
        assert_eq!(savepoint_command("SAVEPOINT Foo;"), Some((SavepointCommand::Savepoint("foo".into()), 14)));
        assert_eq!(savepoint_command("savepoint \"Foo\"").unwrap().0, SavepointCommand::Savepoint("Foo".into()));
        assert_eq!(savepoint_command("RELEASE a").unwrap().0, SavepointCommand::Release("a".into()));
        assert_eq!(savepoint_command("RELEASE SAVEPOINT a").unwrap().0, SavepointCommand::Release("a".into()));
        assert_eq!(savepoint_command("RELEASE savepoint").unwrap().0, SavepointCommand::Release("savepoint".into()));
        for sql in
            ["ROLLBACK TO a", "rollback to savepoint A", "ROLLBACK WORK TO a", "ROLLBACK TRANSACTION TO SAVEPOINT a"]
        {
            assert_eq!(savepoint_command(sql).unwrap().0, SavepointCommand::RollbackTo("a".into()), "{sql}");
        }
        for sql in ["ROLLBACK", "SAVEPOINT", "SAVEPOINT a b", "RELEASE", "ROLLBACK TO", "SELECT 1", "SAVEPOINT 1"] {
            assert_eq!(savepoint_command(sql), None, "{sql}");
        }
    }

    #[test]
    fn transaction_modes() {
        let (m, len) = begin_modes("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1").unwrap();
        assert_eq!(len, 48);
        assert_eq!(m, TxModes { isolation: Some("repeatable read"), read_only: Some(true), deferrable: None });
        let m =
            begin_modes("start transaction isolation level read uncommitted, read write, not deferrable").unwrap().0;
        assert_eq!(m, TxModes { isolation: Some("read uncommitted"), read_only: Some(false), deferrable: Some(false) });
        assert!(begin_modes("BEGIN WORK").unwrap().0.is_empty());
        assert_eq!(begin_modes("BEGIN TRANSACTION DEFERRABLE").unwrap().0.deferrable, Some(true));
        assert_eq!(begin_modes("BEGIN ISOLATION LEVEL FOO"), None);
        assert_eq!(begin_modes("BEGIN IMMEDIATE"), None);
        assert_eq!(begin_modes(&format!("BEGIN {}", m.to_sql())).unwrap().0, m);
        assert_eq!(begin_statement_modes(&begin_statement(&m)), m);
        assert_eq!(begin_statement(&TxModes::default()), "BEGIN");
    }

    #[test]
    fn prepared_commands() {
        let (c, len) = prepared_command("PREPARE p1 (int, numeric(10, 2)) AS SELECT $1 + 1, ';'; EXECUTE p1").unwrap();
        assert_eq!(
            c,
            PreparedCommand::Prepare {
                name: "p1".into(),
                types: vec!["int".into(), "numeric(10, 2)".into()],
                statement: "SELECT $1 + 1, ';'".into()
            }
        );
        assert_eq!(len, 55);
        assert_eq!(
            prepared_command("prepare \"Q\" as insert into t values ($1)").unwrap().0,
            PreparedCommand::Prepare { name: "Q".into(), types: vec![], statement: "insert into t values ($1)".into() }
        );
        assert_eq!(
            prepared_command("EXECUTE p1(1, upper('a,b'))").unwrap().0,
            PreparedCommand::Execute { name: "p1".into(), args: Some("1, upper('a,b')".into()) }
        );
        assert_eq!(split_arguments("1, upper('a,b'), (2,3)"), ["1", "upper('a,b')", "(2,3)"]);
        assert!(split_arguments(" ").is_empty());
        assert_eq!(prepared_command("EXECUTE p").unwrap().0, PreparedCommand::Execute { name: "p".into(), args: None });
        assert_eq!(prepared_command("DEALLOCATE ALL").unwrap().0, PreparedCommand::Deallocate(None));
        assert_eq!(prepared_command("deallocate prepare X").unwrap().0, PreparedCommand::Deallocate(Some("x".into())));
        assert_eq!(
            prepared_command("DEALLOCATE prepare").unwrap().0,
            PreparedCommand::Deallocate(Some("prepare".into()))
        );
        for bad in
            ["PREPARE p", "PREPARE p SELECT 1", "EXECUTE", "EXECUTE p 1", "DEALLOCATE", "PREPARE p () AS SELECT 1"]
        {
            assert_eq!(prepared_command(bad), None, "{bad}");
            assert!(is_prepared_command(bad), "{bad}");
        }
        assert!(!is_prepared_command("PREPARE TRANSACTION 'x'"));
        assert_eq!(type_without_modifier("varchar(20)"), "varchar");
        assert_eq!(type_without_modifier("numeric(10, 2)[]"), "numeric[]");
    }

    #[test]
    fn truncates() {
        let t = |sql: &str| truncate(sql).unwrap().unwrap().0;
        assert_eq!(
            t("TRUNCATE TABLE ONLY a, s.B *, \"S\".\"T\" RESTART IDENTITY CASCADE"),
            Truncate {
                tables: vec![(None, "a".into()), (Some("s".into()), "b".into()), (Some("S".into()), "T".into())],
                restart_identity: true,
                cascade: true
            }
        );
        assert_eq!(t("truncate t continue identity restrict").tables, vec![(None, "t".to_string())]);
        assert_eq!(t("truncate s.\"T\"").tables, vec![(Some("s".to_string()), "T".to_string())]);
        assert_eq!(truncate("SELECT 1"), None);
        for bad in ["TRUNCATE", "TRUNCATE t u", "TRUNCATE t,", "TRUNCATE a.b.c", "TRUNCATE t RESTART"] {
            assert_eq!(truncate(bad), Some(Err(())), "{bad}");
        }
    }
}
