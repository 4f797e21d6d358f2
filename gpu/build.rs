//! Compiles the GLSL compute shaders in `../shaders/` to SPIR-V with `glslc` (Debian/Ubuntu
//! package `glslc`, or the Vulkan SDK).
//!
//! Without `glslc` the crate still builds (so a workspace build never needs the Vulkan
//! tool chain), but with the `powerpost_no_shaders` cfg: every pipeline constructor then
//! returns `GpuError::ShadersNotBuilt`. Set `POWERPOST_REQUIRE_SHADERS=1` (CI does) to make
//! a missing `glslc` a build error instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compute shaders, compiled to `$OUT_DIR/<name>.spv`.
const SHADERS: &[&str] = &[
    "detmath_check",
    "conv2d",
    "winograd3x3",
    "group_norm",
    "linear",
    "fourier_features",
    "avg_pool2",
    "upsample_nearest2",
];

fn main() {
    let shader_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shaders");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rustc-check-cfg=cfg(powerpost_no_shaders)");
    println!("cargo::rerun-if-env-changed=POWERPOST_REQUIRE_SHADERS");
    println!("cargo::rerun-if-env-changed=GLSLC");
    println!("cargo::rerun-if-changed={}", shader_dir.display());
    let glslc = env::var_os("GLSLC").unwrap_or_else(|| "glslc".into());
    let required = env::var_os("POWERPOST_REQUIRE_SHADERS").is_some_and(|v| v != "0");
    if Command::new(&glslc).arg("--version").output().is_err() {
        if required {
            panic!(
                "POWERPOST_REQUIRE_SHADERS is set but `glslc` was not found \
                 (apt-get install glslc, or set GLSLC to its path)"
            );
        }
        println!(
            "cargo::warning=glslc not found: powerpost-gpu builds without its shaders \
             (apt-get install glslc to enable the Vulkan backend)"
        );
        println!("cargo::rustc-cfg=powerpost_no_shaders");
        return;
    }
    for entry in std::fs::read_dir(&shader_dir).expect("shaders/ exists") {
        let path = entry.expect("readable shaders/ entry").path();
        println!("cargo::rerun-if-changed={}", path.display());
    }
    for name in SHADERS {
        let src = shader_dir.join(format!("{name}.comp"));
        let spv = out_dir.join(format!("{name}.spv"));
        let output = Command::new(&glslc)
            .args(["--target-env=vulkan1.1", "-Werror", "-I"])
            .arg(&shader_dir)
            .arg(&src)
            .arg("-o")
            .arg(&spv)
            .output()
            .expect("glslc runs");
        if !output.status.success() {
            panic!(
                "glslc failed on {}:\n{}",
                src.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
