//! libFuzzer entry of the `recon` target (see `tacit_fuzz::recon`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::recon, data));
