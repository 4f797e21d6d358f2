//! Synthetic North Sea-like velocity models (the core's `geology` module).
//!
//! `powerpost_geology_params_default(nz, nx, dx)` gives the core's defaults scaled to the
//! grid; every field may be changed before calling `powerpost_geology_model`, which checks
//! them all. Model `index` of `seed` is a pure function of the parameters, the seed and the
//! index: the same bits as `powerpost_core::geology::generate` and `powerpost geology`.

use powerpost_core::geology::{self, Geology, GeologyParams, Interval};

use crate::buffers::{self, disjoint, Span};
use crate::status::{guard, guard_len, powerpost_error, powerpost_status, Failure};

/// A closed range `[min, max]` from which the generator draws uniformly.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_interval {
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

impl From<Interval> for powerpost_interval {
    fn from(i: Interval) -> Self {
        Self {
            min: i.min,
            max: i.max,
        }
    }
}

impl From<powerpost_interval> for Interval {
    fn from(i: powerpost_interval) -> Self {
        Interval::new(i.min, i.max)
    }
}

/// Everything that shapes a synthetic model (lengths in m, velocities in km/s, angles in
/// degrees); the field meanings are those of `powerpost_core::geology::GeologyParams`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_geology_params {
    /// Rows (depth samples), at least 1.
    pub nz: usize,
    /// Columns, at least 1.
    pub nx: usize,
    /// Square cell size (m), > 0.
    pub dx: f32,
    /// Every velocity is clamped to at least this (km/s).
    pub v_min: f32,
    /// Every velocity is clamped to at most this (km/s).
    pub v_max: f32,
    /// Water velocity (km/s).
    pub v_water: f32,
    /// Mean water depth (m).
    pub water_depth: powerpost_interval,
    /// Sediment velocity just below the seabed (km/s).
    pub v_seabed: powerpost_interval,
    /// Trend velocity at the bottom of the model (km/s).
    pub v_base: powerpost_interval,
    /// Thickness of one layer (m), min > 0.
    pub layer_thickness: powerpost_interval,
    /// Standard deviation of a layer's velocity offset (km/s).
    pub layer_contrast: f32,
    /// Largest regional dip of the older package (degrees, 0 to 45).
    pub max_dip_degrees: f32,
    /// Amplitude of the main fold (m).
    pub fold_amplitude: powerpost_interval,
    /// Wavelength of the main fold (m), min > 0.
    pub fold_wavelength: powerpost_interval,
    /// Fewest normal faults.
    pub fault_count_min: usize,
    /// Most normal faults (at most 8).
    pub fault_count_max: usize,
    /// Vertical throw of a fault (m).
    pub fault_throw: powerpost_interval,
    /// Dip of a fault plane (degrees, within 10 to 89).
    pub fault_dip_degrees: powerpost_interval,
    /// Probability of an erosional unconformity.
    pub unconformity_probability: f32,
    /// Depth of the unconformity below the seabed, fraction of the sediment column.
    pub unconformity_depth: powerpost_interval,
    /// Amplitude of the erosional relief (m).
    pub erosion_relief: powerpost_interval,
    /// Velocity step across the unconformity (km/s).
    pub unconformity_jump: powerpost_interval,
    /// How many body slots are tried (at most 4).
    pub body_count_max: usize,
    /// Probability that each slot holds a body.
    pub body_probability: f32,
    /// Velocity of a high-velocity body (km/s).
    pub v_body: powerpost_interval,
    /// Half-width of a body (m), min > 0.
    pub body_half_width: powerpost_interval,
    /// Height of a body (m), min > 0.
    pub body_height: powerpost_interval,
}

impl From<GeologyParams> for powerpost_geology_params {
    fn from(p: GeologyParams) -> Self {
        Self {
            nz: p.nz,
            nx: p.nx,
            dx: p.dx,
            v_min: p.v_min,
            v_max: p.v_max,
            v_water: p.v_water,
            water_depth: p.water_depth.into(),
            v_seabed: p.v_seabed.into(),
            v_base: p.v_base.into(),
            layer_thickness: p.layer_thickness.into(),
            layer_contrast: p.layer_contrast,
            max_dip_degrees: p.max_dip_degrees,
            fold_amplitude: p.fold_amplitude.into(),
            fold_wavelength: p.fold_wavelength.into(),
            fault_count_min: p.fault_count_min,
            fault_count_max: p.fault_count_max,
            fault_throw: p.fault_throw.into(),
            fault_dip_degrees: p.fault_dip_degrees.into(),
            unconformity_probability: p.unconformity_probability,
            unconformity_depth: p.unconformity_depth.into(),
            erosion_relief: p.erosion_relief.into(),
            unconformity_jump: p.unconformity_jump.into(),
            body_count_max: p.body_count_max,
            body_probability: p.body_probability,
            v_body: p.v_body.into(),
            body_half_width: p.body_half_width.into(),
            body_height: p.body_height.into(),
        }
    }
}

impl From<powerpost_geology_params> for GeologyParams {
    fn from(p: powerpost_geology_params) -> Self {
        Self {
            nz: p.nz,
            nx: p.nx,
            dx: p.dx,
            v_min: p.v_min,
            v_max: p.v_max,
            v_water: p.v_water,
            water_depth: p.water_depth.into(),
            v_seabed: p.v_seabed.into(),
            v_base: p.v_base.into(),
            layer_thickness: p.layer_thickness.into(),
            layer_contrast: p.layer_contrast,
            max_dip_degrees: p.max_dip_degrees,
            fold_amplitude: p.fold_amplitude.into(),
            fold_wavelength: p.fold_wavelength.into(),
            fault_count_min: p.fault_count_min,
            fault_count_max: p.fault_count_max,
            fault_throw: p.fault_throw.into(),
            fault_dip_degrees: p.fault_dip_degrees.into(),
            unconformity_probability: p.unconformity_probability,
            unconformity_depth: p.unconformity_depth.into(),
            erosion_relief: p.erosion_relief.into(),
            unconformity_jump: p.unconformity_jump.into(),
            body_count_max: p.body_count_max,
            body_probability: p.body_probability,
            v_body: p.v_body.into(),
            body_half_width: p.body_half_width.into(),
            body_height: p.body_height.into(),
        }
    }
}

/// The core's North Sea-like defaults for an `nz × nx` grid of `dx`-metre cells (not
/// validated here: `powerpost_geology_model` checks every field).
#[no_mangle]
pub extern "C" fn powerpost_geology_params_default(
    nz: usize,
    nx: usize,
    dx: f32,
) -> powerpost_geology_params {
    GeologyParams::new(nz, nx, dx).into()
}

/// Floats in one model, `nz × nx` (0 for NULL or invalid parameters).
///
/// # Safety
/// `params` is NULL or points to a `powerpost_geology_params`.
#[no_mangle]
pub unsafe extern "C" fn powerpost_geology_len(params: *const powerpost_geology_params) -> usize {
    guard_len(|| {
        // SAFETY: forwarded.
        let params: GeologyParams = (*unsafe { buffers::value("params", params) }?).into();
        params.validate()?;
        Ok(geology::model_len(&params))
    })
}

/// Writes model `index` of `seed` into `velocity_km_s` (`nz × nx` floats, row-major,
/// depth = row, km/s).
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` naming the first invalid parameter;
/// `POWERPOST_BUFFER_LENGTH` unless `velocity_len == powerpost_geology_len(params)`;
/// `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `params` points to a `powerpost_geology_params`, `velocity_km_s` to `velocity_len`
/// writable floats (or NULL with length 0), not overlapping `*params`; `error` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_geology_model(
    params: *const powerpost_geology_params,
    seed: u64,
    index: u64,
    velocity_km_s: *mut f32,
    velocity_len: usize,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            disjoint(&[
                Span::input("params", params, 1),
                Span::output("velocity_km_s", velocity_km_s, velocity_len),
            ])?;
            let params: GeologyParams = (*buffers::value("params", params)?).into();
            let out = buffers::output("velocity_km_s", velocity_km_s, velocity_len)?;
            geology::generate(&params, seed, index, out)?;
            Ok(())
        })
    }
}

/// Summary of one drawn model.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct powerpost_geology_info {
    /// Mean water depth (m).
    pub water_depth: f32,
    /// Shallowest seabed depth anywhere (m): every point above it is water.
    pub min_water_depth: f32,
    /// 1 if the model has an erosional unconformity, else 0.
    pub has_unconformity: i32,
    /// Number of normal faults.
    pub fault_count: usize,
    /// Number of high-velocity bodies.
    pub body_count: usize,
}

/// Describes model `index` of `seed` without rendering it.
///
/// # Errors
/// `POWERPOST_INVALID_ARGUMENT` naming the first invalid parameter;
/// `POWERPOST_NULL_POINTER`.
///
/// # Safety
/// `params` points to a `powerpost_geology_params`, `info` to writable memory for one
/// `powerpost_geology_info`; `error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn powerpost_geology_inspect(
    params: *const powerpost_geology_params,
    seed: u64,
    index: u64,
    info: *mut powerpost_geology_info,
    error: *mut powerpost_error,
) -> powerpost_status {
    // SAFETY: the caller's promises are forwarded to `guard` and `buffers`.
    unsafe {
        guard(error, || {
            let params: GeologyParams = (*buffers::value("params", params)?).into();
            if info.is_null() {
                return Err(Failure::NullPointer { name: "info" });
            }
            let g = Geology::new(&params, seed, index)?;
            buffers::out_value(
                "info",
                info,
                powerpost_geology_info {
                    water_depth: g.water_depth(),
                    min_water_depth: g.min_water_depth(),
                    has_unconformity: i32::from(g.has_unconformity()),
                    fault_count: g.fault_count(),
                    body_count: g.body_count(),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_field_for_field() {
        let mut p = GeologyParams::new(64, 128, 25.0);
        // Make every field distinct from its default so a swapped field would show.
        p.fault_count_min = 2;
        p.body_count_max = 3;
        p.v_body = Interval::new(4.1, 4.4);
        let c: powerpost_geology_params = p.into();
        assert_eq!(GeologyParams::from(c), p);
        assert_eq!(
            powerpost_geology_params_default(64, 128, 25.0),
            GeologyParams::new(64, 128, 25.0).into()
        );
    }

    #[test]
    fn len_is_zero_for_invalid_parameters() {
        let mut p = powerpost_geology_params_default(64, 128, 25.0);
        // SAFETY: valid pointers / NULL.
        unsafe {
            assert_eq!(powerpost_geology_len(&p), 64 * 128);
            assert_eq!(powerpost_geology_len(core::ptr::null()), 0);
            p.dx = f32::NAN;
            assert_eq!(powerpost_geology_len(&p), 0);
        }
    }
}
