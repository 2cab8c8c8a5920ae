//! The extension statements, parsed from their text: `CREATE EXTENSION`, `DROP EXTENSION`, `ALTER EXTENSION`
//! (recognized, to be refused), `CREATE [OR REPLACE] FUNCTION ... LANGUAGE C` and `DROP FUNCTION`. They are not
//! translated into SQLite SQL: the backend runs them (reading the share directory, loading libraries, writing the
//! database's extension catalog); this module only says what a statement asks for, or why it is malformed (42601)
//! or not supported (0A000).
//!
//! Invariant: [`is_extension_statement`] claims exactly the statements [`parse`] reads; a `CREATE FUNCTION` in
//! another language is left to the translator (which refuses it).
//!
//! Runs in: a backend process.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::sql::error::SqlError;

/// A statement this module reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionStatement {
    CreateExtension(CreateExtension),
    DropExtension {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// Any `ALTER EXTENSION` (refused by the caller).
    AlterExtension {
        name: String,
    },
    CreateFunction(CFunction),
    DropFunction {
        name: String,
        args: Option<Vec<String>>,
        if_exists: bool,
    },
}

/// `CREATE EXTENSION [IF NOT EXISTS] name [WITH] [SCHEMA s] [VERSION v] [CASCADE]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateExtension {
    pub name: String,
    pub if_not_exists: bool,
    pub schema: Option<String>,
    pub version: Option<String>,
    pub cascade: bool,
}

/// `CREATE [OR REPLACE] FUNCTION name(args) RETURNS type ... AS 'library'[, 'symbol'] LANGUAGE C`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CFunction {
    pub or_replace: bool,
    /// The schema it was qualified with, if any.
    pub schema: Option<String>,
    pub name: String,
    /// The argument types as written (`pg_catalog.int4`, `integer`, `double precision`).
    pub args: Vec<String>,
    /// The argument names, where given.
    pub arg_names: Vec<Option<String>>,
    pub returns: String,
    pub strict: bool,
    /// `v`, `s` or `i` (pg_proc.provolatile).
    pub volatility: char,
    pub library: String,
    /// The link symbol; None means the function's name.
    pub symbol: Option<String>,
}

/// Whether `sql` starts with a statement [`parse`] reads.
pub fn is_extension_statement(sql: &str) -> bool {
    let words: Vec<String> = crate::sql::lexer::leading_words(sql).take(4).collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["CREATE" | "DROP" | "ALTER", "EXTENSION", ..] | ["DROP", "FUNCTION", ..] => true,
        ["CREATE", "FUNCTION", ..] | ["CREATE", "OR", "REPLACE", "FUNCTION"] => language_is_c(sql),
        _ => false,
    }
}

fn language_is_c(sql: &str) -> bool {
    let Ok(tokens) = tokens(sql) else { return false };
    tokens.windows(2).any(|w| {
        is_word(&w[0], "LANGUAGE")
            && match &w[1] {
                Token::Word(x) => x.value.eq_ignore_ascii_case("c"),
                Token::SingleQuotedString(s) => s.eq_ignore_ascii_case("c"),
                _ => false,
            }
    })
}

fn tokens(sql: &str) -> Result<Vec<Token>, SqlError> {
    let all = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| SqlError::error("42601", format!("syntax error: {e}")))?;
    let mut out: Vec<Token> = all
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)))
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    // The statement ends at its first `;` (the caller passes one statement).
    if let Some(end) = out.iter().position(|t| matches!(t, Token::SemiColon)) {
        out.truncate(end);
    }
    Ok(out)
}

fn is_word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

/// A cursor over a statement's tokens.
struct Cursor {
    tokens: Vec<Token>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| is_word(t, w)) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn eat_all(&mut self, ws: &[&str]) -> bool {
        let save = self.at;
        if ws.iter().all(|w| self.eat(w)) {
            true
        } else {
            self.at = save;
            false
        }
    }
    fn expect(&mut self, w: &str) -> Result<(), SqlError> {
        if self.eat(w) {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }
    fn syntax(&self) -> SqlError {
        match self.peek() {
            None => SqlError::error("42601", "syntax error at end of input"),
            Some(t) => SqlError::error("42601", format!("syntax error at or near \"{}\"", token_text(t))),
        }
    }
    /// An identifier (folded to lower case unless quoted).
    fn ident(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let v = if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() };
                self.at += 1;
                Ok(v)
            }
            _ => Err(self.syntax()),
        }
    }
    /// An identifier or a string literal (`VERSION '1.0'`, `VERSION "1.0"`, `VERSION v1`).
    fn ident_or_string(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::SingleQuotedString(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            Some(Token::Number(n, _)) => {
                let n = n.clone();
                self.at += 1;
                Ok(n)
            }
            _ => self.ident(),
        }
    }
    fn string(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::SingleQuotedString(s)) | Some(Token::EscapedStringLiteral(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            Some(Token::DollarQuotedString(s)) => {
                let s = s.value.clone();
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.syntax()),
        }
    }
    /// A possibly qualified name: (schema, name).
    fn qualified(&mut self) -> Result<(Option<String>, String), SqlError> {
        let first = self.ident()?;
        if matches!(self.peek(), Some(Token::Period)) {
            self.at += 1;
            return Ok((Some(first), self.ident()?));
        }
        Ok((None, first))
    }
    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }
}

fn token_text(t: &Token) -> String {
    match t {
        Token::Word(w) => w.value.clone(),
        Token::SingleQuotedString(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses the first statement of `sql` (one [`is_extension_statement`] claimed).
pub fn parse(sql: &str) -> Result<ExtensionStatement, SqlError> {
    let mut c = Cursor { tokens: tokens(sql)?, at: 0 };
    if c.eat("ALTER") {
        c.expect("EXTENSION")?;
        return Ok(ExtensionStatement::AlterExtension { name: c.ident()? });
    }
    if c.eat("DROP") {
        if c.eat("EXTENSION") {
            let if_exists = c.eat_all(&["IF", "EXISTS"]);
            let mut names = vec![c.ident()?];
            while matches!(c.peek(), Some(Token::Comma)) {
                c.at += 1;
                names.push(c.ident()?);
            }
            let cascade = c.eat("CASCADE");
            if !cascade {
                c.eat("RESTRICT");
            }
            return if c.done() {
                Ok(ExtensionStatement::DropExtension { names, if_exists, cascade })
            } else {
                Err(c.syntax())
            };
        }
        c.expect("FUNCTION")?;
        let if_exists = c.eat_all(&["IF", "EXISTS"]);
        let (_, name) = c.qualified()?;
        let args = if matches!(c.peek(), Some(Token::LParen)) {
            Some(arguments(&mut c)?.into_iter().map(|(_, t)| t).collect())
        } else {
            None
        };
        if !c.eat("CASCADE") {
            c.eat("RESTRICT");
        }
        return if c.done() { Ok(ExtensionStatement::DropFunction { name, args, if_exists }) } else { Err(c.syntax()) };
    }
    c.expect("CREATE")?;
    let or_replace = c.eat_all(&["OR", "REPLACE"]);
    if !or_replace && c.eat("EXTENSION") {
        let mut e = CreateExtension { if_not_exists: c.eat_all(&["IF", "NOT", "EXISTS"]), ..Default::default() };
        e.name = c.ident()?;
        c.eat("WITH");
        loop {
            if c.eat("SCHEMA") {
                e.schema = Some(c.ident()?);
            } else if c.eat("VERSION") {
                e.version = Some(c.ident_or_string()?);
            } else if c.eat("CASCADE") {
                e.cascade = true;
            } else if c.eat("FROM") {
                return Err(SqlError::error("0A000", "CREATE EXTENSION ... FROM is no longer supported"));
            } else {
                break;
            }
        }
        return if c.done() { Ok(ExtensionStatement::CreateExtension(e)) } else { Err(c.syntax()) };
    }
    c.expect("FUNCTION")?;
    let (schema, name) = c.qualified()?;
    let mut f = CFunction { or_replace, schema, name, volatility: 'v', ..Default::default() };
    for (n, t) in arguments(&mut c)? {
        f.arg_names.push(n);
        f.args.push(t);
    }
    let mut language = None;
    while !c.done() {
        if c.eat("RETURNS") {
            if c.eat("SETOF") {
                return Err(SqlError::error("0A000", "set-returning C functions are not supported"));
            }
            if c.eat("TABLE") {
                return Err(SqlError::error("0A000", "C functions returning TABLE are not supported"));
            }
            f.returns = type_name(&mut c, &[])?;
        } else if c.eat("LANGUAGE") {
            language = Some(c.ident_or_string()?);
        } else if c.eat("AS") {
            f.library = c.string()?;
            if matches!(c.peek(), Some(Token::Comma)) {
                c.at += 1;
                f.symbol = Some(c.string()?);
            }
        } else if c.eat("STRICT") || c.eat_all(&["RETURNS", "NULL", "ON", "NULL", "INPUT"]) {
            f.strict = true;
        } else if c.eat_all(&["CALLED", "ON", "NULL", "INPUT"]) {
            f.strict = false;
        } else if c.eat("VOLATILE") {
            f.volatility = 'v';
        } else if c.eat("STABLE") {
            f.volatility = 's';
        } else if c.eat("IMMUTABLE") {
            f.volatility = 'i';
        } else if c.eat("PARALLEL") {
            c.ident()?;
        } else if c.eat("LEAKPROOF") || c.eat_all(&["NOT", "LEAKPROOF"]) || c.eat("WINDOW") {
        } else if c.eat("COST") || c.eat("ROWS") {
            match c.next() {
                Some(Token::Number(..)) => {}
                _ => return Err(c.syntax()),
            }
        } else if c.eat_all(&["SECURITY", "DEFINER"]) || c.eat_all(&["EXTERNAL", "SECURITY", "DEFINER"]) {
            return Err(SqlError::error("0A000", "SECURITY DEFINER functions are not supported"));
        } else if c.eat_all(&["SECURITY", "INVOKER"]) || c.eat_all(&["EXTERNAL", "SECURITY", "INVOKER"]) {
        } else if c.eat("SET") || c.eat("SUPPORT") || c.eat("TRANSFORM") {
            return Err(SqlError::error("0A000", "CREATE FUNCTION with SET, SUPPORT or TRANSFORM is not supported"));
        } else {
            return Err(c.syntax());
        }
    }
    if !language.is_some_and(|l| l.eq_ignore_ascii_case("c")) {
        return Err(SqlError::error("0A000", "CREATE FUNCTION is supported in LANGUAGE C only"));
    }
    if f.returns.is_empty() {
        return Err(SqlError::error("42P13", "function result type must be specified"));
    }
    if f.library.is_empty() {
        return Err(SqlError::error("42P13", "no function body specified"));
    }
    Ok(ExtensionStatement::CreateFunction(f))
}

/// `( [mode] [name] type [, ...] )`: (name, type) pairs.
fn arguments(c: &mut Cursor) -> Result<Vec<(Option<String>, String)>, SqlError> {
    if !matches!(c.next(), Some(Token::LParen)) {
        c.at -= 1;
        return Err(c.syntax());
    }
    let mut out = Vec::new();
    if matches!(c.peek(), Some(Token::RParen)) {
        c.at += 1;
        return Ok(out);
    }
    loop {
        if c.eat("OUT") || c.eat("INOUT") || c.eat("VARIADIC") {
            return Err(SqlError::error("0A000", "OUT, INOUT and VARIADIC arguments of C functions are not supported"));
        }
        c.eat("IN");
        // `name type` or `type`: a name is a word followed by another word (the type).
        let named = matches!(c.tokens.get(c.at), Some(Token::Word(_)))
            && matches!(c.tokens.get(c.at + 1), Some(Token::Word(_)))
            && type_word_count(&c.tokens[c.at..]) < 2;
        let name = if named { Some(c.ident()?) } else { None };
        let ty = type_name(c, &["DEFAULT"])?;
        if c.eat("DEFAULT") || matches!(c.peek(), Some(Token::Eq)) {
            return Err(SqlError::error("0A000", "argument defaults of C functions are not supported"));
        }
        out.push((name, ty));
        match c.next() {
            Some(Token::Comma) => continue,
            Some(Token::RParen) => return Ok(out),
            _ => {
                c.at -= 1;
                return Err(c.syntax());
            }
        }
    }
}

/// How many leading words of `tokens` make up a multi-word type name (`double precision`, `character varying`).
fn type_word_count(tokens: &[Token]) -> usize {
    let w = |i: usize, s: &str| tokens.get(i).is_some_and(|t| is_word(t, s));
    if w(0, "double") && w(1, "precision")
        || w(0, "character") && w(1, "varying")
        || w(0, "char") && w(1, "varying")
        || w(0, "bit") && w(1, "varying")
    {
        2
    } else {
        1
    }
}

/// A type name as written: words, dots, a `(n)` modifier, `[]`; stops at a comma, `)`, or one of `stop`.
fn type_name(c: &mut Cursor, stop: &[&str]) -> Result<String, SqlError> {
    let mut parts: Vec<String> = Vec::new();
    let mut depth = 0;
    while let Some(t) = c.peek() {
        if depth == 0 {
            if matches!(t, Token::Comma | Token::RParen) || stop.iter().any(|s| is_word(t, s)) {
                break;
            }
            if !parts.is_empty() && matches!(t, Token::Word(_)) {
                // A following word belongs to the type only in a multi-word name (`double precision`).
                let last = parts.last().map(String::as_str).unwrap_or("");
                let continues = matches!(
                    (last.to_ascii_lowercase().as_str(), token_text(t).to_ascii_lowercase().as_str()),
                    ("double", "precision")
                        | ("character" | "char" | "bit", "varying")
                        | ("with" | "without", "time")
                        | ("time", "zone")
                        | ("timestamp" | "time" | ")", "with" | "without")
                );
                if !continues && last != "." {
                    break;
                }
            }
        }
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let text = match t {
            Token::Word(w) if w.quote_style.is_some() => w.value.clone(),
            other => token_text(other).to_lowercase(),
        };
        parts.push(text);
        c.at += 1;
    }
    if parts.is_empty() {
        return Err(c.syntax());
    }
    let mut out = String::new();
    for p in parts {
        let glue = !(out.is_empty()
            || out.ends_with('.')
            || p == "."
            || p == "("
            || p == ")"
            || out.ends_with('(')
            || p == "["
            || p == "]");
        if glue {
            out.push(' ');
        }
        out.push_str(&p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_its_statements() {
        assert!(is_extension_statement("CREATE EXTENSION x"));
        assert!(is_extension_statement("drop extension if exists x cascade;"));
        assert!(is_extension_statement("ALTER EXTENSION x UPDATE"));
        assert!(is_extension_statement("CREATE FUNCTION f(int4) RETURNS int4 AS 'm' LANGUAGE C"));
        assert!(is_extension_statement("create or replace function f() returns int language 'c' as '$libdir/m', 'g'"));
        assert!(!is_extension_statement("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'"));
        assert!(!is_extension_statement("CREATE TABLE extension (a int)"));
    }

    #[test]
    fn parses_create_extension() {
        let ExtensionStatement::CreateExtension(e) =
            parse("CREATE EXTENSION IF NOT EXISTS \"Ext\" WITH SCHEMA s VERSION '1.0' CASCADE").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            e,
            CreateExtension {
                name: "Ext".into(),
                if_not_exists: true,
                schema: Some("s".into()),
                version: Some("1.0".into()),
                cascade: true
            }
        );
        assert!(parse("CREATE EXTENSION").is_err());
    }

    #[test]
    fn parses_c_functions() {
        let sql = "CREATE FUNCTION worker_spi_launch(pg_catalog.int4)\nRETURNS pg_catalog.int4 STRICT\nAS 'MODULE_PATHNAME'\nLANGUAGE C;";
        let ExtensionStatement::CreateFunction(f) = parse(sql).unwrap() else { panic!() };
        assert_eq!(f.name, "worker_spi_launch");
        assert_eq!(f.args, vec!["pg_catalog.int4"]);
        assert_eq!(f.returns, "pg_catalog.int4");
        assert!(f.strict);
        assert_eq!(f.library, "MODULE_PATHNAME");
        assert_eq!(f.symbol, None);
        let ExtensionStatement::CreateFunction(f) = parse(
            "create or replace function s.g(a integer, double precision, b character varying) returns double precision immutable language c as 'lib', 'sym'",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(f.schema.as_deref(), Some("s"));
        assert_eq!(f.args, vec!["integer", "double precision", "character varying"]);
        assert_eq!(f.arg_names, vec![Some("a".into()), None, Some("b".into())]);
        assert_eq!(f.returns, "double precision");
        assert_eq!(f.volatility, 'i');
        assert_eq!(f.symbol.as_deref(), Some("sym"));
    }

    #[test]
    fn parses_drops() {
        assert_eq!(
            parse("DROP EXTENSION IF EXISTS a, b CASCADE").unwrap(),
            ExtensionStatement::DropExtension { names: vec!["a".into(), "b".into()], if_exists: true, cascade: true }
        );
        assert_eq!(
            parse("DROP FUNCTION f(int4)").unwrap(),
            ExtensionStatement::DropFunction { name: "f".into(), args: Some(vec!["int4".into()]), if_exists: false }
        );
    }
}
