//! The SQL lexer both front-ends share: enough of SQL's token rules to find keywords, statement ends and
//! parenthesis depth without parsing (blanks and comments skipped; strings, numbers, blobs and quoted
//! identifiers are opaque literals).
//!
//! Runs in: any process that runs SQL.

/// A token of SQL text, as far as finding keywords goes.
#[derive(Debug, PartialEq)]
pub enum Token {
    /// An unquoted word, upper-cased.
    Word(String),
    Symbol(u8),
    /// A string, number, blob or quoted identifier.
    Literal,
}

/// Splits SQL text into tokens with their parenthesis depth, skipping blanks and comments.
pub struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer { bytes: text.as_bytes(), pos: 0, depth: 0 }
    }

    /// How many bytes of the text the tokens returned so far take.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn skip_until(&mut self, end: &[u8]) {
        while self.pos < self.bytes.len() && !self.bytes[self.pos..].starts_with(end) {
            self.pos += 1;
        }
        self.pos = (self.pos + end.len()).min(self.bytes.len());
    }
}

impl Iterator for Lexer<'_> {
    type Item = (usize, Token);

    fn next(&mut self) -> Option<(usize, Token)> {
        loop {
            let &byte = self.bytes.get(self.pos)?;
            let next = self.bytes.get(self.pos + 1).copied();
            match byte {
                b if b.is_ascii_whitespace() => self.pos += 1,
                b'-' if next == Some(b'-') => self.skip_until(b"\n"),
                b'/' if next == Some(b'*') => {
                    self.pos += 2;
                    self.skip_until(b"*/");
                }
                b'\'' | b'"' | b'`' => {
                    // A doubled quote inside is an escaped quote: skipping to the next quote and going on
                    // from there reads it as two adjacent literals, which is just as good here.
                    self.pos += 1;
                    self.skip_until(&[byte]);
                    return Some((self.depth, Token::Literal));
                }
                b'[' => {
                    self.skip_until(b"]");
                    return Some((self.depth, Token::Literal));
                }
                b'(' => {
                    self.pos += 1;
                    self.depth += 1;
                    return Some((self.depth - 1, Token::Symbol(b'(')));
                }
                b')' => {
                    self.pos += 1;
                    self.depth = self.depth.saturating_sub(1);
                    return Some((self.depth, Token::Symbol(b')')));
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let start = self.pos;
                    while self.pos < self.bytes.len() {
                        let b = self.bytes[self.pos];
                        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let word = String::from_utf8_lossy(&self.bytes[start..self.pos]).to_ascii_uppercase();
                    return Some((self.depth, Token::Word(word)));
                }
                b if b.is_ascii_digit() => {
                    while self.pos < self.bytes.len()
                        && (self.bytes[self.pos].is_ascii_alphanumeric() || self.bytes[self.pos] == b'.')
                    {
                        self.pos += 1;
                    }
                    return Some((self.depth, Token::Literal));
                }
                other => {
                    self.pos += 1;
                    return Some((self.depth, Token::Symbol(other)));
                }
            }
        }
    }
}

/// True if `sql` holds no statement: only blanks, comments and semicolons.
pub fn is_blank(sql: &str) -> bool {
    // The lexer's rules for blanks and comments, without making the first word a token (every query string is
    // looked at here).
    let bytes = sql.as_bytes();
    let mut lexer = Lexer::new(sql);
    while let Some(&byte) = bytes.get(lexer.pos) {
        let next = bytes.get(lexer.pos + 1).copied();
        match byte {
            b';' => lexer.pos += 1,
            b if b.is_ascii_whitespace() => lexer.pos += 1,
            b'-' if next == Some(b'-') => lexer.skip_until(b"\n"),
            b'/' if next == Some(b'*') => {
                lexer.pos += 2;
                lexer.skip_until(b"*/");
            }
            _ => return false,
        }
    }
    true
}

/// How many bytes the first statement of `sql` takes, up to and including its `;`, when this lexer can tell for
/// sure: None when there is no `;`, or when the text before it has a `$` or a backslash (a dollar-quoted string or
/// an escape string could hide a `;` this lexer does not see as quoted). Linear in the statement, not in `sql`:
/// what lets a caller look at one statement of a long string without reading the rest.
pub fn first_statement_len(sql: &str) -> Option<usize> {
    let mut lexer = Lexer::new(sql);
    let end = loop {
        let (_, token) = lexer.next()?;
        if token == Token::Symbol(b';') {
            break lexer.position();
        }
    };
    (!sql.as_bytes()[..end].iter().any(|b| matches!(b, b'$' | b'\\'))).then_some(end)
}

/// The words of the first statement of `sql` at parenthesis depth 0, upper-cased (up to its `;`).
pub fn leading_words(sql: &str) -> impl Iterator<Item = String> + '_ {
    Lexer::new(sql).take_while(|(_, token)| *token != Token::Symbol(b';')).filter_map(|(depth, token)| match token {
        Token::Word(word) if depth == 0 => Some(word),
        _ => None,
    })
}

/// An integer literal of a statement's text, as [`shape`] finds it: its bytes and where it starts as sqlparser
/// counts (1-based line and column in characters), so that the translator can tell which AST literal it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntLiteral {
    pub start: usize,
    pub end: usize,
    pub line: u64,
    pub column: u64,
}

/// The shape of the first statement of a PostgreSQL query string: its text with every unsigned integer literal
/// (a run of digits that is a whole token) taken out, the literals, and how many bytes the statement takes with
/// its `;`. The text is `key` with each `\0` replaced by the next literal's digits, so two statements with the
/// same key differ only in those digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub key: String,
    pub literals: Vec<IntLiteral>,
    /// Bytes of the first statement, with its `;` if it has one.
    pub len: usize,
}

/// The [`Shape`] of the first statement of `sql`, read in one pass; None where this lexer cannot be sure of
/// PostgreSQL's tokens (a `$`, a backslash, a `/*` comment, which may nest, a NUL) or the statement is blank.
pub fn shape(sql: &str) -> Option<Shape> {
    let bytes = sql.as_bytes();
    let mut key = String::with_capacity(sql.len());
    let mut literals = Vec::new();
    let (mut pos, mut copied) = (0, 0);
    let (mut line, mut line_start) = (1u64, 0usize);
    let mut blank = true;
    let column = |line_start: usize, at: usize| 1 + sql[line_start..at].chars().count() as u64;
    let end = loop {
        let Some(&byte) = bytes.get(pos) else { break pos };
        let next = bytes.get(pos + 1).copied();
        match byte {
            b'$' | b'\\' | 0 => return None,
            b'/' if next == Some(b'*') => return None,
            b';' => break pos + 1,
            b'\n' => {
                pos += 1;
                line += 1;
                line_start = pos;
            }
            b if b.is_ascii_whitespace() => pos += 1,
            b'-' if next == Some(b'-') => {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            }
            b'\'' | b'"' => {
                blank = false;
                pos += 1;
                loop {
                    match bytes.get(pos) {
                        None => return None,
                        Some(&b) if b == byte && bytes.get(pos + 1) == Some(&byte) => pos += 2,
                        Some(&b) if b == byte => break,
                        Some(b'\\') => return None,
                        Some(b'\n') => {
                            pos += 1;
                            line += 1;
                            line_start = pos;
                        }
                        Some(_) => pos += 1,
                    }
                }
                pos += 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                blank = false;
                while pos < bytes.len()
                    && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'_' || bytes[pos] >= 0x80)
                {
                    pos += 1;
                }
            }
            b if b.is_ascii_digit() => {
                blank = false;
                let start = pos;
                while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                    pos += 1;
                }
                let after = bytes.get(pos).copied();
                let joined = after.is_some_and(|a| a.is_ascii_alphanumeric() || a == b'_' || a == b'.' || a >= 0x80)
                    || (start > 0 && bytes[start - 1] == b'.');
                if !joined {
                    key.push_str(&sql[copied..start]);
                    key.push('\0');
                    copied = pos;
                    literals.push(IntLiteral { start, end: pos, line, column: column(line_start, start) });
                } else {
                    // A number with a fraction, an exponent or a suffix: part of the key as written.
                    while pos < bytes.len()
                        && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'.' || bytes[pos] == b'_')
                    {
                        pos += 1;
                    }
                }
            }
            _ => {
                blank = false;
                pos += 1;
            }
        }
    };
    if blank {
        return None;
    }
    let body_end = if end > 0 && bytes[end - 1] == b';' { end - 1 } else { end };
    key.push_str(&sql[copied..body_end]);
    Some(Shape { key, literals, len: end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks() {
        assert!(is_blank(""));
        assert!(is_blank(" ;; -- x\n /* y */ ;"));
        assert!(is_blank("/* unterminated"));
        assert!(!is_blank("1"));
        assert!(!is_blank(";select"));
        assert!(!is_blank("'x'"));
    }

    #[test]
    fn first_statement_len_stops_at_the_first_semicolon_outside_quotes() {
        assert_eq!(first_statement_len("LISTEN a; LISTEN b;"), Some(9));
        assert_eq!(first_statement_len("CREATE ROLE x PASSWORD 'a;b'; x"), Some(29));
        let commented = "/* ; */ -- ;\n NOTIFY c, ';';";
        assert_eq!(first_statement_len(commented), Some(commented.len()));
        assert_eq!(first_statement_len("NOTIFY c -- ;\n; x"), Some(15));
        assert_eq!(first_statement_len("LISTEN a"), None);
        assert_eq!(first_statement_len("CREATE ROLE x PASSWORD $$a;b$$;"), None);
        assert_eq!(first_statement_len("NOTIFY c, E'\\';'; x"), None);
    }

    #[test]
    fn leading_words_stop_at_the_statement_end() {
        let words: Vec<String> = leading_words("with a(x) as (select 1) /* c */ insert into 't'; delete").collect();
        assert_eq!(words, ["WITH", "A", "AS", "INSERT", "INTO"]);
        assert_eq!(leading_words("  -- only\n").count(), 0);
    }
    #[test]
    fn shapes_take_integer_literals_out() {
        let s = shape("SELECT abalance FROM pgbench_accounts WHERE aid = 12345; SELECT 2").unwrap();
        assert_eq!(s.key, "SELECT abalance FROM pgbench_accounts WHERE aid = \0");
        assert_eq!(s.len, 56);
        assert_eq!(s.literals, [IntLiteral { start: 50, end: 55, line: 1, column: 51 }]);
        let other = shape("SELECT abalance FROM pgbench_accounts WHERE aid = 7").unwrap();
        assert_eq!(other.key, s.key);
        let s = shape("select 'a1''2', \"x3\", t1.c, 1.5, 2e3, .5, 7\n  -- 8\n, é, 9").unwrap();
        assert_eq!(s.key, "select 'a1''2', \"x3\", t1.c, 1.5, 2e3, .5, \0\n  -- 8\n, é, \0");
        assert_eq!((s.literals[1].line, s.literals[1].column), (3, 6));
        for unsure in ["select $1", "select E'\\n'", "select /* 1 */ 2", "  ; select 1", "select 'open"] {
            assert_eq!(shape(unsure), None, "{unsure}");
        }
    }
}
