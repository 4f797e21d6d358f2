//! The loss-curve figure: loss per step (log scale, light dots) and its running mean over
//! 50 steps (dark line), as a PNG drawn pixel by pixel.

use anyhow::Result;

const W: usize = 800;
const H: usize = 400;
const MARGIN: usize = 40;

/// PNG bytes of the loss curve of `(step, loss)` points.
///
/// # Errors
/// PNG encoding failures.
pub fn loss_curve_png(points: &[(u64, f64)]) -> Result<Vec<u8>> {
    let mut img = vec![255u8; W * H * 3];
    let mut set = |x: usize, y: usize, c: [u8; 3]| {
        if x < W && y < H {
            img[(y * W + x) * 3..(y * W + x) * 3 + 3].copy_from_slice(&c);
        }
    };
    for x in MARGIN..W - MARGIN / 2 {
        set(x, H - MARGIN, [0, 0, 0]);
    }
    for y in MARGIN / 2..H - MARGIN {
        set(MARGIN, y, [0, 0, 0]);
    }
    let pts: Vec<(u64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.1 > 0.0 && p.1.is_finite())
        .collect();
    if pts.len() >= 2 {
        let (s0, s1) = (
            pts[0].0 as f64,
            pts[pts.len() - 1].0.max(pts[0].0 + 1) as f64,
        );
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1.log10()), b.max(p.1.log10()))
            });
        let (lo, hi) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
        let px = |s: f64| {
            MARGIN + ((s - s0) / (s1 - s0) * (W - MARGIN - MARGIN / 2 - 1) as f64) as usize
        };
        let py = |l: f64| {
            H - MARGIN
                - ((l.log10() - lo) / (hi - lo) * (H - MARGIN - MARGIN / 2 - 1) as f64) as usize
        };
        // Decade grid lines.
        let mut d = lo;
        while d <= hi {
            let y = py(10f64.powf(d));
            for x in (MARGIN..W - MARGIN / 2).step_by(4) {
                set(x, y, [200, 200, 200]);
            }
            d += 1.0;
        }
        for &(s, l) in &pts {
            set(px(s as f64), py(l), [150, 180, 230]);
        }
        let window = 50usize;
        let mut prev: Option<(usize, usize)> = None;
        let mut sum = 0.0;
        for (i, &(s, l)) in pts.iter().enumerate() {
            sum += l;
            if i >= window {
                sum -= pts[i - window].1;
            }
            let mean = sum / (i + 1).min(window) as f64;
            let cur = (px(s as f64), py(mean));
            if let Some((x0, y0)) = prev {
                let steps = x0.abs_diff(cur.0).max(y0.abs_diff(cur.1)).max(1);
                for k in 0..=steps {
                    let t = k as f64 / steps as f64;
                    let x = (x0 as f64 + t * (cur.0 as f64 - x0 as f64)).round() as usize;
                    let y = (y0 as f64 + t * (cur.1 as f64 - y0 as f64)).round() as usize;
                    set(x, y, [20, 40, 120]);
                }
            }
            prev = Some(cur);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, W as u32, H as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&img)?;
    }
    Ok(out)
}
