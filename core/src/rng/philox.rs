//! Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
//! SC 2011), exactly as in the Random123 library: ten rounds of the Philox S-box, the key
//! bumped by the Weyl increments before every round after the first.
//!
//! One round maps counter `(c0, c1, c2, c3)` under key `(k0, k1)` to
//! `(hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0))`, where `hi`/`lo`
//! are the halves of the 64-bit product (GLSL: `umulExtended`).
//!
//! Verified against the Random123 known-answer vectors (`kat_vectors`, both the 10-round
//! and the 7-round lines) in the tests.

/// First round multiplier.
const M0: u32 = 0xD251_1F53;
/// Second round multiplier.
const M1: u32 = 0xCD9E_8D57;
/// First Weyl key increment (golden ratio).
const W0: u32 = 0x9E37_79B9;
/// Second Weyl key increment (√3 − 1).
const W1: u32 = 0xBB67_AE85;

/// High and low 32-bit halves of a 32×32-bit product.
#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = (a as u64) * (b as u64);
    ((p >> 32) as u32, p as u32)
}

/// One Philox round.
#[inline(always)]
fn round(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(M0, ctr[0]);
    let (hi1, lo1) = mulhilo(M1, ctr[2]);
    [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0]
}

/// Philox4x32 with `rounds` rounds (Random123's `philox4x32_R`).
#[inline(always)]
fn philox4x32_rounds(counter: [u32; 4], key: [u32; 2], rounds: u32) -> [u32; 4] {
    let mut ctr = counter;
    let mut k = key;
    for r in 0..rounds {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        ctr = round(ctr, k);
    }
    ctr
}

/// Philox4x32 with 10 rounds: the block cipher that maps `counter` under `key` to four
/// random words.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    philox4x32_rounds(counter, key, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One known-answer line: rounds, counter, key, expected output.
    type KnownAnswer = (u32, [u32; 4], [u32; 2], [u32; 4]);

    /// Random123 `kat_vectors`, lines `philox4x32 R ctr[4] key[2] → out[4]`.
    const KAT: [KnownAnswer; 6] = [
        (
            7,
            [0, 0, 0, 0],
            [0, 0],
            [0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48],
        ),
        (
            7,
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662],
        ),
        (
            7,
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a],
        ),
        (
            10,
            [0, 0, 0, 0],
            [0, 0],
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
        ),
        (
            10,
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
        ),
        (
            10,
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];

    #[test]
    fn random123_known_answers() {
        for (rounds, counter, key, want) in KAT {
            assert_eq!(
                philox4x32_rounds(counter, key, rounds),
                want,
                "R={rounds} {counter:x?} {key:x?}"
            );
            if rounds == 10 {
                assert_eq!(philox4x32_10(counter, key), want);
            }
        }
    }

    #[test]
    fn single_bit_changes_avalanche() {
        // Flipping one counter bit changes about half of the 128 output bits.
        let base = philox4x32_10([1, 2, 3, 4], [5, 6]);
        let mut total = 0u32;
        for bit in 0..128 {
            let mut c = [1u32, 2, 3, 4];
            c[bit / 32] ^= 1 << (bit % 32);
            let out = philox4x32_10(c, [5, 6]);
            let flipped: u32 = (0..4).map(|i| (out[i] ^ base[i]).count_ones()).sum();
            assert!((32..=96).contains(&flipped), "bit {bit}: {flipped}");
            total += flipped;
        }
        let mean = total as f64 / 128.0;
        assert!((mean - 64.0).abs() < 3.0, "{mean}");
    }
}
