//! The tokens of the statements read before translation (session commands, utility statements): words, quoted
//! identifiers, string literals and the few symbols they use, each with its byte offset. Shared by
//! [`super::session`] and [`super::utility`].
//!
//! Runs in: any process that runs SQL.

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word as written (names are folded by the caller).
    Word(String),
    /// A quoted identifier.
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    Sym(char),
}

/// The same, each token with the byte offset where it starts (for a statement that holds another one, as
/// `PREPARE name AS statement` does).
pub(crate) fn tokens_at(sql: &str) -> Option<(Vec<(Tok, usize)>, usize)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b if b.is_ascii_whitespace() => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = sql[i + 2..].find("*/")?;
                i += end + 4;
            }
            b';' => return Some((out, i + 1)),
            b'\'' | b'"' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    let rel = sql[j..].find(b as char)?;
                    text.push_str(&sql[j..j + rel]);
                    j += rel + 1;
                    if bytes.get(j) == Some(&b) {
                        text.push(b as char);
                        j += 1;
                    } else {
                        break;
                    }
                }
                out.push((if b == b'\'' { Tok::Str(text) } else { Tok::Ident(text) }, i));
                i = j;
            }
            b'=' | b',' => {
                out.push((Tok::Sym(b as char), i));
                i += 1;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] >= 0x80
                        || matches!(bytes[i], b'_' | b'.' | b'$' | b'-' | b'+'))
                {
                    i += 1;
                }
                if i == start {
                    // A symbol these commands do not use.
                    out.push((Tok::Sym(b as char), start));
                    i += 1;
                    // Step over a whole multi-byte character.
                    while i < bytes.len() && !sql.is_char_boundary(i) {
                        i += 1;
                    }
                } else {
                    out.push((Tok::Word(sql[start..i].to_string()), start));
                }
            }
        }
    }
    Some((out, sql.len()))
}

pub(crate) fn is_kw(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

/// A parameter name: an unquoted one is folded to lower case, as PostgreSQL does.
pub(crate) fn name_of(tok: &Tok) -> Option<String> {
    match tok {
        Tok::Word(w) if !w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => {
            Some(w.to_ascii_lowercase())
        }
        Tok::Ident(i) => Some(i.clone()),
        _ => None,
    }
}
