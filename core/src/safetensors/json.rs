//! A minimal, allocation-free JSON tokenizer for safetensors headers.
//!
//! The header is a fixed two-level shape (an object of objects, arrays of integers and
//! strings), so instead of a general JSON parser this is a `Cursor` over the header text
//! with one method per token the header grammar needs: punctuation, strings and non-negative
//! integers. Whitespace (space, tab, CR, LF) is skipped before every token.
//!
//! - **Strings** are validated (RFC 8259: no raw control characters, only the escapes
//!   `\" \\ \/ \b \f \n \r \t \uXXXX`, and UTF-16 surrogates must come in high–low pairs, as
//!   `serde_json` requires) but not decoded: a [`JsonStr`] keeps the raw text between the
//!   quotes and decodes lazily ([`JsonStr::chars`], [`JsonStr::eq_str`],
//!   [`JsonStr::decode_into`]).
//! - **Numbers** must be non-negative integers without fraction or exponent that fit in
//!   `usize` (no leading zeros, no sign; `-0` is rejected like `serde_json` does for `usize`).
//!
//! Every failure is a [`SafetensorsErrorKind::Json`] with the byte offset in the header and
//! what was expected there. Nothing here indexes without a bounds check.

use super::error::{SafetensorsError, SafetensorsErrorKind};

/// A cursor over the header text.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    /// Current byte offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Text between byte offsets `start` and `end` (empty if not a valid range).
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// The byte at the cursor, if any.
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// A JSON error at the current position.
    pub(crate) fn error(&self, expected: &'static str) -> SafetensorsError {
        SafetensorsError::new(SafetensorsErrorKind::Json {
            offset: self.pos,
            expected,
        })
    }

    /// Skips JSON whitespace.
    pub(crate) fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_whitespace();
        self.pos >= self.text.len()
    }

    /// Consumes `byte` (after whitespace) or fails with `expected`.
    pub(crate) fn expect_byte(
        &mut self,
        byte: u8,
        expected: &'static str,
    ) -> Result<(), SafetensorsError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Steps through a comma-separated list closed by `close`, whose opening bracket has been
    /// consumed. Returns `true` if another element follows (its separator consumed), `false`
    /// once `close` has been consumed. `first` tracks whether no element has been read yet.
    pub(crate) fn next_element(
        &mut self,
        close: u8,
        first: &mut bool,
        expected: &'static str,
    ) -> Result<bool, SafetensorsError> {
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(false);
        }
        if *first {
            *first = false;
            return Ok(true);
        }
        if self.peek() == Some(b',') {
            self.pos += 1;
            Ok(true)
        } else {
            Err(self.error(expected))
        }
    }

    /// Reads a string token (after whitespace), validating it; fails with `expected` if the
    /// next token is not a string.
    pub(crate) fn string(
        &mut self,
        expected: &'static str,
    ) -> Result<JsonStr<'a>, SafetensorsError> {
        self.expect_byte(b'"', expected)?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("a closing `\"`"));
            };
            match byte {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    self.escape()?;
                }
                0x00..=0x1F => return Err(self.error("no raw control characters in strings")),
                _ => self.pos += 1,
            }
        }
        let raw = self.slice(start, self.pos);
        self.pos += 1; // closing quote
        Ok(JsonStr { raw, escaped })
    }

    /// Validates one escape sequence; the cursor is just after the backslash.
    fn escape(&mut self) -> Result<(), SafetensorsError> {
        const EXPECTED: &str = "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)";
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                match unit {
                    0xDC00..=0xDFFF => Err(self.error("no lone low surrogate in \\u escapes")),
                    0xD800..=0xDBFF => {
                        if self.peek() != Some(b'\\') {
                            return Err(self.error("a low surrogate \\uDC00-\\uDFFF"));
                        }
                        self.pos += 1;
                        if self.peek() != Some(b'u') {
                            return Err(self.error("a low surrogate \\uDC00-\\uDFFF"));
                        }
                        self.pos += 1;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(self.error("a low surrogate \\uDC00-\\uDFFF")),
                        }
                    }
                    _ => Ok(()),
                }
            }
            _ => Err(self.error(EXPECTED)),
        }
    }

    /// Reads four hex digits.
    fn hex4(&mut self) -> Result<u16, SafetensorsError> {
        let mut value: u16 = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| (b as char).to_digit(16));
            let Some(digit) = digit else {
                return Err(self.error("four hex digits after \\u"));
            };
            value = (value << 4) | digit as u16;
            self.pos += 1;
        }
        Ok(value)
    }

    /// Reads a non-negative integer that fits in `usize` (after whitespace).
    pub(crate) fn usize(&mut self) -> Result<usize, SafetensorsError> {
        const EXPECTED: &str = "a non-negative integer";
        self.skip_whitespace();
        let start = self.pos;
        let mut value: usize = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            if self.pos > start && value == 0 {
                return Err(self.error("no leading zeros in integers"));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(usize::from(digit - b'0')))
                .ok_or_else(|| self.error("an integer that fits in usize"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error(EXPECTED));
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(self.error("an integer without fraction or exponent"));
        }
        Ok(value)
    }
}

/// A validated JSON string as it appears in the header (without the quotes), decoded on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The text between the quotes, escape sequences not decoded.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the string contains escape sequences.
    pub fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The string itself if it has no escape sequences (then raw and decoded text agree).
    pub fn as_str(&self) -> Option<&'a str> {
        if self.escaped {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The decoded characters.
    pub fn chars(&self) -> DecodedChars<'a> {
        DecodedChars { rest: self.raw }
    }

    /// Whether the decoded string equals `other`.
    pub fn eq_str(&self, other: &str) -> bool {
        if !self.escaped {
            return self.raw == other;
        }
        let mut expected = other.chars();
        for c in self.chars() {
            if expected.next() != Some(c) {
                return false;
            }
        }
        expected.next().is_none()
    }

    /// Length in bytes of the decoded UTF-8 string.
    pub fn decoded_len(&self) -> usize {
        self.chars().map(char::len_utf8).sum()
    }

    /// Decodes into `out` and returns the decoded string, a prefix of `out`.
    ///
    /// # Errors
    /// [`SafetensorsErrorKind::BufferLength`] if `out` is shorter than
    /// [`decoded_len`](Self::decoded_len).
    pub fn decode_into<'b>(&self, out: &'b mut [u8]) -> Result<&'b str, SafetensorsError> {
        let needed = self.decoded_len();
        if out.len() < needed {
            return Err(SafetensorsError::new(SafetensorsErrorKind::BufferLength {
                expected: needed,
                actual: out.len(),
            }));
        }
        let mut len = 0;
        for c in self.chars() {
            let width = c.len_utf8();
            if let Some(dst) = out.get_mut(len..len + width) {
                c.encode_utf8(dst);
            }
            len += width;
        }
        let written = out.get(..len).unwrap_or(&[]);
        // Whole chars were encoded back to back, so this is UTF-8.
        Ok(core::str::from_utf8(written).unwrap_or(""))
    }
}

/// Iterator over the decoded characters of a [`JsonStr`].
#[derive(Debug, Clone)]
pub struct DecodedChars<'a> {
    rest: &'a str,
}

impl DecodedChars<'_> {
    /// Reads four hex digits from the front of `rest`.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.rest.get(..4)?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.rest = self.rest.get(4..)?;
        Some(value)
    }
}

impl Iterator for DecodedChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let mut chars = self.rest.chars();
        let c = chars.next()?;
        self.rest = chars.as_str();
        if c != '\\' {
            return Some(c);
        }
        // The string was validated when it was read, so every escape is well formed; a
        // malformed one (impossible) ends the iteration instead of panicking.
        let mut chars = self.rest.chars();
        let kind = chars.next()?;
        self.rest = chars.as_str();
        match kind {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'u' => {
                let high = self.hex4()?;
                if (0xD800..=0xDBFF).contains(&high) {
                    self.rest = self.rest.strip_prefix("\\u")?;
                    let low = self.hex4()?;
                    let code = 0x1_0000 + ((high - 0xD800) << 10) + low.checked_sub(0xDC00)?;
                    char::from_u32(code)
                } else {
                    char::from_u32(high)
                }
            }
            _ => None,
        }
    }
}
