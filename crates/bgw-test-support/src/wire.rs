//! The wire protocol's framing, for tests that speak it by hand (a raw client sending what no driver would).

use std::io::Read;

/// A protocol 3.0 startup message with the parameters `params` (`user`, `database`, ...).
pub fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    packet
}

/// A frontend message: its type byte, its length, its body.
pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Reads one backend message: (type, body); None at the end of the stream. A length below 4 (the length field's
/// own size) fails the test: no server may send one.
pub fn read_message(stream: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let len = len.checked_sub(4).unwrap_or_else(|| panic!("a message of type {:?} with length {len}", head[0] as char));
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some((head[0], body))
}
