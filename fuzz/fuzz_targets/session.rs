//! libFuzzer entry of the `session` target (see `tacit_fuzz::session`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::session, data));
