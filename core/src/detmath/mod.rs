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
//! - **Subnormals.** Apart from the two exceptions below, no floating-point operation here
//!   sees a subnormal operand or produces a subnormal result on a path whose result
//!   matters, so a GPU that flushes subnormals gives the same bits:
//!   subnormal *inputs* of `ln`, `log2`, `recip`, `rsqrt`, `sqrt` are normalised exactly
//!   by integer operations (full accuracy); `sin`, `tanh` return tiny inputs unchanged,
//!   `exp`, `cos` return exactly 1 for them. Results below the smallest normal `2^−126`
//!   are **flushed to zero** (`exp` for `x < ln 2^−126 ≈ −87.34`, `exp2` for `x < −126`, `recip` for `|x| > 2^126`,
//!   and through them `silu`, `div`).
//!   The exceptions (found by the GLSL twin's check, `gpu/tests/detmath_bits.rs`):
//!   [`silu`] and [`silu_affine`] of `|x| < 2^−125` (subnormal `x`, or a result `≈ x/2`
//!   below `2^−126`), and [`div`] with a subnormal numerator or quotient. A device that
//!   flushes subnormals differs there, so the Vulkan backend needs f32 subnormals
//!   preserved (Vulkan's `shaderDenormPreserveFloat32`; Mesa's lavapipe preserves them).
//! - NaN inputs propagate (the input NaN is returned where the result is NaN by
//!   propagation; [`div`] returns its first NaN operand). NaNs *made* by an operation
//!   (`0·∞`, `∞ − ∞`) carry the hardware's default NaN (x86: `0xFFC00000`; GPUs usually
//!   `0x7FC00000`), so for those only NaN-ness, not the payload, is portable.
//!
//! ## Functions and measured accuracy
//! Maximum error in ulps of the exact result, measured against f64 references (std's
//! f64 functions) **exhaustively over every f32 bit pattern** in the stated domain, with
//! the `#[ignore]`d tests (`cargo test -p powerpost-core --release -- --ignored
//! exhaustive`, about 35 min on 2 busy cores). CI re-checks every 97th bit pattern
//! against the asserted bounds (measured maxima rounded up).
//!
//! | function | algorithm | max error (ulp) | measured over |
//! |---|---|---|---|
//! | [`exp`] | Cody–Waite `ln 2`, degree-7 minimax | 0.991 | all f32; results `< 2^−126` flushed to 0 |
//! | [`exp2`] | `k = roundEven(x)`, exp kernel | 0.990 | all f32; results `< 2^−126` flushed to 0 |
//! | [`ln`] | mantissa in `[√½, √2]`, degree-11 minimax | 0.827 | all f32 (subnormals included) |
//! | [`log2`] | `ln` kernel × `log2 e` in extra precision, plus `e` | 1.105 | all f32 (subnormals included) |
//! | [`sin`], [`cos`], [`sin_cos`] | 6-part Cody–Waite `π/2` with two-sums, Taylor degree 9/10 | 0.818 / 0.826 | `|x| ≤ 2^17` (NaN beyond) |
//! | [`recip`] | bit trick + 3 Newton + exact-residual Newton | 0.50000005 | all f32; `|x| > 2^126` flushed to ±0 |
//! | [`div`] | `a · recip(b)` | < 1.5 (proof), 1.48 measured | 2·10^6 random pairs, `2^−128 ≤ |b| ≤ 2^126` |
//! | [`rsqrt`] | bit trick + 3 Newton + exact-residual Newton | 0.50000009 | all f32 |
//! | [`sqrt`] | `m · rsqrt(m)` + exact-residual correction | 0.49999999 (correctly rounded) | all f32 |
//! | [`tanh`] | minimax near 0, else `1 − 2·recip(e^{2|x|}+1)` | 1.331 | all f32 |
//! | [`silu`] | `x·σ(x)` via `exp(−|x|)`, two-sum, `recip` | 2.458 | all f32 with `x ≥ −87.33` (`−0` below `≈ −87.34`) |
//! | [`sigmoid`] | `r = recip(1 + exp(−|x|))`, `r` or `exp(−|x|)·r` | 2.623 | every 97th f32 with `x ≥ −87.33` (`+0` below `≈ −87.34`) |
//! | [`floor`] | bit manipulation | exact | all f32 |

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
pub use silu::{sigmoid, sigmoid_many, silu, silu_affine, silu_in_place};
pub use sqrt::sqrt;
pub use tanh::tanh;
pub use trig::{cos, sin, sin_cos};
