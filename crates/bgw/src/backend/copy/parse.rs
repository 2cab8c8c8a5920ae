//! The COPY statement's syntax, read over sqlparser's tokenizer (sqlparser's own parser does not take every
//! spelling PostgreSQL takes, such as `copy t from stdin with (freeze on)` that pgbench sends):
//!
//! ```text
//! COPY [BINARY] { table [ ( column [, ...] ) ] | ( query ) }
//!     { FROM | TO } { STDIN | STDOUT | 'file' | PROGRAM 'command' }
//!     [ [ WITH ] ( option [ value ] [, ...] ) | [ WITH ] legacy options ] [ WHERE condition ]
//! ```
//!
//! The legacy options are PostgreSQL's older spelling (`WITH CSV HEADER DELIMITER ',' NULL 'x' QUOTE '"'
//! ESCAPE '\' FORCE QUOTE *`); both spellings become the same list of [`RawOption`]s, which `options.rs` checks.
//! Nothing here looks at the database.
//!
//! Runs in: a backend process.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::sql::SqlError;

/// What a COPY reads or writes on the database's side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Relation {
    /// A table, optionally schema-qualified, with the columns named (None: all of them).
    Table { schema: Option<String>, name: String, columns: Option<Vec<String>> },
    /// `COPY (query) TO`: the query's text as written.
    Query(String),
}

/// Where the data comes from or goes to on the client's side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Endpoint {
    /// STDIN or STDOUT: the client, through the protocol's copy messages.
    Client,
    /// A file on the server.
    File,
    /// A program run on the server.
    Program,
}

/// An option's value as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OptionValue {
    None,
    /// A string literal (unescaped).
    Str(String),
    /// A word: a keyword or unquoted identifier folded to lower case, or a quoted identifier as written.
    Word(String),
    Number(String),
    /// `*` (FORCE QUOTE *).
    Star,
    /// A parenthesised list of column names.
    List(Vec<String>),
}

/// One option of the statement, by its lower-case name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawOption {
    pub name: String,
    pub value: OptionValue,
}

/// A COPY statement, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CopyStatement {
    pub relation: Relation,
    /// FROM (true) or TO (false).
    pub from: bool,
    pub endpoint: Endpoint,
    pub options: Vec<RawOption>,
    /// Whether a WHERE clause follows (COPY FROM only).
    pub has_where: bool,
}

/// Whether the first statement of `sql` is a COPY (by its first word).
pub(crate) fn is_copy(sql: &str) -> bool {
    crate::sql::statement::first_word(sql).as_deref() == Some("COPY")
}

/// Tokens of `sql` without whitespace and comments, each with the byte range it takes.
fn tokens(sql: &str) -> Result<Vec<(Token, usize, usize)>, SqlError> {
    let dialect = PostgreSqlDialect {};
    let spanned: Vec<TokenWithSpan> = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|err| SqlError::error("42601", format!("syntax error: {}", err.message)))?;
    // Locations are (line, column) in characters, both from 1: the byte offset of each line's start maps them.
    let mut line_starts = vec![0usize];
    line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |line: u64, column: u64| -> usize {
        let Some(&start) = line_starts.get((line as usize).saturating_sub(1)) else { return sql.len() };
        sql[start..].char_indices().nth((column as usize).saturating_sub(1)).map_or(sql.len(), |(i, _)| start + i)
    };
    Ok(spanned
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .map(|t| {
            let start = offset(t.span.start.line, t.span.start.column);
            let end = offset(t.span.end.line, t.span.end.column);
            (t.token, start, end)
        })
        .collect())
}

/// Parses the first statement of `sql` as a COPY statement; the statement and how many bytes of `sql` it takes
/// (with its `;`).
pub(crate) fn parse(sql: &str) -> Result<(CopyStatement, usize), SqlError> {
    let tokens = tokens(sql)?;
    let mut p = Parser { sql, tokens: &tokens, pos: 0 };
    let statement = p.statement()?;
    let len = match p.peek() {
        None => sql.len(),
        Some(Token::SemiColon) => tokens[p.pos].2,
        Some(_) => return Err(p.syntax_error()),
    };
    Ok((statement, len))
}

struct Parser<'a> {
    sql: &'a str,
    tokens: &'a [(Token, usize, usize)],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.pos).map(|t| &t.0);
        self.pos += 1;
        token
    }

    /// PostgreSQL's syntax error at the current token.
    fn syntax_error(&self) -> SqlError {
        match self.tokens.get(self.pos) {
            None | Some((Token::SemiColon, ..)) => SqlError::error("42601", "syntax error at end of input"),
            Some((_, start, end)) => {
                SqlError::error("42601", format!("syntax error at or near \"{}\"", &self.sql[*start..*end]))
            }
        }
    }

    /// Whether the next token is the unquoted keyword `kw`.
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    fn keyword(&mut self, kw: &str) -> bool {
        let at = self.at_keyword(kw);
        if at {
            self.pos += 1;
        }
        at
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn at(&self, token: &Token) -> bool {
        self.peek() == Some(token)
    }

    fn expect(&mut self, token: &Token) -> Result<(), SqlError> {
        if self.at(token) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// An identifier: unquoted ones are folded to lower case, as PostgreSQL does.
    fn identifier(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let name = if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() };
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn string(&mut self) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// `( name [, ...] )`
    fn name_list(&mut self) -> Result<Vec<String>, SqlError> {
        self.expect(&Token::LParen)?;
        let mut names = vec![self.identifier()?];
        while self.at(&Token::Comma) {
            self.pos += 1;
            names.push(self.identifier()?);
        }
        self.expect(&Token::RParen)?;
        Ok(names)
    }

    fn statement(&mut self) -> Result<CopyStatement, SqlError> {
        self.expect_keyword("COPY")?;
        let mut options = Vec::new();
        if self.keyword("BINARY") {
            options.push(RawOption { name: "format".into(), value: OptionValue::Word("binary".into()) });
        }
        let relation = if self.at(&Token::LParen) {
            Relation::Query(self.query()?)
        } else {
            let first = self.identifier()?;
            let (schema, name) = if self.at(&Token::Period) {
                self.pos += 1;
                (Some(first), self.identifier()?)
            } else {
                (None, first)
            };
            let columns = if self.at(&Token::LParen) { Some(self.name_list()?) } else { None };
            Relation::Table { schema, name, columns }
        };
        let from = if self.keyword("FROM") {
            true
        } else if self.keyword("TO") {
            false
        } else {
            return Err(self.syntax_error());
        };
        if from && matches!(relation, Relation::Query(_)) {
            // PostgreSQL's grammar has no COPY (query) FROM.
            self.pos -= 1;
            return Err(self.syntax_error());
        }
        let endpoint = if self.keyword("STDIN") || self.keyword("STDOUT") {
            Endpoint::Client
        } else if self.keyword("PROGRAM") {
            self.string()?;
            Endpoint::Program
        } else {
            self.string()?;
            Endpoint::File
        };
        let with = self.keyword("WITH");
        if self.at(&Token::LParen) {
            self.option_list(&mut options)?;
        } else {
            self.legacy_options(&mut options)?;
            if with && options.is_empty() {
                return Err(self.syntax_error());
            }
        }
        let has_where = from && self.at_keyword("WHERE");
        if has_where {
            // The condition is not read: COPY FROM ... WHERE is refused once the statement is known to be one.
            while !matches!(self.peek(), None | Some(Token::SemiColon)) {
                self.pos += 1;
            }
        }
        Ok(CopyStatement { relation, from, endpoint, options, has_where })
    }

    /// `( query )`: the text between the parentheses.
    fn query(&mut self) -> Result<String, SqlError> {
        let open = self.pos;
        self.expect(&Token::LParen)?;
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                None => {
                    self.pos = self.tokens.len();
                    return Err(self.syntax_error());
                }
                Some(Token::LParen) => depth += 1,
                Some(Token::RParen) => depth -= 1,
                Some(_) => {}
            }
        }
        let start = self.tokens[open].2;
        let end = self.tokens[self.pos - 1].1;
        if self.pos - open == 2 {
            // `()`: no query.
            self.pos -= 1;
            return Err(self.syntax_error());
        }
        Ok(self.sql[start..end].trim().to_owned())
    }

    /// `( name [value] [, ...] )`, PostgreSQL's generic option list.
    fn option_list(&mut self, options: &mut Vec<RawOption>) -> Result<(), SqlError> {
        self.expect(&Token::LParen)?;
        loop {
            let name = match self.peek() {
                Some(Token::Word(w)) => w.value.to_lowercase(),
                _ => return Err(self.syntax_error()),
            };
            self.pos += 1;
            let value = match self.peek() {
                Some(Token::Comma | Token::RParen) => OptionValue::None,
                Some(Token::SingleQuotedString(_) | Token::EscapedStringLiteral(_)) => OptionValue::Str(self.string()?),
                Some(Token::Number(n, _)) => {
                    let n = n.clone();
                    self.pos += 1;
                    OptionValue::Number(n)
                }
                Some(Token::Minus) => {
                    self.pos += 1;
                    match self.next() {
                        Some(Token::Number(n, _)) => OptionValue::Number(format!("-{n}")),
                        _ => {
                            self.pos -= 1;
                            return Err(self.syntax_error());
                        }
                    }
                }
                Some(Token::Mul) => {
                    self.pos += 1;
                    OptionValue::Star
                }
                Some(Token::LParen) => OptionValue::List(self.name_list()?),
                Some(Token::Word(_)) => OptionValue::Word(self.identifier()?),
                _ => return Err(self.syntax_error()),
            };
            options.push(RawOption { name, value });
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::RParen) => return Ok(()),
                _ => {
                    self.pos -= 1;
                    return Err(self.syntax_error());
                }
            }
        }
    }

    /// PostgreSQL's older option spelling, as many as follow.
    fn legacy_options(&mut self, options: &mut Vec<RawOption>) -> Result<(), SqlError> {
        let word = |name: &str, value: &str| RawOption { name: name.into(), value: OptionValue::Word(value.into()) };
        loop {
            if self.keyword("BINARY") {
                options.push(word("format", "binary"));
            } else if self.keyword("CSV") {
                options.push(word("format", "csv"));
            } else if self.keyword("HEADER") {
                options.push(word("header", "true"));
            } else if self.keyword("FREEZE") {
                options.push(word("freeze", "true"));
            } else if self.keyword("OIDS") {
                options.push(word("oids", "true"));
            } else if let Some(name) =
                ["DELIMITER", "NULL", "QUOTE", "ESCAPE", "ENCODING"].into_iter().find(|kw| self.at_keyword(kw))
            {
                self.pos += 1;
                self.keyword("AS");
                let value = self.string()?;
                options.push(RawOption { name: name.to_lowercase(), value: OptionValue::Str(value) });
            } else if self.keyword("FORCE") {
                if self.keyword("QUOTE") {
                    let value = if self.at(&Token::Mul) {
                        self.pos += 1;
                        OptionValue::Star
                    } else {
                        OptionValue::List(self.column_names()?)
                    };
                    options.push(RawOption { name: "force_quote".into(), value });
                } else if self.keyword("NOT") {
                    self.expect_keyword("NULL")?;
                    options.push(RawOption {
                        name: "force_not_null".into(),
                        value: OptionValue::List(self.column_names()?),
                    });
                } else if self.keyword("NULL") {
                    options
                        .push(RawOption { name: "force_null".into(), value: OptionValue::List(self.column_names()?) });
                } else {
                    return Err(self.syntax_error());
                }
            } else {
                return Ok(());
            }
        }
    }

    /// `column [, ...]` without parentheses (the legacy FORCE options).
    fn column_names(&mut self) -> Result<Vec<String>, SqlError> {
        let mut names = vec![self.identifier()?];
        while self.at(&Token::Comma) {
            self.pos += 1;
            names.push(self.identifier()?);
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str, value: OptionValue) -> RawOption {
        RawOption { name: name.into(), value }
    }

    fn word(w: &str) -> OptionValue {
        OptionValue::Word(w.into())
    }

    #[test]
    fn parses_the_spellings_clients_send() {
        let (s, len) = parse("copy pgbench_accounts from stdin with (freeze on)").unwrap();
        assert_eq!(s.relation, Relation::Table { schema: None, name: "pgbench_accounts".into(), columns: None });
        assert!(s.from);
        assert_eq!(s.endpoint, Endpoint::Client);
        assert_eq!(s.options, vec![opt("freeze", word("on"))]);
        assert_eq!(len, 49);

        let (s, _) = parse("COPY \"My\".T (a, \"B\") FROM STDIN (FORMAT csv, HEADER true, DELIMITER E'\\t')").unwrap();
        assert_eq!(
            s.relation,
            Relation::Table {
                schema: Some("My".into()),
                name: "t".into(),
                columns: Some(vec!["a".into(), "B".into()])
            }
        );
        assert_eq!(
            s.options,
            vec![
                opt("format", word("csv")),
                opt("header", word("true")),
                opt("delimiter", OptionValue::Str("\t".into()))
            ]
        );

        let (s, _) = parse("copy t to stdout with csv header delimiter as ';' null 'N' force quote a, b").unwrap();
        assert_eq!(
            s.options,
            vec![
                opt("format", word("csv")),
                opt("header", word("true")),
                opt("delimiter", OptionValue::Str(";".into())),
                opt("null", OptionValue::Str("N".into())),
                opt("force_quote", OptionValue::List(vec!["a".into(), "b".into()])),
            ]
        );
        let (s, _) = parse("copy t to stdout (force_quote *, format csv)").unwrap();
        assert_eq!(s.options[0], opt("force_quote", OptionValue::Star));
    }

    #[test]
    fn query_text_and_statement_length() {
        let sql = "COPY (select 'a;b', (1) -- c\n) TO STDOUT;  select 2";
        let (s, len) = parse(sql).unwrap();
        assert_eq!(s.relation, Relation::Query("select 'a;b', (1) -- c".into()));
        assert_eq!(&sql[len..], "  select 2");
        let sql = "copy (select 'é') to stdout; x";
        let (s, len) = parse(sql).unwrap();
        assert_eq!(s.relation, Relation::Query("select 'é'".into()));
        assert_eq!(&sql[len..], " x");
    }

    #[test]
    fn endpoints_and_errors() {
        assert_eq!(parse("copy t from '/etc/passwd'").unwrap().0.endpoint, Endpoint::File);
        assert_eq!(parse("copy t to program 'cat'").unwrap().0.endpoint, Endpoint::Program);
        assert!(parse("copy t from stdin where a > 1").unwrap().0.has_where);
        let err = |sql: &str| parse(sql).unwrap_err().message;
        assert_eq!(err("copy (select 1) from stdin"), "syntax error at or near \"from\"");
        assert_eq!(err("copy t"), "syntax error at end of input");
        assert_eq!(err("copy t from stdin (format"), "syntax error at end of input");
        assert_eq!(err("copy t from stdin bogus"), "syntax error at or near \"bogus\"");
        assert_eq!(err("copy t into stdout"), "syntax error at or near \"into\"");
    }
}
