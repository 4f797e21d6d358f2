//! Acoustic modelling and reverse-time migration with the acquisition presets (the core's
//! `wave` module): the building blocks of `powerpost simulate`, `powerpost migrate` and of
//! the training pairs, shot by shot, in caller memory.
//!
//! ## Flow (what `powerpost simulate` / `migrate` and the dataset builder do)
//! 1. `powerpost_wave_prepare_medium(preset, time_order, velocity_m_s)` on the model grid
//!    (`model_nz × model_nx`, m/s) fills a medium buffer of `powerpost_wave_medium_len`
//!    floats (the model refined to the modelling grid and the finite-difference
//!    coefficients); it checks stability and dispersion.
//! 2. For each source `s` (independent: run them on several threads, one scratch each):
//!    `powerpost_wave_forward_shot` → shot `s` (`nt × n_receivers`, time-major);
//!    optionally `powerpost_wave_add_noise` (coloured noise at an SNR, seeded).
//! 3. Migration: a background medium (e.g. the model smoothed by
//!    `powerpost_gaussian_smooth`), `powerpost_wave_rtm_shot` per shot into one image of
//!    `powerpost_wave_image_len` floats (modelling grid) per shot,
//!    `powerpost_wave_sum_images` in shot order, `powerpost_wave_coarsen` to the model grid,
//!    `powerpost_mute_water`.
//!
//! Every step is bit-identical to the Rust API and the `powerpost` commands for the same
//! inputs. The time order (2: leapfrog, 4: with the modified-equation correction) applies
//! to forward modelling; RTM is always second order.

use powerpost_core::error::check_len;
use powerpost_core::exec::Serial;
use powerpost_core::wave::{self, Acquisition};
use powerpost_core::Error;

use crate::buffers::{self, disjoint, Span};
use crate::status::{guard, guard_len, powerpost_error, powerpost_status, Failure};

/// The acquisition presets.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum powerpost_acquisition_preset {
    /// Model 256 × 256 at 12.5 m, modelled on the same grid; 16 sources, 256 receivers.
    POWERPOST_ACQUISITION_PAPER = 0,
    /// Model 64 × 128 at 25 m (the shipped network's grid), modelled on the 2× finer grid
    /// 127 × 255; 16 sources, 128 receivers.
    POWERPOST_ACQUISITION_EDGE = 1,
}

/// The preset of code `preset` with time order `time_order`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an unknown preset or a time order other than 2 or 4.
pub fn acquisition(preset: i32, time_order: i32) -> Result<Acquisition, Failure> {
    let mut a = match preset {
        0 => Acquisition::paper(),
        1 => Acquisition::edge(),
        _ => {
            return Err(Failure::Core(Error::InvalidArgument {
                name: "preset",
                expected: "POWERPOST_ACQUISITION_PAPER or POWERPOST_ACQUISITION_EDGE",
            }))
        }
    };
    a.cfg.time_order = match time_order {
        2 => 2,
        4 => 4,
        _ => {
            return Err(Failure::Core(Error::InvalidArgument {
                name: "time_order",
                expected: "2 or 4",
            }))
        }
    };
    Ok(a)
}

/// Everything about a preset a caller needs to size and interpret its buffers.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_acquisition {
    /// Model rows (depth).
    pub model_nz: usize,
    /// Model columns.
    pub model_nx: usize,
    /// Model cell size (m).
    pub model_spacing: f32,
    /// Modelling-grid refinement factor (1 or 2).
    pub refine: usize,
    /// Modelling grid rows: `refine·(model_nz − 1) + 1`.
    pub nz: usize,
    /// Modelling grid columns.
    pub nx: usize,
    /// Modelling grid spacing (m).
    pub spacing: f32,
    /// Time step (s).
    pub dt: f32,
    /// Time samples per trace.
    pub nt: usize,
    /// Ricker peak frequency (Hz).
    pub peak_frequency: f32,
    /// Ricker delay (s).
    pub source_delay: f32,
    /// Absorbing layer width (points).
    pub pml_width: usize,
    /// Space order of the Laplacian.
    pub space_order: usize,
    /// Number of sources (shots).
    pub n_sources: usize,
    /// Number of receivers (one per model column).
    pub n_receivers: usize,
    /// Source and receiver depth (m).
    pub depth: f32,
}

/// Fills `*out` with the description of preset `preset`.
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `out` points to writable memory for one `powerpost_acquisition`; `error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_acquisition_info(
    preset: i32,
    out: *mut powerpost_acquisition,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, 2)?;
            let c = a.cfg;
            buffers::out_value(
                "out",
                out,
                powerpost_acquisition {
                    model_nz: a.model_nz,
                    model_nx: a.model_nx,
                    model_spacing: a.model_spacing,
                    refine: a.refine,
                    nz: c.nz,
                    nx: c.nx,
                    spacing: c.dx,
                    dt: c.dt,
                    nt: c.nt,
                    peak_frequency: c.peak_frequency,
                    source_delay: c.source_delay,
                    pml_width: c.pml_width,
                    space_order: c.space_order,
                    n_sources: a.n_sources,
                    n_receivers: a.n_receivers,
                    depth: a.depth,
                },
            )
        })
    }
}

/// Floats of the modelling grid (`nz × nx`): the refined model and one shot's RTM image.
fn fine_len(a: &Acquisition) -> usize {
    a.cfg.nz * a.cfg.nx
}

/// Floats of scratch besides the core's: the wavelet (`nt`) and the receiver positions
/// (`2·n_receivers`).
fn geometry_len(a: &Acquisition) -> usize {
    a.cfg.nt + 2 * a.n_receivers
}

/// Floats of one model of `preset` (`model_nz × model_nx`; 0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_wave_model_len(preset: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, 2)?;
        Ok(a.model_nz * a.model_nx)
    })
}

/// Floats of one shot image on the modelling grid (`nz × nx`; 0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_wave_image_len(preset: i32) -> usize {
    guard_len(|| Ok(fine_len(&acquisition(preset, 2)?)))
}

/// Floats of one shot record (`nt × n_receivers`; 0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_wave_shot_len(preset: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, 2)?;
        Ok(a.cfg.nt * a.n_receivers)
    })
}

/// Floats of a medium buffer (0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_wave_medium_len(preset: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, 2)?;
        Ok(wave::medium_len(&a.cfg)? + fine_len(&a))
    })
}

/// Scratch floats of [`powerpost_wave_forward_shot`] (0 for an unknown preset or time
/// order).
#[no_mangle]
pub extern "C" fn powerpost_wave_shot_scratch_len(preset: i32, time_order: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, time_order)?;
        Ok(wave::state_len(&a.cfg)? + geometry_len(&a))
    })
}

/// Scratch floats of [`powerpost_wave_rtm_shot`]: with `store_wavefield` ≠ 0 the whole
/// background wavefield is kept (faster: one propagation fewer; about `(nt + 1)·nz·nx`
/// floats), otherwise it is checkpointed (much less memory). Same image bits either way.
/// 0 for an unknown preset.
#[no_mangle]
pub extern "C" fn powerpost_wave_rtm_scratch_len(preset: i32, store_wavefield: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, 2)?;
        let core = if store_wavefield != 0 {
            wave::rtm_scratch_len_stored(&a.cfg)?
        } else {
            wave::rtm_scratch_len(&a.cfg)?
        };
        Ok(core + geometry_len(&a))
    })
}

/// Scratch floats of [`powerpost_wave_add_noise`] (0 for an unknown preset).
#[no_mangle]
pub extern "C" fn powerpost_wave_noise_scratch_len(preset: i32) -> usize {
    guard_len(|| {
        let a = acquisition(preset, 2)?;
        let l = a.cfg.noise_filter_len();
        Ok(wave::colored_noise_scratch_len(a.cfg.nt, a.n_receivers, l) + l)
    })
}

/// A scratch buffer split into the core's part and the filled geometry part.
struct Split<'s> {
    /// The core's scratch.
    core: &'s mut [f32],
    /// The Ricker wavelet (`nt` samples).
    wavelet: &'s [f32],
    /// Receiver positions `[z, x]` (m).
    receivers: &'s [[f32; 2]],
}

/// Splits the geometry part off the end of `scratch` and fills it: the Ricker wavelet
/// (`nt`) and the receiver positions.
fn split_geometry<'s>(a: &Acquisition, scratch: &'s mut [f32]) -> Result<Split<'s>, Failure> {
    let extra = geometry_len(a);
    let core_len = scratch
        .len()
        .checked_sub(extra)
        .ok_or(Error::BufferLength {
            buffer: "scratch",
            expected: extra,
            actual: scratch.len(),
        })?;
    let (core, rest) = scratch.split_at_mut(core_len);
    let (wavelet, receivers) = rest.split_at_mut(a.cfg.nt);
    let cfg = &a.cfg;
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, wavelet)?;
    let receivers: &mut [[f32; 2]] = bytemuck::cast_slice_mut(receivers);
    for (j, r) in receivers.iter_mut().enumerate() {
        *r = a.receiver_position(j)?;
    }
    Ok(Split {
        core,
        wavelet,
        receivers,
    })
}

/// Refines `velocity_m_s` (model grid, m/s) to the modelling grid and prepares the
/// finite-difference medium of `preset` in `medium` (`powerpost_wave_medium_len` floats).
/// Prepare with the time order you will model with (RTM: 2).
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset or time order or a velocity that is
/// not finite and positive; `POWERPOST_UNSTABLE_TIME_STEP` / `POWERPOST_TOO_DISPERSIVE`
/// if the preset cannot model these velocities accurately (e.g. km/s given instead of
/// m/s); `POWERPOST_BUFFER_LENGTH`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `velocity_m_s` points to `velocity_len` readable floats, `medium` to `medium_len`
/// writable floats, not overlapping (either may be NULL with length 0); `error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_wave_prepare_medium(
    preset: i32,
    time_order: i32,
    velocity_m_s: *const f32,
    velocity_len: usize,
    medium: *mut f32,
    medium_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, time_order)?;
            disjoint(&[
                Span::input("velocity_m_s", velocity_m_s, velocity_len),
                Span::output("medium", medium, medium_len),
            ])?;
            let velocity = buffers::input("velocity_m_s", velocity_m_s, velocity_len)?;
            let medium = buffers::output("medium", medium, medium_len)?;
            check_len("velocity_m_s", velocity.len(), a.model_nz * a.model_nx)?;
            let core_len = wave::medium_len(&a.cfg)?;
            check_len("medium", medium.len(), core_len + fine_len(&a))?;
            let (core, fine) = medium.split_at_mut(core_len);
            a.refine_model(velocity, fine)?;
            wave::prepare_medium(&a.cfg, fine, core)?;
            Ok(())
        })
    }
}

/// The core's part of a medium buffer.
fn core_medium<'m>(a: &Acquisition, medium: &'m [f32]) -> Result<&'m [f32], Failure> {
    let core_len = wave::medium_len(&a.cfg)?;
    check_len("medium", medium.len(), core_len + fine_len(a))?;
    Ok(&medium[..core_len])
}

/// Forward-models shot `source` (0 to `n_sources − 1`) of `preset` in a prepared medium
/// into `shot` (`nt × n_receivers`, time-major: `shot[n·n_receivers + j]` is receiver `j`
/// at time `n·dt`), with `scratch` of `powerpost_wave_shot_scratch_len` floats.
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset, time order or source, or overlapping
/// buffers; `POWERPOST_BUFFER_LENGTH`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `medium` points to `medium_len` readable floats (from
/// `powerpost_wave_prepare_medium`), `shot` to `shot_len` and `scratch` to `scratch_len`
/// writable floats; no two overlap (NULL allowed with length 0); `error` is NULL or
/// writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_wave_forward_shot(
    preset: i32,
    time_order: i32,
    medium: *const f32,
    medium_len: usize,
    source: usize,
    shot: *mut f32,
    shot_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, time_order)?;
            disjoint(&[
                Span::input("medium", medium, medium_len),
                Span::output("shot", shot, shot_len),
                Span::output("scratch", scratch, scratch_len),
            ])?;
            let medium = core_medium(&a, buffers::input("medium", medium, medium_len)?)?;
            let shot = buffers::output("shot", shot, shot_len)?;
            let scratch = buffers::output("scratch", scratch, scratch_len)?;
            let position = a.source_position(source)?;
            check_len(
                "scratch",
                scratch.len(),
                wave::state_len(&a.cfg)? + geometry_len(&a),
            )?;
            let s = split_geometry(&a, scratch)?;
            wave::forward_shot(
                &a.cfg,
                medium,
                position,
                s.receivers,
                s.wavelet,
                s.core,
                shot,
                &Serial,
            )?;
            Ok(())
        })
    }
}

/// Adds band-limited Gaussian noise to a shot of `preset` at `snr_db` decibels over the
/// shot: white noise from random stream `noise_index` of `seed`, coloured by the
/// wavelet's first samples (as `powerpost simulate`, which uses `noise_index = source`,
/// and the training pairs, `noise_index = 16·pair + source`).
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset, a non-finite SNR beyond ±200 dB, a
/// silent shot or overlapping buffers; `POWERPOST_BUFFER_LENGTH`;
/// `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `shot` points to `shot_len` and `scratch` to `scratch_len` writable floats, not
/// overlapping (NULL allowed with length 0); `error` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_wave_add_noise(
    preset: i32,
    shot: *mut f32,
    shot_len: usize,
    snr_db: f32,
    seed: u64,
    noise_index: u64,
    scratch: *mut f32,
    scratch_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, 2)?;
            disjoint(&[
                Span::output("shot", shot, shot_len),
                Span::output("scratch", scratch, scratch_len),
            ])?;
            let shot = buffers::output("shot", shot, shot_len)?;
            let scratch = buffers::output("scratch", scratch, scratch_len)?;
            let cfg = &a.cfg;
            let l = cfg.noise_filter_len();
            let white = wave::colored_noise_scratch_len(cfg.nt, a.n_receivers, l);
            check_len("scratch", scratch.len(), white + l)?;
            let (white, filter) = scratch.split_at_mut(white);
            // The first `l` samples of the wavelet (each sample depends only on its index).
            wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, filter)?;
            wave::add_colored_noise(
                shot,
                cfg.nt,
                a.n_receivers,
                filter,
                snr_db,
                seed,
                noise_index,
                white,
            )?;
            Ok(())
        })
    }
}

/// Reverse-time migration of shot `source` of `preset` (the exact adjoint of Born
/// modelling) in a background medium prepared with time order 2: writes the shot's image
/// (`powerpost_wave_image_len` floats, modelling grid) and, if `illumination` is not
/// NULL, the source illumination (same size). `scratch` has
/// `powerpost_wave_rtm_scratch_len(preset, store)` floats for either choice of `store`;
/// the image bits are the same.
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an unknown preset or source, non-finite shot data or
/// overlapping buffers; `POWERPOST_BUFFER_LENGTH`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `medium` points to `medium_len` and `shot` to `shot_len` readable floats, `image` to
/// `image_len`, `illumination` (unless NULL) to `illumination_len` and `scratch` to
/// `scratch_len` writable floats; written buffers overlap nothing (NULL allowed with
/// length 0); `error` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_wave_rtm_shot(
    preset: i32,
    medium: *const f32,
    medium_len: usize,
    source: usize,
    shot: *const f32,
    shot_len: usize,
    image: *mut f32,
    image_len: usize,
    illumination: *mut f32,
    illumination_len: usize,
    scratch: *mut f32,
    scratch_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, 2)?;
            let illumination_len = if illumination.is_null() {
                0
            } else {
                illumination_len
            };
            disjoint(&[
                Span::input("medium", medium, medium_len),
                Span::input("shot", shot, shot_len),
                Span::output("image", image, image_len),
                Span::output("illumination", illumination, illumination_len),
                Span::output("scratch", scratch, scratch_len),
            ])?;
            let medium = core_medium(&a, buffers::input("medium", medium, medium_len)?)?;
            let shot = buffers::input("shot", shot, shot_len)?;
            let image = buffers::output("image", image, image_len)?;
            let illumination =
                buffers::optional_output("illumination", illumination, illumination_len)?;
            let scratch = buffers::output("scratch", scratch, scratch_len)?;
            let position = a.source_position(source)?;
            let extra = geometry_len(&a);
            let checkpointed = wave::rtm_scratch_len(&a.cfg)? + extra;
            let stored = wave::rtm_scratch_len_stored(&a.cfg)? + extra;
            if scratch.len() != checkpointed && scratch.len() != stored {
                return Err(Failure::Core(Error::BufferLength {
                    buffer: "scratch",
                    expected: checkpointed,
                    actual: scratch.len(),
                }));
            }
            let s = split_geometry(&a, scratch)?;
            wave::rtm_shot(
                &a.cfg,
                medium,
                position,
                s.receivers,
                s.wavelet,
                shot,
                s.core,
                image,
                illumination,
                &Serial,
            )?;
            Ok(())
        })
    }
}

/// Sums per-shot images in shot order into `out`:
/// `out = ((0 + images[0]) + images[1]) + …`, with `images` holding whole images of
/// `out_len` floats one after another.
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless `images_len` is a positive multiple of `out_len`;
/// `POWERPOST_INVALID_ARGUMENT` for overlapping buffers; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `images` points to `images_len` readable and `out` to `out_len` writable floats, not
/// overlapping; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_wave_sum_images(
    images: *const f32,
    images_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            disjoint(&[
                Span::input("images", images, images_len),
                Span::output("out", out, out_len),
            ])?;
            let images = buffers::input("images", images, images_len)?;
            let out = buffers::output("out", out, out_len)?;
            wave::sum_images(images, out)?;
            Ok(())
        })
    }
}

/// Divides an image by the source illumination: `image[i] = image[i] / (illumination[i] +
/// epsilon·max(illumination))` (deterministic division).
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` unless `epsilon` is finite and positive, or for
/// overlapping buffers; `POWERPOST_BUFFER_LENGTH`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `image` points to `image_len` writable and `illumination` to `illumination_len`
/// readable floats, not overlapping; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_wave_compensate_illumination(
    image: *mut f32,
    image_len: usize,
    illumination: *const f32,
    illumination_len: usize,
    epsilon: f32,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            disjoint(&[
                Span::output("image", image, image_len),
                Span::input("illumination", illumination, illumination_len),
            ])?;
            let image = buffers::output("image", image, image_len)?;
            let illumination = buffers::input("illumination", illumination, illumination_len)?;
            wave::compensate_illumination(image, illumination, epsilon)?;
            Ok(())
        })
    }
}

/// Which grid transfer.
#[derive(Clone, Copy)]
enum Transfer {
    Refine,
    Coarsen,
}

/// Shared body of [`powerpost_wave_refine`] and [`powerpost_wave_coarsen`].
///
/// # Safety
/// As theirs.
unsafe fn transfer(
    which: Transfer,
    preset: i32,
    input: *const f32,
    input_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let a = acquisition(preset, 2)?;
            disjoint(&[
                Span::input("input", input, input_len),
                Span::output("out", out, out_len),
            ])?;
            let input = buffers::input("input", input, input_len)?;
            let out = buffers::output("out", out, out_len)?;
            match which {
                Transfer::Refine => a.refine_model(input, out)?,
                Transfer::Coarsen => a.coarsen(input, out)?,
            }
            Ok(())
        })
    }
}

/// Bilinear refinement of a model-grid field to the modelling grid (what
/// `powerpost_wave_prepare_medium` does to the velocity; identity for `paper`).
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless `model_len` is `model_nz·model_nx` and `out_len`
/// `nz·nx`; `POWERPOST_INVALID_ARGUMENT`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `model` points to `model_len` readable and `out` to `out_len` writable floats, not
/// overlapping; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_wave_refine(
    preset: i32,
    model: *const f32,
    model_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: forwarded.
    unsafe {
        transfer(
            Transfer::Refine,
            preset,
            model,
            model_len,
            out,
            out_len,
            error,
        )
    }
}

/// Takes the modelling-grid points that coincide with model-grid points (an RTM image back
/// to the model grid).
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless `fine_len` is `nz·nx` and `out_len`
/// `model_nz·model_nx`; `POWERPOST_INVALID_ARGUMENT`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `fine` points to `fine_len` readable and `out` to `out_len` writable floats, not
/// overlapping; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_wave_coarsen(
    preset: i32,
    fine: *const f32,
    fine_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: forwarded.
    unsafe {
        transfer(
            Transfer::Coarsen,
            preset,
            fine,
            fine_len,
            out,
            out_len,
            error,
        )
    }
}

/// `nz × nx`, checked.
fn grid_len(nz: usize, nx: usize) -> Result<usize, Failure> {
    nz.checked_mul(nx)
        .ok_or(Failure::Core(Error::InvalidArgument {
            name: "nz, nx",
            expected: "a grid whose size fits in size_t",
        }))
}

/// Scratch floats of [`powerpost_gaussian_smooth`] (0 for an invalid `sigma`).
#[no_mangle]
pub extern "C" fn powerpost_gaussian_smooth_scratch_len(nz: usize, nx: usize, sigma: f32) -> usize {
    guard_len(|| {
        grid_len(nz, nx)?;
        Ok(wave::smooth_scratch_len(nz, nx, sigma)?)
    })
}

/// Smooths `input` (`nz × nx`, row-major) with a Gaussian of standard deviation `sigma`
/// grid points into `out` (the migration background of `powerpost migrate` and of the
/// training pairs uses σ = 10 on the model grid).
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` for an empty grid, `sigma` outside 0 to 1000 or
/// overlapping buffers; `POWERPOST_BUFFER_LENGTH`; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `input` points to `input_len` readable floats, `scratch` and `out` to `scratch_len` and
/// `out_len` writable floats; no written buffer overlaps another; `error` is NULL or
/// writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_gaussian_smooth(
    input: *const f32,
    input_len: usize,
    nz: usize,
    nx: usize,
    sigma: f32,
    scratch: *mut f32,
    scratch_len: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let n = grid_len(nz, nx)?;
            disjoint(&[
                Span::input("input", input, input_len),
                Span::output("scratch", scratch, scratch_len),
                Span::output("out", out, out_len),
            ])?;
            let input = buffers::input("input", input, input_len)?;
            let scratch = buffers::output("scratch", scratch, scratch_len)?;
            let out = buffers::output("out", out, out_len)?;
            check_len("input", input.len(), n)?;
            check_len("out", out.len(), n)?;
            wave::gaussian_smooth(input, nz, nx, sigma, scratch, out)?;
            Ok(())
        })
    }
}

/// `out = −(∂zz + ∂xx) image`: the 5-point Laplacian in grid units, zero outside.
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless both lengths are `nz·nx`;
/// `POWERPOST_INVALID_ARGUMENT` for overlapping buffers; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `image` points to `image_len` readable and `out` to `out_len` writable floats, not
/// overlapping; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_laplacian_filter(
    image: *const f32,
    image_len: usize,
    nz: usize,
    nx: usize,
    out: *mut f32,
    out_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            grid_len(nz, nx)?;
            disjoint(&[
                Span::input("image", image, image_len),
                Span::output("out", out, out_len),
            ])?;
            let image = buffers::input("image", image, image_len)?;
            let out = buffers::output("out", out, out_len)?;
            wave::laplacian_filter(image, nz, nx, out)?;
            Ok(())
        })
    }
}

/// Zeroes the image in the water: in each column, from the top down to `extra_rows` below
/// the last leading row whose velocity is at most `water_velocity` (same units as
/// `velocity`; `powerpost migrate` uses 1510 m/s and 0 extra rows).
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` unless both lengths are `nz·nx`;
/// `POWERPOST_INVALID_ARGUMENT` for overlapping buffers; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `image` points to `image_len` writable and `velocity` to `velocity_len` readable
/// floats, not overlapping; `error` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn powerpost_mute_water(
    image: *mut f32,
    image_len: usize,
    velocity: *const f32,
    velocity_len: usize,
    nz: usize,
    nx: usize,
    water_velocity: f32,
    extra_rows: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            grid_len(nz, nx)?;
            disjoint(&[
                Span::output("image", image, image_len),
                Span::input("velocity", velocity, velocity_len),
            ])?;
            let image = buffers::output("image", image, image_len)?;
            let velocity = buffers::input("velocity", velocity, velocity_len)?;
            wave::mute_water(image, velocity, nz, nx, water_velocity, extra_rows)?;
            Ok(())
        })
    }
}

/// Relative L2 data residual `‖predicted − observed‖₂ / ‖observed‖₂` (sums in double, in
/// index order) into `*out`.
///
/// # Errors
/// `POWERPOST_BUFFER_LENGTH` if the lengths differ; `POWERPOST_INVALID_ARGUMENT` if
/// `observed` is all zero or anything is non-finite; `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `predicted` and `observed` point to `predicted_len` and `observed_len` readable floats,
/// `out` to a writable double; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_relative_residual(
    predicted: *const f32,
    predicted_len: usize,
    observed: *const f32,
    observed_len: usize,
    out: *mut f64,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            disjoint(&[
                Span::input("predicted", predicted, predicted_len),
                Span::input("observed", observed, observed_len),
                Span::output("out", out, 1),
            ])?;
            let predicted = buffers::input("predicted", predicted, predicted_len)?;
            let observed = buffers::input("observed", observed, observed_len)?;
            let r = wave::relative_residual(predicted, observed)?;
            buffers::out_value("out", out, r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_core() {
        for (code, a) in [(0, Acquisition::paper()), (1, Acquisition::edge())] {
            let cfg = a.cfg;
            assert_eq!(powerpost_wave_model_len(code), a.model_nz * a.model_nx);
            assert_eq!(powerpost_wave_image_len(code), cfg.nz * cfg.nx);
            assert_eq!(powerpost_wave_shot_len(code), cfg.nt * a.n_receivers);
            let extra = cfg.nt + 2 * a.n_receivers;
            assert_eq!(
                powerpost_wave_shot_scratch_len(code, 2),
                wave::state_len(&cfg).unwrap() + extra
            );
            assert_eq!(
                powerpost_wave_rtm_scratch_len(code, 1),
                wave::rtm_scratch_len_stored(&cfg).unwrap() + extra
            );
            assert_eq!(
                powerpost_wave_rtm_scratch_len(code, 0),
                wave::rtm_scratch_len(&cfg).unwrap() + extra
            );
        }
        assert_eq!(powerpost_wave_shot_scratch_len(1, 3), 0, "time order 3");
        assert_eq!(powerpost_wave_medium_len(2), 0, "unknown preset");
        assert_eq!(powerpost_gaussian_smooth_scratch_len(4, 4, f32::NAN), 0);
    }

    #[test]
    fn info_matches_the_presets() {
        let mut info = core::mem::MaybeUninit::<powerpost_acquisition>::uninit();
        // SAFETY: `info` is writable; NULL error allowed.
        let status =
            unsafe { powerpost_acquisition_info(1, info.as_mut_ptr(), core::ptr::null_mut()) };
        assert_eq!(status, powerpost_status::POWERPOST_OK);
        // SAFETY: written on success.
        let info = unsafe { info.assume_init() };
        let a = Acquisition::edge();
        assert_eq!(
            (
                info.model_nz,
                info.model_nx,
                info.nz,
                info.nx,
                info.nt,
                info.n_sources,
                info.n_receivers
            ),
            (
                a.model_nz,
                a.model_nx,
                a.cfg.nz,
                a.cfg.nx,
                a.cfg.nt,
                a.n_sources,
                a.n_receivers
            )
        );
        assert_eq!(
            (info.dt, info.spacing, info.depth),
            (a.cfg.dt, a.cfg.dx, a.depth)
        );
    }
}
