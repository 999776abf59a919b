//! Arbitrary bytes, read as UTF-8 text, as a template manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pressroom_fuzz::manifest(data);
});
