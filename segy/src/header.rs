//! The binary file header (400 bytes) and the trace header (240 bytes).
//!
//! Each header is a table of fixed-width fields at standard byte positions (SEG-Y rev 1
//! tables 2 and 3, plus the rev 2.0 additions to the binary header). The table is written
//! once per header, in the `header!` invocations below, and generates the struct (one
//! public field per header field), the field descriptors in [`binary_field`] and
//! [`trace_field`] (used in error messages), and the parse and serialise functions.
//! Bytes that no field covers (the unassigned ranges) read as nothing and are written as
//! zeros.
//!
//! Rev 2 fields of the binary header (bytes 3261–3300 and 3507–3532) are parsed whatever
//! the revision; the reader only acts on them when the revision number says 2 or later.

use crate::endian::{ByteOrder, Number};
use crate::field::FieldValue;

macro_rules! header {
    (
        $(#[$meta:meta])*
        struct $name:ident, $size:literal bytes from byte $first:literal, $kind:ident,
        fields in $fields:ident {
            $( $field:ident : $ty:ty = $byte:literal, $desc:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        pub struct $name {
            $( #[doc = concat!($desc, " (bytes ", stringify!($byte), "…).")] pub $field: $ty, )*
        }

        /// Descriptors of the header's fields (name, byte positions, width), one constant
        /// per field, named like the struct field.
        #[allow(non_upper_case_globals)]
        pub mod $fields {
            use crate::endian::Number;
            use crate::field::{Field, HeaderKind};
            $(
                #[doc = concat!("The ", $desc, " field.")]
                pub const $field: Field = Field {
                    name: $desc,
                    header: HeaderKind::$kind,
                    byte: $byte,
                    len: <$ty as Number>::SIZE as u8,
                };
            )*
            /// Every field, in byte order.
            pub const ALL: &[Field] = &[$($field),*];
        }

        impl $name {
            /// Size of the header in bytes.
            pub const LEN: usize = $size;

            /// Parses the header from its bytes in the given byte order.
            pub fn parse(bytes: &[u8; $size], order: ByteOrder) -> Self {
                Self {
                    $( $field: <$ty as Number>::read(&bytes[($byte - $first) as usize..], order), )*
                }
            }

            /// Serialises the header in the given byte order (unassigned bytes are zero).
            pub fn to_bytes(&self, order: ByteOrder) -> [u8; $size] {
                let mut bytes = [0u8; $size];
                $( Number::write(self.$field, &mut bytes[($byte - $first) as usize..], order); )*
                bytes
            }

            /// The value of the field that starts at `byte` (1-based, as in the standard's
            /// tables), or `None` if no field starts there.
            pub fn get(&self, byte: u16) -> Option<FieldValue> {
                match byte {
                    $( $byte => Some(Number::value(self.$field)), )*
                    _ => None,
                }
            }
        }
    };
}

header! {
    /// The 400-byte binary file header (bytes 3201–3600 of the file).
    struct BinaryHeader, 400 bytes from byte 3201, Binary, fields in binary_field {
        job_id: i32 = 3201, "job identification number";
        line_number: i32 = 3205, "line number";
        reel_number: i32 = 3209, "reel number";
        traces_per_ensemble: i16 = 3213, "number of data traces per ensemble";
        aux_traces_per_ensemble: i16 = 3215, "number of auxiliary traces per ensemble";
        sample_interval: u16 = 3217, "sample interval (µs for time data)";
        original_sample_interval: u16 = 3219, "sample interval of the original field recording";
        samples_per_trace: u16 = 3221, "number of samples per data trace";
        original_samples_per_trace: u16 = 3223, "number of samples per trace of the original field recording";
        format_code: i16 = 3225, "data sample format code";
        ensemble_fold: i16 = 3227, "ensemble fold";
        sorting_code: i16 = 3229, "trace sorting code";
        vertical_sum_code: i16 = 3231, "vertical sum code";
        sweep_frequency_start: i16 = 3233, "sweep frequency at start (Hz)";
        sweep_frequency_end: i16 = 3235, "sweep frequency at end (Hz)";
        sweep_length: i16 = 3237, "sweep length (ms)";
        sweep_type: i16 = 3239, "sweep type code";
        sweep_channel: i16 = 3241, "trace number of sweep channel";
        sweep_taper_start: i16 = 3243, "sweep trace taper length at start (ms)";
        sweep_taper_end: i16 = 3245, "sweep trace taper length at end (ms)";
        taper_type: i16 = 3247, "taper type";
        correlated: i16 = 3249, "correlated data traces";
        binary_gain_recovered: i16 = 3251, "binary gain recovered";
        amplitude_recovery: i16 = 3253, "amplitude recovery method";
        measurement_system: i16 = 3255, "measurement system (1 = metres, 2 = feet)";
        impulse_polarity: i16 = 3257, "impulse signal polarity";
        vibratory_polarity: i16 = 3259, "vibratory polarity code";
        extended_traces_per_ensemble: i32 = 3261, "extended number of data traces per ensemble (rev 2)";
        extended_aux_traces_per_ensemble: i32 = 3265, "extended number of auxiliary traces per ensemble (rev 2)";
        extended_samples_per_trace: i32 = 3269, "extended number of samples per data trace (rev 2)";
        extended_sample_interval: f64 = 3273, "extended sample interval (rev 2)";
        extended_original_sample_interval: f64 = 3281, "extended sample interval of the original field recording (rev 2)";
        extended_original_samples_per_trace: i32 = 3289, "extended number of samples per trace of the original field recording (rev 2)";
        extended_ensemble_fold: i32 = 3293, "extended ensemble fold (rev 2)";
        byte_order_word: u32 = 3297, "byte-order word 0x01020304 (rev 2)";
        revision: u16 = 3501, "SEG-Y format revision number";
        fixed_length_flag: i16 = 3503, "fixed length trace flag";
        extended_textual_headers: i16 = 3505, "number of 3200-byte extended textual file headers";
        additional_trace_headers: i32 = 3507, "maximum number of additional 240-byte trace headers (rev 2)";
        time_basis_code: i16 = 3511, "time basis code (rev 2)";
        number_of_traces: u64 = 3513, "number of traces in the file (rev 2)";
        first_trace_offset: u64 = 3521, "byte offset of the first trace (rev 2)";
        trailer_records: i32 = 3529, "number of 3200-byte data trailer stanza records (rev 2)";
    }
}

impl BinaryHeader {
    /// Major revision number: 0, 1 or 2 (the high byte of the revision field).
    pub fn revision_major(&self) -> u8 {
        (self.revision >> 8) as u8
    }
}

header! {
    /// A 240-byte trace header.
    struct TraceHeader, 240 bytes from byte 1, Trace, fields in trace_field {
        trace_sequence_line: i32 = 1, "trace sequence number within line";
        trace_sequence_file: i32 = 5, "trace sequence number within file";
        field_record: i32 = 9, "original field record number";
        trace_number: i32 = 13, "trace number within the original field record";
        energy_source_point: i32 = 17, "energy source point number";
        ensemble_number: i32 = 21, "ensemble number";
        trace_in_ensemble: i32 = 25, "trace number within the ensemble";
        trace_id: i16 = 29, "trace identification code";
        vertically_summed: i16 = 31, "number of vertically summed traces";
        horizontally_stacked: i16 = 33, "number of horizontally stacked traces";
        data_use: i16 = 35, "data use";
        offset: i32 = 37, "distance from source point to receiver group";
        receiver_elevation: i32 = 41, "receiver group elevation";
        source_surface_elevation: i32 = 45, "surface elevation at source";
        source_depth: i32 = 49, "source depth below surface";
        receiver_datum_elevation: i32 = 53, "datum elevation at receiver group";
        source_datum_elevation: i32 = 57, "datum elevation at source";
        source_water_depth: i32 = 61, "water depth at source";
        group_water_depth: i32 = 65, "water depth at group";
        elevation_scalar: i16 = 69, "scalar for elevations and depths";
        coordinate_scalar: i16 = 71, "scalar for coordinates";
        source_x: i32 = 73, "source coordinate x";
        source_y: i32 = 77, "source coordinate y";
        group_x: i32 = 81, "group coordinate x";
        group_y: i32 = 85, "group coordinate y";
        coordinate_units: i16 = 89, "coordinate units";
        weathering_velocity: i16 = 91, "weathering velocity";
        subweathering_velocity: i16 = 93, "subweathering velocity";
        source_uphole_time: i16 = 95, "uphole time at source (ms)";
        group_uphole_time: i16 = 97, "uphole time at group (ms)";
        source_static: i16 = 99, "source static correction (ms)";
        group_static: i16 = 101, "group static correction (ms)";
        total_static: i16 = 103, "total static applied (ms)";
        lag_time_a: i16 = 105, "lag time A (ms)";
        lag_time_b: i16 = 107, "lag time B (ms)";
        delay_recording_time: i16 = 109, "delay recording time (ms)";
        mute_start: i16 = 111, "mute time start (ms)";
        mute_end: i16 = 113, "mute time end (ms)";
        sample_count: u16 = 115, "number of samples in this trace";
        sample_interval: u16 = 117, "sample interval of this trace (µs for time data)";
        gain_type: i16 = 119, "gain type of field instruments";
        gain_constant: i16 = 121, "instrument gain constant (dB)";
        initial_gain: i16 = 123, "instrument early or initial gain (dB)";
        correlated: i16 = 125, "correlated";
        sweep_frequency_start: i16 = 127, "sweep frequency at start (Hz)";
        sweep_frequency_end: i16 = 129, "sweep frequency at end (Hz)";
        sweep_length: i16 = 131, "sweep length (ms)";
        sweep_type: i16 = 133, "sweep type";
        sweep_taper_start: i16 = 135, "sweep trace taper length at start (ms)";
        sweep_taper_end: i16 = 137, "sweep trace taper length at end (ms)";
        taper_type: i16 = 139, "taper type";
        alias_filter_frequency: i16 = 141, "alias filter frequency (Hz)";
        alias_filter_slope: i16 = 143, "alias filter slope (dB/octave)";
        notch_filter_frequency: i16 = 145, "notch filter frequency (Hz)";
        notch_filter_slope: i16 = 147, "notch filter slope (dB/octave)";
        low_cut_frequency: i16 = 149, "low-cut frequency (Hz)";
        high_cut_frequency: i16 = 151, "high-cut frequency (Hz)";
        low_cut_slope: i16 = 153, "low-cut slope (dB/octave)";
        high_cut_slope: i16 = 155, "high-cut slope (dB/octave)";
        year: i16 = 157, "year data recorded";
        day_of_year: i16 = 159, "day of year";
        hour: i16 = 161, "hour of day";
        minute: i16 = 163, "minute of hour";
        second: i16 = 165, "second of minute";
        time_basis_code: i16 = 167, "time basis code";
        trace_weighting_factor: i16 = 169, "trace weighting factor";
        group_number_roll_switch: i16 = 171, "geophone group number of roll switch position one";
        group_number_first: i16 = 173, "geophone group number of trace number one";
        group_number_last: i16 = 175, "geophone group number of last trace";
        gap_size: i16 = 177, "gap size";
        over_travel: i16 = 179, "over travel";
        cdp_x: i32 = 181, "ensemble (CDP) coordinate x";
        cdp_y: i32 = 185, "ensemble (CDP) coordinate y";
        inline: i32 = 189, "in-line number";
        crossline: i32 = 193, "cross-line number";
        shot_point: i32 = 197, "shotpoint number";
        shot_point_scalar: i16 = 201, "scalar for the shotpoint number";
        trace_value_unit: i16 = 203, "trace value measurement unit";
        transduction_mantissa: i32 = 205, "transduction constant mantissa";
        transduction_exponent: i16 = 209, "transduction constant exponent";
        transduction_unit: i16 = 211, "transduction units";
        device_id: i16 = 213, "device/trace identifier";
        times_scalar: i16 = 215, "scalar for the times in bytes 95–114";
        source_type: i16 = 217, "source type/orientation";
        source_energy_direction_vertical: i16 = 219, "source energy direction, vertical";
        source_energy_direction_crossline: i16 = 221, "source energy direction, cross-line";
        source_energy_direction_inline: i16 = 223, "source energy direction, in-line";
        source_measurement_mantissa: i32 = 225, "source measurement mantissa";
        source_measurement_exponent: i16 = 229, "source measurement exponent";
        source_measurement_unit: i16 = 231, "source measurement unit";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;

    /// The fields tile `[first, end)` with no gap or overlap, except that a field may
    /// start at `resume` (the end of an unassigned range).
    fn check_layout(fields: &[Field], first: u16, end: u16, gap: Option<(u16, u16)>) {
        let mut next = first;
        for f in fields {
            match gap {
                Some((from, to)) if next == from => {
                    assert_eq!(f.byte, to, "{f} after the unassigned range");
                }
                _ => assert_eq!(f.byte, next, "{f} leaves a gap or overlaps"),
            }
            next = f.last_byte() + 1;
        }
        assert_eq!(next, end);
    }

    #[test]
    fn field_tables_tile_the_standard_layout() {
        // Binary: 3201–3300 assigned, 3301–3500 unassigned, 3501–3532 assigned (rev 2).
        check_layout(binary_field::ALL, 3201, 3533, Some((3301, 3501)));
        // Trace: 1–232 assigned, 233–240 unassigned.
        check_layout(trace_field::ALL, 1, 233, None);
    }

    #[test]
    fn every_field_round_trips_in_both_byte_orders() {
        // Distinct non-zero bytes everywhere: each field parses to its own value and
        // serialises back to the same bytes.
        for order in [ByteOrder::Big, ByteOrder::Little] {
            let mut bytes = [0u8; 240];
            for (i, b) in bytes.iter_mut().enumerate().take(232) {
                *b = (i as u8).wrapping_mul(7).wrapping_add(1);
            }
            let h = TraceHeader::parse(&bytes, order);
            assert_eq!(h.to_bytes(order), bytes);
            let mut bytes = [0u8; 400];
            for (i, b) in bytes.iter_mut().enumerate() {
                let unassigned = (100..300).contains(&i) || i >= 332;
                if !unassigned {
                    *b = (i as u8).wrapping_mul(13).wrapping_add(3);
                }
            }
            let h = BinaryHeader::parse(&bytes, order);
            assert_eq!(h.to_bytes(order), bytes);
        }
    }

    #[test]
    fn fields_sit_where_the_standard_puts_them() {
        let mut bytes = [0u8; 240];
        bytes[114..116].copy_from_slice(&1441u16.to_be_bytes());
        bytes[72..76].copy_from_slice(&(-123456i32).to_be_bytes());
        bytes[70..72].copy_from_slice(&(-100i16).to_be_bytes());
        let h = TraceHeader::parse(&bytes, ByteOrder::Big);
        assert_eq!(h.sample_count, 1441);
        assert_eq!(h.source_x, -123456);
        assert_eq!(h.coordinate_scalar, -100);
        assert_eq!(h.get(115), Some(FieldValue::Unsigned(1441)));
        assert_eq!(h.get(116), None);
        assert_eq!(
            trace_field::sample_count.to_string(),
            "number of samples in this trace (trace header bytes 115–116)"
        );
        let mut bytes = [0u8; 400];
        bytes[24..26].copy_from_slice(&5i16.to_le_bytes());
        bytes[72..80].copy_from_slice(&0.5f64.to_le_bytes());
        bytes[300..302].copy_from_slice(&[2, 0]);
        let h = BinaryHeader::parse(&bytes, ByteOrder::Little);
        assert_eq!(h.format_code, 5);
        assert_eq!(h.extended_sample_interval, 0.5);
        assert_eq!(h.revision, 2);
        assert_eq!(
            binary_field::format_code.to_string(),
            "data sample format code (binary header bytes 3225–3226)"
        );
    }
}
