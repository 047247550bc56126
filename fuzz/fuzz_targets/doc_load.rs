//! libFuzzer entry of the `doc_load` target (see `tacit_fuzz::doc_load`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::doc_load, data));
