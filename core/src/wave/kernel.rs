//! Row kernels of the time steps, written once over [`Lanes`] and run with the instruction
//! set chosen at run time.
//!
//! ## Scheme
//! A kernel ([`RowKernel`]) describes one run of `n` consecutive points of a row by base
//! pointers into its fields, checked once when it is built (every view is a slice taken
//! with bounds checks, then only read or written inside its range). [`run`] computes
//! points `i .. i + LANES` with the vector type of the chosen [`Isa`] while a whole vector
//! fits, then narrower vectors (AVX-512: one 8-lane AVX2 vector, then one 4-lane SSE2
//! vector; AVX2: the SSE2 one) where they fit, and the rest one at a time with [`Scalar`]. Every lane computes its
//! point with exactly the scalar expression, operation for operation (no fused
//! multiply-add exists in [`Lanes`]), so the bits do not depend on the instruction set or
//! on where a row is split into vectors.
//!
//! The time steps dispatch once per task of rows ([`dispatch`] of a [`WithLanes`] body): the
//! whole block of rows, every segment and layer kernel in it, is compiled for the chosen lane
//! type, so short layer segments cost no call or set-up each. [`run`] dispatches a single
//! kernel. The AVX2 entries are `#[target_feature(enable = "avx,avx2")]` functions (the
//! AVX-512 ones add `avx512f`) generic
//! over the work, whose body (the `#[inline(always)]` loop and kernel) is therefore compiled with
//! AVX instructions; it is only reached when [`Isa::is_supported`] said so (the
//! [`super::Propagator`] checks the ISA it is given).

#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
use crate::nn::simd::Avx512;
#[cfg(target_arch = "x86_64")]
use crate::nn::simd::{Avx2, Sse2};
use crate::nn::simd::{Isa, Lanes, Scalar};

use super::propagate::{flush, FLUSH_BELOW};

/// Lane types with the flush-to-zero select of [`flush`].
pub(crate) trait Lane: Lanes {
    /// The lane type of half the width (itself for [`Scalar`]), for row tails.
    type Half: Lane;
    /// Lane-wise [`flush`]: zero (`+0.0`) where `|v| <` [`FLUSH_BELOW`], `v` elsewhere
    /// (NaN kept).
    fn flush(self) -> Self;
}

impl Lane for Scalar {
    type Half = Scalar;
    #[inline(always)]
    fn flush(self) -> Self {
        Scalar(flush(self.0))
    }
}

#[cfg(target_arch = "x86_64")]
impl Lane for Sse2 {
    type Half = Scalar;
    #[inline(always)]
    fn flush(self) -> Self {
        use core::arch::x86_64::*;
        // SAFETY: SSE is part of the x86-64 baseline.
        unsafe {
            let abs = _mm_andnot_ps(_mm_set1_ps(-0.0), self.0);
            let small = _mm_cmplt_ps(abs, _mm_set1_ps(FLUSH_BELOW));
            Sse2(_mm_andnot_ps(small, self.0))
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Lane for Avx2 {
    type Half = Sse2;
    #[inline(always)]
    fn flush(self) -> Self {
        use core::arch::x86_64::*;
        // SAFETY: only reached from AVX-enabled code after detection (see `run`).
        unsafe {
            let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0);
            let small = _mm256_cmp_ps::<_CMP_LT_OQ>(abs, _mm256_set1_ps(FLUSH_BELOW));
            Avx2(_mm256_andnot_ps(small, self.0))
        }
    }
}

#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
impl Lane for Avx512 {
    type Half = Avx2;
    #[inline(always)]
    fn flush(self) -> Self {
        use core::arch::x86_64::*;
        // SAFETY: only reached from AVX-512-enabled code after detection (see `run`).
        unsafe {
            let abs = _mm512_abs_ps(self.0);
            // Lanes to keep: not `|v| < FLUSH_BELOW`, NaN included (unordered is true), so
            // no mask inversion is needed.
            let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(abs, _mm512_set1_ps(FLUSH_BELOW));
            // `+0.0` in the flushed lanes, `v` elsewhere.
            Avx512(_mm512_maskz_mov_ps(keep, self.0))
        }
    }
}

/// A run of `len()` points of one row.
pub(crate) trait RowKernel {
    /// Number of points.
    fn len(&self) -> usize;
    /// Computes points `i .. i + L::LANES`.
    ///
    /// # Safety
    /// `i + L::LANES <= self.len()`, and the CPU supports `L`.
    unsafe fn at<L: Lane>(&self, i: usize);
}

/// Whole vectors of `L`, then of each narrower lane type in turn (`L::Half`, its half, …:
/// the 8- and 4-lane tails of an AVX-512 or AVX2 row, e.g. 12- or 20-point layers and the
/// odd widths of the `edge` preset), then the rest with [`Scalar`].
///
/// # Safety
/// The CPU supports `L`.
#[inline(always)]
pub(crate) unsafe fn drive<L: Lane, K: RowKernel>(k: &K) {
    // SAFETY: forwarded.
    let mut i = unsafe { drive_from::<L, K>(k, 0) };
    while i < k.len() {
        // SAFETY: `i < n`.
        unsafe { k.at::<Scalar>(i) };
        i += 1;
    }
}

/// Whole vectors of `L` from point `i`, then (recursively) of the narrower lane types
/// down to 2 lanes; returns the first point not computed.
///
/// # Safety
/// The CPU supports `L`.
#[inline(always)]
unsafe fn drive_from<L: Lane, K: RowKernel>(k: &K, mut i: usize) -> usize {
    let n = k.len();
    if L::LANES == 1 {
        return i;
    }
    while i + L::LANES <= n {
        // SAFETY: `i + LANES <= n`; the caller guarantees CPU support.
        unsafe { k.at::<L>(i) };
        i += L::LANES;
    }
    if <L::Half as Lanes>::LANES < L::LANES {
        // SAFETY: a CPU that supports `L` supports its half.
        i = unsafe { drive_from::<L::Half, K>(k, i) };
    }
    i
}

/// [`drive`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn drive_avx2<K: RowKernel>(k: &K) {
    // SAFETY: forwarded.
    unsafe { drive::<Avx2, K>(k) }
}

/// [`drive`] compiled with AVX-512.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[target_feature(enable = "avx,avx2,avx512f")]
unsafe fn drive_avx512<K: RowKernel>(k: &K) {
    // SAFETY: forwarded.
    unsafe { drive::<Avx512, K>(k) }
}

/// Runs kernel `k` with instruction set `isa`, which must be supported by this CPU
/// (checked when the ISA enters a [`super::Propagator`]).
#[inline]
pub(crate) fn run<K: RowKernel>(isa: Isa, k: &K) {
    match isa {
        // SAFETY: scalar code runs everywhere.
        Isa::Scalar => unsafe { drive::<Scalar, K>(k) },
        // SAFETY: SSE2 is baseline on x86-64.
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => unsafe { drive::<Sse2, K>(k) },
        // SAFETY: the propagator only holds supported instruction sets.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { drive_avx2(k) },
        // SAFETY: as above.
        #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
        Isa::Avx512 => unsafe { drive_avx512(k) },
    }
}

/// Work that runs all its kernels with one lane type (a block of rows: dispatching once
/// per block instead of once per segment keeps the short layer segments cheap and lets
/// the constants stay in registers across rows).
pub(crate) trait WithLanes {
    /// Runs the work with lane type `L`.
    ///
    /// # Safety
    /// The CPU supports `L`.
    unsafe fn go<L: Lane>(&self);
}

/// [`WithLanes::go`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn go_avx2<T: WithLanes>(t: &T) {
    // SAFETY: forwarded.
    unsafe { t.go::<Avx2>() }
}

/// [`WithLanes::go`] compiled with AVX-512.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[target_feature(enable = "avx,avx2,avx512f")]
unsafe fn go_avx512<T: WithLanes>(t: &T) {
    // SAFETY: forwarded.
    unsafe { t.go::<Avx512>() }
}

/// Runs `t` with instruction set `isa`, which must be supported by this CPU (checked when
/// the ISA enters a [`super::Propagator`]).
#[inline]
pub(crate) fn dispatch<T: WithLanes>(isa: Isa, t: &T) {
    match isa {
        // SAFETY: scalar code runs everywhere.
        Isa::Scalar => unsafe { t.go::<Scalar>() },
        // SAFETY: SSE2 is baseline on x86-64.
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => unsafe { t.go::<Sse2>() },
        // SAFETY: the propagator only holds supported instruction sets.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { go_avx2(t) },
        // SAFETY: as above.
        #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
        Isa::Avx512 => unsafe { go_avx512(t) },
    }
}

/// `L::load(p + i)`.
#[inline(always)]
pub(crate) unsafe fn ld<L: Lane>(p: *const f32, i: usize) -> L {
    // SAFETY: guaranteed by the caller.
    unsafe { L::load(p.add(i)) }
}

/// `L::splat(v)`.
#[inline(always)]
pub(crate) fn sp<L: Lane>(v: f32) -> L {
    L::splat(v)
}

/// `cx0·f + Σⱼ cxⱼ(f₋ⱼ + f₊ⱼ)` at `p + i`: the centred second difference along x, summed
/// centre first, then by increasing distance.
#[inline(always)]
pub(crate) unsafe fn second_x<L: Lane, const R: usize>(
    p: *const f32,
    i: usize,
    cx: &[f32; 4],
    cx0: f32,
) -> L {
    // SAFETY: the caller guarantees `p + i ± R` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(cx0).mul(L::load(q));
        for j in 0..R {
            d = d.add(sp::<L>(cx[j]).mul(L::load(q.sub(1 + j)).add(L::load(q.add(1 + j)))));
        }
        d
    }
}

/// `cz0·f + Σⱼ czⱼ(f₋ⱼₛ + f₊ⱼₛ)` at `p + i` (`s` the stride): the same along z.
#[inline(always)]
pub(crate) unsafe fn second_z<L: Lane, const R: usize>(
    p: *const f32,
    i: usize,
    st: usize,
    cz: &[f32; 4],
    cz0: f32,
) -> L {
    // SAFETY: the caller guarantees `p + i ± R·st` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(cz0).mul(L::load(q));
        for j in 0..R {
            d = d.add(
                sp::<L>(cz[j]).mul(L::load(q.sub((j + 1) * st)).add(L::load(q.add((j + 1) * st)))),
            );
        }
        d
    }
}

/// Centred first difference `Σⱼ bⱼ (f(+(j+1)·step) − f(−(j+1)·step))` at `p + i`, in
/// increasing distance.
#[inline(always)]
pub(crate) unsafe fn first<L: Lane, const R: usize>(
    p: *const f32,
    i: usize,
    step: usize,
    b: &[f32; 4],
) -> L {
    // SAFETY: the caller guarantees `p + i ± R·step` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(b[0]).mul(L::load(q.add(step)).sub(L::load(q.sub(step))));
        for j in 1..R {
            d = d.add(
                sp::<L>(b[j])
                    .mul(L::load(q.add((j + 1) * step)).sub(L::load(q.sub((j + 1) * step)))),
            );
        }
        d
    }
}

/// Checked view `f[centre − before .. centre + n + after]`; returns the pointer to
/// `f[centre]`.
///
/// # Panics
/// If the range lies outside `f` (an internal invariant of the grid layout, never a user
/// input).
#[inline(always)]
pub(crate) fn window(
    f: &[f32],
    centre: usize,
    n: usize,
    before: usize,
    after: usize,
) -> *const f32 {
    let w = &f[centre - before..centre + n + after];
    // SAFETY: `before <= w.len()`.
    unsafe { w.as_ptr().add(before) }
}

/// Checked mutable view `f[at .. at + n]`.
#[inline(always)]
pub(crate) fn window_mut(f: &mut [f32], at: usize, n: usize) -> *mut f32 {
    f[at..at + n].as_mut_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// Flushes `values` in whole vectors of the dispatched lane type (`values.len()` a
    /// multiple of 16), writing the results back.
    struct FlushAll<'a>(&'a [Cell<f32>]);

    impl WithLanes for FlushAll<'_> {
        unsafe fn go<L: Lane>(&self) {
            for chunk in self.0.chunks_exact(L::LANES) {
                let ptr = chunk.as_ptr().cast::<f32>().cast_mut();
                // SAFETY: `chunk` holds `LANES` values; `Cell` allows writing through it.
                unsafe { L::load(ptr).flush().store(ptr) };
            }
        }
    }

    /// Every lane type flushes exactly like the scalar [`flush`]: zero below the threshold
    /// in magnitude (subnormals included, either sign → `+0`), values at or above it and
    /// NaN (payload and all) and infinities kept.
    #[test]
    fn lane_flush_equals_scalar_flush() {
        let specials = [
            0.0,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            FLUSH_BELOW,
            -FLUSH_BELOW,
            f32::from_bits(FLUSH_BELOW.to_bits() - 1),
            -f32::from_bits(FLUSH_BELOW.to_bits() - 1),
            f32::from_bits(FLUSH_BELOW.to_bits() + 1),
            f32::from_bits(1),
            -f32::from_bits(1),
            f32::MIN_POSITIVE,
            1.0,
            -3.5e-20,
        ];
        let mut values: [f32; 32] = [0.0; 32];
        for (i, v) in values.iter_mut().enumerate() {
            *v = specials[i % specials.len()] * if i >= 16 { -1.0 } else { 1.0 };
        }
        let want: [u32; 32] = core::array::from_fn(|i| flush(values[i]).to_bits());
        for isa in Isa::all_supported() {
            let cells: [Cell<f32>; 32] = core::array::from_fn(|i| Cell::new(values[i]));
            dispatch(isa, &FlushAll(&cells));
            for (i, c) in cells.iter().enumerate() {
                let (got, w) = (c.get().to_bits(), want[i]);
                assert_eq!(got, w, "{isa:?} lane {i}: {:e}", values[i]);
            }
        }
    }
}
