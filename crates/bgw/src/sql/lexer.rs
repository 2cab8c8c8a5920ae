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
    Lexer::new(sql).all(|(_, token)| token == Token::Symbol(b';'))
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
}
