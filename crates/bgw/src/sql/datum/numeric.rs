//! numeric: PostgreSQL's arbitrary-precision decimal, held in SQLite as its canonical text (`12.50`, `NaN`,
//! `Infinity`). Parsing and arithmetic use the `bigdecimal` crate's exact integers; the display scale (digits
//! after the point) follows PostgreSQL's rules: a sum keeps the larger scale, a product the sum of the scales, a
//! quotient PostgreSQL's `select_div_scale` (at least 16 significant digits), every rounding half away from zero.
//! Binary format: PostgreSQL's base-10000 digits (ndigits, weight, sign, dscale, digits).
//!
//! Runs in: any process that runs SQL.

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::num_traits::{Signed, ToPrimitive, Zero};
use bigdecimal::BigDecimal;

use super::{bad_binary, invalid_syntax, raw_text, Reader, Typmod};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// Most digits after the point PostgreSQL's numeric holds.
const MAX_SCALE: u32 = 16_383;
/// Most digits before the point.
const MAX_INT_DIGITS: usize = 131_072;

/// A numeric value: NaN, an infinity, or `int * 10^-scale` (the scale is the display scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numeric {
    NaN,
    /// `true`: -Infinity.
    Inf(bool),
    Finite(BigInt, u32),
}

fn pow10(n: u32) -> BigInt {
    BigInt::from(10u8).pow(n)
}

fn overflow() -> SqlError {
    SqlError::error("22003", "value overflows numeric format")
}

impl Numeric {
    pub fn zero() -> Numeric {
        Numeric::Finite(BigInt::zero(), 0)
    }

    /// numeric's input: blanks around, sign, digits with a point, an exponent; `NaN`, `Infinity`, `inf`.
    pub fn parse(text: &str) -> Result<Numeric, SqlError> {
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "nan" => return Ok(Numeric::NaN),
            "infinity" | "+infinity" | "inf" | "+inf" => return Ok(Numeric::Inf(false)),
            "-infinity" | "-inf" => return Ok(Numeric::Inf(true)),
            _ => {}
        }
        let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
        let (mantissa, exponent) = match body.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (body, None),
        };
        let mantissa_ok = !mantissa.is_empty()
            && mantissa.bytes().filter(|&b| b == b'.').count() <= 1
            && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && mantissa.bytes().any(|b| b.is_ascii_digit());
        let exponent_ok = exponent.is_none_or(|e| {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            !digits.is_empty() && digits.len() < 10 && digits.bytes().all(|b| b.is_ascii_digit())
        });
        if !mantissa_ok || !exponent_ok {
            return Err(invalid_syntax(PgType::Numeric, text));
        }
        let exp: i64 = exponent.map_or(Ok(0), str::parse).map_err(|_| invalid_syntax(PgType::Numeric, text))?;
        // Refuse what numeric cannot hold before building it (131072 digits before the point, 16383 after).
        let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let significant = whole.trim_start_matches('0');
        let int_digits = if significant.is_empty() { 0 } else { significant.len() as i64 };
        let scale = frac.len() as i64 - exp;
        let all_zero = !mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
        if scale > MAX_SCALE as i64 || (!all_zero && int_digits + exp > MAX_INT_DIGITS as i64) {
            return Err(overflow());
        }
        let decimal = BigDecimal::from_str(&lower).map_err(|_| invalid_syntax(PgType::Numeric, text))?;
        Numeric::from_decimal(&decimal)
    }

    fn from_decimal(decimal: &BigDecimal) -> Result<Numeric, SqlError> {
        let (int, scale) = decimal.as_bigint_and_exponent();
        let n = if int.is_zero() {
            Numeric::Finite(int, scale.max(0) as u32)
        } else if scale < 0 {
            Numeric::Finite(int * pow10(scale.unsigned_abs() as u32), 0)
        } else {
            Numeric::Finite(int, scale as u32)
        };
        n.checked()
    }

    /// Refuses a value beyond numeric's range.
    fn checked(self) -> Result<Numeric, SqlError> {
        if let Numeric::Finite(int, scale) = &self {
            if *scale > MAX_SCALE || int.abs().to_string().len().saturating_sub(*scale as usize) > MAX_INT_DIGITS {
                return Err(overflow());
            }
        }
        Ok(self)
    }

    /// The canonical text: all `scale` digits after the point, no exponent.
    pub fn to_text(&self) -> String {
        match self {
            Numeric::NaN => "NaN".into(),
            Numeric::Inf(false) => "Infinity".into(),
            Numeric::Inf(true) => "-Infinity".into(),
            Numeric::Finite(int, scale) => {
                let digits = int.abs().to_string();
                let sign = if int.is_negative() { "-" } else { "" };
                let scale = *scale as usize;
                if scale == 0 {
                    return format!("{sign}{digits}");
                }
                let padded = if digits.len() <= scale {
                    format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
                } else {
                    digits
                };
                let (whole, frac) = padded.split_at(padded.len() - scale);
                format!("{sign}{whole}.{frac}")
            }
        }
    }

    /// This value rounded (half away from zero) or extended to `scale` digits after the point.
    pub fn round(&self, scale: i32) -> Numeric {
        let Numeric::Finite(int, have) = self else { return self.clone() };
        let target = scale.max(0) as u32;
        if scale >= 0 && target >= *have {
            return Numeric::Finite(int * pow10(target - have), target);
        }
        // Drop `drop` digits, rounding half away from zero, then scale back up if `scale` was negative.
        let drop = (*have as i64 - scale as i64) as u32;
        let divisor = pow10(drop);
        let mut q = int / &divisor;
        let r = int % &divisor;
        if r.abs() * 2u8 >= divisor {
            q += if int.is_negative() { -1 } else { 1 };
        }
        if scale < 0 {
            q *= pow10(scale.unsigned_abs());
        }
        Numeric::Finite(q, target)
    }

    /// Truncates toward zero to `scale` digits (scale >= 0).
    pub fn trunc(&self, scale: u32) -> Numeric {
        let Numeric::Finite(int, have) = self else { return self.clone() };
        if scale >= *have {
            return Numeric::Finite(int * pow10(scale - have), scale);
        }
        Numeric::Finite(int / pow10(have - scale), scale)
    }

    fn aligned(a: &BigInt, sa: u32, b: &BigInt, sb: u32) -> (BigInt, BigInt, u32) {
        let s = sa.max(sb);
        (a * pow10(s - sa), b * pow10(s - sb), s)
    }

    /// Applies a `numeric(p,s)` modifier: rounds to s digits, refuses a value with more than p - s digits
    /// before the point (22003 "numeric field overflow").
    pub fn apply_typmod(self, typmod: Typmod) -> Result<Numeric, SqlError> {
        if typmod < 4 {
            return Ok(self);
        }
        let tm = typmod - 4;
        let precision = (tm >> 16) & 0xffff;
        let scale = ((tm & 0x7ff) ^ 1024) - 1024;
        let max_digits = precision - scale;
        let overflow = |detail: String| SqlError::error("22003", "numeric field overflow").with_detail(detail);
        match self {
            Numeric::NaN => Ok(Numeric::NaN),
            Numeric::Inf(_) => Err(overflow(format!(
                "A field with precision {precision}, scale {scale} cannot hold an infinite value."
            ))),
            finite => {
                let rounded = finite.round(scale);
                if let Numeric::Finite(int, s) = &rounded {
                    let whole = (int.abs() / pow10(*s)).to_string();
                    let digits = if whole == "0" { 0 } else { whole.len() as i32 };
                    if digits > max_digits {
                        let limit = if max_digits > 0 { format!("10^{max_digits}") } else { "1".into() };
                        return Err(overflow(format!(
                            "A field with precision {precision}, scale {scale} must round to an absolute value less \
                             than {limit}."
                        )));
                    }
                }
                Ok(rounded)
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Numeric::Finite(i, _) if i.is_zero())
    }

    pub fn from_i64(i: i64) -> Numeric {
        Numeric::Finite(BigInt::from(i), 0)
    }

    /// A float8 as PostgreSQL converts it: its 15 significant digits (`%.15g`); float4: 6.
    pub fn from_f64(f: f64, significant: usize) -> Result<Numeric, SqlError> {
        if f.is_nan() {
            return Ok(Numeric::NaN);
        }
        if f.is_infinite() {
            return Ok(Numeric::Inf(f < 0.0));
        }
        let text = format!("{:.*e}", significant - 1, f);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        Numeric::parse(&format!("{mantissa}e{exponent}"))
    }

    pub fn to_f64(&self) -> f64 {
        match self {
            Numeric::NaN => f64::NAN,
            Numeric::Inf(neg) => {
                if *neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            finite => finite.to_text().parse().unwrap_or(f64::NAN),
        }
    }

    /// Rounded half away from zero to an integer, if it is finite and fits an i64.
    pub fn to_i64(&self) -> Option<i64> {
        match self.round(0) {
            Numeric::Finite(int, _) => int.to_i64(),
            _ => None,
        }
    }

    /// PostgreSQL's order: -Infinity < numbers < Infinity < NaN (NaN equals NaN).
    pub fn compare(&self, other: &Numeric) -> Ordering {
        fn rank(n: &Numeric) -> i8 {
            match n {
                Numeric::Inf(true) => 0,
                Numeric::Finite(..) => 1,
                Numeric::Inf(false) => 2,
                Numeric::NaN => 3,
            }
        }
        match (self, other) {
            (Numeric::Finite(a, sa), Numeric::Finite(b, sb)) => {
                let (a, b, _) = Numeric::aligned(a, *sa, b, *sb);
                a.cmp(&b)
            }
            _ => rank(self).cmp(&rank(other)),
        }
    }

    pub fn add(&self, other: &Numeric) -> Result<Numeric, SqlError> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (Numeric::Inf(a), Numeric::Inf(b)) => Ok(if a == b { Numeric::Inf(*a) } else { Numeric::NaN }),
            (Numeric::Inf(a), _) | (_, Numeric::Inf(a)) => Ok(Numeric::Inf(*a)),
            (Numeric::Finite(a, sa), Numeric::Finite(b, sb)) => {
                let (a, b, s) = Numeric::aligned(a, *sa, b, *sb);
                Numeric::Finite(a + b, s).checked()
            }
        }
    }

    pub fn neg(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::Inf(n) => Numeric::Inf(!n),
            Numeric::Finite(i, s) => Numeric::Finite(-i, *s),
        }
    }

    pub fn sub(&self, other: &Numeric) -> Result<Numeric, SqlError> {
        self.add(&other.neg())
    }

    fn sign(&self) -> i8 {
        match self {
            Numeric::NaN => 0,
            Numeric::Inf(neg) => {
                if *neg {
                    -1
                } else {
                    1
                }
            }
            Numeric::Finite(i, _) => match i.sign() {
                Sign::Minus => -1,
                Sign::NoSign => 0,
                Sign::Plus => 1,
            },
        }
    }

    pub fn mul(&self, other: &Numeric) -> Result<Numeric, SqlError> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (Numeric::Finite(a, sa), Numeric::Finite(b, sb)) => Numeric::Finite(a * b, sa + sb).checked(),
            _ => {
                let sign = self.sign() * other.sign();
                Ok(if sign == 0 { Numeric::NaN } else { Numeric::Inf(sign < 0) })
            }
        }
    }

    /// The weight (power of 10000 of the first non-zero base-10000 digit) and that digit.
    fn first_digit(&self) -> (i32, i32) {
        let (_, weight, _, digits) = self.base10000();
        (weight as i32, digits.first().copied().unwrap_or(0) as i32)
    }

    /// PostgreSQL's `select_div_scale`: the display scale of a quotient.
    fn div_scale(&self, other: &Numeric) -> u32 {
        let (Numeric::Finite(_, s1), Numeric::Finite(_, s2)) = (self, other) else { return 0 };
        let (w1, d1) = if self.is_zero() { (0, 0) } else { self.first_digit() };
        let (w2, d2) = if other.is_zero() { (0, 0) } else { other.first_digit() };
        let mut qweight = w1 - w2;
        if d1 <= d2 {
            qweight -= 1;
        }
        let rscale = (16 - qweight * 4).max(*s1 as i32).max(*s2 as i32).clamp(0, 1000);
        rscale as u32
    }

    fn division_by_zero() -> SqlError {
        SqlError::error("22012", "division by zero")
    }

    pub fn div(&self, other: &Numeric) -> Result<Numeric, SqlError> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (_, o) if o.is_zero() => Err(Numeric::division_by_zero()),
            (Numeric::Inf(_), Numeric::Inf(_)) => Ok(Numeric::NaN),
            (Numeric::Inf(_), _) => Ok(Numeric::Inf(self.sign() * other.sign() < 0)),
            (_, Numeric::Inf(_)) => Ok(Numeric::zero()),
            (Numeric::Finite(a, sa), Numeric::Finite(b, sb)) => {
                let rscale = self.div_scale(other);
                // a/10^sa / (b/10^sb) at rscale digits = a * 10^(sb + rscale) / (b * 10^sa), rounded.
                let num = a * pow10(sb + rscale);
                let den = b * pow10(*sa);
                let mut q = &num / &den;
                let r = &num % &den;
                if r.abs() * 2u8 >= den.abs() {
                    q += if num.is_negative() != den.is_negative() { -1 } else { 1 };
                }
                Numeric::Finite(q, rscale).checked()
            }
        }
    }

    /// PostgreSQL's `mod`: `x - trunc(x / y) * y`, the sign of x, the larger scale.
    pub fn rem(&self, other: &Numeric) -> Result<Numeric, SqlError> {
        match (self, other) {
            (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Numeric::NaN),
            (_, o) if o.is_zero() => Err(Numeric::division_by_zero()),
            (Numeric::Inf(_), _) => Ok(Numeric::NaN),
            (_, Numeric::Inf(_)) => Ok(self.clone()),
            (Numeric::Finite(a, sa), Numeric::Finite(b, sb)) => {
                let (a, b, s) = Numeric::aligned(a, *sa, b, *sb);
                Ok(Numeric::Finite(a % b, s))
            }
        }
    }

    /// The base-10000 form: (sign word, weight, dscale, digits), digits without leading or trailing zeros.
    pub fn base10000(&self) -> (u16, i16, u16, Vec<i16>) {
        let (int, scale) = match self {
            Numeric::NaN => return (0xC000, 0, 0, Vec::new()),
            // PostgreSQL sends the infinities with display scale 32 (what their header word's bits read as).
            Numeric::Inf(false) => return (0xD000, 0, 32, Vec::new()),
            Numeric::Inf(true) => return (0xF000, 0, 32, Vec::new()),
            Numeric::Finite(i, s) => (i, *s),
        };
        let sign = if int.is_negative() { 0x4000 } else { 0 };
        if int.is_zero() {
            return (0, 0, scale as u16, Vec::new());
        }
        let pad = (4 - scale % 4) % 4;
        let frac_groups = ((scale + pad) / 4) as i64;
        let mut text = (int.abs() * pow10(pad)).to_string();
        let lead = (4 - text.len() % 4) % 4;
        text.insert_str(0, &"0".repeat(lead));
        let mut digits: Vec<i16> =
            text.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("0").parse().unwrap_or(0)).collect();
        let mut weight = digits.len() as i64 - frac_groups - 1;
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        (sign, weight as i16, scale as u16, digits)
    }

    pub fn to_binary(&self) -> Vec<u8> {
        let (sign, weight, dscale, digits) = self.base10000();
        let mut out = Vec::with_capacity(8 + 2 * digits.len());
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    pub fn from_binary(bytes: &[u8]) -> Result<Numeric, SqlError> {
        let mut r = Reader { bytes, ty: PgType::Numeric };
        let ndigits = r.i16()?;
        let weight = r.i16()? as i64;
        let sign = r.i16()? as u16;
        let dscale = r.i16()? as u16;
        let invalid = |what: &str| SqlError::error("22P03", format!("invalid {what} in external \"numeric\" value"));
        if ndigits < 0 {
            return Err(invalid("length"));
        }
        let mut int = BigInt::zero();
        for _ in 0..ndigits {
            let d = r.i16()?;
            if !(0..10_000).contains(&d) {
                return Err(invalid("digit"));
            }
            int = int * 10_000u32 + d as u32;
        }
        r.finish()?;
        match sign {
            0xC000 => return Ok(Numeric::NaN),
            0xD000 => return Ok(Numeric::Inf(false)),
            0xF000 => return Ok(Numeric::Inf(true)),
            0 | 0x4000 => {}
            _ => return Err(invalid("sign")),
        }
        if dscale as u32 > MAX_SCALE {
            return Err(invalid("scale"));
        }
        if sign == 0x4000 {
            int = -int;
        }
        // value = int * 10000^(weight - ndigits + 1)
        let exp4 = weight - ndigits as i64 + 1;
        let n = if exp4 >= 0 {
            Numeric::Finite(int * pow10((exp4 * 4) as u32), 0)
        } else {
            Numeric::Finite(int, (-exp4 * 4) as u32)
        };
        Ok(n.round(dscale as i32))
    }
}

/// The numeric a stored value holds (text, integer or real).
pub fn of_value(value: &Value) -> Result<Numeric, SqlError> {
    match value {
        Value::Integer(i) => Ok(Numeric::from_i64(*i)),
        Value::Real(f) => Numeric::from_f64(*f, 15),
        other => Numeric::parse(&raw_text(other)),
    }
}

pub fn to_value(n: &Numeric) -> Value {
    Value::Text(n.to_text())
}

pub(super) fn input(text: &str, typmod: Typmod) -> Result<Value, SqlError> {
    Ok(to_value(&Numeric::parse(text)?.apply_typmod(typmod)?))
}

pub(super) fn output(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => of_value(other).map(|n| n.to_text()).unwrap_or_else(|_| raw_text(other)),
    }
}

pub(super) fn send(value: &Value) -> Result<Vec<u8>, SqlError> {
    Ok(of_value(value)?.to_binary())
}

pub(super) fn recv(bytes: &[u8]) -> Result<Value, SqlError> {
    if bytes.len() < 8 {
        return Err(bad_binary(PgType::Numeric));
    }
    Ok(to_value(&Numeric::from_binary(bytes)?))
}

/// The state of `sum(numeric)` and `avg(numeric)`: the exact sum and how many non-NULL values.
#[derive(Debug, Clone, Default)]
pub struct SumState {
    pub sum: Option<Numeric>,
    pub count: i64,
}

impl SumState {
    pub fn add(&mut self, value: &Numeric) -> Result<(), SqlError> {
        self.sum = Some(match &self.sum {
            None => value.clone(),
            Some(sum) => sum.add(value)?,
        });
        self.count += 1;
        Ok(())
    }

    /// `sum`: NULL over no rows.
    pub fn sum(&self) -> Option<Numeric> {
        self.sum.clone()
    }

    /// `avg`: the sum divided by the count (numeric division's scale), NULL over no rows.
    pub fn avg(&self) -> Result<Option<Numeric>, SqlError> {
        match &self.sum {
            None => Ok(None),
            Some(sum) => sum.div(&Numeric::from_i64(self.count)).map(Some),
        }
    }
}
