//! A small deterministic mutator for the stable replay test: what libFuzzer does in the
//! nightly job, reduced to a fixed, seeded sequence, so that CI exercises the same bodies
//! on inputs near every seed without nightly.
//!
//! Each mutant applies one to four operations to a seed: flip a bit, set a byte (random or
//! "interesting": 0, 1, 0x7F, 0x80, 0xFF), truncate, delete or duplicate a range, insert
//! bytes, overwrite a length field of the format ([`LengthField`]) or a random 2-, 4- or
//! 8-byte window with an interesting integer (0, 1, the field's value ± 1, twice it, the
//! buffer length, the type's maximum, …) in either byte order, replace a run of ASCII
//! digits with an interesting numeral (`0`, `-1`, `18446744073709551616`, `1e999`, …) or
//! a quoted string with an odd one (for JSON and Python-literal headers), and splice in a
//! piece of another seed. The random numbers come from SplitMix64.

/// A length or count field of a format: where it is, how wide, and its byte order.
#[derive(Debug, Clone, Copy)]
pub struct LengthField {
    /// Byte offset in the file.
    pub offset: usize,
    /// Width in bytes (1 to 8).
    pub width: usize,
    /// Big-endian (else little-endian).
    pub big_endian: bool,
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Numerals that break number parsers and range checks.
const NUMERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "2",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "1e999",
    "-1e999",
    "1e-999",
    "0.5",
    "3.4028236e38",
    "1.0e-45",
    "NaN",
    "99999999999999999999999999999999",
];

/// String contents that break name and path checks.
const STRINGS: &[&str] = &[
    "",
    "x",
    "sweep",
    "sample",
    "inf",
    "-inf",
    "nan",
    "../x",
    "/etc/passwd",
    "a/b",
    "\\u0000",
    "\\ud800",
    "\\\"",
    "é",
];

/// An integer worth writing into a field that held `old` in a buffer of `len` bytes.
fn interesting(rng: &mut Rng, old: u64, len: usize, width: usize) -> u64 {
    let max = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let pick = [
        0,
        1,
        old.wrapping_add(1),
        old.wrapping_sub(1),
        old.wrapping_mul(2),
        old / 2,
        len as u64,
        (len as u64).wrapping_add(1),
        max,
        max / 2,
        max / 2 + 1,
        rng.next_u64(),
    ];
    pick[rng.below(pick.len())] & max
}

/// Reads `width` bytes at `at` as an integer.
fn read(bytes: &[u8], at: usize, width: usize, big_endian: bool) -> u64 {
    let field = &bytes[at..at + width];
    let mut value = 0u64;
    for k in 0..width {
        let b = if big_endian {
            field[k]
        } else {
            field[width - 1 - k]
        };
        value = (value << 8) | u64::from(b);
    }
    value
}

/// Writes `value` into `width` bytes at `at`.
fn write(bytes: &mut [u8], at: usize, width: usize, big_endian: bool, value: u64) {
    for k in 0..width {
        let b = (value >> (8 * k)) as u8;
        let i = if big_endian {
            at + width - 1 - k
        } else {
            at + k
        };
        bytes[i] = b;
    }
}

/// One mutant of `seed` (see the module docs); `other` is a seed to splice from.
pub fn mutate(seed: &[u8], other: &[u8], fields: &[LengthField], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    let ops = 1 + rng.below(4);
    for _ in 0..ops {
        let len = b.len();
        match rng.below(12) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = [0, 1, 0x7F, 0x80, 0xFF, rng.next_u64() as u8][rng.below(6)];
            }
            2 => b.truncate(rng.below(len + 1)),
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                b.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let piece = b[at..at + n].to_vec();
                let to = rng.below(len + 1);
                b.splice(to..to, piece);
            }
            5 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let piece: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                b.splice(at..at, piece);
            }
            6 | 7 if !fields.is_empty() => {
                let f = fields[rng.below(fields.len())];
                if f.offset + f.width <= len {
                    let old = read(&b, f.offset, f.width, f.big_endian);
                    let new = interesting(rng, old, len, f.width);
                    write(&mut b, f.offset, f.width, f.big_endian, new);
                }
            }
            8 => {
                let width = [2, 4, 8][rng.below(3)];
                if len >= width {
                    let at = rng.below(len - width + 1);
                    let big = rng.below(2) == 0;
                    let old = read(&b, at, width, big);
                    let new = interesting(rng, old, len, width);
                    write(&mut b, at, width, big, new);
                }
            }
            9 => {
                // A run of ASCII digits → an interesting numeral.
                let starts: Vec<usize> = (0..len)
                    .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()))
                    .collect();
                if !starts.is_empty() {
                    let s = starts[rng.below(starts.len())];
                    let e = (s..len).find(|&i| !b[i].is_ascii_digit()).unwrap_or(len);
                    let numeral = NUMERALS[rng.below(NUMERALS.len())].as_bytes().to_vec();
                    b.splice(s..e, numeral);
                }
            }
            10 => {
                // The contents of a "quoted" or 'quoted' string → an odd string.
                let quotes: Vec<usize> = (0..len)
                    .filter(|&i| b[i] == b'"' || b[i] == b'\'')
                    .collect();
                if quotes.len() >= 2 {
                    let k = rng.below(quotes.len() - 1);
                    let (s, e) = (quotes[k] + 1, quotes[k + 1]);
                    let text = STRINGS[rng.below(STRINGS.len())].as_bytes().to_vec();
                    b.splice(s..e, text);
                }
            }
            _ if !other.is_empty() => {
                let at = rng.below(other.len());
                let n = 1 + rng.below((other.len() - at).min(256));
                let to = rng.below(len + 1);
                let end = (to + n).min(len);
                b.splice(to..end, other[at..at + n].iter().copied());
            }
            _ => {}
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of SplitMix64 seeded with 1234567 (reference implementation).
        let mut rng = Rng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn fields_round_trip_in_both_byte_orders() {
        let mut b = [0u8; 8];
        write(&mut b, 2, 4, true, 0x0102_0304);
        assert_eq!(b, [0, 0, 1, 2, 3, 4, 0, 0]);
        assert_eq!(read(&b, 2, 4, true), 0x0102_0304);
        write(&mut b, 0, 2, false, 0xABCD);
        assert_eq!(&b[..2], &[0xCD, 0xAB]);
        assert_eq!(read(&b, 0, 2, false), 0xABCD);
    }

    #[test]
    fn mutants_are_deterministic_and_differ_from_the_seed() {
        let seed = b"{\"n\": 12, \"kind\": \"sweep\"}".to_vec();
        let fields = [LengthField {
            offset: 0,
            width: 2,
            big_endian: false,
        }];
        let run = || {
            let mut rng = Rng::new(7);
            (0..200)
                .map(|_| mutate(&seed, b"other", &fields, &mut rng))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().filter(|m| **m != seed).count() > 150);
    }
}
