#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| powerpost_fuzz_bodies::checkpoint::fuzz(data));
