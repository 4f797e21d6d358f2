//! Deterministic math: transcendental functions built only from IEEE `+ − ×`, comparisons,
//! `floor`/round-to-integer, integer operations and bit casts, so that the GLSL shaders can
//! repeat them operation for operation and get the same bits.
//!
//! ## Rules every function follows
//! - No division instruction on data, no fused multiply-add, no libm/std transcendental.
//!   Reciprocals and square roots come from a bit-trick initial guess plus a fixed number
//!   of Newton steps; polynomials are evaluated in a fixed Horner order (highest
//!   coefficient first); range reductions are Cody–Waite with split constants whose
//!   high parts make the products exact.
//! - Every `+ − ×` is correctly rounded in IEEE-754 binary32 (round to nearest even), as
//!   Vulkan requires of SPIR-V `OpFAdd/OpFSub/OpFMul`. The GLSL ports must declare every
//!   intermediate `precise` so the compiler neither contracts `a*b+c` into an `fma` nor
//!   reassociates (in particular the shifter `(v + 1.5·2^23) − 1.5·2^23` of
//!   `round_even` in `bits.rs`, or use GLSL `roundEven`, which is equivalent).
//! - **Subnormals.** No floating-point operation here ever sees a subnormal operand or
//!   produces a subnormal result on a path whose result matters, so a GPU that flushes
//!   subnormals gives the same bits:
//!   subnormal *inputs* of `ln`, `log2`, `recip`, `rsqrt`, `sqrt` are normalised exactly
//!   by integer operations (full accuracy); `sin`, `tanh` return tiny inputs unchanged,
//!   `exp`, `cos` return exactly 1 for them. Results below the smallest normal `2^−126`
//!   are **flushed to zero** (`exp` for `x < ln 2^−126 ≈ −87.34`, `exp2` for `x < −126`, `recip` for `|x| > 2^126`,
//!   and through them `silu`, `div`).
//! - NaN inputs propagate (the input NaN is returned where the result is NaN by
//!   propagation).
//!
//! ## Functions and measured accuracy
//! Errors in ulps of the exact result, measured against f64 references; "exhaustive"
//! means every f32 bit pattern (`#[ignore]`d tests, run offline with
//! `cargo test -p powerpost-core --release -- --ignored exhaustive`); CI checks every
//! 97th bit pattern against the same bounds.
//!
//! | function | algorithm | max error | measured over |
//! |---|---|---|---|
//! | [`exp`] | Cody–Waite `ln 2`, degree-7 minimax | 1.0 ulp | all f32 (flushed range excluded) |
//! | [`exp2`] | `k = roundEven(x)`, exp kernel | 1.0 ulp | all f32 (flushed range excluded) |
//! | [`ln`] | mantissa in `[√½, √2]`, degree-11 minimax | 1.0 ulp | all f32 |
//! | [`log2`] | as `ln`, times `log2 e`, plus `e` | 1.5 ulp | all f32 |
//! | [`sin`], [`cos`], [`sin_cos`] | 5-part Cody–Waite `π/2`, Taylor degree 9/10 | 1.5 ulp | `|x| ≤ 2^17` |
//! | [`recip`] | bit trick + 3 Newton + exact-residual Newton | 0.5 ulp | all f32 (`|x| > 2^126` flushed) |
//! | [`div`] | `a · recip(b)` | 1.5 ulp | random pairs, `|b| ≤ 2^126` |
//! | [`rsqrt`] | bit trick + 2 Newton + exact-residual Newton | 0.5 ulp | all f32 |
//! | [`sqrt`] | `m · rsqrt(m)` + exact-residual correction | 0.5 ulp | all f32 |
//! | [`tanh`] | minimax near 0, else `1 − 2/(e^{2x}+1)` | 2.0 ulp | all f32 |
//! | [`silu`] | `x·σ(x)` via `exp(−|x|)`, `recip` | 3.5 ulp | all f32 with `x ≥ −87.33` |
//!
//! (The "0.5 ulp" functions are within `2^−20` ulp of correctly rounded.) The exact
//! figures, and the asserted bounds, are in each module's documentation and tests.

// Constants are written with their exact decimal expansions on purpose.
#![allow(clippy::excessive_precision)]

mod bits;
mod exp;
mod log;
mod recip;
mod rsqrt;
mod silu;
mod sqrt;
mod tanh;
mod trig;
#[cfg(test)]
mod ulp;

pub use bits::floor;
pub use exp::{exp, exp2};
pub use log::{ln, log2};
pub use recip::{div, recip};
pub use rsqrt::rsqrt;
pub use silu::silu;
pub use sqrt::sqrt;
pub use tanh::tanh;
pub use trig::{cos, sin, sin_cos};
