//! Splitting a query string into statements the way PostgreSQL's grammar reads it (dollar quotes, `E''` strings
//! with backslash escapes, nested comments), with sqlparser's tokenizer where the shared lexer cannot tell.
//!
//! Runs in: any process that runs SQL through the translator.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::sql::lexer;

/// The first statement of `sql` without its `;`, and how many bytes it takes with the `;`; None if `sql` holds
/// only blanks, comments and semicolons.
pub fn first_statement(sql: &str) -> Option<(&str, usize)> {
    let mut start = 0;
    loop {
        let rest = &sql[start..];
        if lexer::is_blank(rest) {
            return None;
        }
        let end = match lexer::first_statement_len(rest) {
            Some(len) => len,
            None => tokenized_len(rest),
        };
        let text = &rest[..end];
        let body = text.strip_suffix(';').unwrap_or(text);
        if lexer::is_blank(body) {
            start += end.max(1);
            continue;
        }
        return Some((body, start + end));
    }
}

/// The length of the first statement of `sql` with its `;` (or all of it), by sqlparser's tokenizer; all of it
/// when it cannot tokenize (the parser then reports the error).
fn tokenized_len(sql: &str) -> usize {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location() else {
        return sql.len();
    };
    let line_starts: Vec<usize> = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
    for token in tokens {
        if token.token == Token::SemiColon {
            let line = token.span.start.line as usize;
            let column = token.span.start.column as usize;
            let Some(&line_start) = line_starts.get(line.saturating_sub(1)) else { break };
            let offset = sql[line_start..]
                .char_indices()
                .nth(column.saturating_sub(1))
                .map(|(i, _)| line_start + i)
                .unwrap_or(sql.len());
            return (offset + 1).min(sql.len());
        }
    }
    sql.len()
}

/// The first keyword of `sql`, upper-cased.
pub fn first_keyword(sql: &str) -> Option<String> {
    lexer::leading_words(sql).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(first_statement("select 1; select 2"), Some(("select 1", 9)));
        assert_eq!(first_statement(" ; ;select 1"), Some(("select 1", 12)));
        assert_eq!(first_statement("select $$a;b$$; x"), Some(("select $$a;b$$", 15)));
        assert_eq!(first_statement("select E'\\';'; x"), Some(("select E'\\';'", 14)));
        assert_eq!(first_statement("select 'é';\nselect $$;$$; x").map(|s| s.1), Some(12));
        assert_eq!(first_statement("\nselect $$é$$ ; x"), Some(("\nselect $$é$$ ", 16)));
        assert_eq!(first_statement(" -- c\n"), None);
    }
}
