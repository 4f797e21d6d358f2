//! A `#![no_std]`, allocator-free consumer of powerpost-core (see Cargo.toml).
#![no_std]

use core::panic::PanicInfo;
use powerpost_core::exec::Serial;
use powerpost_core::unet::{DenoiseInput, DenoiseOutput, UNet, UNetConfig};

/// Runs one unconditional denoiser evaluation of the tiny network on caller memory.
/// Returns 0 on success, 1 on a typed error.
///
/// # Safety
/// Every pointer must be valid for the given number of f32 values.
#[no_mangle]
pub unsafe extern "C" fn powerpost_nostd_denoise(
    params: *const f32,
    params_len: usize,
    x: *const f32,
    out: *mut f32,
    side: usize,
    workspace: *mut f32,
    workspace_len: usize,
) -> i32 {
    let params = unsafe { core::slice::from_raw_parts(params, params_len) };
    let x = unsafe { core::slice::from_raw_parts(x, side * side) };
    let out = unsafe { core::slice::from_raw_parts_mut(out, side * side) };
    let ws = unsafe { core::slice::from_raw_parts_mut(workspace, workspace_len) };
    let net = match UNet::new(UNetConfig::TINY, params) {
        Ok(net) => net,
        Err(_) => return 1,
    };
    let input = DenoiseInput { height: side, width: side, x, sigma: 1.0, condition: &[] };
    match net.denoise(&Serial, input, DenoiseOutput { conditional: None, unconditional: Some(out) }, ws) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}
