//! Times each layer pipeline of the network once per shape on the best Vulkan device
//! (upload + dispatch + read-back included), to see where a forward pass spends its time.
//!
//! `cargo run --release -p powerpost-gpu --example layer_timing [H W]`

use std::time::Instant;

use powerpost_core::nn::conv::{Conv, Source};
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::norm::GroupNorm;
use powerpost_gpu::conv::Conv2d;
use powerpost_gpu::norm::GroupNormPipeline;
use powerpost_gpu::Gpu;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (h, w) = (*args.first().unwrap_or(&64), *args.get(1).unwrap_or(&128));
    let gpu = Gpu::new()?;
    println!("device: {}", gpu.device_name());
    let conv = Conv2d::new(&gpu)?;
    let norm = GroupNormPipeline::new(&gpu)?;
    let batch = 2;
    for (level, cin, cout) in [(0usize, 32usize, 32usize), (1, 64, 64), (2, 128, 128)] {
        let g = Geometry::new(h >> level, w >> level);
        let input = vec![0.25f32; batch * g.tensor_len(cin)];
        let weight = vec![0.01f32; cout * cin * 9];
        let bias = vec![0.0f32; batch * cout];
        let mut out = vec![0.0f32; batch * g.tensor_len(cout)];
        let time = |f: &mut dyn FnMut()| {
            f();
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        };
        let conv_ms = time(&mut || {
            conv.run(
                g,
                batch,
                &[Source {
                    data: &input,
                    channels: cin,
                }],
                &Conv {
                    kernel: 3,
                    out_channels: cout,
                    weight: &weight,
                    bias: &bias,
                    residual: None,
                    residual_scale: 1.0,
                },
                &mut out,
            )
            .unwrap()
        });
        let gamma = vec![1.0f32; cin];
        let beta = vec![0.0f32; cin];
        let mut normed = vec![0.0f32; batch * g.tensor_len(cin)];
        let norm_ms = time(&mut || {
            norm.run(
                g,
                batch,
                &[Source {
                    data: &input,
                    channels: cin,
                }],
                &GroupNorm {
                    groups: (cin / 4).min(32),
                    gamma: &gamma,
                    beta: &beta,
                    eps: 1e-5,
                    silu: true,
                },
                &mut normed,
            )
            .unwrap()
        });
        let gflop = 2.0 * (batch * cin * cout * 9 * g.height * g.width) as f64 / 1e9;
        println!(
            "level {level} ({}×{}, {cin}→{cout}): conv3×3 {conv_ms:.1} ms ({:.2} GFLOP/s), group norm+SiLU {norm_ms:.1} ms",
            g.height,
            g.width,
            gflop / (conv_ms * 1e-3)
        );
    }
    Ok(())
}
