//! Deterministic math: transcendental functions built only from IEEE `+ − ×`, comparisons,
//! `floor` and bit manipulation, so that the GLSL shaders can repeat them operation for
//! operation and get the same bits.
//!
//! PLACEHOLDER: the bodies below delegate to `libm` until the real implementations land
//! (issue #2, item 4). The signatures are the contract the rest of the core codes against.

/// e^x.
#[inline]
pub fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// Natural logarithm ln(x).
#[inline]
pub fn ln(x: f32) -> f32 {
    libm::logf(x)
}

/// sin(x) (radians).
#[inline]
pub fn sin(x: f32) -> f32 {
    libm::sinf(x)
}

/// cos(x) (radians).
#[inline]
pub fn cos(x: f32) -> f32 {
    libm::cosf(x)
}

/// 1/x.
#[inline]
pub fn recip(x: f32) -> f32 {
    1.0 / x
}

/// a/b, computed as `a × recip(b)`.
#[inline]
pub fn div(a: f32, b: f32) -> f32 {
    a * recip(b)
}

/// 1/√x.
#[inline]
pub fn rsqrt(x: f32) -> f32 {
    1.0 / libm::sqrtf(x)
}

/// √x.
#[inline]
pub fn sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// SiLU(x) = x / (1 + e^−x).
#[inline]
pub fn silu(x: f32) -> f32 {
    x * recip(1.0 + exp(-x))
}
