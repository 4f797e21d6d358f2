// detmath.glsl — the GLSL twin of `core/src/detmath` (powerpost-core's deterministic math).
//
// Every function here repeats its Rust namesake operation for operation, so that a
// Vulkan compute shader gets the same f32 bits as the CPU:
//   dm_floor, dm_exp, dm_exp2, dm_ln, dm_log2, dm_recip, dm_div, dm_rsqrt, dm_sqrt,
//   dm_tanh, dm_sin, dm_cos, dm_sin_cos, dm_silu, dm_sigmoid, dm_silu_affine,
// plus the private helpers of the Rust modules with a `dm_` prefix (dm_is_nan,
// dm_decompose, dm_pow2, dm_round_even, dm_split, dm_two_prod, dm_two_sum, ...).
// The algorithms, their accuracy and their special values are documented in the Rust
// module docs (core/src/detmath/mod.rs and one file per function); this file only
// mirrors them. Any change to a Rust function must be repeated here.
//
// Rules (they are what makes the bits equal):
// - Only IEEE `+ - *` (correctly rounded, as Vulkan requires of OpFAdd/OpFSub/OpFMul),
//   comparisons, selects, integer operations and bit casts. No GLSL `exp`, `log`,
//   `sqrt`, `inversesqrt`, `sin`, `cos`, `tanh`, `fma`, no float division `/`.
// - Every float variable that holds an arithmetic result is declared `precise`
//   (SPIR-V `NoContraction`), so that neither glslang, spirv-opt nor the driver contracts
//   `a*b + c` into an fma or reassociates / folds an expression (in particular the
//   shifter `(v + 1.5*2^23) - 1.5*2^23` of dm_round_even stays two additions). The
//   operation order and parenthesisation are those of the Rust source; GLSL's `a*b*c`
//   is `(a*b)*c` as in Rust.
// - Bit casts: `floatBitsToUint` / `uintBitsToFloat` / `floatBitsToInt` for Rust's
//   `to_bits` / `from_bits`; `31 - findMSB(m)` for `m.leading_zeros()` (m != 0); `int >>`
//   is an arithmetic shift in both languages.
// - Negation and absolute value are done on the sign bit (`dm_neg`, masks), which is what
//   Rust's `-x` and `x.abs()` compile to, so signed zeros and NaNs come out identical;
//   NaN tests are on the bits (`dm_is_nan`), so a driver's fast-math cannot remove them.
//   Where the Rust returns the input NaN, so does the GLSL; Rust's `f32::NAN` is
//   `uintBitsToFloat(0x7FC00000u)`.
// - Constants are the Rust decimal literals (f32 bit pattern in the comment); checked in
//   the SPIR-V: glslc (shaderc 2023.2) turns each into exactly that bit pattern.
//
// How it is checked: shaders/detmath_check.comp evaluates every function on a buffer of
// input bit patterns; the Rust harness in the `gpu/` crate runs it on Mesa's lavapipe
// and compares the output bits with powerpost_core::detmath over millions of inputs,
// all special values (NaN, +-inf, +-0, subnormals, flush thresholds) included.
//
// Usage: `#extension GL_GOOGLE_include_directive : require` and
// `#include "detmath.glsl"` after `#version 450`.

#ifndef DETMATH_GLSL
#define DETMATH_GLSL

// ---------------------------------------------------------------------------------------
// bits.rs
// ---------------------------------------------------------------------------------------

const uint DM_SIGN_MASK = 0x80000000u;     // sign bit
const uint DM_ABS_MASK = 0x7FFFFFFFu;      // exponent and mantissa bits
const uint DM_INF_BITS = 0x7F800000u;      // +inf
const uint DM_MANTISSA_MASK = 0x007FFFFFu; // mantissa bits
const uint DM_ONE_BITS = 0x3F800000u;      // 1.0
const uint DM_NAN_BITS = 0x7FC00000u;      // Rust's f32::NAN
const float DM_SHIFTER = 12582912.0;       // 1.5 * 2^23, 0x4B400000

// true when x is a NaN (on the bits).
bool dm_is_nan(float x) {
    return (floatBitsToUint(x) & DM_ABS_MASK) > DM_INF_BITS;
}

// -x by flipping the sign bit (what Rust's `-x` on f32 does).
float dm_neg(float x) {
    return uintBitsToFloat(floatBitsToUint(x) ^ DM_SIGN_MASK);
}

// Splits the bits of a positive finite non-zero number into the bits of m in [1, 2)
// and e with number = m * 2^e (exact, integer operations only, subnormals included).
void dm_decompose(uint abs_bits, out uint m_bits, out int e) {
    int exponent_field = int(abs_bits >> 23);
    if (exponent_field == 0) {
        uint mantissa = abs_bits & DM_MANTISSA_MASK;
        // Shift the leading one to bit 23; mantissa is non-zero here.
        int shift = (31 - findMSB(mantissa)) - 8;
        uint normalised = (mantissa << shift) & DM_MANTISSA_MASK;
        m_bits = normalised | DM_ONE_BITS;
        e = -126 - shift;
    } else {
        m_bits = (abs_bits & DM_MANTISSA_MASK) | DM_ONE_BITS;
        e = exponent_field - 127;
    }
}

// 2^k for k in [-126, 127], from the exponent field (exact).
float dm_pow2(int k) {
    return uintBitsToFloat(uint(k + 127) << 23);
}

// Rounds v to the nearest integer, ties to even; exact for |v| < 2^22.
float dm_round_even(float v) {
    precise float shifted = v + DM_SHIFTER;
    precise float rounded = shifted - DM_SHIFTER;
    return rounded;
}

// Largest integer not greater than x (exact IEEE floor, on the bit pattern).
float dm_floor(float x) {
    uint bits = floatBitsToUint(x);
    int exponent = int((bits >> 23) & 0xFFu) - 127;
    if (exponent >= 23) {
        // Already an integer, or +-inf / NaN.
        return x;
    }
    if (exponent < 0) {
        // |x| < 1.
        if ((bits & DM_ABS_MASK) == 0u || (bits & DM_SIGN_MASK) == 0u) {
            return uintBitsToFloat(bits & DM_SIGN_MASK);
        }
        return -1.0;
    }
    uint fraction_mask = DM_MANTISSA_MASK >> exponent;
    if ((bits & fraction_mask) == 0u) {
        return x;
    }
    float truncated = uintBitsToFloat(bits & ~fraction_mask);
    if ((bits & DM_SIGN_MASK) != 0u) {
        precise float below = truncated - 1.0;
        return below;
    }
    return truncated;
}

// Splits a into a high part with 12 significant bits and the exact remainder.
void dm_split(float a, out float high, out float low) {
    float a_high = uintBitsToFloat(floatBitsToUint(a) & 0xFFFFF000u);
    precise float a_low = a - a_high;
    high = a_high;
    low = a_low;
}

// Dekker's exact product: p = fl(a*b), a*b = p + e exactly.
void dm_two_prod(float a, float b, out float p, out float e) {
    precise float product = a * b;
    precise float a_high, a_low, b_high, b_low;
    dm_split(a, a_high, a_low);
    dm_split(b, b_high, b_low);
    precise float error =
        (((a_high * b_high - product) + a_high * b_low) + a_low * b_high) + a_low * b_low;
    p = product;
    e = error;
}

// Knuth's two-sum: s = fl(a + b), a + b = s + e exactly.
void dm_two_sum(float a, float b, out float s, out float e) {
    precise float sum = a + b;
    precise float b_virtual = sum - a;
    precise float a_virtual = sum - b_virtual;
    precise float error = (a - a_virtual) + (b - b_virtual);
    s = sum;
    e = error;
}

// ---------------------------------------------------------------------------------------
// exp.rs
// ---------------------------------------------------------------------------------------

const float DM_LOG2_E = 1.44269504088896340735992468100189214;    // 0x3FB8AA3B
const float DM_EXP_LN2_HI = 0.693359375;                          // 0x3F318000
const float DM_EXP_LN2_LO = -2.1219444e-4;                        // 0xB95E8083
const float DM_LN2 = 0.693147180559945309417232121458176568;      // 0x3F317218
// Minimax coefficients of (e^r - 1 - r)/r^2 (Cephes expf), highest degree first.
const float DM_EXP_POLY_0 = 1.9875691e-4;                         // 0x39506967
const float DM_EXP_POLY_1 = 1.3981999e-3;                         // 0x3AB743CE
const float DM_EXP_POLY_2 = 8.333452e-3;                          // 0x3C088908
const float DM_EXP_POLY_3 = 4.1665796e-2;                         // 0x3D2AA9C1
const float DM_EXP_POLY_4 = 1.6666665e-1;                         // 0x3E2AAAAA
const float DM_EXP_POLY_5 = 5.0000001e-1;                         // 0x3F000000
const float DM_EXP_OVERFLOW = 88.8;                               // 0x42B1999A
const float DM_EXP_UNDERFLOW = -87.5;                             // 0xC2AF0000

// e^r for |r| <= 0.35: 1 + (r + r^2 * P(r)).
float dm_exp_kernel(float r) {
    precise float p = DM_EXP_POLY_0;
    p = p * r + DM_EXP_POLY_1;
    p = p * r + DM_EXP_POLY_2;
    p = p * r + DM_EXP_POLY_3;
    p = p * r + DM_EXP_POLY_4;
    p = p * r + DM_EXP_POLY_5;
    precise float z = r * r;
    precise float y = 1.0 + (r + z * p);
    return y;
}

// p * 2^k for k in [-126, 128], flushing results below 2^-126 to +0.
float dm_exp_scale(float p, int k) {
    if (k == 128) {
        precise float big = (p * 2.0) * dm_pow2(127);
        return big;
    } else if (k < -126 || (k == -126 && p < 1.0)) {
        return 0.0;
    } else {
        precise float scaled = p * dm_pow2(k);
        return scaled;
    }
}

// e^x; overflow -> +inf, results below 2^-126 -> +0.
float dm_exp(float x) {
    if (dm_is_nan(x)) {
        return x;
    }
    if (x > DM_EXP_OVERFLOW) {
        return uintBitsToFloat(DM_INF_BITS);
    }
    if (x < DM_EXP_UNDERFLOW) {
        return 0.0;
    }
    precise float t = x * DM_LOG2_E;
    precise float k = dm_round_even(t);
    precise float r = (x - k * DM_EXP_LN2_HI) - k * DM_EXP_LN2_LO;
    return dm_exp_scale(dm_exp_kernel(r), int(k));
}

// exp(a) for a <= 87.5 (or NaN) without branches, bit-identical to dm_exp there
// (Rust: exp_at_most_87_5, used by silu and sigmoid).
float dm_exp_at_most_87_5(float a) {
    // Clamp so that the scaling below stays in range; the selects restore exp's results.
    float clamped = a;
    if (clamped < DM_EXP_UNDERFLOW) {
        clamped = DM_EXP_UNDERFLOW;
    }
    if (clamped > 87.5) {
        clamped = 87.5;
    }
    precise float t = clamped * DM_LOG2_E;
    precise float k = dm_round_even(t);
    precise float r = (clamped - k * DM_EXP_LN2_HI) - k * DM_EXP_LN2_LO;
    precise float p = dm_exp_kernel(r);
    // k is integer-valued with |k| < 2^22: its value sits in the low mantissa bits of
    // k + 1.5*2^23.
    precise float k_shifted = k + DM_SHIFTER;
    int ki = floatBitsToInt(k_shifted) - 0x4B400000;
    bool flushed = ki < -126 || (ki == -126 && p < 1.0) || a < DM_EXP_UNDERFLOW;
    precise float value = p * dm_pow2(max(ki, -126));
    if (flushed) {
        value = 0.0;
    }
    if (dm_is_nan(a)) {
        return a;
    }
    return value;
}

// 2^x; overflow -> +inf, results below 2^-126 -> +0.
float dm_exp2(float x) {
    if (dm_is_nan(x)) {
        return x;
    }
    if (x >= 128.0) {
        return uintBitsToFloat(DM_INF_BITS);
    }
    if (x < -126.0) {
        return 0.0;
    }
    precise float k = dm_round_even(x);
    precise float r = (x - k) * DM_LN2;
    return dm_exp_scale(dm_exp_kernel(r), int(k));
}

// ---------------------------------------------------------------------------------------
// log.rs
// ---------------------------------------------------------------------------------------

const float DM_LOG_LN2_HI = 0.693359375;                          // 0x3F318000
const float DM_LOG_LN2_LO = -2.1219444e-4;                        // 0xB95E8083
const float DM_SQRT_2 = 1.41421356237309504880168872420969808;    // 0x3FB504F3
const float DM_LOG2_E_HI = 1.4423828125;                          // 0x3FB8A000
const float DM_LOG2_E_LO = 3.1222839606925845e-4;                 // 0x39A3B296
// Minimax coefficients of (ln(1+f) - f + f^2/2)/f^3 (Cephes logf), highest degree first.
const float DM_LOG_POLY_0 = 7.0376836e-2;                         // 0x3D9021BB
const float DM_LOG_POLY_1 = -1.151461e-1;                         // 0xBDEBD1B8
const float DM_LOG_POLY_2 = 1.1676999e-1;                         // 0x3DEF251B
const float DM_LOG_POLY_3 = -1.2420141e-1;                        // 0xBDFE5D4F
const float DM_LOG_POLY_4 = 1.4249323e-1;                         // 0x3E11E9BF
const float DM_LOG_POLY_5 = -1.6668058e-1;                        // 0xBE2AAE50
const float DM_LOG_POLY_6 = 2.0000715e-1;                         // 0x3E4CCEAD
const float DM_LOG_POLY_7 = -2.4999994e-1;                        // 0xBE7FFFFC
const float DM_LOG_POLY_8 = 3.3333331e-1;                         // 0x3EAAAAAA

// Special cases and the reduction x = (1 + f) * 2^e with 1 + f in [sqrt(1/2), sqrt(2)].
// Returns true when x is a special case, its result in `special` (Rust: Reduced::Special).
bool dm_log_reduce(float x, out float special, out float f, out int e) {
    uint bits = floatBitsToUint(x);
    uint abs_bits = bits & DM_ABS_MASK;
    special = 0.0;
    f = 0.0;
    e = 0;
    if (dm_is_nan(x)) {
        special = x;
        return true;
    }
    if (abs_bits == 0u) {
        special = uintBitsToFloat(DM_SIGN_MASK | DM_INF_BITS);
        return true;
    }
    if ((bits & DM_SIGN_MASK) != 0u) {
        special = uintBitsToFloat(DM_NAN_BITS);
        return true;
    }
    if (abs_bits == DM_INF_BITS) {
        special = x;
        return true;
    }
    uint m_bits;
    int exponent;
    dm_decompose(abs_bits, m_bits, exponent);
    precise float m = uintBitsToFloat(m_bits);
    if (m > DM_SQRT_2) {
        m = m * 0.5;
        exponent += 1;
    }
    precise float m_minus_one = m - 1.0;
    f = m_minus_one;
    e = exponent;
    return false;
}

// f * z * P(f) where z = f^2.
float dm_log_poly(float f, float z) {
    precise float p = DM_LOG_POLY_0;
    p = p * f + DM_LOG_POLY_1;
    p = p * f + DM_LOG_POLY_2;
    p = p * f + DM_LOG_POLY_3;
    p = p * f + DM_LOG_POLY_4;
    p = p * f + DM_LOG_POLY_5;
    p = p * f + DM_LOG_POLY_6;
    p = p * f + DM_LOG_POLY_7;
    p = p * f + DM_LOG_POLY_8;
    precise float result = p * f * z;
    return result;
}

// Natural logarithm; ln(+-0) = -inf, ln(x < 0) = NaN, ln(+inf) = +inf.
float dm_ln(float x) {
    float special;
    float f;
    int e;
    if (dm_log_reduce(x, special, f, e)) {
        return special;
    }
    precise float z = f * f;
    float ef = float(e);
    precise float poly = dm_log_poly(f, z);
    precise float y = (poly + ef * DM_LOG_LN2_LO) - 0.5 * z;
    precise float result = (f + y) + ef * DM_LOG_LN2_HI;
    return result;
}

// Base-2 logarithm; same special cases as dm_ln.
float dm_log2(float x) {
    float special;
    float f;
    int e;
    if (dm_log_reduce(x, special, f, e)) {
        return special;
    }
    precise float z = f * f;
    precise float poly = dm_log_poly(f, z);
    precise float y = poly - 0.5 * z;
    // ln m = f + y = hi + lo with hi = f to 12 bits, so hi * LOG2_E_HI is exact.
    precise float hi, f_low;
    dm_split(f, hi, f_low);
    precise float lo = f_low + y;
    precise float value_hi = hi * DM_LOG2_E_HI;
    precise float value_lo = (lo + hi) * DM_LOG2_E_LO + lo * DM_LOG2_E_HI;
    // e + value_hi with its rounding error carried into the low part (Fast2Sum).
    float ef = float(e);
    precise float w = ef + value_hi;
    precise float value_lo_carried = value_lo + ((ef - w) + value_hi);
    precise float result = value_lo_carried + w;
    return result;
}

// ---------------------------------------------------------------------------------------
// recip.rs
// ---------------------------------------------------------------------------------------

const uint DM_RECIP_MAGIC = 0x7EF311C3u;

// Stage 1 of dm_recip_mantissa: m and the bit-trick guess y0.
void dm_recip_initial(uint m_bits, out float m, out float y) {
    m = uintBitsToFloat(m_bits);
    y = uintBitsToFloat(DM_RECIP_MAGIC - m_bits);
}

// Stage 2 of dm_recip_mantissa (applied three times): y + y * (1 - m*y).
float dm_recip_newton(float m, float y) {
    precise float residual = 1.0 - m * y;
    precise float result = y + y * residual;
    return result;
}

// Stage 3 of dm_recip_mantissa: the Newton step with an exact residual (Dekker).
float dm_recip_final(float m, float y) {
    precise float p, p_err;
    dm_two_prod(m, y, p, p_err);
    precise float residual = (1.0 - p) - p_err;
    precise float result = y + y * residual;
    return result;
}

// 1/m for m in [1, 2) given as its bit pattern; result in [0.5, 1].
float dm_recip_mantissa(uint m_bits) {
    float m;
    float y0;
    dm_recip_initial(m_bits, m, y0);
    precise float y = dm_recip_newton(m, dm_recip_newton(m, dm_recip_newton(m, y0)));
    return dm_recip_final(m, y);
}

// 1/x; recip(+-0) = +-inf, recip(+-inf) = +-0, NaN -> NaN, |x| > 2^126 -> +-0 (flushed).
float dm_recip(float x) {
    uint bits = floatBitsToUint(x);
    uint sign = bits & DM_SIGN_MASK;
    uint abs_bits = bits & DM_ABS_MASK;
    if (dm_is_nan(x)) {
        return x;
    }
    if (abs_bits == DM_INF_BITS) {
        return uintBitsToFloat(sign);
    }
    if (abs_bits == 0u) {
        return uintBitsToFloat(sign | DM_INF_BITS);
    }
    uint m_bits;
    int e;
    dm_decompose(abs_bits, m_bits, e);
    float y = dm_recip_mantissa(m_bits);
    // Result is y * 2^-e with y in [0.5, 1].
    precise float magnitude;
    if (e > 126 || (e == 126 && y < 1.0)) {
        magnitude = 0.0;
    } else if (e < -128) {
        magnitude = uintBitsToFloat(DM_INF_BITS);
    } else if (e == -128) {
        magnitude = (y * 2.0) * dm_pow2(127);
    } else {
        magnitude = y * dm_pow2(-e);
    }
    return uintBitsToFloat(floatBitsToUint(magnitude) | sign);
}

// a / b computed as a * recip(b); a NaN operand is returned itself (a first).
float dm_div(float a, float b) {
    if (dm_is_nan(a)) {
        return a;
    }
    if (dm_is_nan(b)) {
        return b;
    }
    precise float quotient = a * dm_recip(b);
    return quotient;
}

// ---------------------------------------------------------------------------------------
// rsqrt.rs
// ---------------------------------------------------------------------------------------

const uint DM_RSQRT_MAGIC = 0x5F375A86u;

// Writes a positive finite non-zero number (bit pattern) as m * 2^(2k), m in [1, 4).
void dm_decompose_even(uint abs_bits, out float m, out int k) {
    uint m_bits;
    int e;
    dm_decompose(abs_bits, m_bits, e);
    float m_one = uintBitsToFloat(m_bits);
    if ((e & 1) != 0) {
        precise float m_two = m_one * 2.0;
        m = m_two;
        k = (e - 1) >> 1;
    } else {
        m = m_one;
        k = e >> 1;
    }
}

// 1/sqrt(m) for m in [1, 4), result in [0.5, 1].
float dm_rsqrt_mantissa(float m) {
    precise float half_m = 0.5 * m;
    precise float y = uintBitsToFloat(DM_RSQRT_MAGIC - (floatBitsToUint(m) >> 1));
    y = y * (1.5 - half_m * y * y);
    y = y * (1.5 - half_m * y * y);
    y = y * (1.5 - half_m * y * y);
    precise float p, p_err, q, q_err;
    dm_two_prod(m, y, p, p_err);
    dm_two_prod(p, y, q, q_err);
    precise float residual = ((1.0 - q) - q_err) - p_err * y;
    precise float result = y + y * (0.5 * residual);
    return result;
}

// 1/sqrt(x); rsqrt(+0) = +inf, rsqrt(-0) = -inf, rsqrt(+inf) = +0, x < 0 or NaN -> NaN.
float dm_rsqrt(float x) {
    uint bits = floatBitsToUint(x);
    uint abs_bits = bits & DM_ABS_MASK;
    if (dm_is_nan(x)) {
        return x;
    }
    if (abs_bits == 0u) {
        return uintBitsToFloat((bits & DM_SIGN_MASK) | DM_INF_BITS);
    }
    if ((bits & DM_SIGN_MASK) != 0u) {
        return uintBitsToFloat(DM_NAN_BITS);
    }
    if (abs_bits == DM_INF_BITS) {
        return 0.0;
    }
    float m;
    int k;
    dm_decompose_even(abs_bits, m, k);
    precise float result = dm_rsqrt_mantissa(m) * dm_pow2(-k);
    return result;
}

// ---------------------------------------------------------------------------------------
// sqrt.rs
// ---------------------------------------------------------------------------------------

// sqrt(x), correctly rounded; sqrt(+-0) = +-0, sqrt(+inf) = +inf, x < 0 or NaN -> NaN.
float dm_sqrt(float x) {
    uint bits = floatBitsToUint(x);
    uint abs_bits = bits & DM_ABS_MASK;
    if (dm_is_nan(x) || abs_bits == 0u) {
        return x;
    }
    if ((bits & DM_SIGN_MASK) != 0u) {
        return uintBitsToFloat(DM_NAN_BITS);
    }
    if (abs_bits == DM_INF_BITS) {
        return x;
    }
    float m;
    int k;
    dm_decompose_even(abs_bits, m, k);
    float y = dm_rsqrt_mantissa(m);
    precise float s = m * y;
    precise float p, p_err;
    dm_two_prod(s, s, p, p_err);
    precise float d = (m - p) - p_err;
    precise float s_corrected = s + d * (0.5 * y);
    precise float result = s_corrected * dm_pow2(k);
    return result;
}

// ---------------------------------------------------------------------------------------
// tanh.rs
// ---------------------------------------------------------------------------------------

// Minimax coefficients of (tanh x - x)/x^3 in z = x^2 (Cephes tanhf), highest first.
const float DM_TANH_POLY_0 = -5.7049887e-3;                       // 0xBBBAF0EA
const float DM_TANH_POLY_1 = 2.0639089e-2;                        // 0x3CA9134F
const float DM_TANH_POLY_2 = -5.3739716e-2;                       // 0xBD5C1E2D
const float DM_TANH_POLY_3 = 1.3331442e-1;                        // 0x3E088393
const float DM_TANH_POLY_4 = -3.3333282e-1;                       // 0xBEAAAA99
const float DM_TANH_POLY_LIMIT = 0.625;                           // 0x3F200000
const float DM_TANH_SATURATION = 10.0;                            // 0x41200000
const float DM_TANH_TINY = 2.44140625e-4;                         // 2^-12, 0x39800000

// Hyperbolic tangent; NaN -> NaN, +-inf -> +-1.
float dm_tanh(float x) {
    if (dm_is_nan(x)) {
        return x;
    }
    uint bits = floatBitsToUint(x);
    float a = uintBitsToFloat(bits & DM_ABS_MASK);
    precise float magnitude;
    if (a < DM_TANH_TINY) {
        return x;
    } else if (a < DM_TANH_POLY_LIMIT) {
        precise float z = a * a;
        precise float p = DM_TANH_POLY_0;
        p = p * z + DM_TANH_POLY_1;
        p = p * z + DM_TANH_POLY_2;
        p = p * z + DM_TANH_POLY_3;
        p = p * z + DM_TANH_POLY_4;
        magnitude = a + (a * z) * p;
    } else if (a < DM_TANH_SATURATION) {
        precise float two_a = 2.0 * a;
        precise float denominator = dm_exp(two_a) + 1.0;
        magnitude = 1.0 - 2.0 * dm_recip(denominator);
    } else {
        magnitude = 1.0;
    }
    return uintBitsToFloat(floatBitsToUint(magnitude) | (bits & DM_SIGN_MASK));
}

// ---------------------------------------------------------------------------------------
// trig.rs
// ---------------------------------------------------------------------------------------

const float DM_TWO_OVER_PI = 0.636619772367581343075535053490057448; // 0x3F22F983
// pi/2 in six parts (Cody-Waite).
const float DM_PIO2_1 = 1.5703125;                                // 0x3FC90000
const float DM_PIO2_2 = 4.84466552734375e-4;                      // 0x39FE0000
const float DM_PIO2_3 = -6.407499313354492e-7;                    // 0xB52C0000
const float DM_PIO2_4 = 9.89530235528946e-10;                     // 0x30880000
const float DM_PIO2_5 = 2.5633440682570896e-12;                   // 0x2C34611A
const float DM_PIO2_6 = 8.333743212599745e-20;                    // 0x1FC4C663
const float DM_TRIG_LIMIT = 131072.0;                             // 2^17, 0x48000000
const float DM_TRIG_TINY = 2.44140625e-4;                         // 2^-12, 0x39800000
// Taylor coefficients of (sin r - r)/r^3 in z = r^2: 1/9!, -1/7!, 1/5!, -1/3!.
const float DM_SIN_POLY_0 = 2.7557319e-6;                         // 0x3638EF1D
const float DM_SIN_POLY_1 = -1.984127e-4;                         // 0xB9500D01
const float DM_SIN_POLY_2 = 8.3333335e-3;                         // 0x3C088889
const float DM_SIN_POLY_3 = -1.6666667e-1;                        // 0xBE2AAAAB
// Taylor coefficients of (cos r - 1 + r^2/2)/r^4 in z = r^2: -1/10!, 1/8!, -1/6!, 1/4!.
const float DM_COS_POLY_0 = -2.7557319e-7;                        // 0xB493F27E
const float DM_COS_POLY_1 = 2.4801587e-5;                         // 0x37D00D01
const float DM_COS_POLY_2 = -1.3888889e-3;                        // 0xBAB60B61
const float DM_COS_POLY_3 = 4.1666668e-2;                         // 0x3D2AAAAB

// sin(r_hi + r_lo) for |r_hi| <= 0.8, with z = r_hi^2.
float dm_sin_kernel(float r_hi, float r_lo, float z) {
    precise float p = DM_SIN_POLY_0;
    p = p * z + DM_SIN_POLY_1;
    p = p * z + DM_SIN_POLY_2;
    p = p * z + DM_SIN_POLY_3;
    precise float result = r_hi + ((r_hi * z) * p + (r_lo - (0.5 * z) * r_lo));
    return result;
}

// cos(r_hi + r_lo) for |r_hi| <= 0.8, with r_hi^2 = z + z_err exactly.
float dm_cos_kernel(float r_hi, float r_lo, float z, float z_err) {
    precise float p = DM_COS_POLY_0;
    p = p * z + DM_COS_POLY_1;
    p = p * z + DM_COS_POLY_2;
    p = p * z + DM_COS_POLY_3;
    precise float result = 1.0 - (0.5 * z - ((z * z) * p - (r_hi * r_lo + 0.5 * z_err)));
    return result;
}

// Reduces x (finite, 2^-12 <= |x| <= 2^17) to r_hi + r_lo and k mod 4 with
// x ~ k*pi/2 + r_hi + r_lo.
void dm_trig_reduce(float x, out float r_hi, out float r_lo, out uint quadrant) {
    precise float t = x * DM_TWO_OVER_PI;
    precise float k = dm_round_even(t);
    precise float r2 = (x - k * DM_PIO2_1) - k * DM_PIO2_2;
    precise float k_p3 = k * DM_PIO2_3;
    precise float r3, r3_err;
    dm_two_sum(r2, dm_neg(k_p3), r3, r3_err);
    precise float k_p4 = k * DM_PIO2_4;
    precise float r4, r4_err;
    dm_two_sum(r3, dm_neg(k_p4), r4, r4_err);
    precise float p5, p5_err;
    dm_two_prod(k, DM_PIO2_5, p5, p5_err);
    precise float r5, r5_err;
    dm_two_sum(r4, dm_neg(p5), r5, r5_err);
    precise float tail = ((r3_err + r4_err) + r5_err) - (p5_err + k * DM_PIO2_6);
    precise float hi, lo;
    dm_two_sum(r5, tail, hi, lo);
    r_hi = hi;
    r_lo = lo;
    quadrant = uint(int(k)) & 3u;
}

// (sin x, cos x) with one shared reduction; NaN, +-inf, |x| > 2^17 -> NaN.
void dm_sin_cos(float x, out float s, out float c) {
    uint abs_bits = floatBitsToUint(x) & DM_ABS_MASK;
    float abs_x = uintBitsToFloat(abs_bits);
    if (dm_is_nan(x) || abs_bits == DM_INF_BITS || abs_x > DM_TRIG_LIMIT) {
        s = uintBitsToFloat(DM_NAN_BITS);
        c = uintBitsToFloat(DM_NAN_BITS);
        return;
    }
    if (abs_x < DM_TRIG_TINY) {
        s = x;
        c = 1.0;
        return;
    }
    precise float r_hi, r_lo;
    uint quadrant;
    dm_trig_reduce(x, r_hi, r_lo, quadrant);
    precise float z, z_err;
    dm_two_prod(r_hi, r_hi, z, z_err);
    float sin_r = dm_sin_kernel(r_hi, r_lo, z);
    float cos_r = dm_cos_kernel(r_hi, r_lo, z, z_err);
    if (quadrant == 0u) {
        s = sin_r;
        c = cos_r;
    } else if (quadrant == 1u) {
        s = cos_r;
        c = dm_neg(sin_r);
    } else if (quadrant == 2u) {
        s = dm_neg(sin_r);
        c = dm_neg(cos_r);
    } else {
        s = dm_neg(cos_r);
        c = sin_r;
    }
}

// sin x; NaN, +-inf, |x| > 2^17 -> NaN.
float dm_sin(float x) {
    float s;
    float c;
    dm_sin_cos(x, s, c);
    return s;
}

// cos x; NaN, +-inf, |x| > 2^17 -> NaN.
float dm_cos(float x) {
    float s;
    float c;
    dm_sin_cos(x, s, c);
    return c;
}

// ---------------------------------------------------------------------------------------
// silu.rs (the scalar, branch-free `silu` and `sigmoid`; `silu_block` gives the same bits)
// ---------------------------------------------------------------------------------------

const float DM_SILU_FLUSH_BELOW = -87.5;                          // 0xC2AF0000

// Mantissa bits (with the exponent of 1.0) and exponent of d >= 1.
void dm_recip_split(float d, out uint m_bits, out int e) {
    uint bits = floatBitsToUint(d);
    m_bits = (bits & 0x007FFFFFu) | 0x3F800000u;
    e = int(bits >> 23) - 127;
}

// y * 2^-e, flushed to 0 below 2^-126, as dm_recip does. Flushed lanes multiply 1
// instead of y, so no lane forms a subnormal product (Rust: silu.rs, recip_scale).
float dm_recip_scale(float y, int e) {
    bool flushed = e > 126 || (e == 126 && y < 1.0);
    float y_kept = flushed ? 1.0 : y;
    precise float value = y_kept * dm_pow2(-(e > 126 ? 126 : e));
    if (flushed) {
        return 0.0;
    }
    return value;
}

// recip(d) for d >= 1 (or +inf) without branches, bit-identical to dm_recip there.
float dm_recip_at_least_one(float d) {
    uint m_bits;
    int e;
    dm_recip_split(d, m_bits, e);
    return dm_recip_scale(dm_recip_mantissa(m_bits), e);
}

// Last stage of dm_silu: with 1 + e = d + d_err exactly and s = recip(d),
// x * (s - (s*d_err)*s), then the special cases.
float dm_silu_finish(float x, float s, float d_err) {
    precise float value = x * (s - (s * d_err) * s);
    if (x < DM_SILU_FLUSH_BELOW) {
        value = uintBitsToFloat(DM_SIGN_MASK); // -0
    }
    if (dm_is_nan(x)) {
        return x;
    }
    return value;
}

// SiLU x / (1 + e^-x); -0 below ~ -87.3365, NaN -> NaN, silu(+inf) = +inf.
float dm_silu(float x) {
    float e = dm_exp_at_most_87_5(dm_neg(x));
    precise float d, d_err;
    dm_two_sum(1.0, e, d, d_err);
    return dm_silu_finish(x, dm_recip_at_least_one(d), d_err);
}

// Logistic function 1 / (1 + e^-x): e = exp(-|x|), r = recip(1 + e), r for x >= 0,
// e * r otherwise; NaN -> NaN.
float dm_sigmoid(float x) {
    float e = dm_exp_at_most_87_5(uintBitsToFloat(floatBitsToUint(x) | DM_SIGN_MASK));
    // 1 + e in [1, 2]: recip without its special cases.
    precise float one_plus_e = 1.0 + e;
    float r = dm_recip_at_least_one(one_plus_e);
    precise float e_r = e * r;
    float value = e_r;
    if (x >= 0.0) {
        value = r;
    }
    if (dm_is_nan(x)) {
        return x;
    }
    return value;
}

// silu(x * scale + shift), the product and the sum rounded separately (Rust:
// `silu_affine` on one value).
float dm_silu_affine(float x, float scale, float shift) {
    precise float scaled = x * scale;
    precise float shifted = scaled + shift;
    return dm_silu(shifted);
}

#endif // DETMATH_GLSL
