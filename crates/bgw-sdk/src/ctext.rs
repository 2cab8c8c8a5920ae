//! Rust text as C strings: the one conversion every message, name and value the SDK hands to the host goes
//! through.
//!
//! Invariant: a NUL byte inside the text, which C would read as its end, is written as the two characters `\0`,
//! so nothing after it is lost silently and no conversion fails.
//!
//! Runs in: any process and thread the module runs in. Imports nothing of the SDK.

use std::ffi::CString;

/// `text` as a C string, with interior NUL bytes written as `\0`.
pub(crate) fn c_text(text: &str) -> CString {
    let bytes = if text.as_bytes().contains(&0) { text.replace('\0', "\\0").into_bytes() } else { text.into() };
    CString::new(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nuls_are_escaped() {
        assert_eq!(c_text("plain").as_bytes(), b"plain");
        assert_eq!(c_text("a\0b").as_bytes(), b"a\\0b");
        assert_eq!(c_text("\0").as_bytes(), b"\\0");
        assert_eq!(c_text("").as_bytes(), b"");
    }
}
