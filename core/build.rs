//! Enables the AVX-512 kernels (`cfg(powerpost_avx512)`) when the compiler has the
//! AVX-512 intrinsics (stable since Rust 1.89); older compilers, down to the core's MSRV
//! (1.81), build everything else. Same bits either way: the instruction set only changes
//! the speed.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(powerpost_avx512)");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|version| minor_version(&version));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=powerpost_avx512");
    }
}

/// The minor version of a `rustc 1.MINOR.PATCH …` line.
fn minor_version(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("rustc 1.")?;
    rest.split('.').next()?.parse().ok()
}
