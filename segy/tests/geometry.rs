//! Shot and depth-image layouts: write, read back, same samples and geometry; every
//! mismatch with the expected geometry is refused naming the trace and field.

use powerpost_segy::ibm::{f32_to_ibm, ibm_to_f32};
use powerpost_segy::{
    parse, to_bytes, DepthImageGeometry, ErrorKind, SampleFormat, Segy, ShotGeometry, TextEncoding,
};

/// The `edge`-like line: 16 sources at (i + ½)·3175/16 m, 8 receivers every 25 m, 25 m deep.
fn line() -> ShotGeometry {
    ShotGeometry {
        source_x: (0..16).map(|i| (i as f64 + 0.5) * 3175.0 / 16.0).collect(),
        source_depth: 25.0,
        receiver_x: (0..8).map(|j| j as f64 * 25.0).collect(),
        receiver_depth: 25.0,
        samples: 11,
        sample_interval_us: 1250,
    }
}

/// Values `[shot][time][receiver]` that say where they are.
fn shots(g: &ShotGeometry) -> Vec<f32> {
    let mut v = Vec::new();
    for s in 0..g.shots() {
        for t in 0..g.samples {
            for r in 0..g.receivers() {
                v.push(s as f32 * 1000.0 + t as f32 + r as f32 / 100.0);
            }
        }
    }
    v
}

fn round_trip(segy: &Segy) -> Segy {
    parse(&to_bytes(segy).unwrap()).unwrap()
}

#[test]
fn shots_round_trip_with_their_geometry_in_the_headers() {
    let g = line();
    let data = shots(&g);
    for format in [SampleFormat::IeeeFloat, SampleFormat::IbmFloat] {
        let segy = g
            .to_segy(
                &data,
                &["TEST LINE".to_string()],
                format,
                TextEncoding::Ebcdic,
            )
            .unwrap();
        let back = round_trip(&segy);
        let read = g.shots_from_segy(&back).unwrap();
        for (got, want) in read.iter().zip(&data) {
            let want = match format {
                SampleFormat::IbmFloat => ibm_to_f32(f32_to_ibm(*want)),
                _ => *want,
            };
            assert_eq!(got.to_bits(), want.to_bits());
        }
        // Trace k = shot s, receiver r: numbering and positions as documented.
        let h = &back.headers[3 * 8 + 5];
        assert_eq!(
            (h.field_record, h.trace_number, h.trace_sequence_line),
            (4, 6, 30)
        );
        assert_eq!(h.coordinate_scalar, -10000); // 3.5·3175/16 = 694.53125 needs 1e-4 m
        assert_eq!(h.source_x, 6_945_313); // 694.53125 m, rounded half away from zero
        assert_eq!(h.group_x, 1_250_000);
        assert_eq!(
            (h.source_depth, h.receiver_elevation, h.elevation_scalar),
            (25, -25, 1)
        );
        assert_eq!(h.offset, 125 - 695);
        assert_eq!((h.sample_count, h.sample_interval), (11, 1250));
        assert_eq!(
            (
                back.binary.traces_per_ensemble,
                back.binary.measurement_system
            ),
            (8, 1)
        );
        assert!(back.text.lines[0].starts_with("C 1 TEST LINE"));
        assert!(back
            .text
            .text()
            .contains("16 SHOTS X 8 RECEIVERS, 11 SAMPLES EVERY 1250 US"));
    }
}

#[test]
fn shot_geometry_mismatches_name_the_trace_and_field() {
    let g = line();
    let segy = round_trip(
        &g.to_segy(
            &shots(&g),
            &[],
            SampleFormat::IeeeFloat,
            TextEncoding::Ascii,
        )
        .unwrap(),
    );
    let message = |other: &ShotGeometry| other.check(&segy).unwrap_err().to_string();

    let mut fewer = line();
    fewer.source_x.pop();
    assert_eq!(
        message(&fewer),
        "the number of traces is 128, expected 120 (15 shots × 8 receivers)"
    );
    let mut longer = line();
    longer.samples = 12;
    assert_eq!(
        message(&longer),
        "number of samples per data trace (binary header bytes 3221–3222) is 11, expected 12"
    );
    let mut slower = line();
    slower.sample_interval_us = 2000;
    assert!(message(&slower).starts_with(
        "sample interval (µs for time data) (binary header bytes 3217–3218) is 1250, expected 2000"
    ));
    let mut moved = line();
    moved.receiver_x[5] += 0.001;
    assert_eq!(
        message(&moved),
        "trace index 5: the receiver x of receiver 5: group coordinate x (trace header bytes 81–84) scaled by bytes 71–72 is 125 m, expected 125.001 m"
    );
    let mut shifted = line();
    shifted.source_x[2] -= 1.0;
    assert!(message(&shifted).starts_with(
        "trace index 16: the source x of shot 2: source coordinate x (trace header bytes 73–76)"
    ));
    let mut deeper = line();
    deeper.receiver_depth = 30.0;
    assert!(message(&deeper).contains("the receiver depth: minus the receiver group elevation (trace header bytes 41–44) scaled by bytes 69–70 is 25 m, expected 30 m"));
    let mut shallower = line();
    shallower.source_depth = 20.0;
    assert!(message(&shallower).starts_with("trace index 0: the source depth"));
    // Within the stored resolution (1e-4 m here) is the same position.
    let mut rounded = line();
    rounded.source_x[3] += 0.00004;
    assert!(rounded.check(&segy).is_ok());
    // A hand-made Segy whose data does not fill its traces, or a geometry without samples.
    let mut short = segy.clone();
    short.data.pop();
    assert!(matches!(
        line().check(&short).unwrap_err().kind(),
        ErrorKind::DataLength { .. }
    ));
    let mut empty = segy.clone();
    empty.samples_per_trace = 0;
    empty.data.clear();
    let no_samples = ShotGeometry {
        samples: 0,
        ..line()
    };
    assert!(no_samples
        .shots_from_segy(&empty)
        .unwrap_err()
        .to_string()
        .contains("is 0, expected more than 0"));
    // Feet are refused.
    let mut feet = segy.clone();
    feet.binary.measurement_system = 2;
    assert!(line()
        .check(&feet)
        .unwrap_err()
        .to_string()
        .contains("measurement system"));
}

#[test]
fn shot_geometry_refuses_what_does_not_fit() {
    let g = line();
    let e = g
        .to_segy(
            &[0.0; 10],
            &[],
            SampleFormat::IeeeFloat,
            TextEncoding::Ebcdic,
        )
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::DataLength {
            traces: 128,
            samples: 11,
            found: 10
        }
    ));
    let mut far = line();
    far.receiver_x[0] = 1e13;
    let e = far
        .to_segy(
            &shots(&far),
            &[],
            SampleFormat::IeeeFloat,
            TextEncoding::Ebcdic,
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("a source or receiver x (m) is 10000000000000"),
        "{e}"
    );
    let e = g
        .to_segy(
            &shots(&g),
            &["\u{b5}s".to_string()],
            SampleFormat::IeeeFloat,
            TextEncoding::Ebcdic,
        )
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TextualHeader { line: 1, .. }),
        "{e}"
    );
}

#[test]
fn depth_images_round_trip_one_trace_per_column() {
    let g = DepthImageGeometry {
        nz: 6,
        nx: 4,
        dz: 12.5,
        dx: 12.5,
    };
    let image: Vec<f32> = (0..24)
        .map(|k| (k / 4) as f32 * 10.0 + (k % 4) as f32)
        .collect();
    let segy = g
        .to_segy(
            &image,
            &["RTM".to_string()],
            SampleFormat::IeeeFloat,
            TextEncoding::Ebcdic,
        )
        .unwrap();
    let back = round_trip(&segy);
    assert_eq!(g.image_from_segy(&back).unwrap(), image);
    // Trace ix is column ix: its samples go down the column.
    assert_eq!(back.trace(2).unwrap(), &[2.0, 12.0, 22.0, 32.0, 42.0, 52.0]);
    assert_eq!(back.binary.sample_interval, 12_500); // dz in mm
    assert_eq!(back.sample_interval(), 12_500.0);
    let h = &back.headers[3];
    assert_eq!(
        (h.ensemble_number, h.cdp_x, h.coordinate_scalar),
        (4, 375, -10)
    );
    // Mismatches: another spacing, another depth step.
    let wider = DepthImageGeometry { dx: 25.0, ..g };
    assert!(wider.image_from_segy(&back).unwrap_err().to_string().starts_with(
        "trace index 1: the x of column 1: ensemble (CDP) coordinate x (trace header bytes 181–184) scaled by bytes 71–72 is 12.5 m, expected 25 m"
    ));
    let coarser = DepthImageGeometry { dz: 25.0, ..g };
    assert!(coarser
        .image_from_segy(&back)
        .unwrap_err()
        .to_string()
        .contains("is 12500, expected 25000 (dz in mm)"));
    // A depth step that is no whole number of millimetres, or too large, is refused.
    for dz in [0.0125, 33.0, 0.0] {
        let e = DepthImageGeometry { dz, ..g }
            .to_segy(&image, &[], SampleFormat::IeeeFloat, TextEncoding::Ebcdic)
            .unwrap_err();
        assert!(e.to_string().starts_with("the depth step dz"), "{dz}: {e}");
    }
}
