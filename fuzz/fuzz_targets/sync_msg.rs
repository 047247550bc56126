//! libFuzzer entry of the `sync_msg` target (see `tacit_fuzz::sync_msg`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::sync_msg, data));
