//! libFuzzer entry of the `blob_stream` target (see `tacit_fuzz::blob_stream`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tacit_fuzz::fuzz_one(tacit_fuzz::blob_stream, data));
