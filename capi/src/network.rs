//! The score network and posterior sampling: presets, weights, normalisation, the sampler
//! configuration and [`powerpost_draw_sample`].
//!
//! ## Flow
//! 1. `powerpost_weights_inspect(bytes)` says which preset a weights file was made for and
//!    the normalisation stored in its metadata.
//! 2. `powerpost_network_params_len(preset)` floats, filled by
//!    `powerpost_network_load_weights` (f16 widened exactly to f32). The parameters are
//!    read-only from then on and may be shared by any number of threads.
//! 3. The raw RTM image goes through `powerpost_rtm_to_network`.
//! 4. `powerpost_draw_sample` with a scratch buffer of `powerpost_sample_scratch_len`
//!    floats writes one sample in network units; `powerpost_network_to_velocity` turns it
//!    into km/s.
//!
//! Sample `i` of seed `s` is the same bits whatever else is drawn, in any order, on any
//! thread, so callers parallelise over `sample_index` with one scratch buffer per thread.

use core::ffi::c_void;

use powerpost_core::error::check_len;
use powerpost_core::exec::Serial;
use powerpost_core::normalize::Normalization;
use powerpost_core::posterior::{draw_sample, sampling_scratch_len, PosteriorRequest};
use powerpost_core::safetensors::SafeTensors;
use powerpost_core::sampler::{network_evaluations, Predictor, SamplerConfig, SamplerKind};
use powerpost_core::unet::architecture_of;
use powerpost_core::unet::{load_params, params_len, workspace_len, UNet, UNetConfig};
use powerpost_core::Error;

use crate::buffers::{self, disjoint, Span};
use crate::status::{guard, guard_len, powerpost_error, powerpost_status, Failure};

/// The network architectures this library can run.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum powerpost_network_preset {
    /// The shipped architecture (`weights/powerpost-edge.safetensors`): base 32 channels,
    /// 3 levels; image sides must be multiples of 4.
    POWERPOST_NETWORK_DEFAULT = 0,
    /// A small architecture for tests: base 8 channels, 2 levels; sides multiples of 2.
    POWERPOST_NETWORK_TINY = 1,
    /// The default architecture conditioned on the background model as well as the RTM
    /// image (`powerpost train --network default-background`): a sample request gives
    /// `background` too.
    POWERPOST_NETWORK_DEFAULT_BACKGROUND = 2,
    /// The tiny architecture conditioned on the background model as well.
    POWERPOST_NETWORK_TINY_BACKGROUND = 3,
}

/// Presets and their configurations, in code order.
const PRESETS: [(powerpost_network_preset, UNetConfig); 4] = [
    (
        powerpost_network_preset::POWERPOST_NETWORK_DEFAULT,
        UNetConfig::DEFAULT,
    ),
    (
        powerpost_network_preset::POWERPOST_NETWORK_TINY,
        UNetConfig::TINY,
    ),
    (
        powerpost_network_preset::POWERPOST_NETWORK_DEFAULT_BACKGROUND,
        UNetConfig::DEFAULT.with_background(),
    ),
    (
        powerpost_network_preset::POWERPOST_NETWORK_TINY_BACKGROUND,
        UNetConfig::TINY.with_background(),
    ),
];

/// Largest image side accepted (keeps every buffer length far from overflow).
pub const POWERPOST_MAX_IMAGE_SIDE: usize = 1 << 14;

/// The configuration of preset code `preset`.
///
/// # Errors
/// [`Error::InvalidArgument`] (`"preset"`) for an unknown code.
pub fn network_config(preset: i32) -> Result<UNetConfig, Failure> {
    PRESETS
        .iter()
        .find(|(p, _)| *p as i32 == preset)
        .map(|(_, c)| *c)
        .ok_or(Failure::Core(Error::InvalidArgument {
            name: "preset",
            expected: "a powerpost_network_preset (POWERPOST_NETWORK_DEFAULT, _TINY, _DEFAULT_BACKGROUND or _TINY_BACKGROUND)",
        }))
}

/// Checks an image size for `config` and returns `height × width`.
fn image_len(config: &UNetConfig, height: usize, width: usize) -> Result<usize, Failure> {
    let m = config.size_multiple();
    let side_ok = |s: usize| s > 0 && s.is_multiple_of(m) && s <= POWERPOST_MAX_IMAGE_SIDE;
    if !(side_ok(height) && side_ok(width)) {
        return Err(Failure::Core(Error::InvalidArgument {
            name: "height/width",
            expected:
                "positive multiples of 2^(levels-1) (4 for the default network), at most 16384",
        }));
    }
    Ok(height * width)
}

/// Floats in the parameter buffer of `preset` (0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_network_params_len(preset: i32) -> usize {
    guard_len(|| Ok(params_len(&network_config(preset)?)))
}

/// How velocities and RTM images map to the network's values (see the core's
/// `normalize` module): `x = (v − velocity_center_km_s) × recip(velocity_half_range_km_s)`,
/// `v = x × velocity_half_range_km_s + velocity_center_km_s`, `y = rtm × rtm_scale`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_normalization {
    /// Velocity mapped to 0 (km/s).
    pub velocity_center_km_s: f32,
    /// Velocity distance from the centre mapped to ±1 (km/s, > 0).
    pub velocity_half_range_km_s: f32,
    /// Factor applied to the raw RTM image (finite, ≠ 0).
    pub rtm_scale: f32,
}

impl From<Normalization> for powerpost_normalization {
    fn from(n: Normalization) -> Self {
        Self {
            velocity_center_km_s: n.velocity_center_km_s,
            velocity_half_range_km_s: n.velocity_half_range_km_s,
            rtm_scale: n.rtm_scale,
        }
    }
}

impl From<powerpost_normalization> for Normalization {
    fn from(n: powerpost_normalization) -> Self {
        Self {
            velocity_center_km_s: n.velocity_center_km_s,
            velocity_half_range_km_s: n.velocity_half_range_km_s,
            rtm_scale: n.rtm_scale,
        }
    }
}

/// The default normalisation (centre 3.0 km/s, half-range 1.5 km/s, RTM scale 1), used
/// when a weights file carries none.
#[no_mangle]
pub extern "C" fn powerpost_normalization_default() -> powerpost_normalization {
    Normalization::default().into()
}

/// What a weights file was made for.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_weights_info {
    /// The network preset (a `powerpost_network_preset` code).
    pub preset: i32,
    /// The normalisation from the file's metadata (defaults for missing keys).
    pub normalization: powerpost_normalization,
}

/// Reads which preset a safetensors weights buffer was made for (its
/// `powerpost.architecture` metadata) and its normalisation, into `*info`.
///
/// # Errors
/// `POWERPOST_WEIGHTS` for a malformed file; `POWERPOST_ARCHITECTURE_MISMATCH` if the
/// architecture metadata is missing or names no preset of this library;
/// `POWERPOST_INVALID_ARGUMENT` for malformed normalisation metadata;
/// `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `bytes` points to `bytes_len` readable bytes (or is NULL with length 0); `info` points
/// to writable memory for one `powerpost_weights_info`; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_weights_inspect(
    bytes: *const u8,
    bytes_len: usize,
    info: *mut powerpost_weights_info,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            if info.is_null() {
                return Err(Failure::NullPointer { name: "info" });
            }
            disjoint(&[
                Span::input("bytes", bytes, bytes_len),
                Span::output("info", info, 1),
            ])?;
            let bytes = buffers::input("bytes", bytes, bytes_len)?;
            let file = SafeTensors::parse(bytes).map_err(Error::from)?;
            let config = architecture_of(bytes)?;
            let preset = PRESETS
                .iter()
                .find(|(_, c)| *c == config)
                .map(|(p, _)| *p as i32)
                .ok_or(Error::ArchitectureMismatch)?;
            let normalization = Normalization::from_safetensors(&file)?.into();
            buffers::out_value(
                "info",
                info,
                powerpost_weights_info {
                    preset,
                    normalization,
                },
            )
        })
    }
}

/// Checks a safetensors weights buffer against `preset` and widens its f16 tensors into
/// `params` (`powerpost_network_params_len(preset)` floats), exactly.
///
/// # Errors
/// `POWERPOST_WEIGHTS` naming the tensor for a malformed file, a missing tensor, a wrong
/// dtype or shape or a non-finite value; `POWERPOST_ARCHITECTURE_MISMATCH` if the file was
/// made for another architecture; `POWERPOST_BUFFER_LENGTH` for a mis-sized `params`;
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `bytes` points to `bytes_len` readable bytes and `params` to `params_len` writable
/// floats (each may be NULL with length 0); they do not overlap; `error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_network_load_weights(
    preset: i32,
    bytes: *const u8,
    bytes_len: usize,
    params: *mut f32,
    params_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let config = network_config(preset)?;
            disjoint(&[
                Span::input("bytes", bytes, bytes_len),
                Span::output("params", params, params_len),
            ])?;
            let bytes = buffers::input("bytes", bytes, bytes_len)?;
            let params = buffers::output("params", params, params_len)?;
            load_params(&config, bytes, params)?;
            Ok(())
        })
    }
}

/// One of the three element-wise normalisation maps.
#[derive(Clone, Copy)]
enum Map {
    VelocityToNetwork,
    NetworkToVelocity,
    RtmToNetwork,
}

/// Shared body of the three normalisation functions.
///
/// # Safety
/// As each of them.
unsafe fn normalize(
    map: Map,
    normalization: *const powerpost_normalization,
    input: *const f32,
    input_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let n: Normalization = (*buffers::value("normalization", normalization)?).into();
            disjoint(&[
                Span::input("input", input, input_len),
                Span::output("out", out, out_len),
            ])?;
            let input = buffers::input("input", input, input_len)?;
            let out = buffers::output("out", out, out_len)?;
            match map {
                Map::VelocityToNetwork => n.velocity_to_network(input, out)?,
                Map::NetworkToVelocity => n.network_to_velocity(input, out)?,
                Map::RtmToNetwork => n.rtm_to_network(input, out)?,
            }
            Ok(())
        })
    }
}

/// Velocities (km/s) to network values: `out[i] = (velocity[i] − c) × recip(h)`.
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless `out_len == velocity_len`;
/// `POWERPOST_INVALID_ARGUMENT` for an invalid normalisation or overlapping buffers;
/// `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `normalization` points to a `powerpost_normalization`; `velocity_km_s` to
/// `velocity_len` readable floats; `out` to `out_len` writable floats; `error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_velocity_to_network(
    normalization: *const powerpost_normalization,
    velocity_km_s: *const f32,
    velocity_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: forwarded.
    unsafe {
        normalize(
            Map::VelocityToNetwork,
            normalization,
            velocity_km_s,
            velocity_len,
            out,
            out_len,
            error,
        )
    }
}

/// Network values to velocities (km/s): `out[i] = x[i] × h + c` (a product, then a sum).
///
/// # Errors
/// As [`powerpost_velocity_to_network`].
///
/// # Safety
/// As [`powerpost_velocity_to_network`], with `x` holding `x_len` floats.
#[no_mangle]
pub unsafe extern "C" fn powerpost_network_to_velocity(
    normalization: *const powerpost_normalization,
    x: *const f32,
    x_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: forwarded.
    unsafe {
        normalize(
            Map::NetworkToVelocity,
            normalization,
            x,
            x_len,
            out,
            out_len,
            error,
        )
    }
}

/// A raw RTM image to the network's condition: `out[i] = rtm[i] × rtm_scale`.
///
/// # Errors
/// As [`powerpost_velocity_to_network`].
///
/// # Safety
/// As [`powerpost_velocity_to_network`], with `rtm` holding `rtm_len` floats.
#[no_mangle]
pub unsafe extern "C" fn powerpost_rtm_to_network(
    normalization: *const powerpost_normalization,
    rtm: *const f32,
    rtm_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: forwarded.
    unsafe {
        normalize(
            Map::RtmToNetwork,
            normalization,
            rtm,
            rtm_len,
            out,
            out_len,
            error,
        )
    }
}

/// The sampling algorithms (see the core's `sampler` module for each one's definition).
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum powerpost_sampler_kind {
    /// EDM Algorithm 1: deterministic Heun, 2N − 1 network evaluations.
    POWERPOST_SAMPLER_HEUN = 0,
    /// Deterministic Euler on the probability-flow ODE, N evaluations.
    POWERPOST_SAMPLER_EULER = 1,
    /// EDM Algorithm 2 (stochastic churn + Heun), 2N − 1 evaluations.
    POWERPOST_SAMPLER_EDM_STOCHASTIC = 2,
    /// DPM-Solver++(2M), N evaluations.
    POWERPOST_SAMPLER_DPMPP_2M = 3,
    /// Euler–Maruyama on the reverse VE SDE, N evaluations.
    POWERPOST_SAMPLER_EULER_MARUYAMA = 4,
    /// score_sde predictor–corrector, N·(M + 1) evaluations.
    POWERPOST_SAMPLER_PREDICTOR_CORRECTOR = 5,
    /// Tempered-transport Heun + M Langevin steps per level: the true power-scaled
    /// posterior as M grows; N·M + 2N − 1 evaluations.
    POWERPOST_SAMPLER_EXACT_POWER = 6,
}

/// Kind codes in core order.
const KINDS: [(powerpost_sampler_kind, SamplerKind); 7] = [
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_HEUN,
        SamplerKind::Heun,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_EULER,
        SamplerKind::Euler,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_EDM_STOCHASTIC,
        SamplerKind::EdmStochastic,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_DPMPP_2M,
        SamplerKind::DpmSolverPp2M,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_EULER_MARUYAMA,
        SamplerKind::EulerMaruyama,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_PREDICTOR_CORRECTOR,
        SamplerKind::PredictorCorrector,
    ),
    (
        powerpost_sampler_kind::POWERPOST_SAMPLER_EXACT_POWER,
        SamplerKind::ExactPower,
    ),
];

/// The predictor of `POWERPOST_SAMPLER_PREDICTOR_CORRECTOR`.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum powerpost_predictor {
    /// score_sde's reverse-diffusion predictor.
    POWERPOST_PREDICTOR_REVERSE_DIFFUSION = 0,
    /// Euler–Maruyama step of the reverse VE SDE.
    POWERPOST_PREDICTOR_EULER_MARUYAMA = 1,
}

/// The core sampler kind of code `kind`.
fn core_sampler_kind(kind: i32) -> Result<SamplerKind, Failure> {
    KINDS
        .iter()
        .find(|(c, _)| *c as i32 == kind)
        .map(|(_, k)| *k)
        .ok_or(Failure::Core(Error::InvalidArgument {
            name: "sampler.kind",
            expected: "a powerpost_sampler_kind code (0 to 6)",
        }))
}

/// Sampler and noise schedule (Karras σ schedule from `sigma_max` down to `sigma_min`
/// in `steps` levels). Fields a kind does not use are ignored by it but still validated.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_sampler {
    /// A `powerpost_sampler_kind` code.
    pub kind: i32,
    /// Number of noise levels N, 1 to 100000.
    pub steps: usize,
    /// Smallest positive noise level σ_min (> 0).
    pub sigma_min: f32,
    /// Largest noise level σ_max (> σ_min).
    pub sigma_max: f32,
    /// Karras schedule exponent ρ (> 0).
    pub rho: f32,
    /// EDM stochastic: total churn S_churn (≥ 0).
    pub s_churn: f32,
    /// EDM stochastic: churn only where σ ≥ S_tmin.
    pub s_tmin: f32,
    /// EDM stochastic: churn only where σ ≤ S_tmax (may be +infinity).
    pub s_tmax: f32,
    /// EDM stochastic: noise inflation S_noise (≥ 0).
    pub s_noise: f32,
    /// Predictor–corrector: a `powerpost_predictor` code.
    pub predictor: i32,
    /// Langevin corrector signal-to-noise ratio (> 0).
    pub snr: f32,
    /// Langevin corrector steps per noise level M (≤ 100000).
    pub corrector_steps: usize,
}

impl From<SamplerConfig> for powerpost_sampler {
    fn from(c: SamplerConfig) -> Self {
        let kind = KINDS
            .iter()
            .find(|(_, k)| *k == c.kind)
            .map_or(-1, |(code, _)| *code as i32);
        Self {
            kind,
            steps: c.steps,
            sigma_min: c.sigma_min,
            sigma_max: c.sigma_max,
            rho: c.rho,
            s_churn: c.s_churn,
            s_tmin: c.s_tmin,
            s_tmax: c.s_tmax,
            s_noise: c.s_noise,
            predictor: match c.predictor {
                Predictor::ReverseDiffusion => {
                    powerpost_predictor::POWERPOST_PREDICTOR_REVERSE_DIFFUSION as i32
                }
                Predictor::EulerMaruyama => {
                    powerpost_predictor::POWERPOST_PREDICTOR_EULER_MARUYAMA as i32
                }
            },
            snr: c.snr,
            corrector_steps: c.corrector_steps,
        }
    }
}

impl powerpost_sampler {
    /// The core configuration (kind and predictor codes checked; the rest is validated
    /// by the core when sampling).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an unknown kind or predictor code.
    pub fn to_core(&self) -> Result<SamplerConfig, Failure> {
        let predictor = match self.predictor {
            0 => Predictor::ReverseDiffusion,
            1 => Predictor::EulerMaruyama,
            _ => {
                return Err(Failure::Core(Error::InvalidArgument {
                    name: "sampler.predictor",
                    expected: "a powerpost_predictor code (0 or 1)",
                }))
            }
        };
        Ok(SamplerConfig {
            kind: core_sampler_kind(self.kind)?,
            steps: self.steps,
            sigma_min: self.sigma_min,
            sigma_max: self.sigma_max,
            rho: self.rho,
            s_churn: self.s_churn,
            s_tmin: self.s_tmin,
            s_tmax: self.s_tmax,
            s_noise: self.s_noise,
            predictor,
            snr: self.snr,
            corrector_steps: self.corrector_steps,
        })
    }
}

/// The core's default sampler: Heun, 18 steps, σ ∈ [0.002, 80], ρ = 7, EDM's churn
/// settings (40, 0.05, 50, 1.003), snr 0.16, one corrector step. Change `kind`, `steps`
/// and whatever else is needed.
#[no_mangle]
pub extern "C" fn powerpost_sampler_default() -> powerpost_sampler {
    SamplerConfig::default().into()
}

/// Network evaluations one sample costs with `*sampler` (0 for NULL or an invalid kind).
/// Each is one batch-of-2 call, or batch-of-1 when λ = 0 or α = λ.
///
/// # Safety
/// `sampler` is NULL or points to a `powerpost_sampler`.
#[no_mangle]
pub unsafe extern "C" fn powerpost_network_evaluations(sampler: *const powerpost_sampler) -> usize {
    guard_len(|| {
        // SAFETY: forwarded.
        let sampler = unsafe { buffers::value("sampler", sampler) }?;
        Ok(network_evaluations(&sampler.to_core()?))
    })
}

/// Progress callback: called with `(context, done, total)` after each of the `total`
/// sampler steps, on the calling thread. It must return normally (no `longjmp` out of
/// it) and must not touch the call's `sample` or `scratch` buffers.
#[allow(non_camel_case_types)]
pub type powerpost_progress_fn =
    Option<unsafe extern "C" fn(context: *mut c_void, done: usize, total: usize)>;

/// What to draw.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct powerpost_sample_request {
    /// Image rows (a multiple of 4 for the default network).
    pub height: usize,
    /// Image columns (a multiple of 4 for the default network).
    pub width: usize,
    /// The RTM image in network units (`powerpost_rtm_to_network`), `height × width`
    /// row-major, or NULL to sample the power-scaled prior (then `lambda` must be 0).
    pub rtm_image: *const f32,
    /// Values at `rtm_image` (`height × width`; ignored when it is NULL).
    pub rtm_image_len: usize,
    /// Likelihood power λ ≥ 0 (finite).
    pub lambda: f32,
    /// Prior power α > 0 (finite).
    pub alpha: f32,
    /// Sampler and schedule.
    pub sampler: powerpost_sampler,
    /// Run seed.
    pub seed: u64,
    /// Index of the sample: its own random stream of `seed`.
    pub sample_index: u64,
    /// Called after every sampler step, or NULL.
    pub progress: powerpost_progress_fn,
    /// Passed to `progress` unchanged.
    pub progress_context: *mut c_void,
    /// The background model in network units (`powerpost_velocity_to_network` of the smooth
    /// velocity model the RTM image was migrated in), `height × width`: required with an
    /// RTM image by the `*_BACKGROUND` presets, NULL otherwise.
    pub background: *const f32,
    /// Values at `background` (`height × width`; ignored when it is NULL).
    pub background_len: usize,
}

/// Scratch floats [`powerpost_draw_sample`] needs for `preset`, a `height × width` image
/// and sampler kind `sampler_kind` (0 for an unknown preset or kind, or an invalid size).
#[no_mangle]
pub extern "C" fn powerpost_sample_scratch_len(
    preset: i32,
    height: usize,
    width: usize,
    sampler_kind: i32,
) -> usize {
    guard_len(|| {
        let config = network_config(preset)?;
        image_len(&config, height, width)?;
        Ok(scratch_len(
            &config,
            height,
            width,
            core_sampler_kind(sampler_kind)?,
        ))
    })
}

/// The core's `posterior_scratch_len`, from the configuration alone (the core's function
/// takes a network, which needs parameters): the denoiser workspace (both branches) and
/// the sampling scratch; for a network that takes the background, then room for the
/// stacked condition (RTM image and background, `2 × height × width`).
fn scratch_len(config: &UNetConfig, height: usize, width: usize, kind: SamplerKind) -> usize {
    core_scratch_len(config, height, width, kind) + condition_scratch_len(config, height, width)
}

/// The part of [`scratch_len`] that the core's `draw_sample` takes.
fn core_scratch_len(config: &UNetConfig, height: usize, width: usize, kind: SamplerKind) -> usize {
    workspace_len(config, height, width, 2)
        + sampling_scratch_len(height, width, &SamplerConfig::with_kind(kind))
}

/// Scratch for the stacked condition: none for a network of the RTM image alone.
fn condition_scratch_len(config: &UNetConfig, height: usize, width: usize) -> usize {
    if config.takes_background() {
        config.condition_len(height, width)
    } else {
        0
    }
}

/// Draws one sample of the power-scaled posterior p(y|x)^λ·p(x)^α (or of the power-scaled
/// prior when `request->rtm_image` is NULL) into `sample` (`height × width` floats,
/// network units; `powerpost_network_to_velocity` gives km/s).
///
/// Runs on the calling thread and allocates nothing. The result depends only on the
/// parameters, the request and the library version: the same bits as the Rust API
/// (`powerpost_core::posterior::draw_sample`) and the `powerpost sample` command for the
/// same inputs, on any machine and whatever other samples are drawn, in any order or
/// thread. Calls are independent: run them on several threads at once (each with its own
/// `scratch` and `sample`; `params` may be shared) to parallelise over `sample_index`.
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset, sampler kind or predictor, an
/// invalid size, λ, α or schedule field (NaN included), λ ≠ 0 without an RTM image,
/// an RTM image without the `background` a `*_BACKGROUND` preset needs, a `background`
/// for any other preset or for the prior, non-finite condition values, or overlapping
/// buffers; `POWERPOST_BUFFER_LENGTH` for a mis-sized `params`, `rtm_image`,
/// `background`, `sample` or `scratch`
/// (`powerpost_sample_scratch_len`); `POWERPOST_NON_FINITE` if the sample diverged
/// (`sample` then holds the diverged values); `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `params` points to `params_len` readable floats, `request` to a
/// `powerpost_sample_request` whose `rtm_image` and `background` are each NULL or point
/// to `rtm_image_len` / `background_len` readable floats, `sample` to `sample_len` and `scratch` to `scratch_len` writable
/// floats (each buffer may be NULL with length 0); no other thread writes the inputs
/// during the call; `progress`, if set, is safe to call with `progress_context`; `error`
/// is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_draw_sample(
    preset: i32,
    params: *const f32,
    params_len: usize,
    request: *const powerpost_sample_request,
    sample: *mut f32,
    sample_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let config = network_config(preset)?;
            let request = *buffers::value("request", request)?;
            let sampler = request.sampler.to_core()?;
            let n = image_len(&config, request.height, request.width)?;
            let rtm_len = if request.rtm_image.is_null() {
                0
            } else {
                check_len("request.rtm_image", request.rtm_image_len, n)?;
                request.rtm_image_len
            };
            let background_len = if request.background.is_null() {
                0
            } else {
                check_len("request.background", request.background_len, n)?;
                request.background_len
            };
            match (
                config.takes_background(),
                request.rtm_image.is_null(),
                request.background.is_null(),
            ) {
                (true, false, true) => {
                    return Err(Failure::Core(Error::InvalidArgument {
                        name: "request.background",
                        expected: "the background model (network units) with the RTM image: the preset is conditioned on both",
                    }))
                }
                (false, _, false) | (_, true, false) => {
                    return Err(Failure::Core(Error::InvalidArgument {
                        name: "request.background",
                        expected: "NULL: only a *_BACKGROUND preset with an RTM image takes one",
                    }))
                }
                _ => {}
            }
            disjoint(&[
                Span::input("params", params, params_len),
                Span::input("request.rtm_image", request.rtm_image, rtm_len),
                Span::input("request.background", request.background, background_len),
                Span::output("sample", sample, sample_len),
                Span::output("scratch", scratch, scratch_len),
            ])?;
            let params = buffers::input("params", params, params_len)?;
            let rtm_image =
                buffers::optional_input("request.rtm_image", request.rtm_image, rtm_len)?;
            let background =
                buffers::optional_input("request.background", request.background, background_len)?;
            let sample = buffers::output("sample", sample, sample_len)?;
            let scratch = buffers::output("scratch", scratch, scratch_len)?;
            let kind = sampler.kind;
            check_len(
                "scratch",
                scratch.len(),
                self::scratch_len(&config, request.height, request.width, kind),
            )?;
            // The stacked condition (RTM image, then background) in the scratch's tail.
            let (scratch, condition_buf) = scratch.split_at_mut(core_scratch_len(
                &config,
                request.height,
                request.width,
                kind,
            ));
            let condition = match (rtm_image, background) {
                (Some(rtm), Some(background)) => {
                    let (first, second) = condition_buf.split_at_mut(n);
                    first.copy_from_slice(rtm);
                    second.copy_from_slice(background);
                    Some(&condition_buf[..])
                }
                (rtm, _) => rtm,
            };
            let net = UNet::new(config, params)?;
            let core_request = PosteriorRequest {
                height: request.height,
                width: request.width,
                condition,
                lambda: request.lambda,
                alpha: request.alpha,
                sampler,
                seed: request.seed,
                sample_index: request.sample_index,
            };
            let mut progress = |done: usize, total: usize| {
                if let Some(callback) = request.progress {
                    // SAFETY (inside the outer `unsafe`): the caller promises the callback
                    // is safe to call with this context.
                    callback(request.progress_context, done, total);
                }
            };
            draw_sample(&net, &Serial, &core_request, sample, scratch, &mut progress)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerpost_core::posterior::posterior_scratch_len;
    use powerpost_core::unet::init_random;

    #[test]
    fn scratch_len_matches_the_core() {
        for (preset, config) in PRESETS {
            let mut params = vec![0.0f32; params_len(&config)];
            init_random(&config, 1, &mut params).unwrap();
            let net = UNet::new(config, &params).unwrap();
            for (h, w) in [(4, 4), (64, 128), (32, 8)] {
                for (code, kind) in KINDS {
                    let sampler = SamplerConfig::with_kind(kind);
                    // The core's scratch, then the stacked condition where there are
                    // two planes.
                    let condition = if config.takes_background() {
                        2 * h * w
                    } else {
                        0
                    };
                    assert_eq!(
                        powerpost_sample_scratch_len(preset as i32, h, w, code as i32),
                        posterior_scratch_len(&net, h, w, &sampler) + condition,
                        "{preset:?} {h}x{w} {kind:?}"
                    );
                }
            }
            assert_eq!(powerpost_network_params_len(preset as i32), params.len());
        }
        assert_eq!(
            powerpost_sample_scratch_len(0, 6, 8, 0),
            0,
            "not a multiple of 4"
        );
        assert_eq!(powerpost_sample_scratch_len(0, 0, 8, 0), 0);
        assert_eq!(powerpost_sample_scratch_len(0, 8, 8, 7), 0, "unknown kind");
        assert_eq!(
            powerpost_sample_scratch_len(4, 8, 8, 0),
            0,
            "unknown preset"
        );
        assert_eq!(
            powerpost_sample_scratch_len(0, 8, POWERPOST_MAX_IMAGE_SIDE * 2, 0),
            0
        );
        assert_eq!(powerpost_network_params_len(-1), 0);
    }

    #[test]
    fn sampler_round_trips_through_the_c_struct() {
        for (code, kind) in KINDS {
            let mut core = SamplerConfig::with_kind(kind);
            core.predictor = Predictor::EulerMaruyama;
            let c: powerpost_sampler = core.into();
            assert_eq!(c.kind, code as i32);
            assert_eq!(c.to_core().unwrap(), core);
        }
        let mut bad = powerpost_sampler_default();
        bad.kind = 7;
        assert!(matches!(
            bad.to_core(),
            Err(Failure::Core(Error::InvalidArgument {
                name: "sampler.kind",
                ..
            }))
        ));
        bad.kind = 0;
        bad.predictor = 2;
        assert!(matches!(
            bad.to_core(),
            Err(Failure::Core(Error::InvalidArgument {
                name: "sampler.predictor",
                ..
            }))
        ));
        let default = powerpost_sampler_default();
        // SAFETY: a valid sampler.
        assert_eq!(unsafe { powerpost_network_evaluations(&default) }, 35);
        // SAFETY: NULL is allowed.
        assert_eq!(
            unsafe { powerpost_network_evaluations(core::ptr::null()) },
            0
        );
    }

    /// DPM-Solver++(2M) with 2 steps.
    fn two_step_sampler() -> SamplerConfig {
        let mut sampler = SamplerConfig::with_kind(SamplerKind::DpmSolverPp2M);
        sampler.steps = 2;
        sampler
    }

    /// `powerpost_draw_sample` of `preset` with `rtm`/`background` (NULL when `None`):
    /// the sample, or the error's status and field name.
    fn c_draw(
        preset: powerpost_network_preset,
        params: &[f32],
        (h, w): (usize, usize),
        rtm: Option<&[f32]>,
        background: Option<&[f32]>,
    ) -> Result<Vec<f32>, (powerpost_status, String)> {
        let config = network_config(preset as i32).unwrap();
        let sampler: powerpost_sampler = two_step_sampler().into();
        let request = powerpost_sample_request {
            height: h,
            width: w,
            rtm_image: rtm.map_or(core::ptr::null(), <[f32]>::as_ptr),
            rtm_image_len: rtm.map_or(0, <[f32]>::len),
            lambda: if rtm.is_some() { 1.5 } else { 0.0 },
            alpha: 1.0,
            sampler,
            seed: 3,
            sample_index: 2,
            progress: None,
            progress_context: core::ptr::null_mut(),
            background: background.map_or(core::ptr::null(), <[f32]>::as_ptr),
            background_len: background.map_or(0, <[f32]>::len),
        };
        let mut sample = vec![0.0f32; h * w];
        let mut scratch = vec![0.0f32; scratch_len(&config, h, w, SamplerKind::DpmSolverPp2M)];
        let mut error = crate::status::powerpost_error::empty(powerpost_status::POWERPOST_OK);
        // SAFETY: every buffer is a live, correctly sized Rust allocation.
        let status = unsafe {
            powerpost_draw_sample(
                preset as i32,
                params.as_ptr(),
                params.len(),
                &request,
                sample.as_mut_ptr(),
                sample.len(),
                scratch.as_mut_ptr(),
                scratch.len(),
                &mut error,
            )
        };
        if status == powerpost_status::POWERPOST_OK {
            Ok(sample)
        } else {
            // SAFETY: the library writes a NUL-terminated name.
            let name = unsafe { core::ffi::CStr::from_ptr(error.name.as_ptr()) };
            Err((status, name.to_string_lossy().into_owned()))
        }
    }

    #[test]
    fn background_presets_sample_the_stacked_condition() {
        use powerpost_core::posterior::draw_sample;
        let preset = powerpost_network_preset::POWERPOST_NETWORK_TINY_BACKGROUND;
        let config = network_config(preset as i32).unwrap();
        assert!(config.takes_background());
        let mut params = vec![0.0f32; params_len(&config)];
        init_random(&config, 4, &mut params).unwrap();
        let (h, w) = (8, 12);
        let n = h * w;
        let rtm: Vec<f32> = (0..n).map(|k| ((k * 37) % 11) as f32 / 5.0 - 1.0).collect();
        let background: Vec<f32> = (0..n).map(|k| (k / w) as f32 / 8.0 - 0.5).collect();
        let c = c_draw(preset, &params, (h, w), Some(&rtm), Some(&background)).unwrap();
        // The Rust API with the stacked condition.
        let stacked: Vec<f32> = rtm.iter().chain(&background).copied().collect();
        let sampler = two_step_sampler();
        let request = PosteriorRequest {
            height: h,
            width: w,
            condition: Some(&stacked),
            lambda: 1.5,
            alpha: 1.0,
            sampler,
            seed: 3,
            sample_index: 2,
        };
        let net = UNet::new(config, &params).unwrap();
        let mut rust = vec![0.0f32; n];
        let mut scratch = vec![0.0f32; posterior_scratch_len(&net, h, w, &sampler)];
        draw_sample(
            &net,
            &Serial,
            &request,
            &mut rust,
            &mut scratch,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(
            c.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            rust.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // The prior needs no background.
        c_draw(preset, &params, (h, w), None, None).unwrap();
        // Refusals, naming the field.
        let invalid = |r: Result<Vec<f32>, (powerpost_status, String)>| {
            let (status, name) = r.unwrap_err();
            assert_eq!(status, powerpost_status::POWERPOST_INVALID_ARGUMENT);
            assert_eq!(name, "request.background");
        };
        invalid(c_draw(preset, &params, (h, w), Some(&rtm), None));
        invalid(c_draw(preset, &params, (h, w), None, Some(&background)));
        let tiny = powerpost_network_preset::POWERPOST_NETWORK_TINY;
        let mut tiny_params = vec![0.0f32; params_len(&UNetConfig::TINY)];
        init_random(&UNetConfig::TINY, 4, &mut tiny_params).unwrap();
        invalid(c_draw(
            tiny,
            &tiny_params,
            (h, w),
            Some(&rtm),
            Some(&background),
        ));
        let (status, name) =
            c_draw(preset, &params, (h, w), Some(&rtm), Some(&background[1..])).unwrap_err();
        assert_eq!(status, powerpost_status::POWERPOST_BUFFER_LENGTH);
        assert_eq!(name, "request.background");
    }
}
