//! The CPU instruction set the kernels use: the fastest this CPU has, unless the
//! `POWERPOST_ISA` environment variable caps it (to compare instruction sets, or on CPUs
//! that slow down on wide vectors). Every choice gives the same output bits.

use powerpost_core::nn::simd::Isa;

/// The environment variable that caps the CPU instruction set (`scalar`, `sse2`, `avx2`,
/// `avx512`); output bits are the same for every choice, only the speed differs.
pub const ENV: &str = "POWERPOST_ISA";

/// Applies [`ENV`] if set: kernels built afterwards use at most that instruction set.
///
/// # Errors
/// An unknown name, or an instruction set this CPU lacks, naming the variable and the
/// choices.
pub fn apply_env() -> anyhow::Result<()> {
    let Some(value) = std::env::var_os(ENV) else {
        return Ok(());
    };
    let supported: Vec<&str> = Isa::all_supported().map(Isa::name).collect();
    let value = value.to_string_lossy();
    let isa = Isa::from_name(value.trim()).ok_or_else(|| {
        anyhow::anyhow!(
            "{ENV}={value:?}: not an instruction set; expected one of {}",
            supported.join(", ")
        )
    })?;
    if !isa.is_supported() {
        anyhow::bail!(
            "{ENV}={value:?}: this CPU lacks {}; it supports {}",
            isa.name(),
            supported.join(", ")
        );
    }
    Isa::set_cap(Some(isa));
    Ok(())
}
