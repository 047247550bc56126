//! libFuzzer entry of the `ops` target (see `tacit_fuzz::ops`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::ops, data));
