//! COPY's binary format, as PostgreSQL reads and writes it: the signature `PGCOPY\n\377\r\n\0`, a 32-bit flags
//! field and a 32-bit header-extension length (with the extension), then per tuple a 16-bit field count and per
//! field a 32-bit length (-1 for NULL) and the value in the type's binary send format; a field count of -1 ends
//! the data. All integers are big-endian.
//!
//! The fields of a tuple are laid out exactly as in a DataRow message, so the writer reuses the backend's row
//! encoder in binary format and the reader hands each field to the same decoder as bind parameters.
//!
//! Runs in: a backend process.

use crate::sql::SqlError;

pub(crate) const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The header a binary COPY TO starts with: signature, no flags, no extension.
pub(crate) fn header() -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// The trailer a binary COPY TO ends with.
pub(crate) fn trailer() -> Vec<u8> {
    (-1i16).to_be_bytes().to_vec()
}

fn bad(message: &str) -> SqlError {
    SqlError::error("22P04", message)
}

/// What the reader found next.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// A tuple's fields (None: NULL).
    Tuple(Vec<Option<Vec<u8>>>),
    /// More data is needed.
    More,
    /// The end: the trailer, or the end of the data at a tuple's start.
    End,
}

/// Reads the binary format from the bytes the client streams.
#[derive(Default)]
pub(crate) struct BinaryReader {
    buf: Vec<u8>,
    start: usize,
    header_read: bool,
    ended: bool,
}

impl BinaryReader {
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), SqlError> {
        if self.ended && !data.is_empty() {
            return Err(bad("received copy data after EOF marker"));
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Whether the header has been read (errors before it name no line).
    pub(crate) fn header_read(&self) -> bool {
        self.header_read
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The next tuple with `columns` fields; at the end of the data (`eof`) a partial header or tuple is an error.
    pub(crate) fn next(&mut self, columns: usize, eof: bool) -> Result<Next, SqlError> {
        if self.ended {
            return Ok(Next::End);
        }
        if !self.header_read && !self.read_header(eof)? {
            return Ok(Next::More);
        }
        let data = self.pending();
        if data.len() < 2 {
            if eof && data.is_empty() {
                self.ended = true;
                return Ok(Next::End);
            }
            return if eof { Err(bad("unexpected EOF in COPY data")) } else { Ok(Next::More) };
        }
        let count = i16::from_be_bytes([data[0], data[1]]);
        if count == -1 {
            self.start += 2;
            self.ended = true;
            if !self.pending().is_empty() {
                return Err(bad("received copy data after EOF marker"));
            }
            return Ok(Next::End);
        }
        if count as i64 != columns as i64 {
            return Err(bad(&format!("row field count is {count}, expected {columns}")));
        }
        let mut at = 2;
        let mut fields = Vec::with_capacity(columns);
        for _ in 0..columns {
            let Some(len) = data.get(at..at + 4) else {
                return if eof { Err(bad("unexpected EOF in COPY data")) } else { Ok(Next::More) };
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len == -1 {
                fields.push(None);
                continue;
            }
            if len < -1 {
                return Err(bad("invalid field size"));
            }
            let Some(value) = data.get(at..at + len as usize) else {
                return if eof { Err(bad("unexpected EOF in COPY data")) } else { Ok(Next::More) };
            };
            fields.push(Some(value.to_vec()));
            at += len as usize;
        }
        self.start += at;
        Ok(Next::Tuple(fields))
    }

    /// Reads the header once it is whole; false when more data is needed.
    fn read_header(&mut self, eof: bool) -> Result<bool, SqlError> {
        let data = self.pending();
        let need = |ok: bool, message: &str| -> Result<bool, SqlError> {
            if ok {
                Ok(true)
            } else if eof {
                Err(bad(message))
            } else {
                Ok(false)
            }
        };
        if data.len() < SIGNATURE.len() {
            if !SIGNATURE.starts_with(data) {
                return Err(bad("COPY file signature not recognized"));
            }
            return need(false, "COPY file signature not recognized");
        }
        if &data[..SIGNATURE.len()] != SIGNATURE {
            return Err(bad("COPY file signature not recognized"));
        }
        if !need(data.len() >= 15, "invalid COPY file header (missing flags)")? {
            return Ok(false);
        }
        let flags = u32::from_be_bytes([data[11], data[12], data[13], data[14]]);
        if flags & (1 << 16) != 0 {
            return Err(bad("invalid COPY file header (WITH OIDS)"));
        }
        if (flags & !(1 << 16)) >> 16 != 0 {
            return Err(bad("unrecognized critical flags in COPY file header"));
        }
        if !need(data.len() >= 19, "invalid COPY file header (missing length)")? {
            return Ok(false);
        }
        let extension = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
        if !need(data.len() >= 19 + extension, "invalid COPY file header (wrong length)")? {
            return Ok(false);
        }
        self.start += 19 + extension;
        self.header_read = true;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (fields.len() as i16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
        out
    }

    #[test]
    fn reads_tuples_byte_by_byte() {
        let mut data = header();
        data.extend(tuple(&[Some(&1i32.to_be_bytes()), None]));
        data.extend(tuple(&[Some(b""), Some(b"xy")]));
        data.extend(trailer());
        let mut reader = BinaryReader::default();
        let mut got = Vec::new();
        for byte in &data {
            reader.push(std::slice::from_ref(byte)).unwrap();
            loop {
                match reader.next(2, false).unwrap() {
                    Next::Tuple(fields) => got.push(fields),
                    Next::More => break,
                    Next::End => {
                        got.push(Vec::new());
                        break;
                    }
                }
            }
        }
        assert_eq!(
            got,
            vec![
                vec![Some(1i32.to_be_bytes().to_vec()), None],
                vec![Some(Vec::new()), Some(b"xy".to_vec())],
                Vec::new()
            ]
        );
    }

    #[test]
    fn refuses_bad_data() {
        let mut reader = BinaryReader::default();
        reader.push(b"PGCOPX").unwrap();
        assert_eq!(reader.next(1, false).unwrap_err().message, "COPY file signature not recognized");
        let mut reader = BinaryReader::default();
        let mut data = header();
        data.extend(tuple(&[None]));
        reader.push(&data).unwrap();
        assert_eq!(reader.next(2, false).unwrap_err().message, "row field count is 1, expected 2");
        let mut reader = BinaryReader::default();
        reader.push(&header()[..13]).unwrap();
        assert_eq!(reader.next(1, true).unwrap_err().message, "invalid COPY file header (missing flags)");
        let mut reader = BinaryReader::default();
        reader.push(&header()).unwrap();
        assert_eq!(reader.next(1, true).unwrap(), Next::End);
    }
}
