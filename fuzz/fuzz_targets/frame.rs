//! libFuzzer entry of the `frame` target (see `tacit_fuzz::frame`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::frame, data));
