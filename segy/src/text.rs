//! The 3200-byte textual file header: 40 lines ("card images") of 80 characters.
//!
//! Rev 0 and 1 require EBCDIC; rev 2 allows ASCII, and many tools write ASCII anyway, so the
//! reader detects the encoding. The standard starts every card image with the character
//! `C`, which is `0xC3` in EBCDIC and `0x43` in ASCII (and something else in the other
//! encoding), so a first byte of `0xC3` or `0x43` decides. Otherwise the reader decodes the
//! block both ways and counts the characters that are ASCII letters, digits or spaces;
//! ASCII wins only on a strictly higher count (a blank EBCDIC header is all `0x40`, which
//! is `@` in ASCII, so it stays EBCDIC). Counting alone misreads headers whose text is
//! mostly `@` (ASCII; `0x40` is the EBCDIC space) or mostly punctuation (EBCDIC; `.<(+|&`
//! are `0x4B`–`0x50`, ASCII letters) — the fuzzer found the first — which is why the
//! first byte comes first; the writer's rev 1 headers ([`TextualHeader::with_description`])
//! always start with `C`.
//!
//! Lines are kept with control characters (including NUL, and the CR/LF some ASCII writers
//! put at column 80) replaced by spaces and trailing spaces removed. The writer pads each
//! line to 80 characters with spaces; it takes printable ASCII only, so that the header
//! reads the same in every EBCDIC code page and in ASCII.

use crate::ebcdic;
use crate::error::{Error, ErrorKind};

/// Lines in a textual header.
pub const LINES: usize = 40;
/// Characters per line.
pub const LINE_LEN: usize = 80;

/// How the textual header's characters are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// EBCDIC, IBM code page 037 (the rev 0/1 standard; the writer's default).
    #[default]
    Ebcdic,
    /// ASCII (allowed by rev 2).
    Ascii,
}

/// A textual file header: its lines and their encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextualHeader {
    /// The 40 lines, trailing spaces removed.
    pub lines: Vec<String>,
    /// The encoding the header was read in or is to be written in.
    pub encoding: TextEncoding,
}

/// True for characters the detector counts as text: ASCII letters, digits and the space.
fn is_text(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' '
}

/// The character a byte stands for in an encoding (control characters included).
fn raw_char(byte: u8, encoding: TextEncoding) -> char {
    match encoding {
        TextEncoding::Ebcdic => ebcdic::to_char(byte),
        TextEncoding::Ascii => char::from(byte),
    }
}

/// Decodes one byte in an encoding, control characters as spaces.
fn decode_byte(byte: u8, encoding: TextEncoding) -> char {
    let c = raw_char(byte, encoding);
    if c.is_control() {
        ' '
    } else {
        c
    }
}

impl TextualHeader {
    /// Size of a textual header in bytes.
    pub const LEN: usize = LINES * LINE_LEN;

    /// The encoding a 3200-byte block most likely has (see the module docs).
    pub fn detect_encoding(bytes: &[u8]) -> TextEncoding {
        match bytes.first() {
            Some(0xC3) => return TextEncoding::Ebcdic,
            Some(b'C') => return TextEncoding::Ascii,
            _ => {}
        }
        // Control characters are not text (decoding shows them as spaces, but counting
        // them as spaces made the count depend on which bytes are controls in which
        // encoding: a header read as ASCII, written and read again came back as EBCDIC —
        // found by fuzzing).
        let count = |encoding| {
            bytes
                .iter()
                .filter(|&&b| is_text(raw_char(b, encoding)))
                .count()
        };
        if count(TextEncoding::Ascii) > count(TextEncoding::Ebcdic) {
            TextEncoding::Ascii
        } else {
            TextEncoding::Ebcdic
        }
    }

    /// Decodes a block in the given encoding.
    pub fn decode(bytes: &[u8; Self::LEN], encoding: TextEncoding) -> Self {
        let lines = bytes
            .chunks_exact(LINE_LEN)
            .map(|line| {
                let text: String = line.iter().map(|&b| decode_byte(b, encoding)).collect();
                text.trim_end().to_string()
            })
            .collect();
        Self { lines, encoding }
    }

    /// Decodes a block, detecting its encoding.
    pub fn parse(bytes: &[u8; Self::LEN]) -> Self {
        Self::decode(bytes, Self::detect_encoding(bytes))
    }

    /// A header with these lines (at most 40 of at most 80 printable ASCII characters; the
    /// rest are blank).
    ///
    /// # Errors
    /// [`ErrorKind::TextualHeader`] naming the first line that is too long or holds a
    /// character other than printable ASCII, or if there are more than 40 lines.
    pub fn new(lines: &[String], encoding: TextEncoding) -> Result<Self, Error> {
        if lines.len() > LINES {
            return Err(ErrorKind::TextualHeader {
                line: LINES + 1,
                reason: format!("{} lines, expected at most {LINES}", lines.len()),
            }
            .into());
        }
        for (i, line) in lines.iter().enumerate() {
            if let Some(c) = line.chars().find(|c| !(' '..='~').contains(c)) {
                return Err(ErrorKind::TextualHeader {
                    line: i + 1,
                    reason: format!("character {c:?} is not printable ASCII"),
                }
                .into());
            }
            if line.len() > LINE_LEN {
                return Err(ErrorKind::TextualHeader {
                    line: i + 1,
                    reason: format!("{} characters, expected at most {LINE_LEN}", line.len()),
                }
                .into());
            }
        }
        let mut all: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
        all.resize(LINES, String::new());
        Ok(Self {
            lines: all,
            encoding,
        })
    }

    /// A rev 1 style header: the description on lines `C 1` to `C38` (each prefixed with
    /// its card number, so at most 76 characters each), `C39 SEG Y REV1` and
    /// `C40 END TEXTUAL HEADER`.
    ///
    /// # Errors
    /// As [`TextualHeader::new`], for more than 38 description lines or lines longer than
    /// 76 characters.
    pub fn with_description(description: &[String], encoding: TextEncoding) -> Result<Self, Error> {
        if description.len() > LINES - 2 {
            return Err(ErrorKind::TextualHeader {
                line: LINES - 1,
                reason: format!(
                    "{} description lines, expected at most {}",
                    description.len(),
                    LINES - 2
                ),
            }
            .into());
        }
        let mut lines: Vec<String> = (0..LINES - 2)
            .map(|i| {
                let text = description.get(i).map_or("", String::as_str);
                format!("C{:>2} {text}", i + 1)
            })
            .collect();
        lines.push("C39 SEG Y REV1".to_string());
        lines.push("C40 END TEXTUAL HEADER".to_string());
        Self::new(&lines, encoding)
    }

    /// The 3200 bytes of the header in its encoding, lines padded with spaces.
    ///
    /// Characters the encoding cannot hold (only possible for lines set directly, beyond
    /// Latin-1 for EBCDIC or beyond ASCII for ASCII) are written as `?`; lines longer than
    /// 80 characters are cut.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let space = match self.encoding {
            TextEncoding::Ebcdic => 0x40,
            TextEncoding::Ascii => b' ',
        };
        let mut bytes = [space; Self::LEN];
        for (line, out) in self.lines.iter().zip(bytes.chunks_exact_mut(LINE_LEN)) {
            for (c, b) in line.chars().zip(out.iter_mut()) {
                *b = match self.encoding {
                    TextEncoding::Ebcdic => ebcdic::from_char(c).unwrap_or(0x6F),
                    TextEncoding::Ascii if c.is_ascii() => c as u8,
                    TextEncoding::Ascii => b'?',
                };
            }
        }
        bytes
    }

    /// The lines joined with newlines, trailing blank lines removed.
    pub fn text(&self) -> String {
        self.lines.join("\n").trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_lines() -> Vec<String> {
        vec![
            "C 1 CLIENT: POWERPOST  LINE 7".into(),
            "C 2 X = 12.5 M, DT = 1250 US; (FORMAT 5)".into(),
        ]
    }

    #[test]
    fn both_encodings_round_trip_and_are_detected() {
        for encoding in [TextEncoding::Ebcdic, TextEncoding::Ascii] {
            let h = TextualHeader::new(&sample_lines(), encoding).unwrap();
            let bytes = h.to_bytes();
            assert_eq!(TextualHeader::detect_encoding(&bytes), encoding);
            assert_eq!(TextualHeader::parse(&bytes), h);
        }
    }

    #[test]
    fn detection_is_stable_under_writing_what_was_read() {
        // 40 letters, 100 bytes 0xA1 (`¡` in ASCII, `~` in EBCDIC: text in neither) and
        // 0x1A (a control in both) elsewhere: ASCII. Written, the controls become ASCII
        // spaces (0x20) and `¡` becomes `?` (0x3F), both EBCDIC controls; when controls
        // counted as spaces, the written header (3160 "EBCDIC spaces" against 3100 ASCII
        // letters and spaces) read back as EBCDIC.
        let mut bytes = [0x1Au8; 3200];
        bytes[..40].copy_from_slice(&[b'a'; 40]);
        bytes[100..200].copy_from_slice(&[0xA1; 100]);
        let h = TextualHeader::parse(&bytes);
        assert_eq!(h.encoding, TextEncoding::Ascii);
        assert_eq!(
            TextualHeader::parse(&h.to_bytes()).encoding,
            TextEncoding::Ascii
        );
    }

    #[test]
    fn a_leading_c_decides_what_counting_gets_wrong() {
        // Mostly `@` in ASCII (0x40, the EBCDIC space) and mostly punctuation in EBCDIC
        // (0x4B-0x50, ASCII letters): counting alone picks the other encoding.
        let at = vec![format!("C{}", "@".repeat(79)); 40];
        let punct = vec![format!("C{}", ".<(+|&".repeat(13)); 40];
        for (lines, encoding) in [(at, TextEncoding::Ascii), (punct, TextEncoding::Ebcdic)] {
            let h = TextualHeader::new(&lines, encoding).unwrap();
            let mut bytes = h.to_bytes();
            assert_eq!(TextualHeader::parse(&bytes), h);
            // Without the leading `C` the count decides, and gets it wrong.
            bytes[0] = match encoding {
                TextEncoding::Ascii => b'x',
                TextEncoding::Ebcdic => 0xA7,
            };
            assert_ne!(TextualHeader::detect_encoding(&bytes), encoding);
        }
    }

    #[test]
    fn encodings_put_the_standard_bytes_down() {
        let h = TextualHeader::new(&["C 1".into()], TextEncoding::Ebcdic).unwrap();
        let b = h.to_bytes();
        assert_eq!(&b[..4], &[0xC3, 0x40, 0xF1, 0x40]);
        assert!(b[4..].iter().all(|&x| x == 0x40));
        let h = TextualHeader::new(&["C 1".into()], TextEncoding::Ascii).unwrap();
        assert_eq!(&h.to_bytes()[..4], b"C 1 ");
    }

    #[test]
    fn blank_and_zero_blocks_read_as_blank_ebcdic() {
        let blank = [0x40u8; 3200];
        let h = TextualHeader::parse(&blank);
        assert_eq!(h.encoding, TextEncoding::Ebcdic);
        assert!(h.lines.iter().all(String::is_empty));
        let zero = TextualHeader::parse(&[0u8; 3200]);
        assert!(zero.lines.iter().all(String::is_empty));
    }

    #[test]
    fn ascii_line_ends_become_spaces() {
        let mut bytes = [b' '; 3200];
        bytes[..5].copy_from_slice(b"C 1 A");
        bytes[79] = b'\n';
        let h = TextualHeader::parse(&bytes);
        assert_eq!(h.encoding, TextEncoding::Ascii);
        assert_eq!(h.lines[0], "C 1 A");
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let long = vec!["ok".to_string(), "x".repeat(81)];
        let e = TextualHeader::new(&long, TextEncoding::Ascii).unwrap_err();
        assert_eq!(
            e.to_string(),
            "textual header line 2: 81 characters, expected at most 80"
        );
        let e = TextualHeader::new(&["caf\u{e9}".into()], TextEncoding::Ebcdic).unwrap_err();
        assert!(e.to_string().contains("line 1: character 'é'"), "{e}");
        let many = vec![String::new(); 41];
        assert!(TextualHeader::new(&many, TextEncoding::Ascii).is_err());
        let e =
            TextualHeader::with_description(&["y".repeat(77)], TextEncoding::Ascii).unwrap_err();
        assert!(e.to_string().contains("line 1: 81 characters"), "{e}");
    }

    #[test]
    fn description_gets_card_numbers_and_the_rev1_trailer() {
        let h = TextualHeader::with_description(&["HELLO".into()], TextEncoding::Ebcdic).unwrap();
        assert_eq!(h.lines[0], "C 1 HELLO");
        assert_eq!(h.lines[1], "C 2");
        assert_eq!(h.lines[37], "C38");
        assert_eq!(h.lines[38], "C39 SEG Y REV1");
        assert_eq!(h.lines[39], "C40 END TEXTUAL HEADER");
    }
}
