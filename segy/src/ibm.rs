//! IBM System/360 single-precision hexadecimal floating point ↔ IEEE 754 binary32.
//!
//! An IBM single is `s | e (7 bits) | F (24 bits)` with value `(−1)^s · F/2²⁴ · 16^(e−64)`
//! (System/360 Principles of Operation). Normalised numbers have a non-zero leading hex
//! digit, so `F ∈ [2²⁰, 2²⁴)`: depending on that digit 1 to 3 of the 24 fraction bits are
//! leading zeros, and precision wobbles between 21 and 24 significant bits. The range,
//! `16⁻⁶⁵ ≈ 5.4·10⁻⁷⁹` to `(1 − 2⁻²⁴)·16⁶³ ≈ 7.2·10⁷⁵`, contains every finite `f32`.
//!
//! # IBM → IEEE ([`ibm_to_f64`], [`ibm_to_f32`])
//! `F · 2^(4(e−64)−24)` is exact in `f64` (24 bits, binary exponents −280 to 228), so
//! [`ibm_to_f64`] is exact for every word, normalised or not. [`ibm_to_f32`] rounds that
//! exact value once, to nearest with ties to even: exact for every IBM value in the `f32`
//! normal range (at most 24 significant bits fit), rounded in the subnormal range, ±0 below
//! it, ±∞ above `f32::MAX`. The sign of zero is kept (`0x80000000` → `−0.0`).
//!
//! # IEEE → IBM ([`f32_to_ibm`])
//! Every finite `f32` is inside the IBM range, so there is neither overflow nor underflow;
//! the result is the normalised IBM number nearest to the input, ties to even `F`. With
//! `m · 2^k` the input (`m` its integer significand), the exponent is chosen so that the
//! leading one of `m` lands in the top hex digit of `F`, and `F = m · 2^shift`, with `shift`
//! from −3 to 23: up to 3 low bits are rounded off, which is where IBM loses precision
//! (relative error at most `2⁻²¹`). Rounding happens only when `F`'s leading hex digit is
//! below 8, so it never carries `F` up to `2²⁴`. Specials: `±0` → `0x00000000`, the IBM
//! "true zero" (the sign of a zero is dropped: readers such as segyio read `0x80000000` as
//! `+0` anyway); `±∞` → the largest IBM magnitude with the sign (`0x7FFFFFFF` /
//! `0xFFFFFFFF`), as overflow would saturate; NaN, which IBM cannot represent, → `0x7FFFFFFF` (the SEG-Y writer refuses
//! non-finite samples before converting, so files never get one).

/// The largest positive IBM single, `(1 − 2⁻²⁴)·16⁶³`.
pub const IBM_MAX: u32 = 0x7FFF_FFFF;

/// `2^k` as an `f64`, for `k` in the normal range (−1022 to 1023).
fn pow2(k: i32) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// The exact value of an IBM single as an `f64`.
pub fn ibm_to_f64(word: u32) -> f64 {
    let sign = if word & 0x8000_0000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((word >> 24) & 0x7F) as i32;
    let fraction = word & 0x00FF_FFFF;
    sign * (f64::from(fraction) * pow2(4 * (exponent - 64) - 24))
}

/// An IBM single as the nearest `f32` (exact within the `f32` normal range).
pub fn ibm_to_f32(word: u32) -> f32 {
    ibm_to_f64(word) as f32
}

/// Shifts `value` right by `bits` (1 to 31), rounding to nearest, ties to even.
fn shift_right_round_even(value: u32, bits: u32) -> u32 {
    let kept = value >> bits;
    let rest = value & ((1 << bits) - 1);
    let half = 1 << (bits - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// The normalised IBM single nearest to an `f32` (ties to even; see the module docs for
/// zeros, infinities and NaN).
pub fn f32_to_ibm(value: f32) -> u32 {
    let bits = value.to_bits();
    let sign = bits & 0x8000_0000;
    if value.is_nan() {
        return IBM_MAX;
    }
    if value.is_infinite() {
        return sign | IBM_MAX;
    }
    let biased = (bits >> 23) & 0xFF;
    let stored = bits & 0x7F_FFFF;
    // value = ±significand · 2^exp2.
    let (significand, exp2) = if biased == 0 {
        if stored == 0 {
            return 0;
        }
        (stored, -149)
    } else {
        (stored | 0x80_0000, biased as i32 - 150)
    };
    let top = 31 - significand.leading_zeros() as i32;
    // |value| ∈ [2^p, 2^(p+1)); the IBM exponent puts bit p at fraction bit 20 to 23.
    let p = exp2 + top;
    let exponent = (p + 260).div_euclid(4);
    let shift = exp2 - (4 * exponent - 280);
    // Rounding only happens when the leading hex digit of F is below 8 (the leading one at
    // fraction bit 20 to 22), so F < 2²³ and rounding up never carries into a new digit.
    let fraction = if shift >= 0 {
        significand << shift
    } else {
        shift_right_round_even(significand, (-shift) as u32)
    };
    sign | ((exponent as u32) << 24) | fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook IEEE → IBM: normalise by repeated division or multiplication by 16 in
    /// `f64` (exact), then round the scaled fraction to nearest even by exact comparison.
    fn reference_to_ibm(x: f32) -> u32 {
        let sign = if x.is_sign_negative() { 0x8000_0000 } else { 0 };
        let mut q = f64::from(x).abs();
        if q == 0.0 {
            return 0;
        }
        let mut e = 64i32;
        while q >= 1.0 {
            q /= 16.0;
            e += 1;
        }
        while q < 1.0 / 16.0 {
            q *= 16.0;
            e -= 1;
        }
        let scaled = q * 16_777_216.0;
        let low = scaled.floor();
        let rest = scaled - low;
        let mut f = low as u32;
        if rest > 0.5 || (rest == 0.5 && f % 2 == 1) {
            f += 1;
        }
        if f == 1 << 24 {
            f = 1 << 20;
            e += 1;
        }
        sign | ((e as u32) << 24) | f
    }

    /// Textbook IBM → real: `F/2²⁴ · 16^(e−64)` with repeated multiplication in `f64`.
    fn reference_from_ibm(word: u32) -> f64 {
        let mut v = f64::from(word & 0xFF_FFFF) / 16_777_216.0;
        let e = ((word >> 24) & 0x7F) as i32 - 64;
        for _ in 0..e.max(0) {
            v *= 16.0;
        }
        for _ in 0..(-e).max(0) {
            v /= 16.0;
        }
        if word >> 31 == 1 {
            -v
        } else {
            v
        }
    }

    #[test]
    fn known_bit_patterns() {
        // System/360 examples (Wikipedia "IBM hexadecimal floating-point"): −118.625 =
        // 0xC276A000; 0.1 rounds to 0x4019999A; 1 = 0x41100000; 100 = 0x42640000.
        let exact = [
            (0xC276_A000u32, -118.625f32),
            (0x4264_0000, 100.0),
            (0x4110_0000, 1.0),
            (0xC110_0000, -1.0),
            (0x4080_0000, 0.5),
            (0x3F10_0000, 1.0 / 256.0),
            (0x4110_0001, 1.0 + 2.0f32.powi(-20)),
            (0x0000_0000, 0.0),
        ];
        for (word, value) in exact {
            assert_eq!(ibm_to_f32(word).to_bits(), value.to_bits(), "{word:#010x}");
            assert_eq!(f32_to_ibm(value), word, "{value}");
        }
        assert_eq!(f32_to_ibm(0.1), 0x4019_999A);
        // Zeros: −0 is written as the true zero; 0x80000000 reads as −0.
        assert_eq!(f32_to_ibm(-0.0), 0);
        assert_eq!(ibm_to_f32(0x8000_0000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(ibm_to_f64(0x4019_999A), 1_677_722.0 / 16_777_216.0);
        // The extremes of the IBM range, exactly.
        assert_eq!(ibm_to_f64(IBM_MAX), (1.0 - 2f64.powi(-24)) * 2f64.powi(252));
        assert_eq!(ibm_to_f64(0x0010_0000), 2f64.powi(-260));
        assert_eq!(ibm_to_f32(IBM_MAX), f32::INFINITY);
        assert_eq!(ibm_to_f32(0x8010_0000).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn specials_follow_the_documented_choices() {
        assert_eq!(f32_to_ibm(f32::INFINITY), 0x7FFF_FFFF);
        assert_eq!(f32_to_ibm(f32::NEG_INFINITY), 0xFFFF_FFFF);
        assert_eq!(f32_to_ibm(f32::NAN), 0x7FFF_FFFF);
        assert_eq!(f32_to_ibm(-f32::NAN), 0x7FFF_FFFF);
        // The smallest subnormal, 2^-149 = 2^3 · 16^-38: F = 2^23 at e = 64 − 37.
        assert_eq!(f32_to_ibm(f32::from_bits(1)), (27 << 24) | 0x80_0000);
        assert_eq!(ibm_to_f32((27 << 24) | 0x80_0000), f32::from_bits(1));
        // IBM values below half the smallest subnormal read as zero, with their sign.
        assert_eq!(ibm_to_f32(0x8010_0000).to_bits(), 0x8000_0000);
        // Unnormalised IBM words read at their exact value.
        assert_eq!(ibm_to_f32(0x4200_0010), 16.0 * 16.0 / 1_048_576.0);
        assert_eq!(ibm_to_f32(0x4100_0000), 0.0);
    }

    #[test]
    fn ties_round_to_even() {
        // Near 2^24 = 16^6 (F = 0x100000, exponent 0x47) IBM steps by 16 and f32 by 2:
        // the last 3 bits are rounded. 2^24 + 8 is halfway between F = 0x100000 and
        // 0x100001 (even wins: down); 2^24 + 24 halfway between 0x100001 and 0x100002
        // (even wins: up).
        let base = 16_777_216.0f32;
        assert_eq!(f32_to_ibm(base + 8.0), 0x4710_0000);
        assert_eq!(f32_to_ibm(base + 24.0), 0x4710_0002);
        assert_eq!(f32_to_ibm(base + 10.0), 0x4710_0001);
        assert_eq!(f32_to_ibm(base + 6.0), 0x4710_0000);
        assert_eq!(f32_to_ibm(-(base + 24.0)), 0xC710_0002);
    }

    /// f32 inputs covering every alignment: all significands for four consecutive binary
    /// exponents (each leading-hex-digit width), plus a stride over all bit patterns.
    fn inputs() -> impl Iterator<Item = f32> {
        let dense = (0..4u32)
            .flat_map(|e| (0..1u32 << 23).map(move |m| f32::from_bits(((127 + e) << 23) | m)));
        let stride = (0..u32::MAX / 4099).map(|i| f32::from_bits(i * 4099));
        dense.chain(stride).filter(|x| x.is_finite())
    }

    #[test]
    fn to_ibm_matches_the_textbook_algorithm() {
        for x in inputs() {
            let got = f32_to_ibm(x);
            let want = reference_to_ibm(x);
            assert_eq!(got, want, "{x:e} ({:#010x})", x.to_bits());
        }
    }

    #[test]
    fn to_ibm_is_nearest_and_round_trips_when_representable() {
        for x in inputs() {
            let word = f32_to_ibm(x);
            let fraction = word & 0xFF_FFFF;
            assert!(
                fraction >= 1 << 20 || fraction == 0,
                "not normalised: {word:#010x}"
            );
            let back = ibm_to_f64(word);
            let err = (back - f64::from(x)).abs();
            // Half a unit of the IBM fraction at this exponent, i.e. relative 2^-21 at most.
            let exponent = ((word >> 24) & 0x7F) as i32;
            let half_ulp = pow2(4 * (exponent - 64) - 25);
            assert!(err <= half_ulp, "{x:e}: error {err:e} > {half_ulp:e}");
            assert!(err <= f64::from(x).abs() * 2f64.powi(-21));
            // Exact whenever the f32 fits in the IBM fraction.
            let bits = x.to_bits() & 0x7F_FFFF;
            if bits.trailing_zeros() >= 3 && x != 0.0 {
                assert_eq!(ibm_to_f32(word).to_bits(), x.to_bits(), "{x:e}");
            }
        }
    }

    #[test]
    fn from_ibm_is_exact_and_inverts_to_ibm() {
        // IBM words over the exponents that map into and around the f32 range, fractions
        // strided; every normalised word whose value is an f32 normal maps back to itself.
        for exponent in 0u32..128 {
            for fraction in (0..1u32 << 24).step_by(4093).chain([0xFF_FFFF, 0x10_0000]) {
                for sign in [0, 0x8000_0000] {
                    let word = sign | (exponent << 24) | fraction;
                    let exact = ibm_to_f64(word);
                    assert_eq!(exact, reference_from_ibm(word), "{word:#010x}");
                    let single = ibm_to_f32(word);
                    assert_eq!(single, exact as f32);
                    let normal = exact.abs() >= f64::from(f32::MIN_POSITIVE)
                        && exact.abs() <= f64::from(f32::MAX);
                    if normal {
                        assert_eq!(f64::from(single), exact, "{word:#010x} not exact");
                        if fraction >= 1 << 20 {
                            assert_eq!(f32_to_ibm(single), word, "{word:#010x}");
                        }
                    }
                }
            }
        }
    }
}
