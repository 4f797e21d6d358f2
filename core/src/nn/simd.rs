//! A minimal SIMD abstraction for the fast kernels.
//!
//! Kernels are written once, generic over [`Lanes`], and instantiated for each instruction
//! set: [`Scalar`] (1 lane, any CPU), [`Sse2`] (4 lanes, every x86-64) and [`Avx`] (8 lanes).
//! Only lane-wise `+`, `−`, `×`, loads, stores and broadcasts exist here: each lane computes
//! one output with exactly the operations, in exactly the order, of the scalar code, so the
//! result bits do not depend on the lane count. There is deliberately no fused
//! multiply-add.

/// A vector of `LANES` f32 values with lane-wise arithmetic.
///
/// # Safety
/// Implementations of the `unsafe` methods may only be called when the CPU supports the
/// instruction set (see [`Isa`]) and the pointers are valid for `LANES` elements.
pub trait Lanes: Copy {
    /// Number of f32 lanes.
    const LANES: usize;
    /// All lanes equal to `v`.
    fn splat(v: f32) -> Self;
    /// Loads `LANES` values from `ptr` (no alignment needed).
    ///
    /// # Safety
    /// `ptr` must be valid for reading `LANES` f32 values.
    unsafe fn load(ptr: *const f32) -> Self;
    /// Stores `LANES` values to `ptr` (no alignment needed).
    ///
    /// # Safety
    /// `ptr` must be valid for writing `LANES` f32 values.
    unsafe fn store(self, ptr: *mut f32);
    /// Lane-wise `self + other`.
    fn add(self, other: Self) -> Self;
    /// Lane-wise `self − other`.
    fn sub(self, other: Self) -> Self;
    /// Lane-wise `self × other`.
    fn mul(self, other: Self) -> Self;
}

/// One lane: plain f32 arithmetic. Works on every CPU.
#[derive(Debug, Clone, Copy)]
pub struct Scalar(pub f32);

impl Lanes for Scalar {
    const LANES: usize = 1;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Scalar(v)
    }
    #[inline(always)]
    unsafe fn load(ptr: *const f32) -> Self {
        // SAFETY: guaranteed by the caller.
        Scalar(unsafe { *ptr })
    }
    #[inline(always)]
    unsafe fn store(self, ptr: *mut f32) {
        // SAFETY: guaranteed by the caller.
        unsafe { *ptr = self.0 }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Scalar(self.0 + o.0)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Scalar(self.0 - o.0)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Scalar(self.0 * o.0)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use core::arch::x86_64::*;

    /// Four lanes of SSE2 (every x86-64 CPU has it).
    #[derive(Debug, Clone, Copy)]
    pub struct Sse2(pub __m128);

    impl Lanes for Sse2 {
        const LANES: usize = 4;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Sse2(unsafe { _mm_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(ptr: *const f32) -> Self {
            // SAFETY: guaranteed by the caller.
            Sse2(unsafe { _mm_loadu_ps(ptr) })
        }
        #[inline(always)]
        unsafe fn store(self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller.
            unsafe { _mm_storeu_ps(ptr, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Sse2(unsafe { _mm_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: as above.
            Sse2(unsafe { _mm_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            // SAFETY: as above.
            Sse2(unsafe { _mm_mul_ps(self.0, o.0) })
        }
    }

    /// Eight lanes of AVX. Only used inside functions compiled with
    /// `#[target_feature(enable = "avx")]` after a runtime check (see [`super::Isa`]).
    #[derive(Debug, Clone, Copy)]
    pub struct Avx(pub __m256);

    impl Lanes for Avx {
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: only reached from AVX-enabled code paths after detection.
            Avx(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(ptr: *const f32) -> Self {
            // SAFETY: guaranteed by the caller.
            Avx(unsafe { _mm256_loadu_ps(ptr) })
        }
        #[inline(always)]
        unsafe fn store(self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller.
            unsafe { _mm256_storeu_ps(ptr, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: only reached from AVX-enabled code paths after detection.
            Avx(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
    }

    /// Whether the CPU and the operating system support AVX (CPUID + XGETBV).
    pub fn has_avx() -> bool {
        // SAFETY: CPUID leaf 1 exists on every x86-64 CPU.
        #[allow(unused_unsafe)]
        let leaf1 = unsafe { __cpuid(1) };
        let osxsave = leaf1.ecx & (1 << 27) != 0;
        let avx = leaf1.ecx & (1 << 28) != 0;
        if !(osxsave && avx) {
            return false;
        }
        // SAFETY: OSXSAVE is set, so XGETBV is available.
        let xcr0 = unsafe { xgetbv0() };
        xcr0 & 0b110 == 0b110
    }

    /// Reads XCR0.
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        // SAFETY: the caller checked OSXSAVE.
        unsafe { _xgetbv(0) }
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx, Sse2};

/// The instruction set a kernel runs with. Every choice gives the same output bits; only
/// the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// One lane of plain f32 code.
    Scalar,
    /// x86-64 SSE2, 4 lanes.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// x86-64 AVX, 8 lanes.
    #[cfg(target_arch = "x86_64")]
    Avx,
}

impl Isa {
    /// The fastest instruction set this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if x86::has_avx() {
                return Isa::Avx;
            }
            Isa::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Scalar
        }
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx => x86::has_avx(),
        }
    }

    /// Every instruction set this CPU supports, slowest first.
    pub fn all_supported() -> impl Iterator<Item = Isa> {
        [
            Isa::Scalar,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx,
        ]
        .into_iter()
        .filter(|isa| isa.is_supported())
    }

    /// The instruction set's name.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx => "avx",
        }
    }
}

/// Calls a generic kernel with the lane type of `isa`, inside a function compiled for that
/// instruction set.
///
/// `dispatch!(isa, kernel(arg: Type, ...))` expands to a match on `isa`. The AVX arm calls
/// an `#[target_feature(enable = "avx")]` entry point whose body is the `#[inline(always)]`
/// generic kernel, so the whole kernel is compiled with AVX instructions.
macro_rules! dispatch {
    ($isa:expr, $kernel:ident ( $($arg:ident : $ty:ty),* $(,)? )) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx")]
        unsafe fn avx_entry($($arg: $ty),*) {
            // SAFETY: forwarded from the caller of `dispatch!`.
            #[allow(unused_unsafe)]
            unsafe { $kernel::<$crate::nn::simd::Avx>($($arg),*) }
        }
        match $isa {
            $crate::nn::simd::Isa::Scalar => $kernel::<$crate::nn::simd::Scalar>($($arg),*),
            #[cfg(target_arch = "x86_64")]
            $crate::nn::simd::Isa::Sse2 => $kernel::<$crate::nn::simd::Sse2>($($arg),*),
            // SAFETY: kernels validate `Isa::is_supported` on entry.
            #[cfg(target_arch = "x86_64")]
            $crate::nn::simd::Isa::Avx => avx_entry($($arg),*),
        }
    }};
}
pub(crate) use dispatch;
