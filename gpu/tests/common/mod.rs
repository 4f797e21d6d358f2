//! Helpers shared by the device tests: the skip-unless-required device setup, seeded test
//! data (from the core's own Philox generator) and bit comparison.

use powerpost_core::nn::geometry::Geometry;
use powerpost_core::rng::NoiseStream;
use powerpost_gpu::{Gpu, GpuError};

/// The pipeline `make` builds on the best device, or `None` (with a note) where there is
/// no Vulkan loader, device or compiled shader and `POWERPOST_REQUIRE_VULKAN` is not set.
pub fn pipeline_or_skip<P>(make: impl FnOnce(&Gpu) -> Result<P, GpuError>) -> Option<P> {
    let required = std::env::var_os("POWERPOST_REQUIRE_VULKAN").is_some_and(|v| v != "0");
    let made = Gpu::new().and_then(|gpu| {
        eprintln!("device: {} ({})", gpu.device_name(), gpu.driver_info());
        make(&gpu)
    });
    match made {
        Ok(pipeline) => Some(pipeline),
        Err(e @ (GpuError::NoLoader(_) | GpuError::NoDevice | GpuError::ShadersNotBuilt))
            if !required =>
        {
            eprintln!("skipped (set POWERPOST_REQUIRE_VULKAN=1 to fail instead): {e}");
            None
        }
        Err(e) => panic!("Vulkan backend unavailable: {e}"),
    }
}

/// Seeded test data: consecutive words of the core's Philox stream `(seed, 0)`.
pub struct Rng {
    stream: NoiseStream,
    next: u64,
}

impl Rng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            stream: NoiseStream::new(seed, 0),
            next: 0,
        }
    }

    /// The next 64 random bits (two Philox words).
    pub fn next_u64(&mut self) -> u64 {
        let words = self.stream.block(self.next / 2);
        let half = 2 * (self.next % 2) as usize;
        self.next += 1;
        (u64::from(words[half]) << 32) | u64::from(words[half + 1])
    }

    /// Uniform in `[-1, 1)` times `2^e` with `e` uniform in `-6..=6`: values of many
    /// magnitudes, so that any change of summation order shows in the low bits.
    pub fn value(&mut self) -> f32 {
        let bits = self.next_u64();
        let unit = (bits >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
        let exponent = ((bits >> 8) % 13) as i32 - 6;
        (2.0 * unit - 1.0) * 2f32.powi(exponent)
    }

    /// `len` values of [`Rng::value`].
    pub fn values(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.value()).collect()
    }
}

/// `planes` padded planes of `geometry` with random interior values and a zero ring (the
/// layout's invariant).
pub fn padded(rng: &mut Rng, geometry: Geometry, planes: usize) -> Vec<f32> {
    let mut data = vec![0.0; planes * geometry.plane_len()];
    for plane in data.chunks_exact_mut(geometry.plane_len()) {
        for y in 0..geometry.height {
            for x in 0..geometry.width {
                plane[geometry.index(y, x)] = rng.value();
            }
        }
    }
    data
}

/// A buffer of `len` NaNs with a payload, so that any value a kernel fails to write shows.
pub fn garbage(len: usize) -> Vec<f32> {
    vec![f32::from_bits(0x7FA5_A5A5); len]
}

/// Panics listing the first differing values (index, plane cell, device and core bits).
pub fn assert_same_bits(what: &str, geometry: Geometry, device: &[f32], core: &[f32]) {
    assert_eq!(device.len(), core.len(), "{what}: lengths differ");
    let plane = geometry.plane_len();
    let mut report = Vec::new();
    let mut bad = 0usize;
    for (i, (d, c)) in device.iter().zip(core).enumerate() {
        if d.to_bits() != c.to_bits() {
            if report.len() < 4 {
                let cell = i % plane;
                report.push(format!(
                    "value {i} (plane {}, row {}, column {} of the padded plane): device {:#010x} ({d:e}), core {:#010x} ({c:e})",
                    i / plane,
                    cell / geometry.stride(),
                    cell % geometry.stride(),
                    d.to_bits(),
                    c.to_bits(),
                ));
            }
            bad += 1;
        }
    }
    assert!(
        bad == 0,
        "{what}: {bad} of {} values differ:\n{}",
        core.len(),
        report.join("\n")
    );
}
