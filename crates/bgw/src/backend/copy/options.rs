//! COPY's options, checked as PostgreSQL 15 checks them (its messages and SQLSTATEs), with their defaults: text
//! format with tab and `\N`, CSV with comma, empty NULL and `"`.
//!
//! Runs in: a backend process.

use super::parse::{OptionValue, RawOption};
use crate::sql::SqlError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Csv,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    No,
    Yes,
    /// COPY FROM checks the header's names against the columns.
    Match,
}

/// The columns FORCE_QUOTE names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ForceQuote {
    No,
    All,
    Columns(Vec<String>),
}

/// A COPY's options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyOptions {
    pub format: Format,
    pub header: Header,
    pub delimiter: u8,
    pub null: String,
    pub quote: u8,
    pub escape: u8,
    pub force_quote: ForceQuote,
    pub force_not_null: Vec<String>,
    pub force_null: Vec<String>,
}

fn bad_value(name: &str, what: &str) -> SqlError {
    SqlError::error("22023", format!("{name} requires {what}"))
}

/// PostgreSQL's defGetBoolean: no value is true; 0/1, true/false, on/off.
fn boolean(option: &RawOption) -> Result<bool, SqlError> {
    match &option.value {
        OptionValue::None => Ok(true),
        OptionValue::Number(n) if n == "0" => Ok(false),
        OptionValue::Number(n) if n == "1" => Ok(true),
        OptionValue::Word(w) | OptionValue::Str(w) => match w.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok(true),
            "false" | "off" => Ok(false),
            _ => Err(bad_value(&option.name, "a Boolean value")),
        },
        _ => Err(bad_value(&option.name, "a Boolean value")),
    }
}

/// PostgreSQL's defGetString: a string, word or number as text.
fn string(option: &RawOption) -> Result<String, SqlError> {
    match &option.value {
        OptionValue::Str(s) | OptionValue::Word(s) | OptionValue::Number(s) => Ok(s.clone()),
        OptionValue::Star => Ok("*".into()),
        OptionValue::None => Err(bad_value(&option.name, "a parameter")),
        OptionValue::List(_) => Err(bad_value(&option.name, "a parameter")),
    }
}

fn column_list(option: &RawOption) -> Result<Vec<String>, SqlError> {
    match &option.value {
        OptionValue::List(names) => Ok(names.clone()),
        _ => Err(SqlError::error(
            "22023",
            format!("argument to option \"{}\" must be a list of column names", option.name),
        )),
    }
}

fn unsupported(message: &str) -> SqlError {
    SqlError::error("0A000", message)
}

impl CopyOptions {
    /// Checks `raw` for a COPY FROM (`from`) or TO.
    pub(crate) fn check(raw: &[RawOption], from: bool) -> Result<CopyOptions, SqlError> {
        let mut seen: Vec<&str> = Vec::new();
        let (mut format, mut header, mut delimiter, mut null, mut quote, mut escape) =
            (Format::Text, Header::No, None, None, None, None);
        let (mut force_quote, mut force_not_null, mut force_null) = (ForceQuote::No, Vec::new(), Vec::new());
        for option in raw {
            if seen.contains(&option.name.as_str()) {
                return Err(SqlError::error("42601", "conflicting or redundant options"));
            }
            seen.push(&option.name);
            match option.name.as_str() {
                "format" => {
                    format = match string(option)?.as_str() {
                        "text" => Format::Text,
                        "csv" => Format::Csv,
                        "binary" => Format::Binary,
                        other => {
                            return Err(SqlError::error("22023", format!("COPY format \"{other}\" not recognized")))
                        }
                    }
                }
                // FREEZE writes nothing differently here: SQLite has no visibility hints to set.
                "freeze" => {
                    boolean(option)?;
                }
                "delimiter" => delimiter = Some(string(option)?),
                "null" => null = Some(string(option)?),
                "quote" => quote = Some(string(option)?),
                "escape" => escape = Some(string(option)?),
                "header" => {
                    header = match &option.value {
                        OptionValue::Word(w) | OptionValue::Str(w) if w.eq_ignore_ascii_case("match") => Header::Match,
                        _ => match boolean(option) {
                            Ok(true) => Header::Yes,
                            Ok(false) => Header::No,
                            Err(_) => return Err(bad_value("header", "a Boolean value or \"match\"")),
                        },
                    }
                }
                "force_quote" => {
                    force_quote = match &option.value {
                        OptionValue::Star => ForceQuote::All,
                        _ => ForceQuote::Columns(column_list(option)?),
                    }
                }
                "force_not_null" => force_not_null = column_list(option)?,
                "force_null" => force_null = column_list(option)?,
                "encoding" => {
                    let name = string(option)?;
                    let normalized = name.to_ascii_lowercase().replace(['-', '_'], "");
                    if !matches!(normalized.as_str(), "utf8" | "unicode" | "sqlascii") {
                        return Err(unsupported(&format!(
                            "COPY ENCODING \"{name}\" is not supported: the host reads and writes UTF8 only"
                        )));
                    }
                }
                "oids" => {
                    if boolean(option)? {
                        return Err(unsupported("COPY ... WITH OIDS is not supported"));
                    }
                }
                other => return Err(SqlError::error("42601", format!("option \"{other}\" not recognized"))),
            }
        }
        let csv = format == Format::Csv;
        if format == Format::Binary && delimiter.is_some() {
            return Err(SqlError::error("42601", "cannot specify DELIMITER in BINARY mode"));
        }
        if format == Format::Binary && null.is_some() {
            return Err(SqlError::error("42601", "cannot specify NULL in BINARY mode"));
        }
        let delimiter = delimiter.unwrap_or_else(|| if csv { ",".into() } else { "\t".into() });
        let null = null.unwrap_or_else(|| if csv { String::new() } else { "\\N".into() });
        if delimiter.len() != 1 {
            return Err(unsupported("COPY delimiter must be a single one-byte character"));
        }
        let delim = delimiter.as_bytes()[0];
        if delim == b'\n' || delim == b'\r' {
            return Err(SqlError::error("22023", "COPY delimiter cannot be newline or carriage return"));
        }
        if null.contains(['\n', '\r']) {
            return Err(SqlError::error("22023", "COPY null representation cannot use newline or carriage return"));
        }
        if !csv && b"\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(&delim) {
            return Err(SqlError::error("22023", format!("COPY delimiter cannot be \"{delimiter}\"")));
        }
        if format == Format::Binary && header != Header::No {
            return Err(unsupported("cannot specify HEADER in BINARY mode"));
        }
        if !csv && quote.is_some() {
            return Err(unsupported("COPY quote available only in CSV mode"));
        }
        let quote = quote.unwrap_or_else(|| "\"".into());
        if csv && quote.len() != 1 {
            return Err(unsupported("COPY quote must be a single one-byte character"));
        }
        let quote_byte = quote.as_bytes().first().copied().unwrap_or(b'"');
        if csv && delim == quote_byte {
            return Err(SqlError::error("22023", "COPY delimiter and quote must be different"));
        }
        if !csv && escape.is_some() {
            return Err(unsupported("COPY escape available only in CSV mode"));
        }
        let escape = escape.unwrap_or_else(|| quote.clone());
        if csv && escape.len() != 1 {
            return Err(unsupported("COPY escape must be a single one-byte character"));
        }
        let escape_byte = escape.as_bytes().first().copied().unwrap_or(quote_byte);
        if !csv && force_quote != ForceQuote::No {
            return Err(unsupported("COPY force quote available only in CSV mode"));
        }
        if force_quote != ForceQuote::No && from {
            return Err(unsupported("COPY force quote only available using COPY TO"));
        }
        if !csv && !force_not_null.is_empty() {
            return Err(unsupported("COPY force not null available only in CSV mode"));
        }
        if !force_not_null.is_empty() && !from {
            return Err(unsupported("COPY force not null only available using COPY FROM"));
        }
        if !csv && !force_null.is_empty() {
            return Err(unsupported("COPY force null available only in CSV mode"));
        }
        if !force_null.is_empty() && !from {
            return Err(unsupported("COPY force null only available using COPY FROM"));
        }
        if format != Format::Binary && null.as_bytes().contains(&delim) {
            return Err(unsupported("COPY delimiter must not appear in the NULL specification"));
        }
        if csv && null.as_bytes().contains(&quote_byte) {
            return Err(unsupported("CSV quote character must not appear in the NULL specification"));
        }
        if header == Header::Match && !from {
            return Err(unsupported("cannot use \"match\" with HEADER in COPY TO"));
        }
        Ok(CopyOptions {
            format,
            header,
            delimiter: delim,
            null,
            quote: quote_byte,
            escape: escape_byte,
            force_quote,
            force_not_null,
            force_null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sql: &str) -> Result<CopyOptions, SqlError> {
        let (statement, _) = super::super::parse::parse(sql).unwrap();
        CopyOptions::check(&statement.options, statement.from)
    }

    #[test]
    fn defaults() {
        let text = check("copy t from stdin").unwrap();
        assert_eq!((text.format, text.delimiter, text.null.as_str()), (Format::Text, b'\t', "\\N"));
        let csv = check("copy t from stdin with csv header").unwrap();
        assert_eq!((csv.format, csv.header, csv.delimiter, csv.null.as_str()), (Format::Csv, Header::Yes, b',', ""));
        assert_eq!((csv.quote, csv.escape), (b'"', b'"'));
        let csv = check("copy t from stdin (format csv, quote '''', escape '\\', header match)").unwrap();
        assert_eq!((csv.quote, csv.escape, csv.header), (b'\'', b'\\', Header::Match));
        assert!(check("copy t from stdin (freeze on)").is_ok());
        assert!(check("copy t from stdin (freeze)").is_ok());
    }

    #[test]
    fn postgres_messages() {
        let err = |sql: &str| {
            let e = check(sql).unwrap_err();
            format!("{}: {}", e.code, e.message)
        };
        assert_eq!(err("copy t to stdout (format xml)"), "22023: COPY format \"xml\" not recognized");
        assert_eq!(err("copy t to stdout (format csv, format text)"), "42601: conflicting or redundant options");
        assert_eq!(err("copy t to stdout (bogus 1)"), "42601: option \"bogus\" not recognized");
        assert_eq!(
            err("copy t to stdout (format binary, delimiter ',')"),
            "42601: cannot specify DELIMITER in BINARY mode"
        );
        assert_eq!(
            err("copy t to stdout (format text, force_quote *)"),
            "0A000: COPY force quote available only in CSV mode"
        );
        assert_eq!(
            err("copy t from stdin (format csv, force_quote *)"),
            "0A000: COPY force quote only available using COPY TO"
        );
        assert_eq!(
            err("copy t to stdout (format csv, delimiter ',,')"),
            "0A000: COPY delimiter must be a single one-byte character"
        );
        assert_eq!(
            err("copy t to stdout (format csv, delimiter ',', quote ',')"),
            "22023: COPY delimiter and quote must be different"
        );
        assert_eq!(err("copy t to stdout (format text, delimiter 'a')"), "22023: COPY delimiter cannot be \"a\"");
        assert_eq!(
            err("copy t to stdout (format csv, null ',')"),
            "0A000: COPY delimiter must not appear in the NULL specification"
        );
        assert_eq!(
            err("copy t to stdout (format csv, header match)"),
            "0A000: cannot use \"match\" with HEADER in COPY TO"
        );
        assert_eq!(err("copy t to stdout (freeze maybe)"), "22023: freeze requires a Boolean value");
    }
}
