#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| powerpost_fuzz_bodies::sidecars::fuzz(data));
