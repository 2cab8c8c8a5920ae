//! The configuration file syntax: PostgreSQL's `postgresql.conf` format.
//!
//! A file is a sequence of lines. Each non-blank line that is not only a
//! comment holds one setting, `name = value`, where the `=` may be left out.
//! `#` starts a comment anywhere outside a quoted string. Names are simple
//! identifiers (`[A-Za-z_][A-Za-z0-9_$]*`), optionally joined by dots for the
//! parameters of modules (`worker_spi.naptime`); they are folded to lower case.
//! A value is either a single-quoted string, in which `''` stands for one quote
//! and backslash escapes are processed, or one unquoted token: a number with an
//! optional unit (`-1`, `1.5`, `0x1F`, `10s`, `64MB`) or a word (`on`, `off`,
//! `/tmp`, `en_US.UTF-8`).
//!
//! Parsing stops at the first error, which is reported with PostgreSQL's
//! wording. The parser is total: it returns an error rather than panicking on
//! any input.
//!
//! Runs in the postmaster (start, reload) and in children that reload on SIGHUP.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// One setting read from a configuration file.
///
/// A file may set the same parameter several times; every occurrence is kept
/// in file order and the last one wins when the registry applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// The parameter name, folded to lower case.
    pub name: String,
    /// The value: quotes removed and escapes processed for a quoted string,
    /// the token as written for an unquoted one.
    pub value: String,
    /// The file the setting was read from.
    pub file: PathBuf,
    /// The 1-based line number of the setting.
    pub line: u32,
}

/// Reads and parses a configuration file.
///
/// A file that cannot be read gives [`ConfigError::Io`]; bytes that are not
/// valid UTF-8 are replaced rather than rejected.
pub fn read_config_file(path: &Path) -> Result<Vec<ConfigItem>, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::Io { file: path.to_path_buf(), message: e.to_string() })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_config(&text, path)
}

/// Parses configuration file text.
///
/// `file` is used only to label the items and errors. Returns every setting in
/// file order, or the first syntax error as [`ConfigError::Syntax`], e.g.
/// `syntax error in file "/path/bgworker.conf" line 3, near token "xyz"`.
pub fn parse_config(text: &str, file: &Path) -> Result<Vec<ConfigItem>, ConfigError> {
    let mut lexer = Lexer::new(text);
    let mut items = Vec::new();
    loop {
        let (token, line) = lexer.next_token();
        let name = match token {
            Token::Eof => break,
            Token::Eol => continue,
            Token::Word(word) if is_valid_name(&word) => word.to_ascii_lowercase(),
            other => return Err(syntax_error(file, line, &other)),
        };

        let (mut token, mut value_line) = lexer.next_token();
        if token == Token::Equals {
            (token, value_line) = lexer.next_token();
        }
        let value = match token {
            Token::Str { value, .. } => value,
            Token::Word(word) if is_valid_unquoted_value(&word) => word,
            other => return Err(syntax_error(file, value_line, &other)),
        };

        let (end, end_line) = lexer.next_token();
        match end {
            Token::Eol | Token::Eof => {}
            other => return Err(syntax_error(file, end_line, &other)),
        }

        items.push(ConfigItem { name, value, file: file.to_path_buf(), line });
        if end == Token::Eof {
            break;
        }
    }
    Ok(items)
}

/// Splits a `-c` command-line argument `name=value` into its parts.
///
/// As in PostgreSQL, dashes in the name become underscores
/// (`-c max-connections=10` works) and the name is folded to lower case; the
/// value is taken as written, with no quoting rules. An argument without `=`
/// is an error.
pub fn parse_override(arg: &str) -> Result<(String, String), ConfigError> {
    match arg.split_once('=') {
        Some((name, value)) => Ok((name.replace('-', "_").to_ascii_lowercase(), value.to_string())),
        None => Err(ConfigError::Parameter {
            name: arg.replace('-', "_").to_ascii_lowercase(),
            message: format!("-c {arg} requires a value"),
            hint: Some("Command-line settings take the form -c name=value.".to_string()),
            file: None,
            line: None,
        }),
    }
}

/// Whether `name` is one identifier or several joined by dots, each matching
/// `[A-Za-z_][A-Za-z0-9_$]*`.
pub(super) fn is_valid_name(name: &str) -> bool {
    name.split('.').all(is_identifier)
}

/// Whether `s` matches `[A-Za-z_][A-Za-z0-9_$]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Whether a run of word characters is acceptable as an unquoted value: either
/// a word starting with a letter or underscore, or a number with an optional
/// exponent and unit suffix.
fn is_valid_unquoted_value(word: &str) -> bool {
    let Some(first) = word.chars().next() else {
        return false;
    };
    if first.is_ascii_alphabetic() || first == '_' || !first.is_ascii() {
        word.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-' | '.' | ':' | '/') || !c.is_ascii())
    } else {
        is_numeric_token(word)
    }
}

/// Whether `word` looks like a number: an optional sign, digits and dots,
/// letters only after the first character (units, `0x`, exponents) and signs
/// only at the start or after an exponent marker. It must hold a digit.
fn is_numeric_token(word: &str) -> bool {
    let mut has_digit = false;
    let mut prev: Option<char> = None;
    for (i, c) in word.chars().enumerate() {
        let ok = match c {
            '0'..='9' => {
                has_digit = true;
                true
            }
            '+' | '-' => i == 0 || matches!(prev, Some('e' | 'E')),
            '.' => true,
            c if c.is_ascii_alphabetic() => i > 0,
            _ => false,
        };
        if !ok {
            return false;
        }
        prev = Some(c);
    }
    has_digit
}

/// Builds the syntax error for an unexpected token.
fn syntax_error(file: &Path, line: u32, token: &Token) -> ConfigError {
    let near = match token {
        Token::Eol | Token::Eof => None,
        Token::Equals => Some("=".to_string()),
        Token::Word(w) | Token::Bad(w) => Some(w.clone()),
        Token::Str { raw, .. } => Some(raw.clone()),
    };
    ConfigError::Syntax { file: file.to_path_buf(), line, near }
}

/// A lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// End of the text.
    Eof,
    /// End of a line (a comment runs up to, not including, the newline).
    Eol,
    /// `=`.
    Equals,
    /// A maximal run of word characters, to be checked as a name or value.
    Word(String),
    /// A quoted string: as written (with quotes), and with escapes processed.
    Str { raw: String, value: String },
    /// A character that cannot start any token, or an unterminated quote.
    Bad(String),
}

/// Characters that make up unquoted names and values.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.' | '-' | '+' | ':' | '/') || !c.is_ascii()
}

/// Horizontal whitespace (the newline is a token of its own).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// A tokenizer over the file text.
struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
}

impl Lexer {
    fn new(text: &str) -> Lexer {
        Lexer { chars: text.chars().collect(), pos: 0, line: 1 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    /// Returns the next token and the line it is on.
    fn next_token(&mut self) -> (Token, u32) {
        loop {
            while self.peek().is_some_and(is_blank) {
                self.bump();
            }
            let line = self.line;
            let Some(c) = self.peek() else {
                return (Token::Eof, line);
            };
            match c {
                '\n' => {
                    self.bump();
                    self.line = self.line.saturating_add(1);
                    return (Token::Eol, line);
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    // The newline (or end of text) is returned on the next turn.
                }
                '=' => {
                    self.bump();
                    return (Token::Equals, line);
                }
                '\'' => return (self.quoted_string(), line),
                c if is_word_char(c) => {
                    let mut word = String::new();
                    while let Some(c) = self.peek().filter(|&c| is_word_char(c)) {
                        word.push(c);
                        self.bump();
                    }
                    return (Token::Word(word), line);
                }
                other => {
                    self.bump();
                    return (Token::Bad(other.to_string()), line);
                }
            }
        }
    }

    /// Lexes a single-quoted string starting at the current quote. A string
    /// may not span lines; an unterminated one is a `Bad("'")` token.
    fn quoted_string(&mut self) -> Token {
        let start = self.pos;
        let mut i = start.saturating_add(1);
        loop {
            match self.chars.get(i) {
                None | Some('\n') => {
                    self.bump();
                    return Token::Bad("'".to_string());
                }
                Some('\\') => match self.chars.get(i.saturating_add(1)) {
                    None | Some('\n') => {
                        self.bump();
                        return Token::Bad("'".to_string());
                    }
                    Some(_) => i = i.saturating_add(2),
                },
                Some('\'') => {
                    if self.chars.get(i.saturating_add(1)) == Some(&'\'') {
                        i = i.saturating_add(2);
                    } else {
                        break;
                    }
                }
                Some(_) => i = i.saturating_add(1),
            }
        }
        // `i` is the index of the closing quote.
        let end = i.saturating_add(1);
        let raw: String = self.chars.get(start..end).unwrap_or_default().iter().collect();
        let inner = self.chars.get(start.saturating_add(1)..i).unwrap_or_default();
        self.pos = end;
        Token::Str { raw, value: unescape(inner) }
    }
}

/// Processes the body of a quoted string: `''` is one quote; `\b \f \n \r \t`
/// are control characters; `\` and one to three octal digits is that byte;
/// a backslash before any other character stands for that character.
fn unescape(inner: &[char]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut buf = [0u8; 4];
    let mut push_char = |out: &mut Vec<u8>, c: char| out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    let mut i = 0usize;
    while let Some(&c) = inner.get(i) {
        i = i.saturating_add(1);
        match c {
            '\\' => {
                let Some(&e) = inner.get(i) else {
                    break;
                };
                i = i.saturating_add(1);
                match e {
                    'b' => out.push(0x08),
                    'f' => out.push(0x0c),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    '0'..='7' => {
                        let mut code: u32 = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match inner.get(i).and_then(|d| d.to_digit(8)) {
                                Some(d) => {
                                    code = code.saturating_mul(8).saturating_add(d);
                                    i = i.saturating_add(1);
                                }
                                None => break,
                            }
                        }
                        out.push(u8::try_from(code & 0xff).unwrap_or(0));
                    }
                    other => push_char(&mut out, other),
                }
            }
            '\'' => {
                // The lexer only lets quotes through in pairs; keep one.
                if inner.get(i) == Some(&'\'') {
                    i = i.saturating_add(1);
                }
                out.push(b'\'');
            }
            other => push_char(&mut out, other),
        }
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ConfigItem>, ConfigError> {
        parse_config(text, Path::new("/path/bgworker.conf"))
    }

    fn pairs(text: &str) -> Vec<(String, String, u32)> {
        parse(text).unwrap().into_iter().map(|i| (i.name, i.value, i.line)).collect()
    }

    fn p(name: &str, value: &str, line: u32) -> (String, String, u32) {
        (name.to_string(), value.to_string(), line)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_and_comment_only() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n\n   \n\t\n").unwrap().is_empty());
        assert!(parse("# just a comment\n   # indented comment\n#x = 'unterminated").unwrap().is_empty());
    }

    #[test]
    fn basic_settings_with_and_without_equals() {
        let text = "port = 5433\nmax_connections 50\nlisten_addresses='*'\n\nrestart_after_crash=off";
        assert_eq!(
            pairs(text),
            vec![
                p("port", "5433", 1),
                p("max_connections", "50", 2),
                p("listen_addresses", "*", 3),
                p("restart_after_crash", "off", 5)
            ]
        );
        let items = parse("port = 1").unwrap();
        assert_eq!(items[0].file, PathBuf::from("/path/bgworker.conf"));
    }

    #[test]
    fn names_are_lowercased_and_may_be_dotted() {
        assert_eq!(pairs("Max_Connections = 3"), vec![p("max_connections", "3", 1)]);
        assert_eq!(pairs("Worker_SPI.NapTime = 10s"), vec![p("worker_spi.naptime", "10s", 1)]);
        assert_eq!(pairs("a.b.c = 1"), vec![p("a.b.c", "1", 1)]);
        assert_eq!(pairs("_x$1 = 1"), vec![p("_x$1", "1", 1)]);
    }

    #[test]
    fn comments_after_values() {
        assert_eq!(pairs("port = 5432 # the port\n"), vec![p("port", "5432", 1)]);
        assert_eq!(pairs("port = 5432# no space"), vec![p("port", "5432", 1)]);
        assert_eq!(pairs("s = 'a # not a comment' # comment"), vec![p("s", "a # not a comment", 1)]);
    }

    #[test]
    fn unquoted_tokens() {
        assert_eq!(
            pairs("a = -1\nb = 1.5\nc = 10s\nd = 64MB\ne = 0x1F\nf = true\ng = 1e-3\nh = tmp/x:y\ni = en_US.UTF-8"),
            vec![
                p("a", "-1", 1),
                p("b", "1.5", 2),
                p("c", "10s", 3),
                p("d", "64MB", 4),
                p("e", "0x1F", 5),
                p("f", "true", 6),
                p("g", "1e-3", 7),
                p("h", "tmp/x:y", 8),
                p("i", "en_US.UTF-8", 9)
            ]
        );
        assert_eq!(pairs("a = .5\nb = +3"), vec![p("a", ".5", 1), p("b", "+3", 2)]);
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(pairs("s = ''"), vec![p("s", "", 1)]);
        assert_eq!(pairs("s = 'it''s'"), vec![p("s", "it's", 1)]);
        assert_eq!(pairs(r"s = 'it\'s'"), vec![p("s", "it's", 1)]);
        assert_eq!(pairs(r"s = 'a\nb\tc\\d'"), vec![p("s", "a\nb\tc\\d", 1)]);
        assert_eq!(pairs(r"s = '\b\f\r'"), vec![p("s", "\x08\x0c\r", 1)]);
        assert_eq!(pairs(r"s = '\101\7x'"), vec![p("s", "A\x07x", 1)]);
        assert_eq!(pairs(r"s = '\q\$'"), vec![p("s", "q$", 1)]);
        assert_eq!(pairs("s = 'ünïcödé ✓'"), vec![p("s", "ünïcödé ✓", 1)]);
        assert_eq!(pairs("s = '$libdir'"), vec![p("s", "$libdir", 1)]);
        assert_eq!(pairs("s = '  spaced  '"), vec![p("s", "  spaced  ", 1)]);
        assert_eq!(pairs("s = ''''"), vec![p("s", "'", 1)]);
        // An octal escape above \377 keeps the low byte; invalid UTF-8 is replaced.
        assert_eq!(pairs(r"s = '\777'"), vec![p("s", "\u{fffd}", 1)]);
    }

    #[test]
    fn crlf_and_blank_characters() {
        assert_eq!(pairs("a = 1\r\nb = 'x'\r\n"), vec![p("a", "1", 1), p("b", "x", 2)]);
        assert_eq!(pairs("\t a \t=\t 1 \t"), vec![p("a", "1", 1)]);
    }

    #[test]
    fn duplicates_are_all_kept() {
        assert_eq!(pairs("a = 1\na = 2\nA = 3"), vec![p("a", "1", 1), p("a", "2", 2), p("a", "3", 3)]);
    }

    #[test]
    fn syntax_errors_name_the_token_and_line() {
        let f = "syntax error in file \"/path/bgworker.conf\"";
        assert_eq!(err("a = 1\n\nb = 2 xyz\n"), format!("{f} line 3, near token \"xyz\""));
        assert_eq!(err("a = 1\nb =\nc = 3"), format!("{f} line 2, near end of line"));
        assert_eq!(err("a ="), format!("{f} line 1, near end of line"));
        assert_eq!(err("a"), format!("{f} line 1, near end of line"));
        assert_eq!(err("a # comment\n"), format!("{f} line 1, near end of line"));
        assert_eq!(err("= 5"), format!("{f} line 1, near token \"=\""));
        assert_eq!(err("a = = 5"), format!("{f} line 1, near token \"=\""));
        assert_eq!(err("1abc = 2"), format!("{f} line 1, near token \"1abc\""));
        assert_eq!(err("a = 'x' 'y'"), format!("{f} line 1, near token \"'y'\""));
        assert_eq!(err("a = 'unterminated\nb = 1"), format!("{f} line 1, near token \"'\""));
        assert_eq!(err("a = 'ends in backslash\\"), format!("{f} line 1, near token \"'\""));
        assert_eq!(err("a = ;"), format!("{f} line 1, near token \";\""));
        assert_eq!(err("a = \"double\""), format!("{f} line 1, near token \"\"\""));
        assert_eq!(err("a = $libdir"), format!("{f} line 1, near token \"$libdir\""));
        assert_eq!(err("a = /tmp"), format!("{f} line 1, near token \"/tmp\""));
        assert_eq!(err("a = -"), format!("{f} line 1, near token \"-\""));
        assert_eq!(err("a = 1-2"), format!("{f} line 1, near token \"1-2\""));
        assert_eq!(err("a. = 1"), format!("{f} line 1, near token \"a.\""));
        assert_eq!(err("a..b = 1"), format!("{f} line 1, near token \"a..b\""));
        assert_eq!(err("'a' = 1"), format!("{f} line 1, near token \"'a'\""));
        assert_eq!(err("\n\n\n\n   x y z"), format!("{f} line 5, near token \"z\""));
        let e = parse("a = 1\nb =").unwrap_err();
        assert_eq!(e, ConfigError::Syntax { file: PathBuf::from("/path/bgworker.conf"), line: 2, near: None });
    }

    #[test]
    fn override_arguments() {
        assert_eq!(parse_override("max-connections=10").unwrap(), ("max_connections".into(), "10".into()));
        assert_eq!(parse_override("Worker_SPI.naptime=1 min").unwrap(), ("worker_spi.naptime".into(), "1 min".into()));
        assert_eq!(parse_override("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_override("a=").unwrap(), ("a".into(), String::new()));
        let e = parse_override("port").unwrap_err();
        assert_eq!(e.to_string(), "-c port requires a value");
        assert!(e.hint().is_some());
    }

    #[test]
    fn read_missing_file_is_io_error() {
        let path = Path::new("/nonexistent/dir/bgworker.conf");
        match read_config_file(path) {
            Err(ConfigError::Io { file, message }) => {
                assert_eq!(file, path);
                assert!(!message.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn read_existing_file() {
        let path = std::env::temp_dir().join(format!("cfg-parse-test-{}.conf", std::process::id()));
        std::fs::write(&path, b"port = 7\nname = 'bad \xff byte'\n").unwrap();
        let items = read_config_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].value, "7");
        assert_eq!(items[1].value, "bad \u{fffd} byte");
        assert_eq!(items[1].file, path);
    }

    use crate::testutil::XorShift;

    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[u8] = b"aZ_$.=#'\\\n\r\t -+0189xXeEkMBsmin;\"/:\x80\xc3\xa9\xff";
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut accepted = 0usize;
        for case in 0..100_000u32 {
            let len = (rng.next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if case % 4 == 0 {
                        (r >> 8) as u8
                    } else {
                        ALPHABET[(r % ALPHABET.len() as u64) as usize]
                    }
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            match parse_config(&text, Path::new("/fuzz.conf")) {
                Ok(items) => {
                    accepted += 1;
                    for item in items {
                        assert!(is_valid_name(&item.name));
                        assert!(item.line >= 1);
                    }
                }
                Err(ConfigError::Syntax { line, .. }) => assert!(line >= 1),
                Err(other) => panic!("unexpected error kind {other:?}"),
            }
            let _ = parse_override(&text);
        }
        assert!(accepted > 100, "fuzzer should also produce some valid files ({accepted})");
    }
}
