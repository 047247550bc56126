//! libFuzzer entry of the `wire` target (see `tacit_fuzz::wire`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::wire, data));
