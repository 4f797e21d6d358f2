//! The GLSL twin of [`powerpost_core::detmath`], run on the device and compared bit for bit.
//!
//! `shaders/detmath.glsl` repeats every deterministic-math function of the core operation
//! for operation (`precise` float operations, the same constants, the same branches for
//! special values). `shaders/detmath_check.comp` evaluates all of them for a buffer of
//! input bit patterns; [`DetmathCheck::run`] returns the results in the order of
//! [`FUNCTIONS`], and [`cpu_reference`] computes the same values with the core, so a caller
//! (the tests, or a user checking a new GPU) can compare them bit for bit.

use powerpost_core::detmath;

use crate::{Gpu, GpuError, Kernel};

/// Names of the functions the check shader evaluates, in output order.
pub const FUNCTIONS: [&str; 17] = [
    "exp",
    "exp2",
    "ln",
    "log2",
    "sin",
    "cos",
    "recip",
    "rsqrt",
    "sqrt",
    "tanh",
    "silu",
    "sigmoid",
    "floor",
    "div",
    "sin_cos.0",
    "sin_cos.1",
    "silu_affine",
];

/// Scale of the `silu_affine` check (`silu(x·scale + shift)`).
pub const AFFINE_SCALE: f32 = 0.6;
/// Shift of the `silu_affine` check.
pub const AFFINE_SHIFT: f32 = -0.125;

/// Work-group size of the check shader (`local_size_x`).
const GROUP: usize = 64;

/// Most inputs per dispatch (keeps the output buffer at 17 × 4 MiB × 4 bytes and the
/// group count below Vulkan's guaranteed 65 535).
pub const MAX_INPUTS: usize = 1 << 22;

/// The core's value of function `f` (index into [`FUNCTIONS`]) for input `x`; `x2` is the
/// second operand of `div` (the shader uses the input at the mirrored position `n − 1 − i`).
///
/// # Panics
/// If `f >= FUNCTIONS.len()`.
pub fn cpu_reference(f: usize, x: f32, x2: f32) -> f32 {
    match f {
        0 => detmath::exp(x),
        1 => detmath::exp2(x),
        2 => detmath::ln(x),
        3 => detmath::log2(x),
        4 => detmath::sin(x),
        5 => detmath::cos(x),
        6 => detmath::recip(x),
        7 => detmath::rsqrt(x),
        8 => detmath::sqrt(x),
        9 => detmath::tanh(x),
        10 => detmath::silu(x),
        11 => detmath::sigmoid(x),
        12 => detmath::floor(x),
        13 => detmath::div(x, x2),
        14 => detmath::sin_cos(x).0,
        15 => detmath::sin_cos(x).1,
        16 => {
            let mut out = [0.0f32];
            detmath::silu_affine(&[x], AFFINE_SCALE, AFFINE_SHIFT, &mut out);
            out[0]
        }
        _ => panic!("no detmath function {f}"),
    }
}

/// The check shader's pipeline.
pub struct DetmathCheck {
    kernel: Kernel,
}

impl DetmathCheck {
    /// Builds the pipeline on `gpu`.
    ///
    /// # Errors
    /// [`GpuError::ShadersNotBuilt`] if the crate was built without `glslc`;
    /// [`GpuError::Vulkan`] if the driver rejects the shader.
    pub fn new(gpu: &Gpu) -> Result<Self, GpuError> {
        Ok(Self {
            kernel: Kernel::new(gpu, spirv!("detmath_check"))?,
        })
    }

    /// Evaluates every function of [`FUNCTIONS`] for the inputs with bit patterns
    /// `x_bits` on the device. Returns `FUNCTIONS.len() · n` result bit patterns, function
    /// by function: entry `f·n + i` is function `f` of input `i` (`div` takes
    /// `x_bits[n − 1 − i]` as its divisor).
    ///
    /// # Errors
    /// [`GpuError::TooLarge`] for more than [`MAX_INPUTS`] inputs (or none);
    /// [`GpuError::Vulkan`] if the device fails.
    pub fn run(&self, x_bits: &[u32]) -> Result<Vec<u32>, GpuError> {
        let n = x_bits.len();
        if n == 0 || n > MAX_INPUTS {
            return Err(GpuError::TooLarge {
                what: "detmath check inputs",
                len: n,
                max: MAX_INPUTS,
            });
        }
        let input = self.kernel.gpu().upload(x_bits)?;
        let output = self.kernel.gpu().output(FUNCTIONS.len() * n)?;
        self.kernel
            .dispatch(&[input, output.clone()], n.div_ceil(GROUP) as u32)?;
        let guard = output
            .read()
            .map_err(crate::error::vk("reading the results back"))?;
        Ok(guard.to_vec())
    }
}
