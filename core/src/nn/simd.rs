//! A minimal SIMD abstraction for the fast kernels.
//!
//! Kernels are written once, generic over [`Lanes`], and instantiated for each instruction
//! set: [`Scalar`] (1 lane, any CPU), [`Sse2`] (4 lanes, every x86-64), [`Avx2`] (8 lanes)
//! and [`Avx512`] (16 lanes, AVX-512 Foundation).
//! Only lane-wise `+`, `−`, `×`, loads and stores (also ones that split even and odd
//! elements apart or weave them together) and broadcasts exist here: each lane computes
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
    /// Loads `2 × LANES` values from `ptr` and returns the even-indexed ones and the
    /// odd-indexed ones, each in order (a copy, no arithmetic).
    ///
    /// # Safety
    /// `ptr` must be valid for reading `2 × LANES` f32 values.
    #[inline(always)]
    unsafe fn load_deinterleaved(ptr: *const f32) -> (Self, Self) {
        let (mut even, mut odd) = ([0.0f32; 16], [0.0f32; 16]);
        for j in 0..Self::LANES.min(16) {
            // SAFETY: guaranteed by the caller.
            unsafe {
                even[j] = *ptr.add(2 * j);
                odd[j] = *ptr.add(2 * j + 1);
            }
        }
        // SAFETY: the arrays hold 16 ≥ LANES values (every implementation has ≤ 16 lanes).
        unsafe { (Self::load(even.as_ptr()), Self::load(odd.as_ptr())) }
    }
    /// Stores `2 × LANES` values to `ptr`: `even[0], odd[0], even[1], odd[1], …` (the
    /// inverse of [`Lanes::load_deinterleaved`], a copy).
    ///
    /// # Safety
    /// `ptr` must be valid for writing `2 × LANES` f32 values.
    #[inline(always)]
    unsafe fn store_interleaved(even: Self, odd: Self, ptr: *mut f32) {
        let (mut e, mut o) = ([0.0f32; 16], [0.0f32; 16]);
        // SAFETY: the arrays hold 16 ≥ LANES values; `ptr` as guaranteed by the caller.
        unsafe {
            even.store(e.as_mut_ptr());
            odd.store(o.as_mut_ptr());
            for j in 0..Self::LANES.min(16) {
                *ptr.add(2 * j) = e[j];
                *ptr.add(2 * j + 1) = o[j];
            }
        }
    }
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
        unsafe fn load_deinterleaved(ptr: *const f32) -> (Self, Self) {
            // SAFETY: guaranteed by the caller.
            unsafe {
                let (a, b) = (_mm_loadu_ps(ptr), _mm_loadu_ps(ptr.add(4)));
                (
                    Sse2(_mm_shuffle_ps::<0b10_00_10_00>(a, b)),
                    Sse2(_mm_shuffle_ps::<0b11_01_11_01>(a, b)),
                )
            }
        }
        #[inline(always)]
        unsafe fn store_interleaved(even: Self, odd: Self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller.
            unsafe {
                _mm_storeu_ps(ptr, _mm_unpacklo_ps(even.0, odd.0));
                _mm_storeu_ps(ptr.add(4), _mm_unpackhi_ps(even.0, odd.0));
            }
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

    /// Eight lanes of AVX2. Only used inside functions compiled with
    /// `#[target_feature(enable = "avx,avx2")]` after a runtime check (see [`super::Isa`]).
    #[derive(Debug, Clone, Copy)]
    pub struct Avx2(pub __m256);

    impl Lanes for Avx2 {
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: only reached from AVX-enabled code paths after detection.
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(ptr: *const f32) -> Self {
            // SAFETY: guaranteed by the caller.
            Avx2(unsafe { _mm256_loadu_ps(ptr) })
        }
        #[inline(always)]
        unsafe fn load_deinterleaved(ptr: *const f32) -> (Self, Self) {
            // SAFETY: guaranteed by the caller. Within each 128-bit half the shuffles pick
            // the even (odd) elements of a and b; the 64-bit permute puts the halves in
            // order.
            unsafe {
                let (a, b) = (_mm256_loadu_ps(ptr), _mm256_loadu_ps(ptr.add(8)));
                let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
                let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
                (
                    Avx2(_mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                        _mm256_castps_pd(even),
                    ))),
                    Avx2(_mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                        _mm256_castps_pd(odd),
                    ))),
                )
            }
        }
        #[inline(always)]
        unsafe fn store_interleaved(even: Self, odd: Self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller. The unpacks interleave within each 128-bit
            // half; the lane permutes put the four pairs of each output in order.
            unsafe {
                let lo = _mm256_unpacklo_ps(even.0, odd.0);
                let hi = _mm256_unpackhi_ps(even.0, odd.0);
                _mm256_storeu_ps(ptr, _mm256_permute2f128_ps::<0x20>(lo, hi));
                _mm256_storeu_ps(ptr.add(8), _mm256_permute2f128_ps::<0x31>(lo, hi));
            }
        }
        #[inline(always)]
        unsafe fn store(self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller.
            unsafe { _mm256_storeu_ps(ptr, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: only reached from AVX-enabled code paths after detection.
            Avx2(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx2(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx2(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
    }

    /// Whether the CPU and the operating system support AVX and AVX2 (CPUID + XGETBV).
    pub fn has_avx2() -> bool {
        // SAFETY: CPUID leaf 1 exists on every x86-64 CPU.
        #[allow(unused_unsafe)]
        let leaf1 = unsafe { __cpuid(1) };
        let osxsave = leaf1.ecx & (1 << 27) != 0;
        let avx = leaf1.ecx & (1 << 28) != 0;
        if !(osxsave && avx) {
            return false;
        }
        // SAFETY: CPUID leaf 7 exists when leaf 0 reports it; every AVX CPU has it.
        #[allow(unused_unsafe)]
        let leaf7 = unsafe { __cpuid_count(7, 0) };
        if leaf7.ebx & (1 << 5) == 0 {
            return false;
        }
        // SAFETY: OSXSAVE is set, so XGETBV is available.
        let xcr0 = unsafe { xgetbv0() };
        xcr0 & 0b110 == 0b110
    }

    /// Sixteen lanes of AVX-512 (Foundation subset only; built with Rust ≥ 1.89, see
    /// `build.rs`). Only used inside functions compiled with
    /// `#[target_feature(enable = "avx,avx2,avx512f")]` after a runtime check (see
    /// [`super::Isa`]).
    #[cfg(powerpost_avx512)]
    #[derive(Debug, Clone, Copy)]
    pub struct Avx512(pub __m512);

    // The AVX-512 intrinsics are stable since 1.89; `build.rs` enables this code only then.
    #[cfg(powerpost_avx512)]
    #[allow(clippy::incompatible_msrv)]
    impl Lanes for Avx512 {
        const LANES: usize = 16;
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: only reached from AVX-512-enabled code paths after detection.
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(ptr: *const f32) -> Self {
            // SAFETY: guaranteed by the caller.
            Avx512(unsafe { _mm512_loadu_ps(ptr) })
        }
        #[inline(always)]
        unsafe fn load_deinterleaved(ptr: *const f32) -> (Self, Self) {
            // SAFETY: guaranteed by the caller. Indices 0..16 pick from a, 16..32 from b.
            unsafe {
                let (a, b) = (_mm512_loadu_ps(ptr), _mm512_loadu_ps(ptr.add(16)));
                let even =
                    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                let odd =
                    _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                (
                    Avx512(_mm512_permutex2var_ps(a, even, b)),
                    Avx512(_mm512_permutex2var_ps(a, odd, b)),
                )
            }
        }
        #[inline(always)]
        unsafe fn store_interleaved(even: Self, odd: Self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller. Indices 0..16 pick from `even`, 16..32 from
            // `odd`.
            unsafe {
                let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
                let hi =
                    _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
                _mm512_storeu_ps(ptr, _mm512_permutex2var_ps(even.0, lo, odd.0));
                _mm512_storeu_ps(ptr.add(16), _mm512_permutex2var_ps(even.0, hi, odd.0));
            }
        }
        #[inline(always)]
        unsafe fn store(self, ptr: *mut f32) {
            // SAFETY: guaranteed by the caller.
            unsafe { _mm512_storeu_ps(ptr, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: only reached from AVX-512-enabled code paths after detection.
            Avx512(unsafe { _mm512_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx512(unsafe { _mm512_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            // SAFETY: as above.
            Avx512(unsafe { _mm512_mul_ps(self.0, o.0) })
        }
    }

    /// Whether the CPU and the operating system support AVX2 and AVX-512 Foundation
    /// (CPUID leaf 7 EBX bit 16; XCR0 enables the opmask and all 32 ZMM registers).
    #[cfg(powerpost_avx512)]
    pub fn has_avx512() -> bool {
        if !has_avx2() {
            return false;
        }
        // SAFETY: leaf 7 exists (checked by `has_avx2`).
        #[allow(unused_unsafe)]
        let leaf7 = unsafe { __cpuid_count(7, 0) };
        if leaf7.ebx & (1 << 16) == 0 {
            return false;
        }
        // SAFETY: OSXSAVE is set (checked by `has_avx2`).
        let xcr0 = unsafe { xgetbv0() };
        xcr0 & 0b1110_0110 == 0b1110_0110
    }

    /// Reads XCR0.
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        // SAFETY: the caller checked OSXSAVE.
        unsafe { _xgetbv(0) }
    }
}

#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
pub use x86::Avx512;
#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Sse2};

use core::sync::atomic::{AtomicU8, Ordering};

/// Number of instruction sets of this architecture.
#[cfg(all(target_arch = "x86_64", powerpost_avx512))]
const ISA_COUNT: usize = 4;
#[cfg(all(target_arch = "x86_64", not(powerpost_avx512)))]
const ISA_COUNT: usize = 3;
#[cfg(not(target_arch = "x86_64"))]
const ISA_COUNT: usize = 1;

/// The instruction set a kernel runs with. Every choice gives the same output bits; only
/// the speed differs. The variants depend on the architecture (and AVX-512 on the
/// compiler), so matches outside this crate need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isa {
    /// One lane of plain f32 code.
    Scalar,
    /// x86-64 SSE2, 4 lanes.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// x86-64 AVX2, 8 lanes.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// x86-64 AVX-512 Foundation, 16 lanes (with Rust ≥ 1.89).
    #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
    Avx512,
}

/// The widest instruction set [`Isa::detect`] may return, as an [`Isa::rank`]
/// (`u8::MAX`: no cap). Process-wide; see [`Isa::set_cap`].
static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// [`Isa::rank`] of the fastest supported instruction set plus one, once detected (`0`:
/// not yet; CPUID is slow under a hypervisor, so it runs once).
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Isa {
    /// The fastest instruction set this CPU supports, at most the cap set with
    /// [`Isa::set_cap`] (none by default).
    pub fn detect() -> Isa {
        let rank = Isa::fastest_supported_rank().min(CAP.load(Ordering::Relaxed));
        Isa::ALL[usize::from(rank)]
    }

    /// [`Isa::rank`] of the fastest instruction set this CPU supports, detected once and
    /// cached (kernels check support on every call, some once per task).
    fn fastest_supported_rank() -> u8 {
        let mut best = DETECTED.load(Ordering::Relaxed);
        if best == 0 {
            best = Isa::ALL
                .into_iter()
                .filter(|isa| isa.query_cpu())
                .map(Isa::rank)
                .max()
                .unwrap_or(0)
                + 1;
            DETECTED.store(best, Ordering::Relaxed);
        }
        best - 1
    }

    /// Caps what [`Isa::detect`] returns at `cap` (`None` lifts the cap), for the whole
    /// process; kernels built afterwards use it. Only the speed changes: every instruction
    /// set gives the same bits. For comparing instruction sets, or for CPUs that slow
    /// down on wide vectors.
    pub fn set_cap(cap: Option<Isa>) {
        CAP.store(cap.map_or(u8::MAX, Isa::rank), Ordering::Relaxed);
    }

    /// The instruction set called `name` (as [`Isa::name`] gives it) on this architecture.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name() == name)
    }

    /// Every instruction set of this architecture, slowest first.
    const ALL: [Isa; ISA_COUNT] = [
        Isa::Scalar,
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2,
        #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
        Isa::Avx512,
    ];

    /// Position in [`Isa::ALL`] (wider instruction sets rank higher).
    fn rank(self) -> u8 {
        match self {
            Isa::Scalar => 0,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => 1,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => 2,
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            Isa::Avx512 => 3,
        }
    }

    /// Whether this CPU can run `self` (from the cached detection: the supported sets
    /// are a prefix of the list of all of them, each one implying the narrower ones).
    pub fn is_supported(self) -> bool {
        self.rank() <= Isa::fastest_supported_rank()
    }

    /// Asks the CPU (CPUID, XGETBV) whether it can run `self`. Slow under a hypervisor,
    /// where CPUID exits to the host, so only [`Isa::fastest_supported_rank`] calls it.
    fn query_cpu(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::has_avx2(),
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            Isa::Avx512 => x86::has_avx512(),
        }
    }

    /// Every instruction set this CPU supports, slowest first (the cap of
    /// [`Isa::set_cap`] does not apply).
    pub fn all_supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_supported())
    }

    /// The f32 lanes of its vectors (1 for [`Isa::Scalar`]).
    pub fn lanes(self) -> usize {
        match self {
            Isa::Scalar => Scalar::LANES,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => Sse2::LANES,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Avx2::LANES,
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            Isa::Avx512 => Avx512::LANES,
        }
    }

    /// The instruction set's name.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            Isa::Avx512 => "avx512",
        }
    }
}

/// Calls a generic kernel with the lane type of `isa`, inside a function compiled for that
/// instruction set.
///
/// `dispatch!(isa, kernel(arg: Type, ...))` expands to a match on `isa`. The AVX2 arm calls
/// an `#[target_feature(enable = "avx,avx2")]` entry point (the AVX-512 arm one with
/// `avx512f` added) whose body is the `#[inline(always)]` generic kernel, so the whole
/// kernel is compiled with that instruction set.
macro_rules! dispatch {
    ($isa:expr, $kernel:ident ( $($arg:ident : $ty:ty),* $(,)? )) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx,avx2")]
        unsafe fn avx_entry($($arg: $ty),*) {
            // SAFETY: forwarded from the caller of `dispatch!`.
            #[allow(unused_unsafe)]
            unsafe { $kernel::<$crate::nn::simd::Avx2>($($arg),*) }
        }
        #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
        #[target_feature(enable = "avx,avx2,avx512f")]
        unsafe fn avx512_entry($($arg: $ty),*) {
            // SAFETY: forwarded from the caller of `dispatch!`.
            #[allow(unused_unsafe)]
            unsafe { $kernel::<$crate::nn::simd::Avx512>($($arg),*) }
        }
        match $isa {
            $crate::nn::simd::Isa::Scalar => $kernel::<$crate::nn::simd::Scalar>($($arg),*),
            #[cfg(target_arch = "x86_64")]
            $crate::nn::simd::Isa::Sse2 => $kernel::<$crate::nn::simd::Sse2>($($arg),*),
            // SAFETY: kernels validate `Isa::is_supported` on entry.
            #[cfg(target_arch = "x86_64")]
            $crate::nn::simd::Isa::Avx2 => avx_entry($($arg),*),
            // SAFETY: as above.
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            $crate::nn::simd::Isa::Avx512 => avx512_entry($($arg),*),
        }
    }};
}
pub(crate) use dispatch;

/// Work generic over the lane type, for [`run_with_lanes`]: how crates outside the core
/// write kernels once over [`Lanes`] and run them with the instruction set chosen at run
/// time.
pub trait LanesTask {
    /// Runs the work with lane type `L`.
    ///
    /// # Safety
    /// The CPU supports `L` (guaranteed when called through [`run_with_lanes`]).
    unsafe fn run<L: Lanes>(&self);
}

/// Runs `task` with the lane type of `isa`, compiled for that instruction set (its AVX2
/// and AVX-512 bodies are `#[target_feature]` functions, so `#[inline(always)]` lane
/// code inside them uses those instructions).
///
/// # Errors
/// [`crate::Error::InvalidArgument`] if this CPU cannot run `isa`.
pub fn run_with_lanes<T: LanesTask>(isa: Isa, task: &T) -> Result<(), crate::Error> {
    if !isa.is_supported() {
        return Err(crate::Error::InvalidArgument {
            name: "isa",
            expected: "an instruction set this CPU supports",
        });
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx,avx2")]
    unsafe fn avx2<T: LanesTask>(task: &T) {
        // SAFETY: forwarded (the instruction set was checked).
        unsafe { task.run::<Avx2>() }
    }
    #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
    #[target_feature(enable = "avx,avx2,avx512f")]
    unsafe fn avx512<T: LanesTask>(task: &T) {
        // SAFETY: forwarded (the instruction set was checked).
        unsafe { task.run::<Avx512>() }
    }
    // SAFETY (every arm): `isa` is supported (checked above), so its lane type and its
    // entry point's target features run on this CPU.
    unsafe {
        match isa {
            Isa::Scalar => task.run::<Scalar>(),
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => task.run::<Sse2>(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2(task),
            #[cfg(all(target_arch = "x86_64", powerpost_avx512))]
            Isa::Avx512 => avx512(task),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Isa;

    /// The cached answer of `is_supported` is the CPU's own (CPUID, XGETBV) for every
    /// instruction set, and the supported sets are a prefix of `Isa::ALL`, which the
    /// cache relies on.
    #[test]
    fn cached_support_matches_the_cpu() {
        let mut previous = true;
        for isa in Isa::ALL {
            let queried = isa.query_cpu();
            assert_eq!(isa.is_supported(), queried, "{isa:?}");
            assert!(
                previous || !queried,
                "{isa:?} supported after an unsupported one"
            );
            previous = queried;
        }
        assert!(Isa::Scalar.is_supported());
    }
}
