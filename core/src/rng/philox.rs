//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
//! as in Random123: ten rounds of the Philox S-box with the Weyl key schedule.

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

/// Philox4x32 with 10 rounds: the block cipher that maps `counter` under `key` to four
/// random words.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut ctr = counter;
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        ctr = round(ctr, k);
    }
    ctr
}
