//! Parameters of the synthetic geology generator and their validation.
//!
//! Lengths are in metres, velocities in km/s, angles in degrees. [`GeologyParams::new`]
//! scales the geometric defaults to the grid (layer thickness, fold amplitude, fault throw
//! and body size are fractions of the model's depth or width), so one call gives plausible
//! models at 64×128 with 25 m cells and at 256×256 with 12.5 m cells alike.

use crate::Error;

/// The most layers one stratigraphic package can hold; deeper than the last one, its
/// velocity continues.
pub const MAX_LAYERS: usize = 128;
/// The most normal faults one model can hold.
pub const MAX_FAULTS: usize = 8;
/// The most high-velocity bodies one model can hold.
pub const MAX_BODIES: usize = 4;

/// A closed range `[min, max]` from which the generator draws a value uniformly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
}

impl Interval {
    /// The range `[min, max]`.
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// Checks that both ends are finite, `min ≤ max` and `min ≥ lowest`.
    fn check(self, name: &'static str, lowest: f32, expected: &'static str) -> Result<(), Error> {
        let ok = self.min.is_finite()
            && self.max.is_finite()
            && self.min <= self.max
            && self.min >= lowest;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument { name, expected })
        }
    }
}

/// Everything that shapes a synthetic velocity model.
///
/// The grid is `nz` rows (depth, top to bottom) by `nx` columns, square cells of `dx`
/// metres. All fields are public; start from [`GeologyParams::new`] and change what you
/// need. [`GeologyParams::validate`] says which field is wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeologyParams {
    /// Rows (depth samples), at least 1.
    pub nz: usize,
    /// Columns (horizontal samples), at least 1.
    pub nx: usize,
    /// Cell size in metres (same horizontally and vertically), finite and > 0.
    pub dx: f32,
    /// Every output velocity is clamped to at least this (km/s).
    pub v_min: f32,
    /// Every output velocity is clamped to at most this (km/s).
    pub v_max: f32,
    /// Velocity of the water layer (km/s).
    pub v_water: f32,
    /// Mean water depth (m).
    pub water_depth: Interval,
    /// Sediment velocity just below the seabed before layer contrasts (km/s).
    pub v_seabed: Interval,
    /// Velocity of the depth trend at the bottom of the model (km/s).
    pub v_base: Interval,
    /// Thickness of one sedimentary layer (m), min > 0.
    pub layer_thickness: Interval,
    /// Standard deviation of a layer's velocity offset from the trend (km/s).
    pub layer_contrast: f32,
    /// Largest regional dip of the older (pre-unconformity) package (degrees).
    pub max_dip_degrees: f32,
    /// Amplitude of the main fold (m).
    pub fold_amplitude: Interval,
    /// Wavelength of the main fold (m), min > 0.
    pub fold_wavelength: Interval,
    /// Fewest normal faults.
    pub fault_count_min: usize,
    /// Most normal faults (at most [`MAX_FAULTS`]).
    pub fault_count_max: usize,
    /// Vertical throw of a normal fault (m).
    pub fault_throw: Interval,
    /// Dip of a fault plane (degrees, within 10..=89).
    pub fault_dip_degrees: Interval,
    /// Probability that the model has an erosional unconformity.
    pub unconformity_probability: f32,
    /// Depth of the unconformity below the seabed, as a fraction of the sediment column
    /// (within 0..=1).
    pub unconformity_depth: Interval,
    /// Amplitude of the erosional relief of the unconformity (m).
    pub erosion_relief: Interval,
    /// Velocity step across the unconformity: the older package was buried deeper (km/s).
    pub unconformity_jump: Interval,
    /// How many body slots are tried (at most [`MAX_BODIES`]).
    pub body_count_max: usize,
    /// Probability that each body slot holds a body.
    pub body_probability: f32,
    /// Velocity of a high-velocity body (salt or volcanic) (km/s).
    pub v_body: Interval,
    /// Half-width of a body (m), min > 0.
    pub body_half_width: Interval,
    /// Height of a body (m), min > 0.
    pub body_height: Interval,
}

impl GeologyParams {
    /// North Sea-like defaults for an `nz × nx` grid of `dx`-metre cells.
    ///
    /// With depth `D = nz·dx` and width `W = nx·dx`: water 100–250 m (at most 10–20 % of
    /// `D`), layers `D/60`–`D/16` thick (at least 2 cells), folds up to `0.08·D` high and
    /// `0.7·W`–`2.5·W` long, 1–4 faults with `0.03·D`–`0.1·D` throw, dips up to 10°, unconformity in
    /// 85 % of models, up to two bodies (25 % each) `0.04·W`–`0.1·W` half-wide.
    pub fn new(nz: usize, nx: usize, dx: f32) -> Self {
        let depth = nz as f32 * dx;
        let width = nx as f32 * dx;
        let two_cells = 2.0 * dx;
        let thin = max_f32(depth * (1.0 / 60.0), two_cells);
        let thick = max_f32(depth * (1.0 / 16.0), thin);
        Self {
            nz,
            nx,
            dx,
            v_min: 1.5,
            v_max: 4.5,
            v_water: 1.5,
            water_depth: Interval::new(min_f32(100.0, depth * 0.1), min_f32(250.0, depth * 0.2)),
            v_seabed: Interval::new(1.6, 1.9),
            v_base: Interval::new(3.4, 4.0),
            layer_thickness: Interval::new(thin, thick),
            layer_contrast: 0.18,
            max_dip_degrees: 10.0,
            fold_amplitude: Interval::new(0.0, depth * 0.08),
            fold_wavelength: Interval::new(width * 0.7, width * 2.5),
            fault_count_min: 1,
            fault_count_max: 4,
            fault_throw: Interval::new(depth * 0.03, depth * 0.1),
            fault_dip_degrees: Interval::new(55.0, 75.0),
            unconformity_probability: 0.85,
            unconformity_depth: Interval::new(0.25, 0.55),
            erosion_relief: Interval::new(depth * 0.01, depth * 0.05),
            unconformity_jump: Interval::new(0.15, 0.45),
            body_count_max: 2,
            body_probability: 0.25,
            v_body: Interval::new(4.0, 4.5),
            body_half_width: Interval::new(width * 0.04, width * 0.1),
            body_height: Interval::new(depth * 0.1, depth * 0.3),
        }
    }

    /// Checks every field; the error names the first field that is wrong.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the field (e.g. `"nz"`, `"fault_throw"`).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |name, expected| Err(Error::InvalidArgument { name, expected });
        if self.nz == 0 {
            return bad("nz", "at least 1 row");
        }
        if self.nx == 0 {
            return bad("nx", "at least 1 column");
        }
        if self.nz.checked_mul(self.nx).is_none() || self.nz > 1 << 24 || self.nx > 1 << 24 {
            return bad("nz, nx", "at most 2^24 each, product within usize");
        }
        if !(self.dx.is_finite() && self.dx > 0.0) {
            return bad("dx", "a finite cell size > 0 m");
        }
        if !(self.v_min.is_finite()
            && self.v_max.is_finite()
            && self.v_min > 0.0
            && self.v_min < self.v_max)
        {
            return bad("v_min, v_max", "finite with 0 < v_min < v_max");
        }
        if !(self.v_water.is_finite() && self.v_water > 0.0) {
            return bad("v_water", "a finite velocity > 0");
        }
        let depth = self.nz as f32 * self.dx;
        self.water_depth
            .check("water_depth", 0.0, "finite, 0 ≤ min ≤ max")?;
        if self.water_depth.max >= depth {
            return bad("water_depth", "max below the model's depth nz·dx");
        }
        self.v_seabed
            .check("v_seabed", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.v_base.check("v_base", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.layer_thickness.check(
            "layer_thickness",
            f32::MIN_POSITIVE,
            "finite, 0 < min ≤ max",
        )?;
        if !(self.layer_contrast.is_finite() && self.layer_contrast >= 0.0) {
            return bad("layer_contrast", "a finite value ≥ 0");
        }
        if !(self.max_dip_degrees.is_finite() && (0.0..=45.0).contains(&self.max_dip_degrees)) {
            return bad("max_dip_degrees", "within 0..=45");
        }
        self.fold_amplitude
            .check("fold_amplitude", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.fold_wavelength.check(
            "fold_wavelength",
            f32::MIN_POSITIVE,
            "finite, 0 < min ≤ max",
        )?;
        if self.fault_count_min > self.fault_count_max || self.fault_count_max > MAX_FAULTS {
            return bad(
                "fault_count_min, fault_count_max",
                "min ≤ max ≤ MAX_FAULTS (8)",
            );
        }
        self.fault_throw
            .check("fault_throw", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.fault_dip_degrees
            .check("fault_dip_degrees", 10.0, "finite, 10 ≤ min ≤ max ≤ 89")?;
        if self.fault_dip_degrees.max > 89.0 {
            return bad("fault_dip_degrees", "finite, 10 ≤ min ≤ max ≤ 89");
        }
        check_probability("unconformity_probability", self.unconformity_probability)?;
        self.unconformity_depth.check(
            "unconformity_depth",
            0.0,
            "fractions with 0 ≤ min ≤ max ≤ 1",
        )?;
        if self.unconformity_depth.max > 1.0 {
            return bad("unconformity_depth", "fractions with 0 ≤ min ≤ max ≤ 1");
        }
        self.erosion_relief
            .check("erosion_relief", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.unconformity_jump.check(
            "unconformity_jump",
            f32::NEG_INFINITY,
            "finite, min ≤ max",
        )?;
        if self.body_count_max > MAX_BODIES {
            return bad("body_count_max", "at most MAX_BODIES (4)");
        }
        check_probability("body_probability", self.body_probability)?;
        self.v_body.check("v_body", 0.0, "finite, 0 ≤ min ≤ max")?;
        self.body_half_width.check(
            "body_half_width",
            f32::MIN_POSITIVE,
            "finite, 0 < min ≤ max",
        )?;
        self.body_height
            .check("body_height", f32::MIN_POSITIVE, "finite, 0 < min ≤ max")?;
        Ok(())
    }
}

/// Checks that `p` is a probability.
fn check_probability(name: &'static str, p: f32) -> Result<(), Error> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name,
            expected: "a probability within 0..=1",
        })
    }
}

/// The larger of two numbers.
pub(crate) fn max_f32(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// The smaller of two numbers.
pub(crate) fn min_f32(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// |x|.
pub(crate) fn abs_f32(x: f32) -> f32 {
    if x < 0.0 {
        -x
    } else {
        x
    }
}
