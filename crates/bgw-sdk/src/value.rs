//! Typed values of SPI results and parameters: [`Row::get`] reads a column as a Rust type from PostgreSQL's text
//! output form, [`ToSpiParam`] writes a Rust value in PostgreSQL's text input form.
//!
//! Purpose: the host's SPI returns every value as text (`SPI_getvalue`) or NULL; this module turns that text into
//! `i16`, `i32`, `i64`, `f32`, `f64`, `bool`, `String`, `&str`, `Vec<u8>` (bytea) or `Option` of one, by column
//! index or name, with a [`ValueError`] naming the column and the reason instead of a silent default.
//!
//! Invariants (the text forms are PostgreSQL's output forms, parsed exactly):
//! - integers: an optional `-` and decimal digits; out of the type's range is an error (no wrapping);
//! - floats: decimal or exponent notation, `Infinity`, `-Infinity`, `NaN` (Rust's own `inf`, `nan` are refused);
//! - bool: `t` or `f` only;
//! - bytea: the hex form `\x` followed by pairs of hex digits (`bytea_output = hex`, the default); the escape
//!   form is refused;
//! - NULL is only accepted by `Option<T>`.
//!
//! Layer: pure (no host calls); used by `spi`. Runs in: a background worker.

use std::fmt;

/// Why a column's value could not be read as the asked type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The result has no such column (index out of range, or no column of that name).
    #[error("no column {column} in the result")]
    NoSuchColumn { column: String },
    /// A NULL read into a type that is not `Option`.
    #[error("column {column} is NULL, read as {ty} (use Option<{ty}>)")]
    Null { column: String, ty: &'static str },
    /// The text is not a value of the type.
    #[error("column {column}: {text:?} is not a valid {ty}")]
    Parse { column: String, ty: &'static str, text: String },
}

/// A type a column can be read as, from PostgreSQL's text output form (None is NULL).
pub trait FromSpiValue<'a>: Sized {
    /// The type's name in messages.
    const NAME: &'static str;
    /// The value from its text; `Err(None)` for a NULL (only `Option` accepts one), `Err(Some(()))` for text
    /// that is not of the type.
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>>;
}

fn parse_int<T: std::str::FromStr>(text: Option<&str>) -> Result<T, Option<()>> {
    let t = text.ok_or(None)?;
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Some(()));
    }
    t.parse().map_err(|_| Some(()))
}

macro_rules! int_value {
    ($($t:ty => $name:literal),*) => {$(
        impl<'a> FromSpiValue<'a> for $t {
            const NAME: &'static str = $name;
            fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
                parse_int(text)
            }
        }
    )*};
}
int_value!(i16 => "smallint", i32 => "integer", i64 => "bigint");

fn parse_float(text: Option<&str>) -> Result<f64, Option<()>> {
    let t = text.ok_or(None)?;
    match t {
        "Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    // Digits, '.', sign and exponent only: Rust's "inf"/"nan"/"infinity" are not PostgreSQL's output.
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return Err(Some(()));
    }
    t.parse().map_err(|_| Some(()))
}

impl<'a> FromSpiValue<'a> for f64 {
    const NAME: &'static str = "double precision";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        parse_float(text)
    }
}

impl<'a> FromSpiValue<'a> for f32 {
    const NAME: &'static str = "real";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        let t = text.ok_or(None)?;
        match t {
            "Infinity" => Ok(f32::INFINITY),
            "-Infinity" => Ok(f32::NEG_INFINITY),
            "NaN" => Ok(f32::NAN),
            _ => {
                parse_float(Some(t))?;
                t.parse().map_err(|_| Some(()))
            }
        }
    }
}

impl<'a> FromSpiValue<'a> for bool {
    const NAME: &'static str = "boolean";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        match text.ok_or(None)? {
            "t" => Ok(true),
            "f" => Ok(false),
            _ => Err(Some(())),
        }
    }
}

impl<'a> FromSpiValue<'a> for &'a str {
    const NAME: &'static str = "text";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        text.ok_or(None)
    }
}

impl<'a> FromSpiValue<'a> for String {
    const NAME: &'static str = "text";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        text.map(str::to_string).ok_or(None)
    }
}

impl<'a> FromSpiValue<'a> for Vec<u8> {
    const NAME: &'static str = "bytea";
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        let hex = text.ok_or(None)?.strip_prefix("\\x").ok_or(Some(()))?;
        if hex.len() % 2 != 0 {
            return Err(Some(()));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(Some(())))
            .collect()
    }
}

impl<'a, T: FromSpiValue<'a>> FromSpiValue<'a> for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_spi_text(text: Option<&'a str>) -> Result<Self, Option<()>> {
        match text {
            None => Ok(None),
            Some(_) => T::from_spi_text(text).map(Some),
        }
    }
}

/// A column of a result: by index (from 0) or by name (the first column of that name).
pub trait ColumnIndex {
    /// The column's index among `columns`, if there is one.
    fn index_in(&self, columns: &[String]) -> Option<usize>;
    /// The column as messages name it: `"total"` or `3`.
    fn describe(&self) -> String;
}

impl ColumnIndex for usize {
    fn index_in(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl ColumnIndex for &str {
    fn index_in(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
    fn describe(&self) -> String {
        format!("\"{self}\"")
    }
}

/// One row of a result ([`crate::spi::SpiResult::row`], [`crate::spi::SpiResult::iter`]).
#[derive(Debug, Clone, Copy)]
pub struct Row<'r> {
    pub(crate) columns: &'r [String],
    pub(crate) values: &'r [Option<String>],
}

impl<'r> Row<'r> {
    /// The value of `column` (an index from 0 or a name) as `T`: `row.get::<i64>("total")`,
    /// `row.get::<Option<String>>(0)`.
    pub fn get<T: FromSpiValue<'r>>(&self, column: impl ColumnIndex) -> Result<T, ValueError> {
        let Some(i) = column.index_in(self.columns) else {
            return Err(ValueError::NoSuchColumn { column: column.describe() });
        };
        let text = self.values.get(i).and_then(|v| v.as_deref());
        T::from_spi_text(text).map_err(|e| match e {
            None => ValueError::Null { column: column.describe(), ty: T::NAME },
            Some(()) => {
                ValueError::Parse { column: column.describe(), ty: T::NAME, text: text.unwrap_or_default().into() }
            }
        })
    }
    /// The value's text (None for NULL or no such column).
    pub fn text(&self, column: impl ColumnIndex) -> Option<&'r str> {
        self.values.get(column.index_in(self.columns)?)?.as_deref()
    }
    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// A statement parameter given as a Rust value, sent in PostgreSQL's text input form (None is NULL):
/// `spi.query("... $1, $2", &[&42i64, &"x"])`.
pub trait ToSpiParam {
    fn to_spi_param(&self) -> Option<String>;
}

macro_rules! display_param {
    ($($t:ty),*) => {$(
        impl ToSpiParam for $t {
            fn to_spi_param(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}
display_param!(i16, i32, i64, u16, u32, str, String);

fn float_text(f: f64, display: impl fmt::Display) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        display.to_string()
    }
}

impl ToSpiParam for f64 {
    fn to_spi_param(&self) -> Option<String> {
        Some(float_text(*self, self))
    }
}

impl ToSpiParam for f32 {
    fn to_spi_param(&self) -> Option<String> {
        Some(float_text(f64::from(*self), self))
    }
}

impl ToSpiParam for bool {
    fn to_spi_param(&self) -> Option<String> {
        Some(if *self { "t" } else { "f" }.into())
    }
}

impl ToSpiParam for [u8] {
    fn to_spi_param(&self) -> Option<String> {
        let mut s = String::with_capacity(2 + 2 * self.len());
        s.push_str("\\x");
        for b in self {
            s.push_str(&format!("{b:02x}"));
        }
        Some(s)
    }
}

impl ToSpiParam for Vec<u8> {
    fn to_spi_param(&self) -> Option<String> {
        self.as_slice().to_spi_param()
    }
}

impl<T: ToSpiParam + ?Sized> ToSpiParam for &T {
    fn to_spi_param(&self) -> Option<String> {
        (**self).to_spi_param()
    }
}

impl<T: ToSpiParam> ToSpiParam for Option<T> {
    fn to_spi_param(&self) -> Option<String> {
        self.as_ref().and_then(T::to_spi_param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'r>(columns: &'r [String], values: &'r [Option<String>]) -> Row<'r> {
        Row { columns, values }
    }

    #[test]
    fn postgres_text_forms_are_parsed_exactly() {
        assert_eq!(i64::from_spi_text(Some("-9223372036854775808")), Ok(i64::MIN));
        assert_eq!(i16::from_spi_text(Some("40000")), Err(Some(())));
        assert_eq!(i32::from_spi_text(Some("+1")), Err(Some(())));
        assert_eq!(i32::from_spi_text(Some("1.0")), Err(Some(())));
        assert_eq!(i32::from_spi_text(None), Err(None));
        assert_eq!(f64::from_spi_text(Some("Infinity")), Ok(f64::INFINITY));
        assert_eq!(f64::from_spi_text(Some("-Infinity")), Ok(f64::NEG_INFINITY));
        assert!(f64::from_spi_text(Some("NaN")).unwrap().is_nan());
        assert!(f32::from_spi_text(Some("NaN")).unwrap().is_nan());
        assert_eq!(f64::from_spi_text(Some("1e+100")), Ok(1e100));
        assert_eq!(f64::from_spi_text(Some("-0.25")), Ok(-0.25));
        assert_eq!(f32::from_spi_text(Some("1.5")), Ok(1.5));
        for bad in ["inf", "nan", "infinity", "", "1,5", "0x10"] {
            assert_eq!(f64::from_spi_text(Some(bad)), Err(Some(())), "{bad}");
        }
        assert_eq!(bool::from_spi_text(Some("t")), Ok(true));
        assert_eq!(bool::from_spi_text(Some("f")), Ok(false));
        assert_eq!(bool::from_spi_text(Some("true")), Err(Some(())));
        assert_eq!(Vec::<u8>::from_spi_text(Some("\\x00ff10")), Ok(vec![0, 255, 16]));
        assert_eq!(Vec::<u8>::from_spi_text(Some("\\x")), Ok(vec![]));
        for bad in ["00ff", "\\x0", "\\xzz", "\\000"] {
            assert_eq!(Vec::<u8>::from_spi_text(Some(bad)), Err(Some(())), "{bad}");
        }
        assert_eq!(Option::<i64>::from_spi_text(None), Ok(None));
        assert_eq!(Option::<i64>::from_spi_text(Some("x")), Err(Some(())));
        assert_eq!(<&str>::from_spi_text(Some("x")), Ok("x"));
    }

    #[test]
    fn rows_read_typed_values_by_index_or_name_with_errors_naming_the_column() {
        let columns = vec!["id".to_string(), "total".to_string(), "note".to_string()];
        let values = vec![Some("7".to_string()), Some("12.5".to_string()), None];
        let r = row(&columns, &values);
        assert_eq!(r.get::<i64>("id"), Ok(7));
        assert_eq!(r.get::<i32>(0), Ok(7));
        assert_eq!(r.get::<f64>("total"), Ok(12.5));
        assert_eq!(r.get::<Option<String>>(2), Ok(None));
        assert_eq!(r.get::<&str>(1), Ok("12.5"));
        assert_eq!(r.text("id"), Some("7"));
        assert_eq!(r.len(), 3);
        let e = r.get::<i64>("total").unwrap_err();
        assert_eq!(e, ValueError::Parse { column: "\"total\"".into(), ty: "bigint", text: "12.5".into() });
        assert_eq!(e.to_string(), "column \"total\": \"12.5\" is not a valid bigint");
        let e = r.get::<String>("note").unwrap_err();
        assert_eq!(e.to_string(), "column \"note\" is NULL, read as text (use Option<text>)");
        assert_eq!(r.get::<i64>("nope").unwrap_err().to_string(), "no column \"nope\" in the result");
        assert_eq!(r.get::<i64>(3).unwrap_err(), ValueError::NoSuchColumn { column: "3".into() });
    }

    #[test]
    fn parameters_are_written_in_postgres_input_form() {
        let p = |v: &dyn ToSpiParam| v.to_spi_param();
        assert_eq!(p(&42i64), Some("42".into()));
        assert_eq!(p(&"x"), Some("x".into()));
        assert_eq!(p(&true), Some("t".into()));
        assert_eq!(p(&f64::NEG_INFINITY), Some("-Infinity".into()));
        assert_eq!(p(&f32::NAN), Some("NaN".into()));
        assert_eq!(p(&0.1f64), Some("0.1".into()));
        assert_eq!(p(&vec![0u8, 255]), Some("\\x00ff".into()));
        assert_eq!(p(&None::<i32>), None);
        assert_eq!(p(&Some(String::from("s"))), Some("s".into()));
    }
}
