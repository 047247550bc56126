//! libFuzzer entry of the `ticket` target (see `tacit_fuzz::ticket`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::ticket, data));
