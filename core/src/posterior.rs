//! Drawing samples from the power-scaled posterior p(y|x)^λ · p(x)^α with the network:
//! the one call the runner, the C ABI and other tools use.
//!
//! Sample `i` of a run seeded with `seed` uses RNG stream `i` of `seed`
//! ([`crate::rng::NoiseStream::new`]`(seed, i)`), so it is the same bits whether the run
//! draws 10 samples or 100, in any order, on any number of threads.

use crate::error::{check_len, Error};
use crate::exec::Executor;
use crate::power::{power_scaled_scratch_len, PowerScaled};
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
    /// The normalised RTM image y (`height × width`), or `None` to sample the power-scaled
    /// prior (requires `lambda == 0`).
    pub rtm_image: Option<&'a [f32]>,
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
    let n = height * width;
    network_denoiser_workspace_len(net, height, width)
        + power_scaled_scratch_len(n)
        + sampler_scratch_len(sampler.kind, n)
}

/// Draws one sample (normalised velocity, `height × width`) into `out`.
///
/// `progress(done, total)` is called after every sampler step.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid λ, α or sampler configuration, or λ > 0
/// without an RTM image; [`Error::BufferLength`] for mis-sized buffers; errors of the
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
    check_len("sample", out.len(), h * w)?;
    check_len(
        "scratch",
        scratch.len(),
        posterior_scratch_len(net, h, w, &request.sampler),
    )?;
    if request.rtm_image.is_none() && request.lambda != 0.0 {
        return Err(Error::InvalidArgument {
            name: "lambda",
            expected: "0 when no RTM image is given (prior sampling)",
        });
    }
    let (workspace, rest) = scratch.split_at_mut(network_denoiser_workspace_len(net, h, w));
    let (power_scratch, sampler_scratch) = rest.split_at_mut(power_scaled_scratch_len(h * w));
    let network =
        NetworkDenoiser::new(net, exec, h, w, request.rtm_image.unwrap_or(&[]), workspace)?;
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
