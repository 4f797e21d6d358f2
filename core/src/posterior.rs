//! Drawing samples from the power-scaled posterior p(y|x)^λ · p(x)^α with the network:
//! the one call the runner, the C ABI and other tools use.
//!
//! Sample `i` of a run seeded with `seed` uses RNG stream `i` of `seed`
//! ([`crate::rng::NoiseStream::new`]`(seed, i)`), so it is the same bits whether the run
//! draws 10 samples or 100, in any order, on any number of threads.

use crate::error::{check_len, Error};
use crate::exec::Executor;
use crate::power::{power_scaled_scratch_len, ConditionalDenoiser, PowerScaled};
use crate::rng::NoiseStream;
use crate::sampler::{sample_with_progress, sampler_scratch_len, SamplerConfig};
use crate::unet::denoiser::{network_denoiser_workspace_len, NetworkDenoiser};
use crate::unet::UNet;

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct PosteriorRequest<'a> {
    /// Image rows.
    pub height: usize,
    /// Image columns.
    pub width: usize,
    /// The normalised condition y: the RTM image (`height × width`), followed by the
    /// normalised background model when the network
    /// [takes it](crate::unet::UNetConfig::takes_background); or `None` to sample the
    /// power-scaled prior (requires `lambda == 0`).
    pub condition: Option<&'a [f32]>,
    /// Likelihood power λ ≥ 0.
    pub lambda: f32,
    /// Prior power α > 0.
    pub alpha: f32,
    /// Sampler and schedule.
    pub sampler: SamplerConfig,
    /// Run seed.
    pub seed: u64,
    /// Index of the sample (its RNG stream).
    pub sample_index: u64,
}

/// Scratch values [`draw_sample`] needs.
pub fn posterior_scratch_len(
    net: &UNet<'_>,
    height: usize,
    width: usize,
    sampler: &SamplerConfig,
) -> usize {
    network_denoiser_workspace_len(net, height, width)
        + sampling_scratch_len(height, width, sampler)
}

/// Scratch values [`draw_sample_with`] needs (the network's own workspace is the
/// denoiser's business).
pub fn sampling_scratch_len(height: usize, width: usize, sampler: &SamplerConfig) -> usize {
    let n = height * width;
    power_scaled_scratch_len(n) + sampler_scratch_len(sampler.kind, n)
}

/// Draws one sample (normalised velocity, `height × width`) into `out` with the core's
/// network on `exec`.
///
/// `progress(done, total)` is called after every sampler step.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid λ, α or sampler configuration, or λ > 0
/// without a condition; [`Error::BufferLength`] for mis-sized buffers; errors of the
/// network; [`Error::NonFinite`] if the sample diverged.
pub fn draw_sample(
    net: &UNet<'_>,
    exec: &dyn Executor,
    request: &PosteriorRequest<'_>,
    out: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    let (h, w) = (request.height, request.width);
    check_len(
        "scratch",
        scratch.len(),
        posterior_scratch_len(net, h, w, &request.sampler),
    )?;
    let (workspace, rest) = scratch.split_at_mut(network_denoiser_workspace_len(net, h, w));
    let network =
        NetworkDenoiser::new(net, exec, h, w, request.condition.unwrap_or(&[]), workspace)?;
    draw_sample_with(network, request, out, rest, progress)
}

/// Draws one sample as [`draw_sample`] does, with `network` evaluating the conditional
/// and unconditional denoisers (bound to the request's size and RTM image): the same
/// bits as [`draw_sample`] whenever `network` returns the core network's bits, as the
/// Vulkan backend does.
///
/// # Errors
/// As [`draw_sample`]; [`Error::BufferLength`] if `network` is not for
/// `height × width` images or `scratch` is not [`sampling_scratch_len`] long.
pub fn draw_sample_with<D: ConditionalDenoiser>(
    network: D,
    request: &PosteriorRequest<'_>,
    out: &mut [f32],
    scratch: &mut [f32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), Error> {
    let (h, w) = (request.height, request.width);
    check_len("sample", out.len(), h * w)?;
    check_len("network image", network.image_len(), h * w)?;
    check_len(
        "scratch",
        scratch.len(),
        sampling_scratch_len(h, w, &request.sampler),
    )?;
    if request.condition.is_none() && request.lambda != 0.0 {
        return Err(Error::InvalidArgument {
            name: "lambda",
            expected: "0 when no condition is given (prior sampling)",
        });
    }
    let (power_scratch, sampler_scratch) = scratch.split_at_mut(power_scaled_scratch_len(h * w));
    let mut denoiser = PowerScaled::new(network, request.lambda, request.alpha, power_scratch)?;
    let noise = NoiseStream::new(request.seed, request.sample_index);
    sample_with_progress(
        &mut denoiser,
        &request.sampler,
        noise,
        out,
        sampler_scratch,
        progress,
    )
}
