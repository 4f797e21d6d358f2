//! Row kernels of the time steps, written once over [`Lane`] and run with the instruction
//! set chosen at run time.
//!
//! ## Scheme
//! A kernel ([`RowKernel`]) describes one run of `n` consecutive points of a row by base
//! pointers into its fields, checked once when it is built (every view is a slice taken
//! with bounds checks, then only read or written inside its range). [`run`] computes
//! points `i .. i + LANES` with the vector type of the chosen [`Isa`] while a whole vector
//! fits, then the 1 to `LANES − 1` points left as the lane type chooses ([`Lane::tail`]):
//! AVX-512 and AVX2 use one masked vector (whose loads and stores touch only those points)
//! or, for exactly 8 or 4 points, one full narrower vector; SSE2 computes them one at a
//! time with [`Scalar`]. Every lane computes its point with exactly the scalar
//! expression, operation for operation (no fused multiply-add exists in [`Lane`]), so the
//! bits do not depend on the instruction set or on where a row is split into vectors.
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

/// Lane types of the row kernels: lane-wise `+`, `−`, `×`, the flush-to-zero select of
/// [`flush`], and loads and stores restricted to the lanes of a [`Lane::Mask`].
///
/// The full-width types ([`Scalar`], `Sse2`, `Avx2`, `Avx512`) have the mask `()`: they
/// always move all their lanes. `Avx512Tail` and `Avx2Tail` are partial vectors: a full
/// vector of arithmetic of which only the masked lanes are loaded (the others are zero)
/// and stored, so one instruction sequence covers up to 15 (7) points at the end of a row
/// without reading or writing past it. Each full-width type chooses how its rows end
/// ([`Lane::tail`]).
pub(crate) trait Lane: Copy {
    /// Number of f32 lanes.
    const LANES: usize;
    /// Which lanes a load or store touches.
    type Mask: Copy;
    /// The mask of all lanes.
    const FULL: Self::Mask;
    /// Computes the last points `i .. k.len()` of a run, fewer than `LANES`.
    ///
    /// # Safety
    /// `k.len() − LANES < i <= k.len()`, and the CPU supports the type.
    unsafe fn tail<K: RowKernel>(k: &K, i: usize);
    /// All lanes equal to `v`.
    fn splat(v: f32) -> Self;
    /// Loads the lanes of `m` from `ptr` (no alignment needed), zero in the others.
    ///
    /// # Safety
    /// `ptr` must be valid for reading the lanes of `m`, and the CPU must support the type.
    unsafe fn load(ptr: *const f32, m: Self::Mask) -> Self;
    /// Stores the lanes of `m` to `ptr` (no alignment needed), leaving the others alone.
    ///
    /// # Safety
    /// `ptr` must be valid for writing the lanes of `m`, and the CPU must support the type.
    unsafe fn store(self, ptr: *mut f32, m: Self::Mask);
    /// Lane-wise `self + other`.
    fn add(self, other: Self) -> Self;
    /// Lane-wise `self − other`.
    fn sub(self, other: Self) -> Self;
    /// Lane-wise `self × other`.
    fn mul(self, other: Self) -> Self;
    /// Lane-wise [`flush`]: zero (`+0.0`) where `|v| <` [`FLUSH_BELOW`], `v` elsewhere
    /// (NaN kept).
    fn flush(self) -> Self;
}

/// [`Lane`] for a full-width [`Lanes`] type: arithmetic, loads and stores forwarded,
/// `flush` given.
macro_rules! full_width_lane {
    ($(#[$attr:meta])* $t:ty, tail: $tail:path, flush: $flush:expr) => {
        $(#[$attr])*
        impl Lane for $t {
            const LANES: usize = <$t as Lanes>::LANES;
            type Mask = ();
            const FULL: () = ();
            #[inline(always)]
            unsafe fn tail<K: RowKernel>(k: &K, i: usize) {
                // SAFETY: forwarded.
                unsafe { $tail(k, i) }
            }
            #[inline(always)]
            fn splat(v: f32) -> Self {
                <$t as Lanes>::splat(v)
            }
            #[inline(always)]
            unsafe fn load(ptr: *const f32, _: ()) -> Self {
                // SAFETY: forwarded.
                unsafe { <$t as Lanes>::load(ptr) }
            }
            #[inline(always)]
            unsafe fn store(self, ptr: *mut f32, _: ()) {
                // SAFETY: forwarded.
                unsafe { <$t as Lanes>::store(self, ptr) }
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                <$t as Lanes>::add(self, o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                <$t as Lanes>::sub(self, o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                <$t as Lanes>::mul(self, o)
            }
            #[inline(always)]
            fn flush(self) -> Self {
                $flush(self)
            }
        }
    };
}

full_width_lane!(Scalar, tail: scalar_tail, flush: |v: Scalar| Scalar(flush(v.0)));

#[cfg(target_arch = "x86_64")]
full_width_lane!(Sse2, tail: scalar_tail, flush: |v: Sse2| Sse2(flush128(v.0)));

#[cfg(target_arch = "x86_64")]
full_width_lane!(Avx2, tail: avx2_tail, flush: |v: Avx2| Avx2(flush256(v.0)));

#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
full_width_lane!(#[allow(clippy::incompatible_msrv)] Avx512, tail: avx512_tail,
    flush: |v: Avx512| Avx512(flush512(v.0)));

/// The last points from `i` one at a time (SSE2 rows, and the masked types, which never
/// have a tail of their own).
///
/// # Safety
/// `i <= k.len()`.
#[inline(always)]
unsafe fn scalar_tail<K: RowKernel>(k: &K, mut i: usize) {
    while i < k.len() {
        // SAFETY: `i < n`.
        unsafe { k.at::<Scalar>(i, ()) };
        i += 1;
    }
}

/// The last 1–7 points of an AVX2 row: exactly 4 as one SSE2 vector, any other count as
/// one masked AVX2 vector (instead of up to three scalar points).
///
/// # Safety
/// `n − 8 < i <= n`; the CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn avx2_tail<K: RowKernel>(k: &K, i: usize) {
    let rem = k.len() - i;
    // SAFETY: the vector or the mask's lanes lie below `n`; AVX2 implies SSE2.
    unsafe {
        if rem == 4 {
            k.at::<Sse2>(i, ());
        } else if rem > 0 {
            k.at::<Avx2Tail>(i, avx2_tail_mask(rem));
        }
    }
}

/// The last 1–15 points of an AVX-512 row: more than 8 as one masked AVX-512 vector,
/// exactly 8 as one AVX2 vector, fewer as [`avx2_tail`] (a full half- or quarter-width
/// vector with foldable loads is cheaper than a masked wider one).
///
/// # Safety
/// `n − 16 < i <= n`; the CPU supports AVX-512F.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[inline(always)]
unsafe fn avx512_tail<K: RowKernel>(k: &K, i: usize) {
    let rem = k.len() - i;
    // SAFETY: the vector or the mask's lanes lie below `n`; AVX-512F implies AVX2.
    unsafe {
        if rem > 8 {
            k.at::<Avx512Tail>(i, avx512_tail_mask(rem));
        } else if rem == 8 {
            k.at::<Avx2>(i, ());
        } else {
            avx2_tail(k, i);
        }
    }
}

/// Lane-wise [`flush`] of an SSE vector.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn flush128(v: core::arch::x86_64::__m128) -> core::arch::x86_64::__m128 {
    use core::arch::x86_64::*;
    // SAFETY: SSE is part of the x86-64 baseline.
    unsafe {
        let abs = _mm_andnot_ps(_mm_set1_ps(-0.0), v);
        let small = _mm_cmplt_ps(abs, _mm_set1_ps(FLUSH_BELOW));
        _mm_andnot_ps(small, v)
    }
}

/// Lane-wise [`flush`] of an AVX vector.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn flush256(v: core::arch::x86_64::__m256) -> core::arch::x86_64::__m256 {
    use core::arch::x86_64::*;
    // SAFETY: only reached from AVX-enabled code after detection (see `run`).
    unsafe {
        let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), v);
        let small = _mm256_cmp_ps::<_CMP_LT_OQ>(abs, _mm256_set1_ps(FLUSH_BELOW));
        _mm256_andnot_ps(small, v)
    }
}

/// The AVX2 mask of lanes `0 .. rem` (`rem <= 8`): all bits set in those lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx2_tail_mask(rem: usize) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::*;
    // SAFETY: only reached from AVX2-enabled code after detection (see `run`).
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(rem as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// [`Lane`] for a masked wrapper of a full-width [`Lanes`] type: the same arithmetic and
/// flush, loads and stores only in the mask's lanes (given as functions); its own rows
/// never have a tail.
macro_rules! masked_lane {
    ($(#[$attr:meta])* $t:ident($full:ty), mask: $mask:ty, full: $full_mask:expr,
     load: $load:path, store: $store:path) => {
        $(#[$attr])*
        impl Lane for $t {
            const LANES: usize = <$full as Lanes>::LANES;
            type Mask = $mask;
            const FULL: $mask = $full_mask;
            #[inline(always)]
            unsafe fn tail<K: RowKernel>(k: &K, i: usize) {
                // SAFETY: forwarded.
                unsafe { scalar_tail(k, i) }
            }
            #[inline(always)]
            fn splat(v: f32) -> Self {
                Self(<$full as Lanes>::splat(v))
            }
            #[inline(always)]
            unsafe fn load(ptr: *const f32, m: $mask) -> Self {
                // SAFETY: forwarded; lanes outside `m` are not accessed.
                Self(unsafe { $load(ptr, m) })
            }
            #[inline(always)]
            unsafe fn store(self, ptr: *mut f32, m: $mask) {
                // SAFETY: forwarded; lanes outside `m` are not accessed.
                unsafe { $store(self.0, ptr, m) }
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                Self(<$full as Lanes>::add(self.0, o.0))
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                Self(<$full as Lanes>::sub(self.0, o.0))
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                Self(<$full as Lanes>::mul(self.0, o.0))
            }
            #[inline(always)]
            fn flush(self) -> Self {
                Self(<$full as Lane>::flush(self.0))
            }
        }
    };
}

/// The last, partial AVX2 vector of a row: lanes outside the mask are neither read (they
/// hold zero) nor written (`vmaskmovps`). Same arithmetic as `Avx2`, lane for lane.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2Tail(Avx2);

#[cfg(target_arch = "x86_64")]
masked_lane!(Avx2Tail(Avx2), mask: core::arch::x86_64::__m256i,
    // SAFETY: `__m256i` is 32 plain bytes; every bit pattern is valid.
    full: unsafe { core::mem::transmute::<[i32; 8], core::arch::x86_64::__m256i>([-1; 8]) },
    load: load_masked256, store: store_masked256);

/// `vmaskmovps` load: the lanes of `m` from `ptr`, zero elsewhere.
///
/// # Safety
/// The lanes of `m` are readable; the CPU supports AVX.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn load_masked256(ptr: *const f32, m: core::arch::x86_64::__m256i) -> Avx2 {
    // SAFETY: guaranteed by the caller; masked-out lanes are not accessed.
    Avx2(unsafe { core::arch::x86_64::_mm256_maskload_ps(ptr, m) })
}

/// `vmaskmovps` store of the lanes of `m`.
///
/// # Safety
/// The lanes of `m` are writable; the CPU supports AVX.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_masked256(v: Avx2, ptr: *mut f32, m: core::arch::x86_64::__m256i) {
    // SAFETY: guaranteed by the caller; masked-out lanes are not accessed.
    unsafe { core::arch::x86_64::_mm256_maskstore_ps(ptr, m, v.0) }
}

/// The AVX-512 mask of lanes `0 .. rem` (`rem <= 16`).
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
#[inline(always)]
fn avx512_tail_mask(rem: usize) -> core::arch::x86_64::__mmask16 {
    ((1u32 << rem) - 1) as u16
}

/// Lane-wise [`flush`] of an AVX-512 vector.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
#[inline(always)]
fn flush512(v: core::arch::x86_64::__m512) -> core::arch::x86_64::__m512 {
    use core::arch::x86_64::*;
    // SAFETY: only reached from AVX-512-enabled code after detection (see `run`).
    unsafe {
        let abs = _mm512_abs_ps(v);
        // Lanes to keep: not `|v| < FLUSH_BELOW`, NaN included (unordered is true), so
        // no mask inversion is needed.
        let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(abs, _mm512_set1_ps(FLUSH_BELOW));
        // `+0.0` in the flushed lanes, `v` elsewhere.
        _mm512_maskz_mov_ps(keep, v)
    }
}

/// The last, partial AVX-512 vector of a row: lanes outside the mask are neither read
/// (they hold zero) nor written. Same arithmetic as `Avx512`, lane for lane.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
#[derive(Clone, Copy)]
pub(crate) struct Avx512Tail(Avx512);

#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
masked_lane!(#[allow(clippy::incompatible_msrv)] Avx512Tail(Avx512),
    mask: core::arch::x86_64::__mmask16, full: 0xffff,
    load: load_masked512, store: store_masked512);

/// Masked AVX-512 load: the lanes of `m` from `ptr`, zero elsewhere.
///
/// # Safety
/// The lanes of `m` are readable; the CPU supports AVX-512F.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
#[inline(always)]
unsafe fn load_masked512(ptr: *const f32, m: core::arch::x86_64::__mmask16) -> Avx512 {
    // SAFETY: guaranteed by the caller; masked-out lanes are not accessed.
    Avx512(unsafe { core::arch::x86_64::_mm512_maskz_loadu_ps(m, ptr) })
}

/// Masked AVX-512 store of the lanes of `m`.
///
/// # Safety
/// The lanes of `m` are writable; the CPU supports AVX-512F.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
#[allow(clippy::incompatible_msrv)] // see `build.rs`
#[inline(always)]
unsafe fn store_masked512(v: Avx512, ptr: *mut f32, m: core::arch::x86_64::__mmask16) {
    // SAFETY: guaranteed by the caller; masked-out lanes are not accessed.
    unsafe { core::arch::x86_64::_mm512_mask_storeu_ps(ptr, m, v.0) }
}

/// A run of `len()` points of one row.
pub(crate) trait RowKernel {
    /// Number of points.
    fn len(&self) -> usize;
    /// Computes points `i .. i + L::LANES` restricted to the lanes of `m` (all of them for
    /// the full-width lane types).
    ///
    /// # Safety
    /// The lanes of `m` lie below `self.len()` (for a full mask: `i + L::LANES <=
    /// self.len()`), and the CPU supports `L`.
    unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask);
}

/// Whole vectors of `L`, then the rest of the row as `L` chooses ([`Lane::tail`]: one
/// masked or narrower vector with AVX2 and AVX-512, scalar points with SSE2).
///
/// # Safety
/// The CPU supports `L`.
#[inline(always)]
pub(crate) unsafe fn drive<L: Lane, K: RowKernel>(k: &K) {
    let n = k.len();
    let mut i = 0;
    while i + L::LANES <= n {
        // SAFETY: `i + LANES <= n`; the caller guarantees CPU support.
        unsafe { k.at::<L>(i, L::FULL) };
        i += L::LANES;
    }
    // SAFETY: fewer than `LANES` points are left; forwarded CPU support.
    unsafe { L::tail(k, i) };
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

/// `L::load(p + i, m)`.
#[inline(always)]
pub(crate) unsafe fn ld<L: Lane>(p: *const f32, i: usize, m: L::Mask) -> L {
    // SAFETY: guaranteed by the caller.
    unsafe { L::load(p.add(i), m) }
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
    m: L::Mask,
    cx: &[f32; 4],
    cx0: f32,
) -> L {
    // SAFETY: the caller guarantees `p + i ± R` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(cx0).mul(L::load(q, m));
        for j in 0..R {
            d = d.add(sp::<L>(cx[j]).mul(L::load(q.sub(1 + j), m).add(L::load(q.add(1 + j), m))));
        }
        d
    }
}

/// `cz0·f + Σⱼ czⱼ(f₋ⱼₛ + f₊ⱼₛ)` at `p + i` (`s` the stride): the same along z.
#[inline(always)]
pub(crate) unsafe fn second_z<L: Lane, const R: usize>(
    p: *const f32,
    i: usize,
    m: L::Mask,
    st: usize,
    cz: &[f32; 4],
    cz0: f32,
) -> L {
    // SAFETY: the caller guarantees `p + i ± R·st` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(cz0).mul(L::load(q, m));
        for j in 0..R {
            d = d.add(
                sp::<L>(cz[j])
                    .mul(L::load(q.sub((j + 1) * st), m).add(L::load(q.add((j + 1) * st), m))),
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
    m: L::Mask,
    step: usize,
    b: &[f32; 4],
) -> L {
    // SAFETY: the caller guarantees `p + i ± R·step` lie in one checked view.
    unsafe {
        let q = p.add(i);
        let mut d = sp::<L>(b[0]).mul(L::load(q.add(step), m).sub(L::load(q.sub(step), m)));
        for j in 1..R {
            d = d.add(
                sp::<L>(b[j])
                    .mul(L::load(q.add((j + 1) * step), m).sub(L::load(q.sub((j + 1) * step), m))),
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
                unsafe { L::load(ptr, L::FULL).flush().store(ptr, L::FULL) };
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

    /// `o ← flush((o + x₋₁·x₊₁) − 2x)` along a run: reads a neighbour on each side,
    /// writes in place.
    struct Probe {
        n: usize,
        x: *const f32,
        o: *mut f32,
    }

    impl RowKernel for Probe {
        fn len(&self) -> usize {
            self.n
        }
        #[inline(always)]
        unsafe fn at<L: Lane>(&self, i: usize, m: L::Mask) {
            // SAFETY: the views are checked where the probe is built.
            unsafe {
                let q = self.x.add(i);
                let p = self.o.add(i);
                let nb = L::load(q.sub(1), m).mul(L::load(q.add(1), m));
                L::load(p, m)
                    .add(nb)
                    .sub(sp::<L>(2.0).mul(L::load(q, m)))
                    .flush()
                    .store(p, m);
            }
        }
    }

    /// Every row length from 0 to 40 (whole vectors, the AVX-512 masked tail of every
    /// length 1–15, the AVX2 one of every length 1–7, the SSE2 scalar rest): every
    /// instruction set gives the scalar bits, and nothing outside the run is written.
    #[test]
    fn every_row_length_gives_the_scalar_bits_and_stays_in_its_run() {
        const GUARD: usize = 16;
        let sentinel = 12345.0;
        for n in 0..=40 {
            let x: [f32; 64] = core::array::from_fn(|i| 0.37 * i as f32 - 5.0);
            let fresh = || {
                let mut o = [sentinel; 40 + 2 * GUARD];
                for (i, v) in o[GUARD..GUARD + n].iter_mut().enumerate() {
                    *v = 1.5 - 0.25 * i as f32;
                }
                o
            };
            let mut want = fresh();
            for i in 0..n {
                let w = &mut want[GUARD + i];
                *w = flush((*w + x[i] * x[i + 2]) - 2.0 * x[i + 1]);
            }
            for isa in Isa::all_supported() {
                let mut o = fresh();
                let probe = Probe {
                    n,
                    x: window(&x, 1, n, 1, 1),
                    o: window_mut(&mut o, GUARD, n),
                };
                run(isa, &probe);
                for (i, (g, w)) in o.iter().zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "{isa:?}, n = {n}, slot {i}");
                }
            }
        }
    }
}
