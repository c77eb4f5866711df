//! Go's string literals, as Go's scanner and `strconv.Unquote` read them.

use super::{Lexer, Pos};
use crate::error::Error;

impl Lexer<'_> {
    /// A Go double-quoted string: its escapes, no newline, valid UTF-8.
    pub(super) fn string(&mut self, pos: Pos) -> Result<String, Error> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            let c = match self.bump() {
                None | Some('\n') => return Err(pos.error("literal not terminated")),
                Some('"') => break,
                Some(c) => c,
            };
            if c != '\\' {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            let invalid = || pos.error("invalid syntax");
            let e = self.bump().ok_or_else(invalid)?;
            let simple = match e {
                'a' => Some('\x07'),
                'b' => Some('\x08'),
                'f' => Some('\x0c'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\x0b'),
                '\\' => Some('\\'),
                '"' => Some('"'),
                _ => None,
            };
            if let Some(s) = simple {
                bytes.push(s as u8);
                continue;
            }
            let mut digits = |n: usize, radix: u32| -> Result<u32, Error> {
                let mut v = 0u32;
                for _ in 0..n {
                    let d = self
                        .bump()
                        .and_then(|c| c.to_digit(radix))
                        .ok_or_else(invalid)?;
                    v = v * radix + d;
                }
                Ok(v)
            };
            match e {
                'x' => bytes.push(digits(2, 16)? as u8),
                '0'..='7' => {
                    let v = (e as u32 - '0' as u32) * 64 + digits(2, 8)?;
                    bytes.push(u8::try_from(v).map_err(|_| invalid())?);
                }
                'u' | 'U' => {
                    let v = digits(if e == 'u' { 4 } else { 8 }, 16)?;
                    let c = char::from_u32(v).ok_or_else(invalid)?;
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => return Err(invalid()),
            }
        }
        String::from_utf8(bytes).map_err(|_| pos.error("string is not valid UTF-8"))
    }

    /// A Go raw string: everything up to the next backquote, carriage returns dropped.
    pub(super) fn raw_string(&mut self, pos: Pos) -> Result<String, Error> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(pos.error("literal not terminated")),
                Some('`') => return Ok(out),
                Some('\r') => {}
                Some(c) => out.push(c),
            }
        }
    }
}
