//! PostgreSQL's session commands as text: `SET` / `SET LOCAL` / `SET SESSION` / `RESET` / `DISCARD ALL` /
//! `SET TRANSACTION` / `SET SESSION CHARACTERISTICS` parsed into a [`SessionCommand`], and `SHOW name` / `SHOW ALL` rewritten into the query that answers them (through
//! the backend's `current_setting` and `bgw_show_all` functions). What the settings are and whether a value is
//! accepted is the caller's business; this module only reads the syntax.
//!
//! Runs in: any process that runs SQL (only a client session's hooks claim these statements).

pub(crate) use super::words::{is_kw, name_of, tokens_at, Tok};

/// One session command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// `SET [SESSION | LOCAL] name {= | TO} value [, ...]`; `value` None is `DEFAULT`.
    Set { name: String, value: Option<String>, local: bool },
    /// `RESET name`.
    Reset(String),
    /// `RESET ALL`.
    ResetAll,
    /// `DISCARD ALL`.
    DiscardAll,
    /// `SET TRANSACTION modes`.
    SetTransaction(super::utility::TxModes),
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION modes`.
    SetSessionCharacteristics(super::utility::TxModes),
}

/// Tokens of the first statement of `sql` and how many bytes it takes (with its `;`); None on text this module
/// does not read (an unterminated quote).
fn tokens(sql: &str) -> Option<(Vec<Tok>, usize)> {
    tokens_at(sql).map(|(toks, len)| (toks.into_iter().map(|(tok, _)| tok).collect(), len))
}

/// Whether the first word of `sql` (upper-cased) is one of `words`: one token read, not the statement.
fn first_word_is(sql: &str, words: &[&str]) -> bool {
    super::lexer::leading_words(sql).next().is_some_and(|w| words.contains(&w.as_str()))
}

/// Whether the first statement of `sql` is one this module reads (SET/RESET/DISCARD ALL, SHOW), by its first
/// word: the caller claims it, and a syntax error in it is this module's to report.
pub fn is_session_statement(sql: &str) -> bool {
    // Its first word, before reading the whole statement: every statement comes through here.
    if !first_word_is(sql, &["SET", "RESET", "DISCARD"]) {
        return false;
    }
    let Some((toks, _)) = tokens(sql) else { return false };
    let first = toks.first();
    // SET CONSTRAINTS / SET ROLE / SET SESSION AUTHORIZATION are not settings; SET TRANSACTION and SET SESSION
    // CHARACTERISTICS are the session's transaction modes.
    if is_kw(first, "SET") {
        let second = toks.get(1);
        let third = toks.get(2);
        if is_kw(second, "TRANSACTION") || (is_kw(second, "SESSION") && is_kw(third, "CHARACTERISTICS")) {
            return true;
        }
        let skip = if is_kw(second, "SESSION") || is_kw(second, "LOCAL") { third } else { second };
        return !["TRANSACTION", "CHARACTERISTICS", "CONSTRAINTS", "ROLE", "SESSION"].iter().any(|k| is_kw(skip, k));
    }
    is_kw(first, "RESET") || (is_kw(first, "DISCARD") && is_kw(toks.get(1), "ALL"))
}

/// The syntax error PostgreSQL would report for a malformed session command.
pub fn syntax_error(sql: &str) -> super::SqlError {
    super::SqlError::error("42601", format!("syntax error in \"{}\"", sql.trim().trim_end_matches(';').trim()))
}

/// Parses the first statement of `sql` as a session command (`SET`, `RESET`, `DISCARD ALL`); None if it is not
/// one or is malformed (see [`is_session_statement`] and [`syntax_error`]). The byte length is the statement's.
pub fn parse(sql: &str) -> Option<(SessionCommand, usize)> {
    let (toks, len) = tokens(sql)?;
    let mut it = toks.iter().peekable();
    let first = it.next()?;
    let command = if is_kw(Some(first), "SET") {
        if is_kw(toks.get(1), "TRANSACTION") || is_kw(toks.get(2), "CHARACTERISTICS") {
            let (session, modes) = super::utility::set_transaction(&toks[1..])?;
            return Some((
                if session {
                    SessionCommand::SetSessionCharacteristics(modes)
                } else {
                    SessionCommand::SetTransaction(modes)
                },
                len,
            ));
        }
        let mut local = false;
        if is_kw(it.peek().copied(), "LOCAL") {
            local = true;
            it.next();
        } else if is_kw(it.peek().copied(), "SESSION") {
            it.next();
        }
        // SET TIME ZONE value is SET timezone = value.
        let name = if is_kw(it.peek().copied(), "TIME") {
            it.next();
            if !is_kw(it.next(), "ZONE") {
                return None;
            }
            "timezone".to_string()
        } else {
            let name = name_of(it.next()?)?;
            match it.next() {
                Some(Tok::Sym('=')) => {}
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("TO") => {}
                _ => return None,
            }
            name
        };
        let rest: Vec<&Tok> = it.collect();
        let default = rest.len() == 1
            && (is_kw(Some(rest[0]), "DEFAULT") || (is_kw(Some(rest[0]), "LOCAL") && name == "timezone"));
        let value = if default {
            None
        } else {
            // A list of values joined with ", " as PostgreSQL flattens it.
            let mut parts = Vec::new();
            let mut expect_value = true;
            for tok in rest {
                match (tok, expect_value) {
                    (Tok::Sym(','), false) => expect_value = true,
                    (Tok::Word(w) | Tok::Str(w) | Tok::Ident(w), true) => {
                        parts.push(w.clone());
                        expect_value = false;
                    }
                    _ => return None,
                }
            }
            if parts.is_empty() || expect_value {
                return None;
            }
            Some(parts.join(", "))
        };
        SessionCommand::Set { name, value, local }
    } else if is_kw(Some(first), "RESET") {
        let tok = it.next()?;
        if it.next().is_some() {
            return None;
        }
        if is_kw(Some(tok), "ALL") {
            SessionCommand::ResetAll
        } else {
            SessionCommand::Reset(name_of(tok)?)
        }
    } else if is_kw(Some(first), "DISCARD") {
        if !is_kw(it.next(), "ALL") || it.next().is_some() {
            return None;
        }
        SessionCommand::DiscardAll
    } else {
        return None;
    };
    Some((command, len))
}

/// `SHOW name` / `SHOW ALL` / `SHOW TIME ZONE` as the query that answers it, with the statement's byte length;
/// None for anything else.
pub fn show_as_select(sql: &str) -> Option<(String, usize)> {
    if !first_word_is(sql, &["SHOW"]) {
        return None;
    }
    let (toks, len) = tokens(sql)?;
    if !is_kw(toks.first(), "SHOW") {
        return None;
    }
    let name = match &toks[1..] {
        [one] if is_kw(Some(one), "ALL") => {
            return Some((SHOW_ALL.to_string(), len));
        }
        [time, zone] if is_kw(Some(time), "TIME") && is_kw(Some(zone), "ZONE") => "timezone".to_string(),
        // pgjdbc's getTransactionIsolation.
        [t, i, l] if is_kw(Some(t), "TRANSACTION") && is_kw(Some(i), "ISOLATION") && is_kw(Some(l), "LEVEL") => {
            "transaction_isolation".to_string()
        }
        [one] => name_of(one)?,
        _ => return None,
    };
    let quoted = name.replace('\'', "''");
    let column = bgw_show_column(&name).replace('"', "\"\"");
    Some((format!("SELECT current_setting('{quoted}') AS \"{column}\""), len))
}

/// Whether `sql` is a query [`show_as_select`] wrote (it reads settings only: no data).
pub fn is_show_query(sql: &str) -> bool {
    sql.starts_with("SELECT current_setting('") || sql.starts_with(SHOW_ALL)
}

const SHOW_ALL: &str = "SELECT json_extract(value, '$[0]') AS name, json_extract(value, '$[1]') AS setting, \
                        json_extract(value, '$[2]') AS description FROM json_each(bgw_show_all())";

/// The column name of `SHOW name`: PostgreSQL's spelling of the parameter's name.
fn bgw_show_column(name: &str) -> String {
    match name {
        "datestyle" => "DateStyle".into(),
        "timezone" => "TimeZone".into(),
        "intervalstyle" => "IntervalStyle".into(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: Option<&str>, local: bool) -> SessionCommand {
        SessionCommand::Set { name: name.into(), value: value.map(Into::into), local }
    }

    #[test]
    fn parses_set_reset_discard() {
        assert_eq!(parse("SET extra_float_digits = 3").unwrap().0, set("extra_float_digits", Some("3"), false));
        assert_eq!(
            parse("set local statement_timeout to '1s'; select").unwrap(),
            (set("statement_timeout", Some("1s"), true), 36)
        );
        assert_eq!(parse("SET SESSION DateStyle = ISO, MDY").unwrap().0, set("datestyle", Some("ISO, MDY"), false));
        assert_eq!(
            parse("SET search_path = \"$user\", public").unwrap().0,
            set("search_path", Some("$user, public"), false)
        );
        assert_eq!(parse("SET application_name = 'it''s'").unwrap().0, set("application_name", Some("it's"), false));
        assert_eq!(parse("SET TIME ZONE 'UTC'").unwrap().0, set("timezone", Some("UTC"), false));
        assert_eq!(parse("set x to default").unwrap().0, set("x", None, false));
        assert_eq!(parse("SET lock_timeout = -1").unwrap().0, set("lock_timeout", Some("-1"), false));
        assert_eq!(parse("RESET ALL").unwrap().0, SessionCommand::ResetAll);
        assert_eq!(parse("reset TimeZone").unwrap().0, SessionCommand::Reset("timezone".into()));
        assert_eq!(parse("DISCARD ALL;").unwrap().0, SessionCommand::DiscardAll);
        for bad in ["SET x", "SET = 1", "SET x = ", "SET x = 1 2", "RESET", "DISCARD PLANS", "SELECT 1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(is_session_statement("SET x"));
        assert!(is_session_statement("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
        let modes = crate::sql::utility::TxModes { read_only: Some(true), ..Default::default() };
        assert_eq!(parse("SET TRANSACTION READ ONLY").unwrap().0, SessionCommand::SetTransaction(modes));
        assert_eq!(
            parse("set session characteristics as transaction read only").unwrap().0,
            SessionCommand::SetSessionCharacteristics(modes)
        );
        assert_eq!(parse("SET TRANSACTION ISOLATION LEVEL READ WRITE"), None);
        assert!(!is_session_statement("SET CONSTRAINTS ALL DEFERRED"));
        assert!(!is_session_statement("select 1"));
    }

    #[test]
    fn show_becomes_select() {
        assert_eq!(
            show_as_select("SHOW DateStyle;").unwrap(),
            ("SELECT current_setting('datestyle') AS \"DateStyle\"".to_string(), 15)
        );
        assert!(show_as_select("SHOW ALL").unwrap().0.contains("bgw_show_all()"));
        assert!(is_show_query(&show_as_select("SHOW ALL").unwrap().0));
        assert_eq!(
            show_as_select("SHOW TRANSACTION ISOLATION LEVEL").unwrap().0,
            "SELECT current_setting('transaction_isolation') AS \"transaction_isolation\""
        );
        assert!(is_show_query(&show_as_select("show transaction_isolation").unwrap().0));
        assert_eq!(show_as_select("SELECT 1"), None);
    }
}
