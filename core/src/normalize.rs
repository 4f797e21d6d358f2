//! Normalisation between physical units and the network's values.
//!
//! The network works on normalised values: velocity `x = (v − c)·(1/h)` with centre `c`
//! and half-range `h` in km/s (defaults 3.0 and 1.5, so 1.5–4.5 km/s maps to [−1, 1]),
//! and RTM image `y_net = y · s` with a constant scale `s` (default 1).
//!
//! ## Operation order (bit-exact contract)
//! - velocity → network: `x = (v − c) × r` with `r = detmath::recip(h)` computed once;
//! - network → velocity: `v = x × h + c` (a product, then a sum; never fused);
//! - RTM → network: `y_net = y × s`.
//!
//! All in f32, element by element; nothing else is involved, so the GPU port and the
//! trainer repeat the same bits by doing the same three operations.
//!
//! ## Weights metadata
//! A weights file may carry its normalisation in its safetensors `__metadata__` under
//! [`VELOCITY_CENTER_KEY`], [`VELOCITY_HALF_RANGE_KEY`] and [`RTM_SCALE_KEY`], each a
//! decimal number (Rust/Python float syntax, e.g. `"3.0"`, `"1.5"`, `"2.5e-3"`). A missing
//! key means the default; a present but malformed, non-finite or out-of-range value is an
//! error ([`Normalization::from_safetensors`]).

use crate::detmath;
use crate::error::{check_len, Error};
use crate::safetensors::SafeTensors;

/// Metadata key of the velocity centre `c` (km/s).
pub const VELOCITY_CENTER_KEY: &str = "powerpost.velocity_center";
/// Metadata key of the velocity half-range `h` (km/s).
pub const VELOCITY_HALF_RANGE_KEY: &str = "powerpost.velocity_half_range";
/// Metadata key of the RTM scale `s`.
pub const RTM_SCALE_KEY: &str = "powerpost.rtm_scale";

/// How physical values map to the network's values (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Velocity mapped to 0 (km/s).
    pub velocity_center_km_s: f32,
    /// Velocity distance from the centre mapped to ±1 (km/s, > 0).
    pub velocity_half_range_km_s: f32,
    /// Factor applied to the raw RTM image (finite, ≠ 0).
    pub rtm_scale: f32,
}

impl Default for Normalization {
    /// Centre 3.0 km/s, half-range 1.5 km/s (1.5–4.5 km/s ↦ [−1, 1]), RTM scale 1.
    fn default() -> Self {
        Self {
            velocity_center_km_s: 3.0,
            velocity_half_range_km_s: 1.5,
            rtm_scale: 1.0,
        }
    }
}

impl Normalization {
    /// Checks that the centre is finite, the half-range finite and positive, and the RTM
    /// scale finite and non-zero.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the metadata key of the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.velocity_center_km_s.is_finite() {
            return Err(Error::InvalidArgument {
                name: VELOCITY_CENTER_KEY,
                expected: "a finite velocity in km/s",
            });
        }
        let h = self.velocity_half_range_km_s;
        // recip flushes |h| > 2^126 to 0 and h below 2^-126 would overflow it.
        if !(f32::MIN_POSITIVE..1.0e30).contains(&h) {
            return Err(Error::InvalidArgument {
                name: VELOCITY_HALF_RANGE_KEY,
                expected: "a positive finite half-range in km/s",
            });
        }
        if !(self.rtm_scale.is_finite() && self.rtm_scale != 0.0) {
            return Err(Error::InvalidArgument {
                name: RTM_SCALE_KEY,
                expected: "a finite non-zero scale",
            });
        }
        Ok(())
    }

    /// Maps velocities (km/s) to network values: `out[i] = (velocity[i] − c) × recip(h)`.
    ///
    /// # Errors
    /// [`Error::BufferLength`] unless `out.len() == velocity.len()`; as
    /// [`validate`](Self::validate).
    pub fn velocity_to_network(&self, velocity_km_s: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.validate()?;
        check_len("out", out.len(), velocity_km_s.len())?;
        let c = self.velocity_center_km_s;
        let r = detmath::recip(self.velocity_half_range_km_s);
        for (o, &v) in out.iter_mut().zip(velocity_km_s) {
            *o = (v - c) * r;
        }
        Ok(())
    }

    /// Maps network values to velocities (km/s): `out[i] = x[i] × h + c`.
    ///
    /// # Errors
    /// [`Error::BufferLength`] unless `out.len() == x.len()`; as
    /// [`validate`](Self::validate).
    pub fn network_to_velocity(&self, x: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.validate()?;
        check_len("out", out.len(), x.len())?;
        let (h, c) = (self.velocity_half_range_km_s, self.velocity_center_km_s);
        for (o, &v) in out.iter_mut().zip(x) {
            let scaled = v * h;
            *o = scaled + c;
        }
        Ok(())
    }

    /// Maps a raw RTM image to the network's condition: `out[i] = rtm[i] × s`.
    ///
    /// # Errors
    /// [`Error::BufferLength`] unless `out.len() == rtm.len()`; as
    /// [`validate`](Self::validate).
    pub fn rtm_to_network(&self, rtm: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.validate()?;
        check_len("out", out.len(), rtm.len())?;
        for (o, &v) in out.iter_mut().zip(rtm) {
            *o = v * self.rtm_scale;
        }
        Ok(())
    }

    /// Reads the normalisation from a weights file's metadata; missing keys take the
    /// defaults.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the key whose value is not a decimal number
    /// (or contains JSON escapes), or whose value fails [`validate`](Self::validate).
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self, Error> {
        Self::from_metadata(|key| file.metadata_entry(key).map(|entry| entry.as_str()))
    }

    /// Reads the normalisation from key–value metadata: `lookup(key)` is `None` for a
    /// missing key, `Some(None)` for a value that cannot be read as plain text, and
    /// `Some(Some(text))` otherwise.
    ///
    /// # Errors
    /// As [`from_safetensors`](Self::from_safetensors).
    pub fn from_metadata<'t>(
        lookup: impl Fn(&str) -> Option<Option<&'t str>>,
    ) -> Result<Self, Error> {
        let defaults = Self::default();
        let read = |key: &'static str, default: f32| -> Result<f32, Error> {
            match lookup(key) {
                None => Ok(default),
                Some(text) => {
                    text.and_then(|t| t.trim().parse::<f32>().ok())
                        .ok_or(Error::InvalidArgument {
                            name: key,
                            expected: "a decimal number (e.g. \"1.5\") as metadata value",
                        })
                }
            }
        };
        let n = Self {
            velocity_center_km_s: read(VELOCITY_CENTER_KEY, defaults.velocity_center_km_s)?,
            velocity_half_range_km_s: read(
                VELOCITY_HALF_RANGE_KEY,
                defaults.velocity_half_range_km_s,
            )?,
            rtm_scale: read(RTM_SCALE_KEY, defaults.rtm_scale)?,
        };
        n.validate()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_key(result: Result<Normalization, Error>) -> &'static str {
        match result {
            Err(Error::InvalidArgument { name, .. }) => name,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_map_the_velocity_range_to_unit_interval() {
        let n = Normalization::default();
        let mut x = [0.0f32; 5];
        n.velocity_to_network(&[1.5, 2.25, 3.0, 3.75, 4.5], &mut x)
            .unwrap();
        // (v − 3)·recip(1.5): exact at 0 and within 1 ulp of the exact quotient elsewhere.
        for (got, want) in x.iter().zip([-1.0f64, -0.5, 0.0, 0.5, 1.0]) {
            assert!(
                (*got as f64 - want).abs() <= f32::EPSILON as f64,
                "{got} vs {want}"
            );
        }
        assert_eq!(x[2], 0.0);
        let mut v = [0.0f32; 5];
        n.network_to_velocity(&[-1.0, -0.5, 0.0, 0.5, 1.0], &mut v)
            .unwrap();
        assert_eq!(v, [1.5, 2.25, 3.0, 3.75, 4.5]); // exact: products and sums of dyadics
    }

    #[test]
    fn round_trip_is_within_an_ulp_and_ops_follow_the_documented_order() {
        let n = Normalization {
            velocity_center_km_s: 2.9,
            velocity_half_range_km_s: 1.7,
            rtm_scale: 0.25,
        };
        let r = detmath::recip(1.7);
        for k in 0..1000 {
            let v = 1.0 + k as f32 * 0.0045;
            let mut x = [0.0];
            n.velocity_to_network(&[v], &mut x).unwrap();
            assert_eq!(x[0].to_bits(), ((v - 2.9) * r).to_bits());
            let mut back = [0.0];
            n.network_to_velocity(&x, &mut back).unwrap();
            assert_eq!(back[0].to_bits(), (x[0] * 1.7 + 2.9).to_bits());
            assert!(
                (back[0] - v).abs() <= 4.0 * f32::EPSILON * 4.0,
                "{v} -> {}",
                back[0]
            );
        }
        let mut y = [0.0; 3];
        n.rtm_to_network(&[4.0, -2.0, 0.5], &mut y).unwrap();
        assert_eq!(y, [1.0, -0.5, 0.125]);
    }

    #[test]
    fn metadata_parsing() {
        let none = |_: &str| None;
        assert_eq!(
            Normalization::from_metadata(none).unwrap(),
            Normalization::default()
        );
        let some = |key: &str| match key {
            VELOCITY_CENTER_KEY => Some(Some("2.5")),
            RTM_SCALE_KEY => Some(Some(" 1e-3 ")),
            _ => None,
        };
        assert_eq!(
            Normalization::from_metadata(some).unwrap(),
            Normalization {
                velocity_center_km_s: 2.5,
                velocity_half_range_km_s: 1.5,
                rtm_scale: 1e-3
            }
        );
        let malformed = |key: &str| (key == VELOCITY_HALF_RANGE_KEY).then_some(Some("wide"));
        assert_eq!(
            bad_key(Normalization::from_metadata(malformed)),
            VELOCITY_HALF_RANGE_KEY
        );
        let escaped = |key: &str| (key == VELOCITY_CENTER_KEY).then_some(None);
        assert_eq!(
            bad_key(Normalization::from_metadata(escaped)),
            VELOCITY_CENTER_KEY
        );
        let negative = |key: &str| (key == VELOCITY_HALF_RANGE_KEY).then_some(Some("-1.5"));
        assert_eq!(
            bad_key(Normalization::from_metadata(negative)),
            VELOCITY_HALF_RANGE_KEY
        );
        let zero = |key: &str| (key == RTM_SCALE_KEY).then_some(Some("0"));
        assert_eq!(bad_key(Normalization::from_metadata(zero)), RTM_SCALE_KEY);
        let nan = |key: &str| (key == VELOCITY_CENTER_KEY).then_some(Some("NaN"));
        assert_eq!(
            bad_key(Normalization::from_metadata(nan)),
            VELOCITY_CENTER_KEY
        );
    }

    /// A safetensors buffer with one U8 tensor and `metadata` as the `__metadata__` object.
    fn with_metadata(metadata: &str, bytes: &mut [u8; 256]) -> usize {
        let mut header = heapless::String::<200>::new();
        let _ = header.push_str("{\"__metadata__\":");
        let _ = header.push_str(metadata);
        let _ = header.push_str(",\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        let len = header.len();
        bytes[..8].copy_from_slice(&(len as u64).to_le_bytes());
        bytes[8..8 + len].copy_from_slice(header.as_bytes());
        8 + len + 1
    }

    #[test]
    fn from_a_safetensors_header() {
        let mut bytes = [0u8; 256];
        // The RTM scale holds an escape: it is not a plain number.
        let len = with_metadata(
            r#"{"powerpost.velocity_half_range":"2.0","powerpost.rtm_scale":"x\"y"}"#,
            &mut bytes,
        );
        let file = SafeTensors::parse(&bytes[..len]).unwrap();
        assert_eq!(
            bad_key(Normalization::from_safetensors(&file)),
            RTM_SCALE_KEY
        );
        let mut bytes = [0u8; 256];
        let len = with_metadata(r#"{"powerpost.velocity_half_range":"2.0"}"#, &mut bytes);
        let file = SafeTensors::parse(&bytes[..len]).unwrap();
        let n = Normalization::from_safetensors(&file).unwrap();
        assert_eq!(
            (
                n.velocity_center_km_s,
                n.velocity_half_range_km_s,
                n.rtm_scale
            ),
            (3.0, 2.0, 1.0)
        );
    }

    #[test]
    fn mis_sized_buffers_are_errors() {
        let n = Normalization::default();
        assert!(matches!(
            n.velocity_to_network(&[1.0; 3], &mut [0.0; 2]),
            Err(Error::BufferLength { .. })
        ));
        assert!(matches!(
            n.network_to_velocity(&[1.0; 3], &mut [0.0; 4]),
            Err(Error::BufferLength { .. })
        ));
        assert!(matches!(
            n.rtm_to_network(&[1.0; 1], &mut []),
            Err(Error::BufferLength { .. })
        ));
    }
}
